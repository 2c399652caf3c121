package push

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/duetchat/duet"
)

// Limits are the rate limits of an account's requests. They are kept per account, not per
// connection, so that a RECONNECT on a fresh WebSocket finds its buckets as it left them.
type Limits struct {
	Dialogue duet.Limit
	Content  duet.Limit // characters of DIALOGUE content
	Match    duet.Limit
	Leave    duet.Limit
	Typing   duet.Limit
	Report   duet.Limit
	Receipt  duet.Limit // VIEWED_ACK and DELIVERED_ACK together
	Resume   duet.Limit
}

// Bucket is the state of one token bucket: its tokens when it was last counted, at At.
type Bucket struct {
	Tokens float64
	At     time.Time
}

// LimitStore keeps an account's buckets for the node that holds the account next. It is asked
// when an account is bound to a connection by RECONNECT and when it leaves a node (its
// connection ends or another node takes it over), never on the message path.
type LimitStore interface {
	LoadLimits(ctx context.Context, accountID int64) (map[string]Bucket, error)
	SaveLimits(ctx context.Context, accountID int64, buckets map[string]Bucket) error
}

// limiters are an account's token buckets, one per limit, shared by whichever of its
// connections serves a request. The zero limiters, an exempt client's, let every request
// through.
type limiters struct {
	dialogue, content, match, leave, typing, report, receipt, resume *rate.Limiter
}

// unlimited are the limiters of a client exempt from rate limits.
var unlimited = &limiters{}

func newLimiters(l Limits) *limiters {
	return &limiters{
		dialogue: newLimiter(l.Dialogue), content: newLimiter(l.Content), match: newLimiter(l.Match),
		leave: newLimiter(l.Leave), typing: newLimiter(l.Typing), report: newLimiter(l.Report),
		receipt: newLimiter(l.Receipt), resume: newLimiter(l.Resume),
	}
}

func newLimiter(l duet.Limit) *rate.Limiter { return rate.NewLimiter(rate.Limit(l.Rate), l.Burst) }

// named returns the buckets by the names a LimitStore keeps them under.
func (l *limiters) named() map[string]*rate.Limiter {
	return map[string]*rate.Limiter{
		"dialogue": l.dialogue, "content": l.content, "match": l.match, "leave": l.leave,
		"typing": l.typing, "report": l.report, "receipt": l.receipt, "resume": l.resume,
	}
}

// full reports whether every bucket has filled up again by now.
func (l *limiters) full(now time.Time) bool {
	for _, b := range l.named() {
		if b.TokensAt(now) < float64(b.Burst()) {
			return false
		}
	}
	return true
}

// state returns the buckets that are not full at now.
func (l *limiters) state(now time.Time) map[string]Bucket {
	s := make(map[string]Bucket)
	for name, b := range l.named() {
		if tokens := b.TokensAt(now); tokens < float64(b.Burst()) {
			s[name] = Bucket{Tokens: tokens, At: now}
		}
	}
	return s
}

// spend lowers each bucket to what saved says it held, refilled to now, when that is fewer
// tokens than it holds: whichever node saw the most spent is believed.
func (l *limiters) spend(saved map[string]Bucket, now time.Time) {
	for name, b := range l.named() {
		s, ok := saved[name]
		if !ok {
			continue
		}
		had := s.Tokens + max(0, now.Sub(s.At).Seconds())*float64(b.Limit())
		if extra := int(math.Ceil(b.TokensAt(now) - had)); extra > 0 {
			b.ReserveN(now, min(extra, b.Burst()))
		}
	}
}

// accountLimits are the limiters of the accounts this node has held lately. An account's
// limiters stay after its connection ends until they have filled up again, so that a
// RECONNECT here finds them; with a LimitStore, they follow the account to other nodes.
type accountLimits struct {
	limits Limits
	store  LimitStore // nil: kept in this process only, which is all there is on one node
	now    func() time.Time
	mu     sync.Mutex // guards m
	m      map[int64]*accountEntry
}

type accountEntry struct {
	limiters *limiters
	conns    int // connections of this node bound to the account
}

func newAccountLimits(limits Limits, store LimitStore, now func() time.Time) *accountLimits {
	return &accountLimits{limits: limits, store: store, now: now, m: make(map[int64]*accountEntry)}
}

// bind returns the limiters of an account that a connection of this node now serves. With
// load, it first takes in what the store kept of them, as a RECONNECT does: the account may
// come from another node.
func (a *accountLimits) bind(ctx context.Context, accountID int64, load bool) (*limiters, error) {
	var saved map[string]Bucket
	if load && a.store != nil {
		var err error
		if saved, err = a.store.LoadLimits(ctx, accountID); err != nil {
			return nil, err
		}
	}
	a.mu.Lock()
	e := a.m[accountID]
	if e == nil {
		e = &accountEntry{limiters: newLimiters(a.limits)}
		a.m[accountID] = e
	}
	e.conns++
	a.mu.Unlock()
	e.limiters.spend(saved, a.now())
	return e.limiters, nil
}

// unbind records that a connection bound to the account has ended.
func (a *accountLimits) unbind(accountID int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if e := a.m[accountID]; e != nil {
		e.conns--
	}
}

// save hands the account's buckets to the store, for the node that holds the account next.
func (a *accountLimits) save(ctx context.Context, accountID int64) error {
	if a.store == nil {
		return nil
	}
	a.mu.Lock()
	e := a.m[accountID]
	a.mu.Unlock()
	if e == nil {
		return nil
	}
	return a.store.SaveLimits(ctx, accountID, e.limiters.state(a.now()))
}

// prune forgets the accounts that no connection here serves and whose buckets are full.
func (a *accountLimits) prune(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, e := range a.m {
		if e.conns <= 0 && e.limiters.full(now) {
			delete(a.m, id)
		}
	}
}
