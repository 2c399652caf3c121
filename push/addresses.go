package push

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/duetchat/duet"
)

// AddressLimiter keeps the limits per client address: its open connections, and the token
// buckets of its new connections and of its new accounts. Addresses are named by their keyed
// hash (moderation.Client.Addr), never in the clear. It is asked when a connection opens or
// closes and when an account is created, never on the message path, so an implementation may
// ask a store that all nodes share.
type AddressLimiter interface {
	// Open admits a new connection from addr, or refuses it: with RateLimited when the address
	// is over a limit; with a *duet.Error of code InternalErr, whose sentence the client is
	// shown, when the limits could not be checked (the limiter logs why).
	Open(ctx context.Context, addr string) error
	// Close gives back the place of a connection that Open admitted.
	Close(ctx context.Context, addr string)
	// CreateAccount takes a token for a new account from addr, or refuses it like Open.
	CreateAccount(ctx context.Context, addr string) error
	// ChallengeAccount takes a token for a new account that must solve a challenge first from
	// addr, and returns the fraction of the bucket's burst now spent (0 to 1), or refuses it
	// like Open.
	ChallengeAccount(ctx context.Context, addr string) (float64, error)
	// Reconnect takes a token for a RECONNECT from addr, or refuses it like Open.
	Reconnect(ctx context.Context, addr string) error
}

// AddressLimits are the limits per client address.
type AddressLimits struct {
	Connect     duet.Limit // new connections
	Connections int        // open connections
	Account     duet.Limit // new accounts
	// Challenged are the new accounts that must solve a challenge first: those beyond Account,
	// and all while the service asks challenges of everybody.
	Challenged duet.Limit
	Reconnect  duet.Limit // RECONNECTs
	// Requests are the limits of the requests of all the address's accounts together, so that
	// accounts, which cost nothing to make, do not each bring a full set.
	Requests Limits
	// FullRetry is the wait told to a client whose address holds Connections already.
	FullRetry time.Duration
}

// The refusals of an address over its limits, the same from every AddressLimiter.

// ConnectionsFull refuses a connection from an address that holds l.Connections already.
func (l AddressLimits) ConnectionsFull() error {
	return &duet.Error{Code: duet.RateLimited, Msg: "too many connections from your address; close one first", RetryAfter: l.FullRetry}
}

// ConnectingTooFast refuses a connection from an address whose connect bucket is empty for wait.
func ConnectingTooFast(wait time.Duration) error {
	return &duet.Error{Code: duet.RateLimited, Msg: "too many new connections from your address; wait a moment", RetryAfter: wait}
}

// ReconnectingTooFast refuses a RECONNECT from an address whose reconnect bucket is empty for
// wait.
func ReconnectingTooFast(wait time.Duration) error {
	return &duet.Error{Code: duet.RateLimited, Msg: "too many reconnects from your address; wait a moment", RetryAfter: wait}
}

// CreatingTooFast refuses an account to an address whose account bucket is empty for wait.
func CreatingTooFast(wait time.Duration) error {
	return &duet.Error{Code: duet.RateLimited, Msg: "too many accounts created from your address; wait a moment", RetryAfter: wait}
}

// localAddresses counts the limits per address in this process: on one node, they hold for
// the whole service. An address with no connection whose buckets have filled up again is
// forgotten at the next Prune, so the table stays as small as the set of recent clients.
type localAddresses struct {
	limits AddressLimits
	now    func() time.Time
	mu     sync.Mutex // guards m
	m      map[string]*addressState
}

var _ AddressLimiter = (*localAddresses)(nil)

type addressState struct {
	conns      int
	connect    *rate.Limiter
	account    *rate.Limiter
	challenged *rate.Limiter
	reconnect  *rate.Limiter
}

func newLocalAddresses(limits AddressLimits, now func() time.Time) *localAddresses {
	return &localAddresses{limits: limits, now: now, m: make(map[string]*addressState)}
}

func (a *localAddresses) stateLocked(addr string) *addressState {
	st := a.m[addr]
	if st == nil {
		st = &addressState{
			connect: newLimiter(a.limits.Connect), account: newLimiter(a.limits.Account),
			challenged: newLimiter(a.limits.Challenged), reconnect: newLimiter(a.limits.Reconnect),
		}
		a.m[addr] = st
	}
	return st
}

// Open implements AddressLimiter.
func (a *localAddresses) Open(_ context.Context, addr string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.stateLocked(addr)
	if st.conns >= a.limits.Connections {
		return a.limits.ConnectionsFull()
	}
	if refused, wait := allow(a.now(), take{st.connect, 1}); refused >= 0 {
		return ConnectingTooFast(wait)
	}
	st.conns++
	return nil
}

// Close implements AddressLimiter.
func (a *localAddresses) Close(_ context.Context, addr string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if st := a.m[addr]; st != nil {
		st.conns--
	}
}

// CreateAccount implements AddressLimiter.
func (a *localAddresses) CreateAccount(_ context.Context, addr string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if refused, wait := allow(a.now(), take{a.stateLocked(addr).account, 1}); refused >= 0 {
		return CreatingTooFast(wait)
	}
	return nil
}

// ChallengeAccount implements AddressLimiter.
func (a *localAddresses) ChallengeAccount(_ context.Context, addr string) (float64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now, bucket := a.now(), a.stateLocked(addr).challenged
	if refused, wait := allow(now, take{bucket, 1}); refused >= 0 {
		return 1, CreatingTooFast(wait)
	}
	return 1 - bucket.TokensAt(now)/float64(bucket.Burst()), nil
}

// Reconnect implements AddressLimiter.
func (a *localAddresses) Reconnect(_ context.Context, addr string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if refused, wait := allow(a.now(), take{a.stateLocked(addr).reconnect, 1}); refused >= 0 {
		return ReconnectingTooFast(wait)
	}
	return nil
}

// prune forgets the addresses that have nothing left to remember.
func (a *localAddresses) prune(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for addr, st := range a.m {
		if st.conns == 0 && full(st.connect, now) && full(st.account, now) && full(st.challenged, now) && full(st.reconnect, now) {
			delete(a.m, addr)
		}
	}
}

func full(l *rate.Limiter, now time.Time) bool { return l.TokensAt(now) >= float64(l.Burst()) }
