// Package session is the heart of Duet: anonymous accounts, the 1:1 sessions between them, the
// messages of a session with their ids and read receipts, presence, and the pushes that tell an
// account what happened. Shared state lives behind Store, so one node keeps it in memory
// (MemoryStore) and many nodes keep it in Redis; pushes leave through Deliverer, which the
// connection side implements.
package session

import (
	"encoding/json"
	"time"

	"github.com/duetchat/duet/moderation"
)

// Account is an anonymous, nickname-only identity. Only a hash of its token is kept.
type Account struct {
	ID        int64
	Nickname  string
	TokenHash [32]byte
	CreatedAt time.Time
	// LastSeen is when the account last sent a frame, as far as the store knows.
	LastSeen time.Time
	// Away is set while the account has no live connection and its partners were told so.
	Away bool
	// Client is the hashed address the account was created from.
	Client moderation.Client
	// Connected is set while a node holds the account's connection: node Node.
	Connected bool
	Node      int64
}

// Member is one side of a session. Client is the hashed address the member's account was made
// from, kept with the session so that a report filed after the account is gone can still name
// it.
type Member struct {
	ID       int64
	Nickname string
	Client   moderation.Client
}

// Session is a 1:1 conversation between two accounts.
type Session struct {
	ID              int64
	Members         [2]Member
	CommonInterests []string
	StartedAt       time.Time
	EndedAt         time.Time // zero while the session is live
	EndReason       string
	LastMsgID       int64
	// Delivered and Viewed are the receipt watermarks of Members[0] and Members[1]: every
	// message up to that msgId reached the member's client, or was seen there. Viewing implies
	// delivery, so Delivered[i] >= Viewed[i].
	Delivered [2]int64
	Viewed    [2]int64
}

// Live reports whether the session has not ended.
func (s Session) Live() bool { return s.EndedAt.IsZero() }

// Partner returns the member that is not accountID, and whether accountID is a member at all.
func (s Session) Partner(accountID int64) (Member, bool) {
	i := s.side(accountID)
	if i < 0 {
		return Member{}, false
	}
	return s.Members[1-i], true
}

// side is the index in Members of accountID, or -1 if it is not a member.
func (s Session) side(accountID int64) int {
	switch accountID {
	case s.Members[0].ID:
		return 0
	case s.Members[1].ID:
		return 1
	}
	return -1
}

// Receipts returns how far accountID's messages got: the delivered and viewed watermarks of
// its partner (0, 0 if it is not a member).
func (s Session) Receipts(accountID int64) (delivered, viewed int64) {
	if i := s.side(accountID); i >= 0 {
		return s.Delivered[1-i], s.Viewed[1-i]
	}
	return 0, 0
}

// Receipt is the outcome of a receipt: the partner to tell, and which watermarks moved.
type Receipt struct {
	Partner   int64
	Delivered bool
	Viewed    bool
}

// Message is one DIALOGUE as stored in a session's history.
type Message struct {
	ID        int64     `json:"msgId"`
	SessionID int64     `json:"sessionId"`
	SenderID  int64     `json:"senderId"`
	Content   string    `json:"content"`
	SentAt    time.Time `json:"sentAt"`
	RequestID string    `json:"-"`
}

// Appended is the outcome of storing a message.
type Appended struct {
	Message   Message
	Partner   int64
	Duplicate bool // the requestId was seen before: Message is the first one, nothing is new
	// Redeliver is set on a duplicate whose push may never have left: the engine refused the
	// first attempt after storing it (it waits for replicas), so the push is delivered now.
	Redeliver bool
	// Delivered is set when the engine has already sent the message's push on its way to the
	// partner, in the same step as storing it.
	Delivered bool
	// Push is the message's push, DialoguePush(Message), when the engine has encoded it
	// already and it is still to be delivered; else empty.
	Push Push
}

// Report is a complaint about a partner. A reporter has one report per session: filing again
// updates it. The server's own copy of the conversation, the evidence, is kept once per session,
// shared by the reports of both members.
type Report struct {
	ID             int64
	SessionID      int64
	Reporter       int64
	Reported       int64
	ReporterNick   string
	ReportedNick   string
	ReporterClient moderation.Client // the hashed address the reporter came from
	ReportedClient moderation.Client // the hashed address the reported account came from
	Category       string
	Note           string
	CreatedAt      time.Time   // when it was first filed; the retention counts from then
	UpdatedAt      time.Time   // when it was last filed
	Filings        int         // how many times the reporter filed it
	Status         string      // ReportOpen, ReportAccepted or ReportRejected
	Resolution     *Resolution // set once resolved
	// Evidence is the session's messages, both sides with the server's timestamps: only Report
	// returns it, never the list.
	Evidence []Message `json:",omitempty"`
}

// Refile updates r with its reporter's new filing on the same session: category, note and time,
// and one more filing.
func (r *Report) Refile(filed Report) {
	r.Category, r.Note, r.UpdatedAt = filed.Category, filed.Note, filed.UpdatedAt
	r.Filings++
}

// The states of a report.
const (
	ReportOpen     = "open"
	ReportAccepted = "accepted"
	ReportRejected = "rejected"
)

// Resolution is an operator's decision on a report.
type Resolution struct {
	Operator string
	Note     string
	At       time.Time
	BanID    int64 // the ban it led to, 0 if none
}

