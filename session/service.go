package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/duetchat/duet"
	"github.com/duetchat/duet/filter"
	"github.com/duetchat/duet/match"
	"github.com/duetchat/duet/moderation"
)

// Deliverer takes pushes to accounts wherever their connection is, keeping them in the
// account's backlog while it is away. The connection side implements it.
type Deliverer interface {
	Deliver(ctx context.Context, accountID int64, p Push) error
	// Disconnect closes the account's connection, if it has one, with a WebSocket close code.
	Disconnect(ctx context.Context, accountID int64, code int, reason string) error
	// Broadcast takes a signal to every connection it names, on every node.
	Broadcast(ctx context.Context, b Broadcast) error
	// TakeOver fences the account's connection on node, when that is another node: once it
	// returns, that connection serves no more of its client's requests; it has been told
	// LoggedInElsewhere and is closing. A node that does not answer in time is taken for gone.
	TakeOver(ctx context.Context, accountID, node int64) error
}

// Options are the limits and timings of a Service.
type Options struct {
	MaxSessions int // live sessions per account
	MaxContent  int // characters per message
	MaxNickname int // characters per nickname
	// Combining marks on one character, in messages, nicknames and interests.
	MaxCombiningMarks int
	PingInterval      time.Duration  // between heartbeats, when connections report presence
	PresenceTimeout   time.Duration  // silence after which an account is gone
	TypingTimeout     time.Duration  // how long typing:true lasts unless refreshed
	Cooloff           time.Duration  // automatic ban of a flooding client; 0: none
	Evidence          EvidenceLimits // what a report keeps of its session
	Observer          Observer       // hears of matches; nil: nobody
	Filter            *filter.Filter // the rules for messages and nicknames
}

// Observer hears of what the service does, for metrics.
type Observer interface {
	// Matched is told of a session started at now and how long its members waited.
	Matched(now time.Time, waits ...time.Duration)
	DeliveryObserver // of the pushes the engine sent on by itself
}

// Where a push went.
const (
	PushedLocal     = "local"     // queued on the account's connection on this node
	PushedForwarded = "forwarded" // sent to the node that holds the account's connection
	PushedBacklog   = "backlog"   // kept for an account that has no connection
)

// DeliveryObserver hears where pushes go and what becomes of connections, for metrics.
type DeliveryObserver interface {
	// Pushed is told where a push went: PushedLocal, PushedForwarded or PushedBacklog.
	Pushed(where string)
	// Dropped is told of a connection closed for being too slow to receive.
	Dropped()
	// TakenOver is told of an account that a new connection took over from an old one, on this
	// node or on another.
	TakenOver(fromAnotherNode bool)
}

// Nobody observes nothing.
type Nobody struct{}

func (Nobody) Matched(time.Time, ...time.Duration) {}
func (Nobody) Pushed(string)                       {}
func (Nobody) Dropped()                            {}
func (Nobody) TakenOver(bool)                      {}

// Limits of the protocol that are not configurable.
const (
	maxInterests    = 10
	maxInterestLen  = 30
	maxRequestIDLen = 64
	maxNoteLen      = 500
	// closeNormal is the WebSocket close code for a connection whose account expired.
	closeNormal = 1000
)

// Engines are where a Service keeps its state: one node's memory, or Redis shared by many.
type Engines struct {
	Store      Store
	Reports    Reports
	Queue      match.Queue
	Moderation moderation.Store
	Epoch      Epoch
}

// Service carries out the requests of accounts. It is safe for concurrent use; every account's
// requests arrive in order from its one connection.
type Service struct {
	store      Store
	reports    Reports
	queue      match.Queue
	moderation moderation.Store
	epoch      Epoch
	out        Deliverer
	ids        *IDs
	now        func() time.Time
	log        *slog.Logger
	opt        Options

	typingMu sync.Mutex // guards typing
	typing   map[typingKey]*time.Timer

	// Failures of the store on the presence path, and how many of them the store has last been
	// told presence resumed after (ResumePresence).
	presenceFailures, presenceResumed atomic.Int64
}

type typingKey struct{ session, account int64 }

// NewService returns a Service over its engines.
func NewService(eng Engines, out Deliverer, ids *IDs, now func() time.Time, log *slog.Logger, opt Options) *Service {
	if opt.Observer == nil {
		opt.Observer = Nobody{}
	}
	return &Service{
		store: eng.Store, reports: eng.Reports, queue: eng.Queue, moderation: eng.Moderation, epoch: eng.Epoch, out: out, ids: ids, now: now, log: log, opt: opt,
		typing: make(map[typingKey]*time.Timer),
	}
}

