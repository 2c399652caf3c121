package challenge

import (
	"context"
	"sync"
)

// Tallies add up the nodes' counts of new-account requests in each window of time (numbered
// from the Unix epoch), so that every node sees the rate of the whole service.
type Tallies interface {
	// Add adds n to window w's tally and returns the tallies of windows w and w-1.
	Add(ctx context.Context, w, n int64) (cur, prev int64, err error)
}

// MemoryTallies are the Tallies of a single node.
type MemoryTallies struct {
	mu     sync.Mutex // guards the fields below
	window int64
	cur    int64
	prev   int64
}

var _ Tallies = (*MemoryTallies)(nil)

// Add implements Tallies.
func (t *MemoryTallies) Add(_ context.Context, w, n int64) (int64, int64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case w == t.window+1:
		t.window, t.prev, t.cur = w, t.cur, 0
	case w > t.window:
		t.window, t.prev, t.cur = w, 0, 0
	}
	t.cur += n
	return t.cur, t.prev, nil
}
