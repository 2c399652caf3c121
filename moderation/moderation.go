// Package moderation is what keeps a public, anonymous chat usable: client addresses kept only as
// keyed hashes, and bans of an account, an address or an address's network, with a reason and
// an end. Bans are set by an operator or, for a short cooling-off, automatically. Store is the
// engine interface: MemoryStore serves one node, and a shared engine lets every node see every
// ban.
package moderation

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/duetchat/duet"
)

// Client is what the service keeps of a client's network address: keyed hashes of the address
// and of its network (the /24 of an IPv4 address, the /64 of an IPv6 one), never the address.
type Client struct {
	Addr    string `json:"addr"`
	Network string `json:"network"`
}

// Hasher turns addresses into Clients with a server secret, so that a hash cannot be reversed
// by trying every address without the secret.
type Hasher struct{ key []byte }

// NewHasher returns a Hasher keyed with secret, which every node of a service must share.
func NewHasher(secret []byte) *Hasher { return &Hasher{key: secret} }

// hashLen is the bytes of HMAC-SHA256 kept: 128 bits, plenty against collisions among clients.
const hashLen = 16

// Client returns the hashes of addr. The zero Addr (no known address) has empty hashes.
func (h *Hasher) Client(addr netip.Addr) Client {
	if !addr.IsValid() {
		return Client{}
	}
	addr = addr.Unmap()
	bits := 64
	if addr.Is4() {
		bits = 24
	}
	network, _ := addr.Prefix(bits)
	return Client{Addr: h.hash("addr", addr.String()), Network: h.hash("net", network.String())}
}

func (h *Hasher) hash(kind, s string) string {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(kind + "\x00" + s))
	return hex.EncodeToString(m.Sum(nil)[:hashLen])
}

// Kind is what a ban applies to.
type Kind string

// The kinds of ban.
const (
	KindAccount Kind = "account" // one account, by id
	KindAddress Kind = "address" // every account from one client address, by its hash
	KindNetwork Kind = "network" // every account from one /24 or /64, by its hash
)

// Target is what one ban applies to: an account id in decimal, or an address or network hash.
type Target struct {
	Kind  Kind   `json:"kind"`
	Value string `json:"value"`
}

// AccountTarget is the target of a ban on an account.
func AccountTarget(id int64) Target { return Target{KindAccount, strconv.FormatInt(id, 10)} }

// Targets returns what bans may be found by for an account connected from client: the account
// (when id is not 0), the address and the network (when known).
func Targets(id int64, client Client) []Target {
	var ts []Target
	if id != 0 {
		ts = append(ts, AccountTarget(id))
	}
	if client.Addr != "" {
		ts = append(ts, Target{KindAddress, client.Addr}, Target{KindNetwork, client.Network})
	}
	return ts
}

// Validate checks that t names something a ban can apply to.
func (t Target) Validate() error {
	switch t.Kind {
	case KindAccount:
		if id, err := strconv.ParseInt(t.Value, 10, 64); err != nil || id <= 0 {
			return duet.Errorf(duet.ParamErr, "an account ban needs an account id")
		}
	case KindAddress, KindNetwork:
		if b, err := hex.DecodeString(t.Value); err != nil || len(b) != hashLen {
			return duet.Errorf(duet.ParamErr, "an %s ban needs a %d-character %s hash", t.Kind, 2*hashLen, t.Kind)
		}
	default:
		return duet.Errorf(duet.ParamErr, "a ban's kind must be account, address or network, got %q", t.Kind)
	}
	return nil
}

func (t Target) String() string { return string(t.Kind) + ":" + t.Value }

// Who set a ban: an operator, by the name they gave the admin API, or ByAuto. ByOperator is
// an operator whose name the ban does not keep.
const (
	ByOperator = "operator"
	ByAuto     = "auto" // an automatic cooling-off
)

// Ban keeps a target out of the service until Until. Reason is public: the banned client is
// told it (a rule category such as "spam", or a sentence written to be shown). Note is the
// operator's private note, for operators only, and is never sent to a client.
type Ban struct {
	ID        int64     `json:"id"`
	Target    Target    `json:"target"`
	Reason    string    `json:"reason"`
	Note      string    `json:"note,omitempty"`
	By        string    `json:"by"`
	CreatedAt time.Time `json:"createdAt"`
	Until     time.Time `json:"until"`
}

// Active reports whether the ban is in force at now.
func (b Ban) Active(now time.Time) bool { return now.Before(b.Until) }

// Error is the protocol's Banned refusal for this ban, with its public reason only.
func (b Ban) Error() *duet.Error {
	return &duet.Error{
		Code: duet.Banned, Msg: fmt.Sprintf("you are banned until %s: %s", b.Until.UTC().Format(time.RFC3339), b.Reason),
		Until: b.Until, Reason: b.Reason,
	}
}

// ErrNoBan is the refusal to lift a ban that does not exist or has ended.
var ErrNoBan = duet.Errorf(duet.NoDataFound, "there is no such ban in force")

// Entry is one line of the audit log: an operator's action that changed something.
type Entry struct {
	At       time.Time `json:"at"`
	Operator string    `json:"operator"` // the name the operator gave
	Address  string    `json:"address"`  // the operator's address, as seen by the server
	Action   string    `json:"action"`   // e.g. "ban", "lift-ban", "kick", "end-session"
	Target   string    `json:"target"`   // what it acted on, e.g. "account:42"
	Reason   string    `json:"reason"`
	Note     string    `json:"note,omitempty"` // the operator's private note, if any
}

// Notice is an operator's message to everyone, current until Until: a connection that opens
// meanwhile is shown it too.
type Notice struct {
	Text  string    `json:"text"`
	Level string    `json:"level"`
	Until time.Time `json:"until"`
}

// Store keeps bans, the audit log, the current notice and the switches operators set for every
// node. Every method is
// atomic; a ban is gone by itself once it has ended.
type Store interface {
	AddBan(ctx context.Context, b Ban) error
	// LiftBan ends a ban in force and returns it, or ErrNoBan.
	LiftBan(ctx context.Context, id int64, now time.Time) (Ban, error)
	// Bans returns the bans in force at now, the newest first.
	Bans(ctx context.Context, now time.Time) ([]Ban, error)
	// FindBan returns the ban in force at now on any of targets that ends last, if there is one.
	FindBan(ctx context.Context, now time.Time, targets []Target) (Ban, bool, error)

	// AddAudit appends an entry to the audit log, which keeps the newest entries up to its size.
	AddAudit(ctx context.Context, e Entry) error
	// Audit returns up to limit entries of the audit log, the newest first.
	Audit(ctx context.Context, limit int) ([]Entry, error)

	// SetNotice makes n the current notice, replacing any other, until n.Until.
	SetNotice(ctx context.Context, n Notice) error
	// CurrentNotice returns the notice current at now, if there is one.
	CurrentNotice(ctx context.Context, now time.Time) (Notice, bool, error)

	// SetMatchingPaused pauses or resumes matching on every node.
	SetMatchingPaused(ctx context.Context, paused bool) error
	MatchingPaused(ctx context.Context) (bool, error)

	// SetChallengeMode sets the proof-of-work mode (challenge.Mode) of every node.
	SetChallengeMode(ctx context.Context, mode string) error
	// ChallengeMode returns the mode set last, or "" when none was.
	ChallengeMode(ctx context.Context) (string, error)
}