// Epoch is the current incarnation of the service's state (see Epoch).
func (s *Service) Epoch() string { return s.epoch.Current() }

// Ready reports whether the engines answer.
func (s *Service) Ready(ctx context.Context) error { return s.store.Ping(ctx) }

// CheckBan refuses a client that is banned, by its account (0 if it has none yet), its
// address or its network, with Banned.
func (s *Service) CheckBan(ctx context.Context, id int64, client moderation.Client) error {
	return s.refuseBanned(ctx, moderation.Targets(id, client))
}

// refuseBanned returns Banned, with the ban that ends last, if any of targets is banned.
func (s *Service) refuseBanned(ctx context.Context, targets []moderation.Target) error {
	b, banned, err := s.moderation.FindBan(ctx, s.now(), targets)
	if err != nil {
		return err
	}
	if banned {
		return b.Error()
	}
	return nil
}

// CreateAccount creates an anonymous account for a client and returns it with its secret token.
func (s *Service) CreateAccount(ctx context.Context, nickname string, client moderation.Client) (Account, string, error) {
	nickname, err := cleanText("nickName", nickname, s.opt.MaxNickname, s.opt.MaxCombiningMarks)
	if err != nil {
		return Account{}, "", err
	}
	if err := s.opt.Filter.Nickname(nickname); err != nil {
		return Account{}, "", err
	}
	if err := s.CheckBan(ctx, 0, client); err != nil {
		return Account{}, "", err
	}
	var secret [32]byte
	rand.Read(secret[:])
	token := base64.RawURLEncoding.EncodeToString(secret[:])
	now := s.now()
	a := Account{ID: s.ids.Next(), Nickname: nickname, TokenHash: sha256.Sum256([]byte(token)), CreatedAt: now, LastSeen: now, Client: client}
	if err := s.store.CreateAccount(ctx, a); err != nil {
		return Account{}, "", err
	}
	return a, token, nil
}

var errBadLogin = duet.Errorf(duet.NoDataFound, "unknown account or wrong token")

// Authenticate checks an account's token for RECONNECT from client and returns the account with
// its live sessions. A missing account and a wrong token get the same answer. A ban on the
// account, on the client or on the client the account was created from refuses it.
func (s *Service) Authenticate(ctx context.Context, id int64, token string, client moderation.Client) (Account, []Session, error) {
	a, err := s.store.Account(ctx, id)
	if duet.ErrorCode(err) == duet.NoDataFound {
		return Account{}, nil, errBadLogin
	}
	if err != nil {
		return Account{}, nil, err
	}
	hash := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(a.TokenHash[:], hash[:]) != 1 {
		return Account{}, nil, errBadLogin
	}
	if err := s.checkAccountBan(ctx, a, client); err != nil {
		return Account{}, nil, err
	}
	if err := s.Seen(ctx, map[int64]time.Time{id: s.now()}); err != nil {
		return Account{}, nil, err
	}
	sessions, err := s.store.LiveSessions(ctx, id)
	return a, sessions, err
}

// TakeOver readies the account, as Authenticate returned it, for a new connection on node: a
// connection it still has on another node is fenced first, so that one connection speaks for
// the account. The new connection is answered only after this.
func (s *Service) TakeOver(ctx context.Context, a Account, node int64) error {
	if !a.Connected || a.Node == node {
		return nil
	}
	return s.out.TakeOver(ctx, a.ID, a.Node)
}

// checkAccountBan refuses an account banned by id, by the client it was created from, or by
// the client it now connects from.
func (s *Service) checkAccountBan(ctx context.Context, a Account, now moderation.Client) error {
	targets := moderation.Targets(a.ID, a.Client)
	if now != a.Client {
		targets = append(targets, moderation.Targets(0, now)...)
	}
	return s.refuseBanned(ctx, targets)
}

// CoolOff bans, for the cooling-off time, a client that kept flooding: its account (if it has
// one) and its address. It returns the ban that ends last, or false when cooling-off is off.
// The caller closes the client's connection.
func (s *Service) CoolOff(ctx context.Context, id int64, client moderation.Client, reason string) (moderation.Ban, bool, error) {
	if s.opt.Cooloff == 0 {
		return moderation.Ban{}, false, nil
	}
	var targets []moderation.Target
	if id != 0 {
		targets = append(targets, moderation.AccountTarget(id))
	}
	if client.Addr != "" {
		targets = append(targets, moderation.Target{Kind: moderation.KindAddress, Value: client.Addr})
	}
	var last moderation.Ban
	now := s.now()
	for _, t := range targets {
		b := moderation.Ban{ID: s.ids.Next(), Target: t, Reason: reason, By: moderation.ByAuto, CreatedAt: now, Until: now.Add(s.opt.Cooloff)}
		if err := s.moderation.AddBan(ctx, b); err != nil {
			return moderation.Ban{}, false, err
		}
		last = b
	}
	return last, len(targets) > 0, nil
}

