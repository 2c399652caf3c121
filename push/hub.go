package push

import (
	"context"
	"sync"

	"github.com/duetchat/duet/session"
)

const hubShards = 256

// Hub is this node's registry of connections by account, and the Deliverer of the service: a
// push reaches the account's connection, or its backlog while it has none. Sharded, so that
// delivery to one account never waits for another's.
type Hub struct {
	node    int64 // this node's id
	mailbox session.Mailbox
	observe session.DeliveryObserver
	shards  [hubShards]hubShard
	// all calls a function for every connection of this node, with an account or not; the
	// Server sets it.
	all func(fn func(*conn))
	// handOver saves what the account's connection here has spent of its rate limits, for the
	// node that takes it over; the Server sets it.
	handOver func(accountID int64)
}

type hubShard struct {
	mu    sync.Mutex // guards conns, and orders every delivery to an account with its attach and detach
	conns map[int64]*conn
}

var _ session.Deliverer = (*Hub)(nil)

// NewHub returns an empty hub for node, routing through mailbox; observe hears where pushes go
// (nil: nobody).
func NewHub(node int64, mailbox session.Mailbox, observe session.DeliveryObserver) *Hub {
	if observe == nil {
		observe = session.Nobody{}
	}
	h := &Hub{node: node, mailbox: mailbox, observe: observe}
	for i := range h.shards {
		h.shards[i].conns = make(map[int64]*conn)
	}
	return h
}

func (h *Hub) shard(accountID int64) *hubShard { return &h.shards[uint64(accountID)%hubShards] }

// Deliver implements session.Deliverer for a single node: a push goes to the account's
// connection here, or else to its backlog.
func (h *Hub) Deliver(ctx context.Context, accountID int64, p session.Push) error {
	delivered, err := h.DeliverLocal(ctx, accountID, p)
	if err != nil || delivered {
		return err
	}
	h.observe.Pushed(session.PushedBacklog)
	return h.mailbox.AppendBacklog(ctx, accountID, p)
}

// DeliverLocal queues p on the account's connection if this node holds it, and reports whether
// it did. A connection too slow to take p is dropped, and p then follows what it still had
// queued into the backlog.
func (h *Hub) DeliverLocal(ctx context.Context, accountID int64, p session.Push) (bool, error) {
	sh := h.shard(accountID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	c := sh.conns[accountID]
	if c == nil {
		return false, nil
	}
	if c.enqueue(pushFrame(p)) {
		h.observe.Pushed(session.PushedLocal)
		return true, nil
	}
	h.observe.Pushed(session.PushedBacklog)
	_, err := h.releaseLocked(ctx, sh, accountID, c, p)
	return true, err
}

// releaseLocked removes c as the account's connection and releases the account with the
// pushes still queued on it, in order, followed by more. It reports whether this node still
// held the account, rather than another node having taken it over.
func (h *Hub) releaseLocked(ctx context.Context, sh *hubShard, accountID int64, c *conn, more ...session.Push) (bool, error) {
	delete(sh.conns, accountID)
	held, err := h.mailbox.Release(ctx, accountID, h.node, append(pushesOf(c.takePushes()), more...))
	c.evicted.Store(held)
	return held, err
}

func pushesOf(frames []frame) []session.Push {
	var ps []session.Push
	for _, f := range frames {
		ps = append(ps, session.Push{Cmd: f.cmd, Body: f.body})
	}
	return ps
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

// Broadcast implements session.Deliverer for a single node.
func (h *Hub) Broadcast(_ context.Context, b session.Broadcast) error {
	h.BroadcastLocal(b)
	return nil
}

// BroadcastLocal takes a broadcast to the connections of this node that it names.
func (h *Hub) BroadcastLocal(b session.Broadcast) {
	h.all(func(c *conn) {
		if !c.named(b.To) {
			return
		}
		if b.Kick != nil {
			c.kick(*b.Kick)
			return
		}
		p := b.Push(c.account.Load())
		c.enqueue(frame{kind: kindPush, cmd: p.Cmd, body: p.Body})
	})
}

// attach makes c the connection of accountID. It queues, in this order and with no other push
// in between: reply, the account's backlog, and whatever was still queued on the connection c
// takes over from, which is told LoggedInElsewhere and closed with 4000.
func (h *Hub) attach(ctx context.Context, accountID int64, c *conn, reply frame) error {
	sh := h.shard(accountID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	backlog, err := h.mailbox.Claim(ctx, accountID, h.node)
	if err != nil {
		return err
	}
	frames := []frame{reply}
	for _, p := range backlog {
		frames = append(frames, pushFrame(p))
	}
	if old := sh.conns[accountID]; old != nil && old != c {
		frames = append(frames, takeOver(accountID, old)...)
		h.observe.TakenOver(false)
	}
	// A backlog may well exceed the send queue: it is what the client came back for, and it is
	// bounded by backlog_size, so it is queued whole.
	c.enqueueAll(frames)
	sh.conns[accountID] = c
	c.account.Store(accountID)
	return nil
}

// Fence takes the account away from its connection on this node, if it has one, because a
// connection on another node has taken it over: from now on that connection serves no request;
// it is told LoggedInElsewhere and closed with 4000. Fence returns the pushes that were still
// queued on it, for the account's new connection.
func (h *Hub) Fence(accountID int64) []session.Push {
	sh := h.shard(accountID)
	sh.mu.Lock()
	c := sh.conns[accountID]
	if c == nil {
		sh.mu.Unlock()
		return nil
	}
	delete(sh.conns, accountID)
	pending := pushesOf(takeOver(accountID, c))
	sh.mu.Unlock()
	// Before the other node is told the connection is fenced, and answers its client.
	h.handOver(accountID)
	return pending
}

// takeOver fences c, the account's connection until now, before the connection that takes the
// account over is answered, so that nothing c's client sends afterwards is served. c is told
// LoggedInElsewhere and closed with 4000; takeOver returns the pushes still queued on it.
func takeOver(accountID int64, c *conn) []frame {
	c.fenced.Store(true)
	pending := c.takePushes()
	c.enqueue(pushFrame(session.SignalPush(session.SignalLoggedInElsewhere, 0, 0, accountID, nil)))
	c.closeAfter(closeTakenOver, "logged in elsewhere")
	return pending
}

// TakeOver implements session.Deliverer: on a single node, attach fences the connection it
// takes the account from.
func (h *Hub) TakeOver(context.Context, int64, int64) error { return nil }

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
	return h.releaseLocked(ctx, sh, id, c)
}

// attached reports whether the account has a connection on this node.
func (h *Hub) attached(accountID int64) bool {
	sh := h.shard(accountID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.conns[accountID] != nil
}

// Accounts returns the accounts that have a connection on this node.
func (h *Hub) Accounts() []int64 {
	var ids []int64
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.Lock()
		for id := range sh.conns {
			ids = append(ids, id)
		}
		sh.mu.Unlock()
	}
	return ids
}

// Len returns how many accounts have a connection on this node.
func (h *Hub) Len() int {
	n := 0
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.Lock()
		n += len(sh.conns)
		sh.mu.Unlock()
	}
	return n
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