// Report categories accepted by REPORT.
var reportCategories = map[string]bool{
	"spam": true, "sexual": true, "minor": true, "harassment": true, "scam": true, "other": true,
}

// The reasons a session ends, as sent in PartnerExit.
const (
	ReasonLeft    = "left"
	ReasonLogout  = "logout"
	ReasonTimeout = "timeout"
	ReasonRemoved = "removed"
)

// The server-push commands, named in the seed dialect.
const (
	CmdPushDialogue  = "PUSH_DIALOGUE"
	CmdPushViewedAck = "PUSH_VIEWED_ACK"
	CmdPushDelivered = "PUSH_DELIVERED_ACK"
	CmdPushSignal    = "PUSH_SIGNAL"
)

// The PUSH_SIGNAL types.
const (
	SignalNewSession        = "NewSession"
	SignalPartnerExit       = "PartnerExit"
	SignalPartnerAway       = "PartnerAway"
	SignalPartnerBack       = "PartnerBack"
	SignalTyping            = "Typing"
	SignalNotice            = "Notice"
	SignalKicked            = "Kicked"
	SignalLoggedInElsewhere = "LoggedInElsewhere"
)

// Push is a server-initiated frame for one account: its command in the seed dialect and its
// JSON body without "cmd". It is encoded once, so it can wait in a backlog or cross nodes as is,
// and the connection that finally writes it only adds the command in its own dialect.
type Push struct {
	Cmd  string          `json:"cmd"`
	Body json.RawMessage `json:"body"`
}

// dialoguePush is the body of PUSH_DIALOGUE.
type dialoguePush struct {
	MsgID     int64  `json:"msgId"`
	SenderID  int64  `json:"senderId"`
	SessionID int64  `json:"sessionId"`
	Content   string `json:"content"`
	SentAt    int64  `json:"sentAt"`
}

// DialoguePush is the PUSH_DIALOGUE frame of m.
func DialoguePush(m Message) Push {
	return newPush(CmdPushDialogue, dialoguePush{
		MsgID: m.ID, SenderID: m.SenderID, SessionID: m.SessionID, Content: m.Content,
		SentAt: m.SentAt.UnixMilli(),
	})
}

// receiptPush is the body of PUSH_VIEWED_ACK and PUSH_DELIVERED_ACK; AccountID is the reader.
type receiptPush struct {
	SessionID int64 `json:"sessionId"`
	AccountID int64 `json:"accountId"`
	MsgID     int64 `json:"msgId"`
}

type signalPush struct {
	SignalType string `json:"signalType"`
	SenderID   int64  `json:"senderId"`
	SessionID  int64  `json:"sessionId"`
	ReceiverID int64  `json:"receiverId"`
	Data       any    `json:"data"`
}

// NewSessionData is the data of a NewSession signal: the partner you were matched with.
type NewSessionData struct {
	AccountID       int64    `json:"accountId"`
	NickName        string   `json:"nickName"`
	CommonInterests []string `json:"commonInterests"`
}

// ExitData is the data of a PartnerExit signal.
type ExitData struct {
	AccountID int64  `json:"accountId"`
	Reason    string `json:"reason"`
}

// PartnerData is the data of PartnerAway and PartnerBack.
type PartnerData struct {
	AccountID int64 `json:"accountId"`
}

// TypingData is the data of a Typing signal.
type TypingData struct {
	AccountID int64 `json:"accountId"`
	Typing    bool  `json:"typing"`
}

// NoticeData is the data of an operator's Notice. Until is in Unix milliseconds: the notice is
// current, and shown, until then.
type NoticeData struct {
	Text  string `json:"text"`
	Level string `json:"level"`
	Until int64  `json:"until"`
}

func noticeData(n moderation.Notice) NoticeData {
	return NoticeData{Text: n.Text, Level: n.Level, Until: n.Until.UnixMilli()}
}

// KickedData is the data of Kicked. Until is in Unix milliseconds, 0 when not banned.
type KickedData struct {
	Reason string `json:"reason"`
	Until  int64  `json:"until"`
}

// Broadcast is a signal from the system to every connection, or to the connections of one ban
// target (whether or not they have an account yet): a Notice, or a Kicked after which they are
// closed. Exactly one of Notice and Kick is set.
type Broadcast struct {
	To     *moderation.Target `json:"to,omitempty"` // nil: every connection
	Notice *NoticeData        `json:"notice,omitempty"`
	Kick   *KickedData        `json:"kick,omitempty"`
}

// Push is the PUSH_SIGNAL frame of the broadcast for a connection of account (0 if none).
func (b Broadcast) Push(account int64) Push {
	if b.Kick != nil {
		return SignalPush(SignalKicked, 0, 0, account, *b.Kick)
	}
	return SignalPush(SignalNotice, 0, 0, account, *b.Notice)
}

// SignalPush is a PUSH_SIGNAL frame. sender is 0 for the system.
func SignalPush(signalType string, sender, sessionID, receiver int64, data any) Push {
	if data == nil {
		data = struct{}{}
	}
	return newPush(CmdPushSignal, signalPush{
		SignalType: signalType, SenderID: sender, SessionID: sessionID, ReceiverID: receiver, Data: data,
	})
}

func newPush(cmd string, body any) Push {
	b, err := json.Marshal(body)
	if err != nil {
		// Every body is a struct of strings, numbers and string slices: marshalling cannot fail.
		panic("session: encoding a push: " + err.Error())
	}
	return Push{Cmd: cmd, Body: b}
}