// Ban keeps a target out of the service for d and tells every connection it names (Kicked with
// the public reason and the ban's end), which is then closed. The private note stays with the
// ban, for operators.
func (s *Service) Ban(ctx context.Context, t moderation.Target, reason, note, by string, d time.Duration) (moderation.Ban, error) {
	if err := t.Validate(); err != nil {
		return moderation.Ban{}, err
	}
	now := s.now()
	b := moderation.Ban{ID: s.ids.Next(), Target: t, Reason: reason, Note: note, By: by, CreatedAt: now, Until: now.Add(d)}
	if err := s.moderation.AddBan(ctx, b); err != nil {
		return moderation.Ban{}, err
	}
	return b, s.out.Broadcast(ctx, Broadcast{To: &t, Kick: &KickedData{Reason: reason, Until: b.Until.UnixMilli()}})
}

// Kick closes the account's connections, wherever they are, after telling them Kicked. The
// account stays: it may come back with RECONNECT.
func (s *Service) Kick(ctx context.Context, id int64, reason string) error {
	if _, err := s.store.Account(ctx, id); err != nil {
		return err
	}
	t := moderation.AccountTarget(id)
	return s.out.Broadcast(ctx, Broadcast{To: &t, Kick: &KickedData{Reason: reason}})
}

// Notice levels.
var noticeLevels = []string{"info", "warning"}

// MaxNotice is how long a notice may stay current.
const MaxNotice = 7 * 24 * time.Hour

// Notice sends an operator's message to every connection, and makes it the current notice until
// until, which connections that open meanwhile are shown too (CurrentNotice). It replaces the
// notice current before.
func (s *Service) Notice(ctx context.Context, text, level string, until time.Time) (moderation.Notice, error) {
	text, err := cleanText("text", text, maxNoteLen, s.opt.MaxCombiningMarks)
	if err != nil {
		return moderation.Notice{}, err
	}
	if !slices.Contains(noticeLevels, level) {
		return moderation.Notice{}, duet.Errorf(duet.ParamErr, "level must be info or warning")
	}
	now := s.now()
	if !until.After(now) || until.After(now.Add(MaxNotice)) {
		return moderation.Notice{}, duet.Errorf(duet.ParamErr, "a notice must end in the future, within %v", MaxNotice)
	}
	n := moderation.Notice{Text: text, Level: level, Until: until.Truncate(time.Millisecond)}
	if err := s.moderation.SetNotice(ctx, n); err != nil {
		return moderation.Notice{}, err
	}
	data := noticeData(n)
	return n, s.out.Broadcast(ctx, Broadcast{Notice: &data})
}

// CurrentNotice returns the Notice push of the notice current now, for a connection of account
// (0 if none) that opened after it was sent, if there is one.
func (s *Service) CurrentNotice(ctx context.Context, account int64) (Push, bool, error) {
	n, ok, err := s.moderation.CurrentNotice(ctx, s.now())
	if err != nil || !ok {
		return Push{}, false, err
	}
	return SignalPush(SignalNotice, 0, 0, account, noticeData(n)), true, nil
}

// Remove ends a session by an operator's decision: both members hear PartnerExit (removed).
func (s *Service) Remove(ctx context.Context, sessionID int64) error {
	ended, err := s.End(ctx, sessionID, 0, ReasonRemoved)
	if err == nil && !ended {
		if _, err = s.store.Session(ctx, sessionID); err == nil {
			err = ErrEnded
		}
	}
	return err
}

// PauseMatching pauses or resumes matching on every node. While paused, MATCH is refused with
// Unavailable and nobody waiting is paired.
func (s *Service) PauseMatching(ctx context.Context, paused bool) error {
	return s.moderation.SetMatchingPaused(ctx, paused)
}

// Seen records, for each account, its last sign of life.
func (s *Service) Seen(ctx context.Context, seen map[int64]time.Time) error {
	err := s.resumePresence(ctx)
	if err == nil {
		err = s.store.Seen(ctx, seen)
	}
	if err != nil {
		s.presenceFailed()
	}
	return err
}

