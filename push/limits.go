package push

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/duetchat/duet"
)

// Limits are the rate limits of requests, one token bucket each. Per account they are kept for
// the account, not its connection, so that a RECONNECT on a fresh WebSocket finds its buckets as
// it left them; per client address they hold for all the address's accounts together. A zero
// Limit is no limit.
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

// bucket is one of the limits of Limits.
type bucket int

const (
	dialogueBucket bucket = iota
	contentBucket
	matchBucket
	leaveBucket
	typingBucket
	reportBucket
	receiptBucket
	resumeBucket
	bucketCount
)

// bucketNames are the names a store keeps the buckets under.
var bucketNames = [bucketCount]string{"dialogue", "content", "match", "leave", "typing", "report", "receipt", "resume"}

// each returns the limits in bucket order.
func (l Limits) each() [bucketCount]duet.Limit {
	return [bucketCount]duet.Limit{l.Dialogue, l.Content, l.Match, l.Leave, l.Typing, l.Report, l.Receipt, l.Resume}
}

// Named returns the limits that apply, by the names a store keeps their buckets under.
func (l Limits) Named() map[string]duet.Limit {
	named := make(map[string]duet.Limit)
	for b, limit := range l.each() {
		if limit != (duet.Limit{}) {
			named[bucketNames[b]] = limit
		}
	}
	return named
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

// AddressBucketStore keeps the buckets of each client address (by its keyed hash) for the whole
// service, while the address's connections are spread over nodes. Every node spends from its
// own copy of an address's buckets on the message path and, every AddressShare, hands the store
// what it spent since; the store takes it from the address's buckets over all nodes and returns
// what they hold now, which the node's copy then holds at most. Before the nodes agree an
// address may so spend its burst once on each node; after, no more than its rate over all.
type AddressBucketStore interface {
	ShareBuckets(ctx context.Context, spent map[string]map[string]int) (map[string]map[string]Bucket, error)
}

// limiters are the token buckets of one account or address, by bucket; nil where no limit
// applies, so the zero limiters, an exempt client's, let every request through.
type limiters [bucketCount]*rate.Limiter

// unlimited are the limiters of a client exempt from rate limits.
var unlimited = &limiters{}

func newLimiters(l Limits) *limiters {
	var ls limiters
	for b, limit := range l.each() {
		if limit != (duet.Limit{}) {
			ls[b] = newLimiter(limit)
		}
	}
	return &ls
}

func newLimiter(l duet.Limit) *rate.Limiter { return rate.NewLimiter(rate.Limit(l.Rate), l.Burst) }

// full reports whether every bucket has filled up again by now.
func (l *limiters) full(now time.Time) bool {
	for _, b := range l {
		if b != nil && b.TokensAt(now) < float64(b.Burst()) {
			return false
		}
	}
	return true
}

// state returns the buckets that are not full at now.
func (l *limiters) state(now time.Time) map[string]Bucket {
	s := make(map[string]Bucket)
	for i, b := range l {
		if b == nil {
			continue
		}
		if tokens := b.TokensAt(now); tokens < float64(b.Burst()) {
			s[bucketNames[i]] = Bucket{Tokens: tokens, At: now}
		}
	}
	return s
}

// spend lowers each bucket to what saved says it held, refilled to now, when that is fewer
// tokens than it holds: whichever node saw the most spent is believed.
func (l *limiters) spend(saved map[string]Bucket, now time.Time) {
	for i, b := range l {
		s, ok := saved[bucketNames[i]]
		if b == nil || !ok {
			continue
		}
		had := s.Tokens + max(0, now.Sub(s.At).Seconds())*float64(b.Limit())
		if extra := int(math.Ceil(b.TokensAt(now) - had)); extra > 0 {
			b.ReserveN(now, min(extra, b.Burst()))
		}
	}
}

// held are the limiters this node holds for one account or address: the connections of this
// node bound to it use them.
type held struct {
	limiters *limiters
	conns    int                       // guarded by the table's mu
	spent    [bucketCount]atomic.Int64 // tokens taken since the last share, when the table shares them
}

// limitTable holds limiters by account or address. An entry stays after its last connection
// ends until its buckets have filled up again (and what it spent is shared), so that a client
// that comes back finds them as it left them.
type limitTable[K comparable] struct {
	limits Limits
	mu     sync.Mutex // guards m
	m      map[K]*held
}

func newLimitTable[K comparable](limits Limits) *limitTable[K] {
	return &limitTable[K]{limits: limits, m: make(map[K]*held)}
}

// bind returns key's entry, made if missing, with one more connection bound to it.
func (t *limitTable[K]) bind(key K) *held {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.m[key]
	if h == nil {
		h = &held{limiters: newLimiters(t.limits)}
		t.m[key] = h
	}
	h.conns++
	return h
}

// unbind records that a connection bound to key has ended.
func (t *limitTable[K]) unbind(key K) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if h := t.m[key]; h != nil {
		h.conns--
	}
}

