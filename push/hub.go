package push

import (
	"context"
	"sync"

	"github.com/duetchat/duet/session"
)

// Backlog is where pushes wait for an account that is away.
type Backlog interface {
	AppendBacklog(ctx context.Context, accountID int64, p session.Push) error
	TakeBacklog(ctx context.Context, accountID int64) ([]session.Push, error)
}

const hubShards = 256

// Hub is this node's registry of connections by account, and the Deliverer of the service: a
// push reaches the account's connection, or its backlog while it has none. Sharded, so that
// delivery to one account never waits for another's.
type Hub struct {
	backlog Backlog
	shards  [hubShards]hubShard
}

type hubShard struct {
	mu    sync.Mutex // guards conns, and orders every delivery to an account with its attach and detach
	conns map[int64]*conn
}

var _ session.Deliverer = (*Hub)(nil)

// NewHub returns an empty hub whose away accounts' pushes wait in backlog.
func NewHub(backlog Backlog) *Hub {
	h := &Hub{backlog: backlog}
	for i := range h.shards {
		h.shards[i].conns = make(map[int64]*conn)
	}
	return h
}

func (h *Hub) shard(accountID int64) *hubShard { return &h.shards[uint64(accountID)%hubShards] }

// Deliver implements session.Deliverer.
func (h *Hub) Deliver(ctx context.Context, accountID int64, p session.Push) error {
	sh := h.shard(accountID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	c := sh.conns[accountID]
	if c != nil && c.enqueue(pushFrame(p)) {
		return nil
	}
	if c != nil {
		// Too slow: enqueue has disconnected it. What it still had queued is older than p.
		if err := h.evictLocked(ctx, sh, accountID, c); err != nil {
			return err
		}
	}
	return h.backlog.AppendBacklog(ctx, accountID, p)
}

// evictLocked removes c as the account's connection and moves the pushes still queued on it to
// the backlog, in order.
func (h *Hub) evictLocked(ctx context.Context, sh *hubShard, accountID int64, c *conn) error {
	delete(sh.conns, accountID)
	c.evicted.Store(true)
	for _, f := range c.takePushes() {
		if err := h.backlog.AppendBacklog(ctx, accountID, session.Push{Cmd: f.cmd, Body: f.body}); err != nil {
			return err
		}
	}
	return nil
}

// Disconnect implements session.Deliverer.
func (h *Hub) Disconnect(_ context.Context, accountID int64, code int, reason string) error {
	sh := h.shard(accountID)
	sh.mu.Lock()
	c := sh.conns[accountID]
	sh.mu.Unlock()
	if c != nil {
		c.closeAfter(code, reason)
	}
	return nil
}

// attach makes c the connection of accountID. It queues, in this order and with no other push
// in between: reply, the account's backlog, and whatever was still queued on the connection c
// takes over from, which is told LoggedInElsewhere and closed with 4000.
func (h *Hub) attach(ctx context.Context, accountID int64, c *conn, reply frame) error {
	sh := h.shard(accountID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	backlog, err := h.backlog.TakeBacklog(ctx, accountID)
	if err != nil {
		return err
	}
	c.enqueue(reply)
	for _, p := range backlog {
		c.enqueue(pushFrame(p))
	}
	if old := sh.conns[accountID]; old != nil && old != c {
		for _, f := range old.takePushes() {
			c.enqueue(f)
		}
		old.enqueue(pushFrame(session.SignalPush(session.SignalLoggedInElsewhere, 0, 0, accountID, nil)))
		old.closeAfter(closeTakenOver, "logged in elsewhere")
	}
	sh.conns[accountID] = c
	c.account.Store(accountID)
	return nil
}

// detach removes c if it is still its account's connection, moving the pushes it could not
// write to the backlog. It reports whether c held its account until it ended, rather than
// being taken over by another connection.
func (h *Hub) detach(ctx context.Context, c *conn) (bool, error) {
	id := c.account.Load()
	if id == 0 {
		return false, nil
	}
	sh := h.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.conns[id] != c {
		return c.evicted.Load(), nil
	}
	return true, h.evictLocked(ctx, sh, id, c)
}

// attached reports whether the account has a connection on this node.
func (h *Hub) attached(accountID int64) bool {
	sh := h.shard(accountID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.conns[accountID] != nil
}

// each calls fn for every attached connection, outside the hub's locks.
func (h *Hub) each(fn func(*conn)) {
	var conns []*conn
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.Lock()
		for _, c := range sh.conns {
			conns = append(conns, c)
		}
		sh.mu.Unlock()
	}
	for _, c := range conns {
		fn(c)
	}
}

// Count returns the number of attached connections.
func (h *Hub) Count() int {
	n := 0
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.Lock()
		n += len(sh.conns)
		sh.mu.Unlock()
	}
	return n
}