// presenceFailed notes that the store failed: while it is down, nobody's presence is
// refreshed, on this node and perhaps on others.
func (s *Service) presenceFailed() { s.presenceFailures.Add(1) }

// resumePresence tells the store, after it failed, that this node reaches it again, before
// anything else is done with presence. The store keeps the latest such time for every node:
// from it, each node has the presence timeout to report its connections again before any
// node's sweep may take them for gone. A hold of this node's own would not do: the first node
// to recover would end the sessions of the others' accounts, still unreported.
func (s *Service) resumePresence(ctx context.Context) error {
	failures := s.presenceFailures.Load()
	if s.presenceResumed.Load() == failures {
		return nil
	}
	if err := s.store.ResumePresence(ctx, s.now()); err != nil {
		return err
	}
	// A failure meanwhile (concurrent Seen calls) is resumed after by the next call.
	s.presenceResumed.Store(failures)
	return nil
}

// Away marks an account whose connection dropped or fell silent: its partners hear PartnerAway
// and it leaves the queue, so that nobody is matched with someone who is not there.
func (s *Service) Away(ctx context.Context, id int64) error {
	if _, err := s.queue.Cancel(ctx, id); err != nil {
		return err
	}
	return s.setAway(ctx, id, true, SignalPartnerAway)
}

// Back marks an account that is present again: its partners hear PartnerBack if they had heard
// PartnerAway.
func (s *Service) Back(ctx context.Context, id int64) error {
	return s.setAway(ctx, id, false, SignalPartnerBack)
}

func (s *Service) setAway(ctx context.Context, id int64, away bool, signal string) error {
	changed, err := s.store.SetAway(ctx, id, away)
	if err != nil || !changed {
		return err
	}
	sessions, err := s.store.LiveSessions(ctx, id)
	if err != nil {
		return err
	}
	for _, sess := range sessions {
		partner, _ := sess.Partner(id)
		s.deliver(ctx, partner.ID, SignalPush(signal, id, sess.ID, partner.ID, PartnerData{AccountID: id}))
	}
	return nil
}

// Matched is the outcome of a MATCH that found a partner at once.
type Matched struct {
	SessionID int64
	Partner   Member
	Common    []string
}

var (
	errQueued = duet.Errorf(duet.NoDataFound, "waiting for a partner")
	// ErrMatchingPaused refuses a MATCH while an operator has paused matching.
	ErrMatchingPaused = duet.Errorf(duet.Unavailable, "matching is paused for a while; please try again later")
)

// TooManyChats refuses a MATCH from an account already in limit chats, the most allowed.
func TooManyChats(limit int) error {
	return duet.Errorf(duet.LimitReached, "you are already in %d chats, the most allowed", limit)
}

// Match pairs the account with a waiting stranger, or queues it: then the error has code
// NoDataFound, and a NewSession signal follows when someone arrives.
func (s *Service) Match(ctx context.Context, id int64, interests []string) (Matched, error) {
	tags, err := cleanInterests(interests, s.opt.MaxCombiningMarks)
	if err != nil {
		return Matched{}, err
	}
	now := s.now()
	pair, sess, ok, err := s.matchStart(ctx, MatchAsk{AccountID: id, Interests: tags, Now: now, MaxSessions: s.opt.MaxSessions})
	if err != nil {
		return Matched{}, err
	}
	if !ok {
		return Matched{}, errQueued
	}
	s.opt.Observer.Matched(now, 0, now.Sub(pair.B.Since))
	s.deliver(ctx, pair.B.AccountID, newSessionPush(sess, pair.B.AccountID))
	return Matched{SessionID: sess.ID, Partner: sess.Members[1], Common: sess.CommonInterests}, nil
}

// MatchAsk is a MATCH, its interests cleaned.
type MatchAsk struct {
	AccountID   int64
	Interests   []string
	Now         time.Time
	MaxSessions int // the most live sessions an account may be in
	// Session is the session a pair starts, when the queue starts it: its ID only.
	Session Session
}