func (t *limitTable[K]) lookup(key K) *held {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[key]
}

// prune forgets the entries that no connection here uses, whose buckets are full and whose
// spending is shared.
func (t *limitTable[K]) prune(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for key, h := range t.m {
		if h.conns <= 0 && h.limiters.full(now) && !h.unshared() {
			delete(t.m, key)
		}
	}
}

func (h *held) unshared() bool {
	for i := range h.spent {
		if h.spent[i].Load() != 0 {
			return true
		}
	}
	return false
}

// accountLimits are the limiters of the accounts this node has held lately; with a LimitStore,
// they follow an account to other nodes.
type accountLimits struct {
	*limitTable[int64]
	store LimitStore // nil: kept in this process only, which is all there is on one node
	now   func() time.Time
}

func newAccountLimits(limits Limits, store LimitStore, now func() time.Time) *accountLimits {
	return &accountLimits{limitTable: newLimitTable[int64](limits), store: store, now: now}
}

// load binds a connection of this node to the account's limiters, with load first taking in
// what the store kept of them, as a RECONNECT does: the account may come from another node.
func (a *accountLimits) load(ctx context.Context, accountID int64, load bool) (*limiters, error) {
	var saved map[string]Bucket
	if load && a.store != nil {
		var err error
		if saved, err = a.store.LoadLimits(ctx, accountID); err != nil {
			return nil, err
		}
	}
	h := a.bind(accountID)
	h.limiters.spend(saved, a.now())
	return h.limiters, nil
}

// save hands the account's buckets to the store, for the node that holds the account next.
func (a *accountLimits) save(ctx context.Context, accountID int64) error {
	if a.store == nil {
		return nil
	}
	h := a.lookup(accountID)
	if h == nil {
		return nil
	}
	return a.store.SaveLimits(ctx, accountID, h.limiters.state(a.now()))
}

// addressLimits are the limiters of the client addresses this node has served lately; with an
// AddressBucketStore, shared with the other nodes.
type addressLimits struct {
	*limitTable[string]
	store AddressBucketStore // nil: kept in this process only, which is all there is on one node
	now   func() time.Time
}

func newAddressLimits(limits Limits, store AddressBucketStore, now func() time.Time) *addressLimits {
	return &addressLimits{limitTable: newLimitTable[string](limits), store: store, now: now}
}

// took records what a request took from an address's buckets, for the next share.
func (a *addressLimits) took(h *held, needs []need) {
	if a.store == nil {
		return
	}
	for _, n := range needs {
		if h.limiters[n.b] != nil { // TYPING, LEAVE and receipts have no limit per address
			h.spent[n.b].Add(int64(n.n))
		}
	}
}

// share hands the store what this node spent from each address's buckets since the last share,
// and lowers this node's copies to what the addresses hold over all nodes. Should the store
// fail, the spending is kept for the next share.
func (a *addressLimits) share(ctx context.Context) error {
	a.mu.Lock()
	spent := make(map[string]map[string]int)
	entries := make(map[string]*held)
	for addr, h := range a.m {
		for b := range h.spent {
			if n := h.spent[b].Swap(0); n != 0 {
				if spent[addr] == nil {
					spent[addr] = make(map[string]int)
					entries[addr] = h
				}
				spent[addr][bucketNames[b]] = int(n)
			}
		}
	}
	a.mu.Unlock()
	if len(spent) == 0 {
		return nil
	}
	left, err := a.store.ShareBuckets(ctx, spent)
	if err != nil {
		for addr, h := range entries {
			for b, name := range bucketNames {
				h.spent[b].Add(int64(spent[addr][name]))
			}
		}
		return err
	}
	now := a.now()
	for addr, h := range entries {
		h.limiters.spend(left[addr], now)
	}
	return nil
}
