package session

import (
	"context"
	"time"

	"github.com/duetchat/duet"
)

// The refusals every Store gives, in the same words on every engine.
var (
	ErrNoAccount = duet.Errorf(duet.NoDataFound, "there is no such account")
	ErrNoSession = duet.Errorf(duet.NoDataFound, "there is no such session")
	ErrNotMember = duet.Errorf(duet.Unauthorized, "you are not in this session")
	ErrEnded     = duet.Errorf(duet.SessionEnded, "this session has ended")
	ErrNoMessage = duet.Errorf(duet.NoDataFound, "there is no such message in this session")
	ErrNoReport  = duet.Errorf(duet.NoDataFound, "there is no such report")
	ErrResolved  = duet.Errorf(duet.ParamErr, "this report has already been resolved")
)

// Store is the shared state of a service, one interface per concern: accounts and their
// presence, sessions and their messages, and the mailbox of pushes. Every method is atomic.
// Failures a client caused come back as *duet.Error with their protocol code (NoDataFound,
// Unauthorized, SessionEnded); any other error means the store failed and the request may be
// retried. Reports, which outlive sessions and accounts, are kept apart (Reports).
type Store interface {
	// Ping reports whether the store answers.
	Ping(ctx context.Context) error
	Accounts
	Sessions
	Mailbox
}

// Accounts keeps the anonymous accounts and when each was last seen.
type Accounts interface {
	CreateAccount(ctx context.Context, a Account) error
	// Account returns the account, or NoDataFound.
	Account(ctx context.Context, id int64) (Account, error)
	// DeleteAccount removes the account with its token and backlog and returns the sessions it
	// was live in. Only the call that removed it reports true, so that whoever ends those
	// sessions does so once.
	DeleteAccount(ctx context.Context, id int64) ([]Session, bool, error)
	// Seen records, for each account, that it sent a frame at the given time (never moving
	// LastSeen back). A node reports all its connections at once, every ping interval.
	Seen(ctx context.Context, seen map[int64]time.Time) error
	// SetAway sets the account's away flag and reports whether it changed, so that partners
	// hear of each change once.
	SetAway(ctx context.Context, id int64, away bool) (bool, error)
	// Lapsed returns the accounts last seen before cutoff; none while the latest time that
	// presence resumed (ResumePresence) is cutoff or later.
	Lapsed(ctx context.Context, cutoff time.Time) ([]int64, error)
	// ResumePresence records that a node reaches the store again at the given time, after it
	// failed to: its reports of presence stopped meanwhile, and those of other nodes perhaps
	// too, so the silence of an outage counts against nobody. Every node sees the latest time.
	ResumePresence(ctx context.Context, at time.Time) error
	// FindAccounts returns the accounts for which keep reports true, the last seen first, up
	// to limit (0: none, only the count), and how many there are in all. It reads every
	// account: it serves operators' look-ups, not clients' requests.
	FindAccounts(ctx context.Context, keep func(Account) bool, limit int) ([]Account, int, error)
}

// Sessions keeps the 1:1 sessions, their bounded message histories and receipt watermarks.
type Sessions interface {
	// CreateSession stores a new live session, or NoDataFound if a member no longer exists.
	CreateSession(ctx context.Context, s Session) error
	// Session returns a live session or one ended within the history retention, or NoDataFound.
	Session(ctx context.Context, id int64) (Session, error)
	// LiveSessions returns the account's live sessions.
	LiveSessions(ctx context.Context, accountID int64) ([]Session, error)
	// AllLive returns the newest live sessions, up to limit, and how many sessions are live.
	AllLive(ctx context.Context, limit int) ([]Session, int, error)
	// EndSession ends a live session. Only the call that ended it reports true.
	EndSession(ctx context.Context, id int64, reason string, at time.Time) (Session, bool, error)

	// AppendMessage stores m in its live session, which m.SenderID must belong to. The stored
	// msgId is m.ID or, should that not exceed the session's last one, the next after it, so ids
	// strictly increase within a session. A RequestID seen before in the session returns the
	// first message as a duplicate and stores nothing. An engine may also send the message's
	// push toward the partner in the same step, and then says so in Appended.Delivered.
	AppendMessage(ctx context.Context, m Message) (Appended, error)
	// Messages returns the session's messages after afterMsgID in order, and whether the
	// history still reaches back that far.
	Messages(ctx context.Context, sessionID, afterMsgID int64) ([]Message, bool, error)
	// Acknowledge moves reader's delivered watermark in a live session forward to msgID, and with
	// viewed its read watermark too (viewing implies delivery). A watermark never moves back. It
	// returns the partner and which watermarks moved; ErrNoMessage if msgID is past the
	// session's last message.
	Acknowledge(ctx context.Context, sessionID, reader, msgID int64, viewed bool) (Receipt, error)
}

// Mailbox routes an account's pushes to the node holding its connection, and keeps them in the
// account's backlog while it has none.
type Mailbox interface {
	// AppendBacklog keeps pushes, in order, for an account that is away; the oldest go first
	// when the backlog is full. Pushes for an account that does not exist are dropped.
	AppendBacklog(ctx context.Context, accountID int64, ps ...Push) error
	// Claim routes the account's pushes to the node that holds its connection, and returns and
	// empties its backlog, oldest first.
	Claim(ctx context.Context, accountID, node int64) ([]Push, error)
	// Release stops routing the account's pushes to node, unless another node has claimed the
	// account since, and keeps pending at the end of its backlog. It reports whether node still
	// held the account: false once another node has taken it over.
	Release(ctx context.Context, accountID, node int64, pending []Push) (bool, error)
}

// Reports keeps the reports people file, with their sessions' evidence, each for the report
// retention after it was first filed, and at most a set number of reports: when full, a new
// report pushes out the oldest resolved one or, when every report kept is open, the oldest.
type Reports interface {
	// FileReport keeps r, and evidence as its session's unless the session has some already; or,
	// when r.Reporter has a report on r.SessionID, updates that one instead (category, note,
	// UpdatedAt, one more filing) and ignores evidence. It returns the report as now stored,
	// without evidence.
	FileReport(ctx context.Context, r Report, evidence []Message) (Report, error)
	// Reports returns the reports kept, the newest first, without evidence.
	Reports(ctx context.Context) ([]Report, error)
	// OpenReports counts the open reports kept, cheaply: the admin page asks every few seconds.
	OpenReports(ctx context.Context) (int, error)
	// Report returns one report with its session's evidence, or ErrNoReport.
	Report(ctx context.Context, id int64) (Report, error)
	// ResolveReport records the decision on an open report (status ReportAccepted or
	// ReportRejected) and returns the report as now stored, without evidence; ErrResolved if it
	// was resolved before.
	ResolveReport(ctx context.Context, id int64, status string, res Resolution) (Report, error)
}

// ReportLimits bound a Reports store.
type ReportLimits struct {
	Retention  time.Duration // how long a report is kept after it was first filed
	MaxReports int           // reports kept at most
}