// StartingQueue is a match.Queue that can check a MATCH, pair it and create the session of the
// pair in one atomic step, as an engine that keeps queue, accounts, bans and sessions in one
// place does in one round trip.
type StartingQueue interface {
	match.Queue
	// MatchStart makes the checks of a MATCH in the order Service.Match makes them without a
	// StartingQueue, refusing with the same errors: the account exists (ErrNoAccount); no ban
	// is in force on it, its address or its network (the ban's Error); matching is not paused
	// (ErrMatchingPaused); it is in fewer than MaxSessions live sessions (TooManyChats). Then
	// it is Match for the account's waiter (since now, with the account's nickname and client
	// address), and when it pairs, it also creates ask.Session for the pair: it returns it
	// with the pair as its Members, A then B, each with its account's Client, their
	// CommonInterests, and StartedAt now. A partner whose account is gone is taken out of the
	// queue and passed over.
	MatchStart(ctx context.Context, ask MatchAsk) (match.Pair, Session, bool, error)
}

// matchStart checks a MATCH, then pairs the account, or queues it, and creates the session of
// the pair it makes: in one step when the queue can, or else one after the other.
func (s *Service) matchStart(ctx context.Context, ask MatchAsk) (match.Pair, Session, bool, error) {
	if q, ok := s.queue.(StartingQueue); ok {
		ask.Session = Session{ID: s.ids.Next()}
		return q.MatchStart(ctx, ask)
	}
	a, err := s.store.Account(ctx, ask.AccountID)
	if err != nil {
		return match.Pair{}, Session{}, false, err
	}
	if err := s.checkAccountBan(ctx, a, moderation.Client{}); err != nil {
		return match.Pair{}, Session{}, false, err
	}
	if paused, err := s.moderation.MatchingPaused(ctx); err != nil {
		return match.Pair{}, Session{}, false, err
	} else if paused {
		return match.Pair{}, Session{}, false, ErrMatchingPaused
	}
	live, err := s.store.LiveSessions(ctx, ask.AccountID)
	if err != nil {
		return match.Pair{}, Session{}, false, err
	}
	if len(live) >= ask.MaxSessions {
		return match.Pair{}, Session{}, false, TooManyChats(ask.MaxSessions)
	}
	w := match.Waiter{AccountID: ask.AccountID, Nickname: a.Nickname, Interests: ask.Interests, Since: ask.Now, Client: a.Client.Addr}
	pair, ok, err := s.queue.Match(ctx, w, ask.Now)
	if err != nil || !ok {
		return match.Pair{}, Session{}, false, err
	}
	sess, err := s.start(ctx, pair, ask.Now, pair.B)
	return pair, sess, err == nil, err
}

// MatchWaiting pairs the waiters that time made compatible and tells both sides, unless
// matching is paused.
func (s *Service) MatchWaiting(ctx context.Context) error {
	if paused, err := s.moderation.MatchingPaused(ctx); err != nil || paused {
		return err
	}
	now := s.now()
	pairs, err := s.queue.MatchWaiting(ctx, now)
	if err != nil {
		return err
	}
	for _, pair := range pairs {
		sess, err := s.start(ctx, pair, now, pair.A, pair.B)
		if err != nil {
			s.log.Warn("starting a session", "err", err)
			continue
		}
		s.opt.Observer.Matched(now, now.Sub(pair.A.Since), now.Sub(pair.B.Since))
		for _, m := range sess.Members {
			s.deliver(ctx, m.ID, newSessionPush(sess, m.ID))
		}
	}
	return nil
}

// start creates the session of a pair the queue made. Should that fail, the pair is undone and
// the waiters it took from the queue go back to their places there, if they still exist.
func (s *Service) start(ctx context.Context, pair match.Pair, now time.Time, waiters ...match.Waiter) (Session, error) {
	sess := Session{
		ID:              s.ids.Next(),
		Members:         [2]Member{{ID: pair.A.AccountID, Nickname: pair.A.Nickname}, {ID: pair.B.AccountID, Nickname: pair.B.Nickname}},
		CommonInterests: pair.Common,
		StartedAt:       now,
	}
	if sess.CommonInterests == nil {
		sess.CommonInterests = []string{}
	}
	for i, m := range sess.Members {
		// A member gone meanwhile fails CreateSession below.
		if a, err := s.store.Account(ctx, m.ID); err == nil {
			sess.Members[i].Client = a.Client
		}
	}
	err := s.store.CreateSession(ctx, sess)
	if err == nil {
		return sess, nil
	}
	if err := s.queue.Release(ctx, pair.A.AccountID, pair.B.AccountID, now); err != nil {
		s.log.Warn("undoing a pair", "err", err)
	}
	for _, w := range waiters {
		if _, aerr := s.store.Account(ctx, w.AccountID); aerr != nil {
			continue
		}
		if err := s.queue.Requeue(ctx, w); err != nil {
			s.log.Warn("requeueing a waiter", "err", err)
		}
	}
	return Session{}, err
}

