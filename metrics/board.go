package metrics

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/duetchat/duet"
)

// Board is where the nodes of a service post their Stats, so that any node can show the whole
// service's figures. A node that stops posting drops off once its post is older than the ttl
// it gave. The Board also keeps the service's history of the last HistoryMinutes minutes, which
// every node records its part of, so that any node can show the whole service's last hour.
type Board interface {
	Post(ctx context.Context, s Stats, ttl time.Duration) error
	// Nodes returns the posts still fresh at now, by node id.
	Nodes(ctx context.Context, now time.Time) ([]Stats, error)
	// Record keeps node's figures of the given minutes, replacing what node recorded of those
	// minutes before. Minutes older than the history are forgotten.
	Record(ctx context.Context, node int64, minutes []Minute) error
	// History returns the service's minutes from HistoryStart(now) to now, oldest first, as
	// AddUp makes them from the nodes' records; a minute that no node recorded is missing.
	History(ctx context.Context, now time.Time) ([]Minute, error)
}

// MemoryBoard is the Board of a single node.
type MemoryBoard struct {
	mu      sync.Mutex // guards posts and records
	posts   map[int64]post
	records map[recordKey]Minute
}

type recordKey struct {
	node   int64
	minute int64 // Unix minute
}

type post struct {
	stats Stats
	until time.Time
}

var _ Board = (*MemoryBoard)(nil)

// NewMemoryBoard returns an empty board.
func NewMemoryBoard() *MemoryBoard {
	return &MemoryBoard{posts: make(map[int64]post), records: make(map[recordKey]Minute)}
}

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

// Record implements Board.
func (b *MemoryBoard) Record(_ context.Context, node int64, minutes []Minute) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	newest := int64(0)
	for _, m := range minutes {
		b.records[recordKey{node, unixMinute(m.At)}] = m
		newest = max(newest, unixMinute(m.At))
	}
	for k := range b.records {
		if k.minute <= newest-HistoryMinutes {
			delete(b.records, k)
		}
	}
	return nil
}

// History implements Board.
func (b *MemoryBoard) History(_ context.Context, now time.Time) ([]Minute, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	from, to := unixMinute(HistoryStart(now)), unixMinute(now)
	var records []Minute
	for k, m := range b.records {
		if from <= k.minute && k.minute <= to {
			records = append(records, m)
		}
	}
	return AddUp(records), nil
}

// Identity names the node whose Stats are posted.
type Identity struct {
	Node      int64
	Version   string
	StartedAt time.Time
}

// Counts are the figures a node reads afresh for each post: its own connections and the
// accounts they hold, and the waiting accounts and live sessions of the whole service.
type Counts struct {
	Connections int
	Accounts    int
	Waiting     int
	Sessions    int
}

// PostEvery posts the node's Stats to b every interval until ctx ends, each fresh for three
// intervals, so that a node that stops posting drops off the board soon after; and records its
// minutes in the history. When counts fails (the engine is down), nothing is posted that time.
func (n *Node) PostEvery(ctx context.Context, b Board, every time.Duration, id Identity, counts func(ctx context.Context) (Counts, error), now func() time.Time, log *slog.Logger) {
	post := func() {
		c, err := counts(ctx)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("counting for the node's stats", "err", err)
			}
			return
		}
		at := now()
		s := n.Snapshot(at, c.Connections, c.Accounts)
		s.Node, s.Version, s.StartedAt = id.Node, id.Version, id.StartedAt
		if err := b.Post(ctx, s, 3*every); err != nil && ctx.Err() == nil {
			log.Warn("posting node stats", "err", err)
		}
		if err := b.Record(ctx, id.Node, n.minutes(at, c)); err != nil && ctx.Err() == nil {
			log.Warn("recording the node's history", "err", err)
		}
	}
	post()
	duet.Every(ctx, every, post)
}

// minutes returns what the node records of the history at now: the current minute with the
// figures of c, and the minute it recorded before if that is the previous one, now with its
// final counts.
func (n *Node) minutes(now time.Time, c Counts) []Minute {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.counts.at(now) // moves the counts on to this minute
	at := MinuteOf(now)
	m := Minute{At: at, Connections: c.Connections, Waiting: c.Waiting, Sessions: c.Sessions, PostedAt: now}
	n.counts.of(unixMinute(now)).setOn(&m)
	minutes := []Minute{m}
	if prev := n.recorded; prev.At.Equal(at.Add(-time.Minute)) {
		n.counts.of(unixMinute(prev.At)).setOn(&prev)
		minutes = []Minute{prev, m}
	}
	n.recorded = m
	return minutes
}
