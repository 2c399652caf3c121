package challenge

import (
	"context"
	"sync"
	"time"

	"github.com/duetchat/duet"
)

// Ledger remembers the challenges whose proofs were accepted until they expire, so that each
// proof is accepted once on the whole service.
type Ledger interface {
	// Spend records challenge as used until the given time, and reports whether it was not
	// used before.
	Spend(ctx context.Context, challenge string, until time.Time) (bool, error)
}

// MemoryLedger is the Ledger of a single node: a map bounded in size, forgetting each entry
// once its challenge has expired. When it holds its size of unexpired challenges, a proof is
// refused as RateLimited until the oldest expires: that many accounts within a challenge's
// lifetime is a flood, and forgetting one early would let its proof work twice.
type MemoryLedger struct {
	size int
	now  func() time.Time

	mu    sync.Mutex // guards spent and order
	spent map[string]time.Time
	order []ledgerEntry // in the order spent: their expiries nearly ascend, as every challenge lives as long
}

type ledgerEntry struct {
	challenge string
	until     time.Time
}

var _ Ledger = (*MemoryLedger)(nil)

// NewMemoryLedger returns an empty ledger of at most size challenges.
func NewMemoryLedger(size int, now func() time.Time) *MemoryLedger {
	return &MemoryLedger{size: size, now: now, spent: make(map[string]time.Time)}
}

// Spend implements Ledger.
func (l *MemoryLedger) Spend(_ context.Context, challenge string, until time.Time) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for len(l.order) > 0 && !l.order[0].until.After(now) {
		delete(l.spent, l.order[0].challenge)
		l.order = l.order[1:]
	}
	if _, used := l.spent[challenge]; used {
		return false, nil
	}
	if len(l.spent) >= l.size {
		return false, &duet.Error{Code: duet.RateLimited, Msg: "too many new accounts right now; try again in a moment", RetryAfter: l.order[0].until.Sub(now)}
	}
	l.spent[challenge] = until
	l.order = append(l.order, ledgerEntry{challenge, until})
	return true, nil
}

// Len returns how many challenges the ledger remembers.
func (l *MemoryLedger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.spent)
}