func newSessionPush(sess Session, to int64) Push {
	partner, _ := sess.Partner(to)
	return SignalPush(SignalNewSession, partner.ID, sess.ID, to, NewSessionData{
		AccountID: partner.ID, NickName: partner.Nickname, CommonInterests: sess.CommonInterests,
	})
}

// CancelMatch takes the account out of the queue.
func (s *Service) CancelMatch(ctx context.Context, id int64) error {
	ok, err := s.queue.Cancel(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return duet.Errorf(duet.NoDataFound, "you were not waiting for a partner")
	}
	return nil
}

// Send stores a message and pushes it to the partner. Sending the same requestID again returns
// the first message and pushes nothing.
func (s *Service) Send(ctx context.Context, id, sessionID int64, requestID, content string) (Message, error) {
	if n := utf8.RuneCountInString(requestID); n == 0 || n > maxRequestIDLen {
		return Message{}, duet.Errorf(duet.ParamErr, "requestId must be 1 to %d characters", maxRequestIDLen)
	}
	if strings.TrimSpace(content) == "" {
		return Message{}, duet.Errorf(duet.ParamErr, "content must not be empty")
	}
	if n := utf8.RuneCountInString(content); n > s.opt.MaxContent {
		return Message{}, duet.Errorf(duet.ParamErr, "content must be at most %d characters, got %d", s.opt.MaxContent, n)
	}
	if strings.ContainsAny(content, directionOverrides) {
		return Message{}, duet.Errorf(duet.ParamErr, "content must not contain direction overrides (U+202D, U+202E), which make text read backwards, such as \"gnp.exe\" as \"exe.png\"")
	}
	if err := checkMarks("content", content, s.opt.MaxCombiningMarks); err != nil {
		return Message{}, err
	}
	sentBefore := func() (int, error) { return s.sentBefore(ctx, sessionID, id) }
	if err := s.opt.Filter.Message(content, sentBefore); err != nil {
		return Message{}, err
	}
	res, err := s.store.AppendMessage(ctx, Message{
		ID: s.ids.Next(), SessionID: sessionID, SenderID: id, Content: content, SentAt: s.now(), RequestID: requestID,
	})
	if err != nil || res.Duplicate && !res.Redeliver {
		return res.Message, err
	}
	s.stopTyping(ctx, sessionID, id, res.Partner, true)
	if res.Delivered {
		s.opt.Observer.Pushed(PushedForwarded)
	} else {
		p := res.Push
		if p.Cmd == "" {
			p = DialoguePush(res.Message)
		}
		s.deliver(ctx, res.Partner, p)
	}
	return res.Message, nil
}

// sentBefore counts the messages the account sent in the session, as far as its history
// reaches: the filter asks, for a message with a link, only while links are not yet allowed.
func (s *Service) sentBefore(ctx context.Context, sessionID, id int64) (int, error) {
	if _, err := s.liveMember(ctx, id, sessionID); err != nil {
		return 0, err
	}
	msgs, _, err := s.store.Messages(ctx, sessionID, 0)
	n := 0
	for _, m := range msgs {
		if m.SenderID == id {
			n++
		}
	}
	return n, err
}

// Viewed moves the account's read receipt forward, and its delivery receipt with it, and tells
// the partner with PUSH_VIEWED_ACK, which stands for both.
func (s *Service) Viewed(ctx context.Context, id, sessionID, msgID int64) error {
	r, err := s.store.Acknowledge(ctx, sessionID, id, msgID, true)
	if err != nil || !r.Viewed {
		return err
	}
	s.deliver(ctx, r.Partner, newPush(CmdPushViewedAck, receiptPush{SessionID: sessionID, AccountID: id, MsgID: msgID}))
	return nil
}

// Delivered moves the account's delivery receipt forward and tells the partner.
func (s *Service) Delivered(ctx context.Context, id, sessionID, msgID int64) error {
	r, err := s.store.Acknowledge(ctx, sessionID, id, msgID, false)
	if err != nil || !r.Delivered {
		return err
	}
	s.deliver(ctx, r.Partner, newPush(CmdPushDelivered, receiptPush{SessionID: sessionID, AccountID: id, MsgID: msgID}))
	return nil
}

// Resume returns the session's messages after afterMsgID, and whether the history reaches back
// that far.
func (s *Service) Resume(ctx context.Context, id, sessionID, afterMsgID int64) ([]Message, bool, error) {
	if _, err := s.member(ctx, id, sessionID); err != nil {
		return nil, false, err
	}
	return s.store.Messages(ctx, sessionID, afterMsgID)
}

