package redisengine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/duetchat/duet/session"
)

// Local is the node's own registry of connections: push.Hub.
type Local interface {
	// DeliverLocal queues p on the account's connection if this node holds it.
	DeliverLocal(ctx context.Context, accountID int64, p session.Push) (bool, error)
	// Disconnect closes the account's connection if this node holds it.
	Disconnect(ctx context.Context, accountID int64, code int, reason string) error
	// BroadcastLocal takes a broadcast to the connections of this node that it names.
	BroadcastLocal(b session.Broadcast)
	// Fence takes the account from its connection on this node, which another node's
	// connection has taken it over from, and returns the pushes still queued on it.
	Fence(accountID int64) []session.Push
	// Accounts returns the accounts that have a connection on this node.
	Accounts() []int64
}

// Delivery is the session.Deliverer of a node among many: a push goes to the node that holds
// the account's connection, over that node's sharded pub/sub channel, or into the account's
// backlog while it has none. Pub/sub delivers at most once; what a lost publish dropped, a
// client recovers with RESUME.
type Delivery struct {
	client redis.UniversalClient
	store  *Store
	keys   keyspace
	node   int64
	local  Local
	// observe hears where pushes go; the local half counts its own.
	observe session.DeliveryObserver
	log     *slog.Logger
	pubsub  *redis.PubSub // this node's channel
	bcast   *redis.PubSub // every node's broadcast channel
	// fenceWait is how long a takeover waits for the node it takes an account from to say the
	// old connection is fenced, before it takes that node for gone.
	fenceWait time.Duration

	fenceSeq atomic.Int64
	fencesMu sync.Mutex // guards fences
	fences   map[int64]chan struct{}
}

var _ session.Deliverer = (*Delivery)(nil)

// envelope is what crosses between nodes: a push for an account, an order to close its
// connection, an order to fence it because another node took the account over, or the answer
// that it is fenced. Hops counts forwards, so a push whose route went stale is re-routed once,
// then kept in the backlog rather than bounced between nodes.
type envelope struct {
	To     int64         `json:"to,omitempty"`
	Push   *session.Push `json:"push,omitempty"`
	Hops   int           `json:"hops,omitempty"`
	Close  int           `json:"close,omitempty"`
	Reason string        `json:"reason,omitempty"`
	// Fence asks for the account's connection to be fenced, then answered to node From with
	// Fenced set to the same number.
	Fence  int64 `json:"fence,omitempty"`
	From   int64 `json:"from,omitempty"`
	Fenced int64 `json:"fenced,omitempty"`
}

// encode encodes e as json.Marshal would, but for the push's body: JSON already, as a push is
// encoded once, it is taken as is, where json.Marshal would check and compact it once more (a
// tenth of a message's processor time on the node).
func (e envelope) encode() ([]byte, error) {
	p := e.Push
	e.Push = nil
	head, err := json.Marshal(e)
	if err != nil || p == nil {
		return head, err
	}
	cmd, err := json.Marshal(p.Cmd)
	if err != nil {
		return nil, err
	}
	body := []byte(p.Body)
	if len(body) == 0 {
		body = []byte("null")
	}
	b := make([]byte, 0, len(head)+len(cmd)+len(body)+32)
	b = append(b, head[:len(head)-1]...) // without its closing brace, to add the push before it
	if len(head) > 2 {
		b = append(b, ',')
	}
	b = append(b, `"push":{"cmd":`...)
	b = append(b, cmd...)
	b = append(b, `,"body":`...)
	b = append(b, body...)
	return append(b, "}}"...), nil
}

// Stand-ins for the numbers of a message's envelope that only the append script knows; JSON
// strings escape their quotes, so no content can spell the fields they stand in.
const (
	partnerHole = `"to":9007199254740991,`
	msgIDHole   = `"msgId":9007199254740991,`
)

// dialogue is a message's push and its envelope, each in pieces around the numbers only the
// append script knows: the partner it goes to, and the message's id.
type dialogue struct {
	// envelope is the push's envelope, joined as envelope[0], partner, envelope[1], id,
	// envelope[2] by the script.
	envelope [3]string
	// body is the push's body, joined as body[0], id, body[1].
	body [2]string
}

// push is the message's push, given its id.
func (d dialogue) push(id string) session.Push {
	return session.Push{Cmd: session.CmdPushDialogue, Body: json.RawMessage(d.body[0] + id + d.body[1])}
}

// dialogueOf encodes m's push, and its envelope as every envelope is encoded, in pieces.
func dialogueOf(m session.Message) (dialogue, error) {
	m.ID = 1<<53 - 1
	p := session.DialoguePush(m)
	b, err := envelope{To: 1<<53 - 1, Push: &p}.encode()
	if err != nil {
		return dialogue{}, err
	}
	head, rest, ok1 := strings.Cut(string(b), partnerHole)
	mid, tail, ok2 := strings.Cut(rest, msgIDHole)
	bodyHead, bodyTail, ok3 := strings.Cut(string(p.Body), msgIDHole)
	if !ok1 || !ok2 || !ok3 {
		return dialogue{}, fmt.Errorf("redisengine: a message envelope without its holes: %s", b)
	}
	return dialogue{
		envelope: [3]string{head + `"to":`, "," + mid + `"msgId":`, "," + tail},
		body:     [2]string{bodyHead + `"msgId":`, "," + bodyTail},
	}, nil
}

