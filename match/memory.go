package match

import (
	"context"
	"slices"
	"sync"
	"time"
)

// MemoryQueue is the Queue of a single node.
type MemoryQueue struct {
	rule Rule

	mu sync.Mutex // guards the following fields
	// waiting is the queue, longest waiter first. Queues stay short, since a request is matched
	// at once when anyone suitable waits, so a slice beats cleverer structures.
	waiting []Waiter
	// pairs holds, per account, the accounts it must not be matched with and until when:
	// partnered (in a session), recently left, or blocked for good.
	pairs map[int64]map[int64]pairBar
}

type pairBar struct {
	until   time.Time // zero: while partnered
	blocked bool      // never again
}

func (b pairBar) bars(now time.Time) bool {
	return b.blocked || b.until.IsZero() || now.Before(b.until)
}

var _ Queue = (*MemoryQueue)(nil)

// NewMemoryQueue returns an empty queue pairing by rule.
func NewMemoryQueue(rule Rule) *MemoryQueue {
	return &MemoryQueue{rule: rule, pairs: make(map[int64]map[int64]pairBar)}
}

// Match implements Queue.
func (q *MemoryQueue) Match(_ context.Context, w Waiter, now time.Time) (Pair, bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if slices.ContainsFunc(q.waiting, func(x Waiter) bool { return x.AccountID == w.AccountID }) {
		return Pair{}, false, nil
	}
	i := q.rule.Pick(w, q.waiting, now, q.allowedLocked(now))
	if i < 0 {
		q.waiting = append(q.waiting, w)
		return Pair{}, false, nil
	}
	partner := q.waiting[i]
	q.waiting = slices.Delete(q.waiting, i, i+1)
	return q.pairLocked(w, partner), true, nil
}

// MatchWaiting implements Queue.
func (q *MemoryQueue) MatchWaiting(_ context.Context, now time.Time) ([]Pair, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var pairs []Pair
	allowed := q.allowedLocked(now)
	for i := 0; i < len(q.waiting); i++ {
		w := q.waiting[i]
		j := q.rule.Pick(w, q.waiting[i+1:], now, allowed)
		if j < 0 {
			continue
		}
		partner := q.waiting[i+1+j]
		q.waiting = slices.Delete(q.waiting, i+1+j, i+2+j)
		q.waiting = slices.Delete(q.waiting, i, i+1)
		i--
		pairs = append(pairs, q.pairLocked(w, partner))
	}
	return pairs, nil
}

// Requeue implements Queue.
func (q *MemoryQueue) Requeue(_ context.Context, w Waiter) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if slices.ContainsFunc(q.waiting, func(x Waiter) bool { return x.AccountID == w.AccountID }) {
		return nil
	}
	i, _ := slices.BinarySearchFunc(q.waiting, w, func(x, w Waiter) int { return x.Since.Compare(w.Since) })
	q.waiting = slices.Insert(q.waiting, i, w)
	return nil
}

// Cancel implements Queue.
func (q *MemoryQueue) Cancel(_ context.Context, accountID int64) (bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := len(q.waiting)
	q.waiting = slices.DeleteFunc(q.waiting, func(x Waiter) bool { return x.AccountID == accountID })
	return len(q.waiting) < n, nil
}

// Release implements Queue.
func (q *MemoryQueue) Release(_ context.Context, a, b int64, until time.Time) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.pairs[a][b].blocked {
		return nil
	}
	q.barLocked(a, b, pairBar{until: until})
	return nil
}

// Block implements Queue.
func (q *MemoryQueue) Block(_ context.Context, a, b int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.barLocked(a, b, pairBar{blocked: true})
	return nil
}

// Forget implements Queue.
func (q *MemoryQueue) Forget(_ context.Context, accountID int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.waiting = slices.DeleteFunc(q.waiting, func(x Waiter) bool { return x.AccountID == accountID })
	for other := range q.pairs[accountID] {
		q.unbarLocked(accountID, other)
	}
	return nil
}

// Waiting implements Queue.
func (q *MemoryQueue) Waiting(context.Context) ([]Waiter, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.waiting), nil
}

// pairLocked records a and b as partnered and returns their Pair.
func (q *MemoryQueue) pairLocked(a, b Waiter) Pair {
	q.barLocked(a.AccountID, b.AccountID, pairBar{})
	return Pair{A: a, B: b, Common: Common(a.Interests, b.Interests)}
}

// allowedLocked returns the rule's allowed function for the moment now; it drops bars that have
// expired as it meets them, so the table does not grow with history.
func (q *MemoryQueue) allowedLocked(now time.Time) func(a, b int64) bool {
	return func(a, b int64) bool {
		bar, ok := q.pairs[a][b]
		if !ok {
			return true
		}
		if bar.bars(now) {
			return false
		}
		q.unbarLocked(a, b)
		return true
	}
}

func (q *MemoryQueue) barLocked(a, b int64, bar pairBar) {
	for _, p := range [][2]int64{{a, b}, {b, a}} {
		m := q.pairs[p[0]]
		if m == nil {
			m = make(map[int64]pairBar)
			q.pairs[p[0]] = m
		}
		m[p[1]] = bar
	}
}

func (q *MemoryQueue) unbarLocked(a, b int64) {
	for _, p := range [][2]int64{{a, b}, {b, a}} {
		delete(q.pairs[p[0]], p[1])
		if len(q.pairs[p[0]]) == 0 {
			delete(q.pairs, p[0])
		}
	}
}