// member returns the session if the account is one of its members.
func (s *Service) member(ctx context.Context, id, sessionID int64) (Session, error) {
	sess, err := s.store.Session(ctx, sessionID)
	if err != nil {
		return Session{}, err
	}
	if _, ok := sess.Partner(id); !ok {
		return Session{}, ErrNotMember
	}
	return sess, nil
}

// liveMember returns the session if it is live and the account is one of its members.
func (s *Service) liveMember(ctx context.Context, id, sessionID int64) (Session, error) {
	sess, err := s.member(ctx, id, sessionID)
	if err == nil && !sess.Live() {
		err = ErrEnded
	}
	return sess, err
}

// Leave ends one of the account's sessions; the partner hears PartnerExit (left).
func (s *Service) Leave(ctx context.Context, id, sessionID int64) error {
	if _, err := s.liveMember(ctx, id, sessionID); err != nil {
		return err
	}
	ended, err := s.End(ctx, sessionID, id, ReasonLeft)
	if err == nil && !ended {
		err = ErrEnded
	}
	return err
}

// End ends a session for a reason; by is the account that caused it, or 0 for an operator.
// Every member other than by hears PartnerExit. It reports whether this call ended it.
func (s *Service) End(ctx context.Context, sessionID, by int64, reason string) (bool, error) {
	now := s.now()
	sess, ended, err := s.store.EndSession(ctx, sessionID, reason, now)
	if err != nil || !ended {
		return false, err
	}
	a, b := sess.Members[0].ID, sess.Members[1].ID
	if err := s.queue.Release(ctx, a, b, now); err != nil {
		s.log.Warn("releasing a pair", "err", err)
	}
	for _, m := range sess.Members {
		partner, _ := sess.Partner(m.ID)
		s.stopTyping(ctx, sessionID, m.ID, partner.ID, false)
		if m.ID == by {
			continue
		}
		exited := partner.ID
		if by != 0 {
			exited = by
		}
		s.deliver(ctx, m.ID, SignalPush(SignalPartnerExit, 0, sessionID, m.ID, ExitData{AccountID: exited, Reason: reason}))
	}
	return true, nil
}

// Logout ends everything of the account and forgets it; its token no longer works.
func (s *Service) Logout(ctx context.Context, id int64) error {
	return s.expire(ctx, id, ReasonLogout)
}

// expire removes an account: it leaves the queue and each partner hears PartnerExit.
func (s *Service) expire(ctx context.Context, id int64, reason string) error {
	if err := s.queue.Forget(ctx, id); err != nil {
		return err
	}
	sessions, deleted, err := s.store.DeleteAccount(ctx, id)
	if err != nil || !deleted {
		return err
	}
	for _, sess := range sessions {
		if _, err := s.End(ctx, sess.ID, id, reason); err != nil {
			s.log.Warn("ending a session", "session", sess.ID, "err", err)
		}
	}
	return nil
}

// Sweep ends the accounts whose presence lapsed: their partners hear PartnerExit (timeout) and
// a connection still open for them, silent all this time, is closed.
func (s *Service) Sweep(ctx context.Context) error {
	err := s.resumePresence(ctx)
	var lapsed []int64
	if err == nil {
		lapsed, err = s.store.Lapsed(ctx, s.now().Add(-s.opt.PresenceTimeout))
	}
	if err != nil {
		s.presenceFailed()
		return err
	}
	for _, id := range lapsed {
		// Close first, while the account still says where its connection is.
		if err := s.out.Disconnect(ctx, id, closeNormal, "presence timeout"); err != nil {
			s.log.Warn("closing a lapsed connection", "account", id, "err", err)
		}
		if err := s.expire(ctx, id, ReasonTimeout); err != nil {
			return err
		}
	}
	return nil
}

// Typing tells the partner whether the account is typing. A typing:true lapses by itself
// after the typing timeout unless refreshed.
func (s *Service) Typing(ctx context.Context, id, sessionID int64, typing bool) error {
	sess, err := s.liveMember(ctx, id, sessionID)
	if err != nil {
		return err
	}
	partner, _ := sess.Partner(id)
	if !typing {
		s.stopTyping(ctx, sessionID, id, partner.ID, true)
		return nil
	}
	key := typingKey{sessionID, id}
	s.typingMu.Lock()
	t, refreshed := s.typing[key]
	if refreshed {
		t.Reset(s.opt.TypingTimeout)
	} else {
		s.typing[key] = time.AfterFunc(s.opt.TypingTimeout, func() {
			s.stopTyping(context.Background(), sessionID, id, partner.ID, true)
		})
	}
	s.typingMu.Unlock()
	if !refreshed {
		s.deliver(ctx, partner.ID, SignalPush(SignalTyping, id, sessionID, partner.ID, TypingData{AccountID: id, Typing: true}))
	}
	return nil
}