// NewDelivery returns the Deliverer of node, routing through store's accounts. A takeover waits
// up to fenceWait for another node to fence the connection it takes an account from.
func NewDelivery(client redis.UniversalClient, store *Store, node int64, local Local, fenceWait time.Duration, observe session.DeliveryObserver, log *slog.Logger) *Delivery {
	return &Delivery{
		client: client, store: store, keys: store.keys, node: node, local: local, fenceWait: fenceWait, observe: observe, log: log,
		fences: make(map[int64]chan struct{}),
	}
}

// Subscribe starts listening on this node's channel and on the broadcast channel. It returns
// once Redis has confirmed both subscriptions, so that nothing sent to the node afterwards is
// missed. The two channels may live in different slots of a cluster, hence two subscriptions.
func (d *Delivery) Subscribe(ctx context.Context) error {
	d.pubsub = d.client.SSubscribe(ctx, d.keys.channel(d.node))
	if _, err := d.pubsub.Receive(ctx); err != nil {
		d.pubsub.Close()
		return fmt.Errorf("redisengine: subscribing to node %d: %w", d.node, err)
	}
	d.bcast = d.client.SSubscribe(ctx, d.keys.broadcast())
	if _, err := d.bcast.Receive(ctx); err != nil {
		d.pubsub.Close()
		d.bcast.Close()
		return fmt.Errorf("redisengine: subscribing to broadcasts: %w", err)
	}
	return nil
}

// Run hands what arrives on the node's channel to the local connections until ctx ends. The
// subscription survives Redis restarts and failovers: go-redis reconnects and subscribes again,
// and the node then takes back what was kept for its connections meanwhile (redeliver).
func (d *Delivery) Run(ctx context.Context) {
	defer d.pubsub.Close()
	defer d.bcast.Close()
	var redelivering sync.WaitGroup
	defer redelivering.Wait()
	ch, bcast := d.pubsub.ChannelWithSubscriptions(), d.bcast.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-bcast:
			if !ok {
				return
			}
			var b session.Broadcast
			if err := json.Unmarshal([]byte(m.Payload), &b); err != nil || (b.Notice == nil) == (b.Kick == nil) {
				d.log.Error("a malformed broadcast", "err", err)
				continue
			}
			d.local.BroadcastLocal(b)
		case msg, ok := <-ch:
			if !ok {
				return
			}
			m, isMessage := msg.(*redis.Message)
			if !isMessage { // subscribed again, after the connection to Redis was lost
				redelivering.Go(func() { d.redeliver(ctx) })
				continue
			}
			var e envelope
			if err := json.Unmarshal([]byte(m.Payload), &e); err != nil {
				d.log.Error("a malformed message on the node channel", "err", err)
				continue
			}
			if err := d.receive(ctx, e); err != nil {
				d.log.Warn("handing over a push", "account", e.To, "err", err)
			}
		}
	}
}

func (d *Delivery) receive(ctx context.Context, e envelope) error {
	switch {
	case e.Fenced != 0:
		d.fencesMu.Lock()
		if done, ok := d.fences[e.Fenced]; ok {
			close(done)
			delete(d.fences, e.Fenced)
		}
		d.fencesMu.Unlock()
		return nil
	case e.Fence != 0:
		pending := d.local.Fence(e.To)
		_, err := d.publish(ctx, e.From, envelope{Fenced: e.Fence})
		for _, p := range pending {
			// Once more to where the account is now, or into its backlog.
			err = errors.Join(err, d.deliver(ctx, e.To, p, 1))
		}
		return err
	case e.Push == nil:
		return d.local.Disconnect(ctx, e.To, e.Close, e.Reason)
	}
	if e.Hops == 0 {
		// Normally the account is here; if it has moved on, this routes the push once more.
		return d.deliver(ctx, e.To, *e.Push, 1)
	}
	// Routed here a second time and still not here: keep it for the account's next claim.
	delivered, err := d.local.DeliverLocal(ctx, e.To, *e.Push)
	if err != nil || delivered {
		return err
	}
	return d.keep(ctx, e.To, *e.Push)
}

// redeliver hands this node's connections the pushes kept in their backlogs while the node's
// channel had no subscription: a node that published to it then found nobody listening, and
// kept the push for the account's next claim, though its connection is still here. It looks
// at once, and once more after fenceWait, for pushes whose publisher kept them only after
// the first look (a publish and its keeping are two requests, each bounded in time).
func (d *Delivery) redeliver(ctx context.Context) {
	for _, wait := range []time.Duration{0, d.fenceWait} {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		kept, err := d.store.takeBacklogs(ctx, d.local.Accounts())
		if err != nil {
			d.log.Warn("taking back pushes kept while the node's channel was down", "err", err)
		}
		for id, ps := range kept { // what was taken before an error, too
			for i, p := range ps {
				delivered, err := d.local.DeliverLocal(ctx, id, p)
				if err == nil && delivered {
					continue
				}
				// The connection has gone meanwhile: the rest wait for the account's next claim.
				if err := errors.Join(err, d.store.AppendBacklog(ctx, id, ps[i:]...)); err != nil {
					d.log.Warn("keeping pushes", "account", id, "err", err)
				}
				break
			}
		}
	}
}

