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
	// pairs holds, per account, the accounts it must not be matched with: partnered (in a
	// session), recently parted, or blocked for good.
	pairs map[int64]map[int64]pairBar
}

// pairBar is why two accounts may not meet: they are partnered, they parted (and the rule's
// cooldown decides for how long), or one blocked the other for good.
type pairBar struct {
	partnered bool
	blocked   bool
	parted    time.Time // when they parted, unless partnered or blocked
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
	// The one asking and everyone queued, less the two to be paired.
	others := len(q.waiting) - 1
	i := q.rule.Pick(w, q.waiting, now, q.allowedLocked(now, others))
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
	// The queue as the call finds it, less the two to be paired. Pairing in the loop below does
	// not shrink it: the pass is one moment, and the rule stays symmetric through it, so a
	// waiter ahead found unsuitable for everyone behind it stays so.
	allowed := q.allowedLocked(now, len(q.waiting)-2)
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
func (q *MemoryQueue) Release(_ context.Context, a, b int64, at time.Time) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.pairs[a][b].blocked {
		return nil
	}
	q.barLocked(a, b, pairBar{parted: at})
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
	q.barLocked(a.AccountID, b.AccountID, pairBar{partnered: true})
	return Pair{A: a, B: b, Common: Common(a.Interests, b.Interests)}
}

// allowedLocked returns the rule's allowed function for the moment now, with others waiting
// besides the two it is asked about. It drops the bars that have lapsed for good, the whole
// cooldown having passed, as it meets them, so the table does not grow with history.
func (q *MemoryQueue) allowedLocked(now time.Time, others int) func(a, b int64) bool {
	return func(a, b int64) bool {
		bar, ok := q.pairs[a][b]
		switch {
		case !ok:
			return true
		case bar.partnered || bar.blocked:
			return false
		case q.rule.keptApart(bar.parted, now, q.rule.CooldownQueue):
			return !q.rule.keptApart(bar.parted, now, others)
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