// stopTyping clears the account's typing state in a session and, if it was set and tell is
// true, tells the partner.
func (s *Service) stopTyping(ctx context.Context, sessionID, id, partner int64, tell bool) {
	key := typingKey{sessionID, id}
	s.typingMu.Lock()
	t, ok := s.typing[key]
	if ok {
		t.Stop()
		delete(s.typing, key)
	}
	s.typingMu.Unlock()
	if ok && tell {
		s.deliver(ctx, partner, SignalPush(SignalTyping, id, sessionID, partner, TypingData{AccountID: id, Typing: false}))
	}
}

// Run does the service's periodic work until ctx ends: presence is swept every ping interval
// and the queue re-paired every second, as waiters' interest windows close.
func (s *Service) Run(ctx context.Context) {
	sweep := time.NewTicker(s.opt.PingInterval)
	defer sweep.Stop()
	pairing := time.NewTicker(time.Second)
	defer pairing.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sweep.C:
			if err := s.Sweep(ctx); err != nil && !errors.Is(err, context.Canceled) {
				s.log.Warn("presence sweep", "err", err)
			}
		case <-pairing.C:
			if err := s.MatchWaiting(ctx); err != nil && !errors.Is(err, context.Canceled) {
				s.log.Warn("pairing waiters", "err", err)
			}
		}
	}
}

func (s *Service) deliver(ctx context.Context, to int64, p Push) {
	if err := s.out.Deliver(ctx, to, p); err != nil {
		s.log.Warn("delivering a push", "account", to, "cmd", p.Cmd, "err", err)
	}
}

// cleanText trims s and checks it is 1..max characters without control characters, direction
// controls or more than maxMarks combining marks on one character. It is for short texts shown
// as labels (nicknames, interests, notices): a direction control in one would turn what follows
// it around, so that "\u202egnp.exe" reads "exe.png".
func cleanText(field, s string, max, maxMarks int) (string, error) {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	if n == 0 || n > max {
		return "", duet.Errorf(duet.ParamErr, "%s must be 1 to %d characters", field, max)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "", duet.Errorf(duet.ParamErr, "%s must not contain control characters", field)
	}
	if strings.IndexFunc(s, isDirectionControl) >= 0 {
		return "", duet.Errorf(duet.ParamErr, "%s must not contain direction controls (such as U+202E), which make text read as something else", field)
	}
	return s, checkMarks(field, s, maxMarks)
}

// directionOverrides turn the text after them around, character by character. Right-to-left
// writing never needs them (it has marks and isolates, which messages may hold); spoofing does.
const directionOverrides = "\u202d\u202e"

// isDirectionControl reports whether r changes the direction of the text around it.
func isDirectionControl(r rune) bool { return unicode.Is(unicode.Bidi_Control, r) }

// firstMark is the first combining mark in Unicode, U+0300 (combining grave accent).
const firstMark = '\u0300'

// checkMarks refuses text with more than limit combining marks on one character: written
// languages need a few at most, while hundreds stacked on a letter spill over everything
// around it on the page.
func checkMarks(field, s string, limit int) error {
	run, most := 0, 0
	for _, r := range s {
		// No mark comes before U+0300: most text is decided without a table.
		if r >= firstMark && unicode.In(r, unicode.Mn, unicode.Me) {
			run++
			most = max(most, run)
		} else {
			run = 0
		}
	}
	if most > limit {
		return duet.Errorf(duet.ParamErr, "%s must have at most %d combining marks on one character, got %d", field, limit, most)
	}
	return nil
}

// cleanInterests checks and normalises interest tags: trimmed, lower-case, without repeats.
func cleanInterests(tags []string, maxMarks int) ([]string, error) {
	if len(tags) > maxInterests {
		return nil, duet.Errorf(duet.ParamErr, "at most %d interests are allowed", maxInterests)
	}
	var clean []string
	for _, t := range tags {
		t, err := cleanText("each interest", t, maxInterestLen, maxMarks)
		if err != nil {
			return nil, err
		}
		t = strings.ToLower(t)
		if !slices.Contains(clean, t) {
			clean = append(clean, t)
		}
	}
	return clean, nil
}