// keep puts p in the account's backlog.
func (d *Delivery) keep(ctx context.Context, accountID int64, p session.Push) error {
	d.observe.Pushed(session.PushedBacklog)
	return d.store.AppendBacklog(ctx, accountID, p)
}

// Deliver implements session.Deliverer.
func (d *Delivery) Deliver(ctx context.Context, accountID int64, p session.Push) error {
	return d.deliver(ctx, accountID, p, 0)
}

// deliver sends p to the account's connection: at once if this node holds it, else through
// the node its account is routed to, else into its backlog.
func (d *Delivery) deliver(ctx context.Context, accountID int64, p session.Push, hops int) error {
	if delivered, err := d.local.DeliverLocal(ctx, accountID, p); err != nil || delivered {
		return err
	}
	gone := int64(noNode) // a node found gone, with the connection it had no time to release
	for {
		node, routed, err := d.store.routeOrKeep(ctx, accountID, p, gone)
		switch {
		case err != nil:
			return err
		case !routed:
			if node == keptInBacklog {
				d.observe.Pushed(session.PushedBacklog)
			}
			return nil
		case node == d.node:
			// Routed here, yet not here when looked at above: the connection has come (a
			// RECONNECT claimed the account meanwhile) or gone (the backlog is its place).
			if delivered, err := d.local.DeliverLocal(ctx, accountID, p); err != nil || delivered {
				return err
			}
			return d.keep(ctx, accountID, p)
		}
		listeners, err := d.publish(ctx, node, envelope{To: accountID, Push: &p, Hops: hops})
		switch {
		case err != nil:
			return err
		case listeners > 0:
			d.observe.Pushed(session.PushedForwarded)
			return nil
		case gone != noNode:
			// A second node gone: the push waits for the account's next claim.
			return d.keep(ctx, accountID, p)
		}
		// The node is gone. The push waits in the backlog for the account to come back, unless
		// it has come back on another node since its route was read (a RECONNECT after a
		// crash), after which a push kept would wait there for a claim already made: so the
		// route is read again, with this node for none.
		gone = node
	}
}

// TakeOver implements session.Deliverer: it asks node to fence the account's connection there
// and waits until node says it has, or until fenceWait has passed; a node that has left its
// channel is gone, and so is its connection.
func (d *Delivery) TakeOver(ctx context.Context, accountID, node int64) error {
	if node == d.node {
		return nil // the hub fences its own connections as it attaches the new one
	}
	seq := d.fenceSeq.Add(1)
	done := make(chan struct{})
	d.fencesMu.Lock()
	d.fences[seq] = done
	d.fencesMu.Unlock()
	defer func() {
		d.fencesMu.Lock()
		delete(d.fences, seq)
		d.fencesMu.Unlock()
	}()
	listeners, err := d.publish(ctx, node, envelope{To: accountID, Fence: seq, From: d.node})
	if err != nil || listeners == 0 {
		return err
	}
	d.observe.TakenOver(true)
	wait := time.NewTimer(d.fenceWait)
	defer wait.Stop()
	select {
	case <-done:
		return nil
	case <-wait.C:
		d.log.Warn("a node did not fence a connection taken over from it in time", "node", node, "account", accountID, "wait", d.fenceWait)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Disconnect implements session.Deliverer.
func (d *Delivery) Disconnect(ctx context.Context, accountID int64, code int, reason string) error {
	node, routed, err := d.store.route(ctx, accountID)
	switch {
	case err != nil:
		return err
	case !routed || node == d.node:
		return d.local.Disconnect(ctx, accountID, code, reason)
	}
	_, err = d.publish(ctx, node, envelope{To: accountID, Close: code, Reason: reason})
	return err
}

// Broadcast implements session.Deliverer: every node, this one included, hears it on the
// broadcast channel.
func (d *Delivery) Broadcast(ctx context.Context, b session.Broadcast) error {
	data, err := json.Marshal(b)
	if err != nil {
		return err
	}
	if err := d.client.SPublish(ctx, d.keys.broadcast(), data).Err(); err != nil {
		return fmt.Errorf("redisengine: broadcasting: %w", err)
	}
	return nil
}

// publish sends e to node's channel and returns how many listened: none once node is gone.
func (d *Delivery) publish(ctx context.Context, node int64, e envelope) (int64, error) {
	b, err := e.encode()
	if err != nil {
		return 0, err
	}
	listeners, err := d.client.SPublish(ctx, d.keys.channel(node), b).Result()
	if err != nil {
		return 0, fmt.Errorf("redisengine: publishing to node %d: %w", node, err)
	}
	return listeners, nil
}
