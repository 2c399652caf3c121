package metrics

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Board is where the nodes of a service post their Stats, so that any node can show the whole
// service's figures. A node that stops posting drops off once its post is older than the ttl
// it gave.
type Board interface {
	Post(ctx context.Context, s Stats, ttl time.Duration) error
	// Nodes returns the posts still fresh at now, by node id.
	Nodes(ctx context.Context, now time.Time) ([]Stats, error)
}

// MemoryBoard is the Board of a single node.
type MemoryBoard struct {
	mu    sync.Mutex // guards posts
	posts map[int64]post
}

type post struct {
	stats Stats
	until time.Time
}

var _ Board = (*MemoryBoard)(nil)

// NewMemoryBoard returns an empty board.
func NewMemoryBoard() *MemoryBoard { return &MemoryBoard{posts: make(map[int64]post)} }

// Post implements Board.
func (b *MemoryBoard) Post(_ context.Context, s Stats, ttl time.Duration) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.posts[s.Node] = post{s, s.PostedAt.Add(ttl)}
	return nil
}

// Nodes implements Board.
func (b *MemoryBoard) Nodes(_ context.Context, now time.Time) ([]Stats, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var nodes []Stats
	for _, p := range b.posts {
		if now.Before(p.until) {
			nodes = append(nodes, p.stats)
		}
	}
	slices.SortFunc(nodes, func(a, b Stats) int { return int(a.Node - b.Node) })
	return nodes, nil
}

// Identity names the node whose Stats are posted.
type Identity struct {
	Node      int64
	Version   string
	StartedAt time.Time
}

// PostEvery posts the node's Stats to b every interval until ctx ends, each fresh for three
// intervals, so that a node that stops posting drops off the board soon after.
func (n *Node) PostEvery(ctx context.Context, b Board, every time.Duration, id Identity, counts func() (connections, accounts int), now func() time.Time, log *slog.Logger) {
	post := func() {
		connections, accounts := counts()
		s := n.Snapshot(now(), connections, accounts)
		s.Node, s.Version, s.StartedAt = id.Node, id.Version, id.StartedAt
		if err := b.Post(ctx, s, 3*every); err != nil && ctx.Err() == nil {
			log.Warn("posting node stats", "err", err)
		}
	}
	post()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			post()
		}
	}
}
