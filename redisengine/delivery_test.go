package redisengine

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/duetchat/duet/match"
	"github.com/duetchat/duet/moderation"
	"github.com/duetchat/duet/redisengine/redistest"
	"github.com/duetchat/duet/session"
)

// recordingHub is a node's Local that holds the accounts given to it and records what it is
// handed for them.
type recordingHub struct {
	mu         sync.Mutex // guards held
	held       map[int64]bool
	pushes     chan delivered
	broadcasts chan session.Broadcast
}

func (h *recordingHub) setHeld(to int64, held bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held[to] = held
}

func (h *recordingHub) Accounts() []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ids []int64
	for id, held := range h.held {
		if held {
			ids = append(ids, id)
		}
	}
	return ids
}

type delivered struct {
	to int64
	p  session.Push
}

func (h *recordingHub) DeliverLocal(_ context.Context, to int64, p session.Push) (bool, error) {
	h.mu.Lock()
	held := h.held[to]
	h.mu.Unlock()
	if !held {
		return false, nil
	}
	h.pushes <- delivered{to, p}
	return true, nil
}

func (h *recordingHub) Disconnect(context.Context, int64, int, string) error { return nil }

func (h *recordingHub) BroadcastLocal(b session.Broadcast) { h.broadcasts <- b }

func (h *recordingHub) Fence(to int64) []session.Push {
	h.setHeld(to, false)
	return nil
}

// testNode is one node's engines on a shared Redis, with its own client.
type testNode struct {
	store    *Store
	hub      *recordingHub
	delivery *Delivery
	svc      *session.Service
	trips    *roundTrips
}

func startTestNode(t testing.TB, newClient func() redis.UniversalClient, node int64) *testNode {
	t.Helper()
	client := newClient()
	t.Cleanup(func() { client.Close() })
	n := &testNode{
		store: NewStore(client, StoreOptions{Prefix: "t:", Node: node, HistorySize: 50, BacklogSize: 50, Retention: time.Minute, AccountTTL: time.Minute}),
		hub:   &recordingHub{held: map[int64]bool{}, pushes: make(chan delivered, 16), broadcasts: make(chan session.Broadcast, 16)},
		trips: &roundTrips{},
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	n.delivery = NewDelivery(client, n.store, node, n.hub, time.Second, session.Nobody{}, log)
	ctx, cancel := context.WithCancel(context.Background())
	if err := n.delivery.Subscribe(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { n.delivery.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	ids, err := session.NewIDs(node)
	if err != nil {
		t.Fatal(err)
	}
	n.svc = session.NewService(session.Engines{Store: n.store, Queue: NewQueue(client, "t:", match.Rule{}), Moderation: NewModeration(client, "t:", 10)}, n.delivery, ids, time.Now, log,
		session.Options{MaxSessions: 3, MaxContent: 100, MaxNickname: 30, PresenceTimeout: time.Minute, TypingTimeout: time.Second})
	client.AddHook(n.trips)
	return n
}

func (n *testNode) hold(t testing.TB, account int64, node int64) {
	t.Helper()
	if _, err := n.store.Claim(context.Background(), account, node); err != nil {
		t.Fatal(err)
	}
	n.hub.setHeld(account, true)
}

// TestDialogueRoundTrips: a DIALOGUE costs its sender's node one round trip to Redis, whether
// the partner is on another node (the storing script publishes it there) or on the same one;
// on a Redis Cluster, whose scripts cannot publish outside their slot, a partner on another
// node costs a second. A partner who is away costs one more, to keep the push in its backlog.
func TestDialogueRoundTrips(t *testing.T) {
	t.Run("server", func(t *testing.T) {
		addr := redistest.Start(t).Addr
		dialogueRoundTrips(t, func() redis.UniversalClient { return redis.NewClient(&redis.Options{Addr: addr}) }, 1)
	})
	t.Run("cluster", func(t *testing.T) {
		addrs := redistest.StartCluster(t).Addrs
		dialogueRoundTrips(t, func() redis.UniversalClient { return redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs}) }, 2)
	})
}

// dialogueRoundTrips checks the round trips of a DIALOGUE through clients made by newClient:
// acrossNodes when the partner is on another node.
func dialogueRoundTrips(t *testing.T, newClient func() redis.UniversalClient, acrossNodes int64) {
	one, two := startTestNode(t, newClient, 1), startTestNode(t, newClient, 2)
	ctx := context.Background()
	ann, _, err := one.svc.CreateAccount(ctx, "Ann", moderation.Client{})
	if err != nil {
		t.Fatal(err)
	}
	bob, _, err := two.svc.CreateAccount(ctx, "Bob", moderation.Client{})
	if err != nil {
		t.Fatal(err)
	}
	one.hold(t, ann.ID, 1)
	two.hold(t, bob.ID, 2)
	if _, err := one.svc.Match(ctx, ann.ID, nil); err == nil {
		t.Fatal("Ann was matched with nobody waiting")
	}
	m, err := two.svc.Match(ctx, bob.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	<-one.hub.pushes // NewSession

	wantPush := func(hub *recordingHub, msg session.Message) {
		t.Helper()
		select {
		case d := <-hub.pushes:
			var body struct {
				MsgID   int64  `json:"msgId"`
				Content string `json:"content"`
			}
			json.Unmarshal(d.p.Body, &body)
			if d.to != bob.ID || d.p.Cmd != session.CmdPushDialogue || body.MsgID != msg.ID || body.Content != msg.Content {
				t.Fatalf("Bob got %s %+v, want PUSH_DIALOGUE %d %q", d.p.Cmd, body, msg.ID, msg.Content)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the message never reached Bob")
		}
	}
	// send sends a DIALOGUE from Ann and checks its round trips, unless wantTrips is 0.
	send := func(text string, wantTrips int64) session.Message {
		t.Helper()
		one.trips.n.Store(0)
		msg, err := one.svc.Send(ctx, ann.ID, m.SessionID, text, text)
		if err != nil {
			t.Fatal(err)
		}
		if got := one.trips.n.Load(); wantTrips > 0 && got != wantTrips {
			t.Errorf("DIALOGUE %q took %d round trips, want %d", text, got, wantTrips)
		}
		return msg
	}

	wantPush(two.hub, send("warm up: the first call also loads the script", 0))
	wantPush(two.hub, send("to another node", acrossNodes))

	// Bob reconnects to Ann's node.
	two.hub.setHeld(bob.ID, false)
	one.hold(t, bob.ID, 1)
	wantPush(one.hub, send("to the same node", 1))

	// Bob is away: the push waits in his backlog.
	one.hub.setHeld(bob.ID, false)
	if _, err := one.store.Release(ctx, bob.ID, 1, nil); err != nil {
		t.Fatal(err)
	}
	send("warm up: the first push kept in Bob's slot loads the script", 0)
	away := send("to nobody for now", 2)
	backlog, err := two.store.Claim(ctx, bob.ID, 2)
	if err != nil || len(backlog) != 2 || !json.Valid(backlog[1].Body) || !strings.Contains(string(backlog[1].Body), away.Content) {
		t.Fatalf("Bob's backlog = %v, %v, want the two messages, the last %q", backlog, err, away.Content)
	}
}

// BenchmarkDialogueAcrossNodes measures a DIALOGUE through the Redis engine from the sender's
// service on one node until its push is handed to the partner's connection on another.
func BenchmarkDialogueAcrossNodes(b *testing.B) {
	addr := redistest.Start(b).Addr
	newClient := func() redis.UniversalClient { return redis.NewClient(&redis.Options{Addr: addr}) }
	one, two := startTestNode(b, newClient, 1), startTestNode(b, newClient, 2)
	ctx := context.Background()
	ann, _, _ := one.svc.CreateAccount(ctx, "Ann", moderation.Client{})
	bob, _, _ := two.svc.CreateAccount(ctx, "Bob", moderation.Client{})
	one.hold(b, ann.ID, 1)
	two.hold(b, bob.ID, 2)
	one.svc.Match(ctx, ann.ID, nil)
	m, err := two.svc.Match(ctx, bob.ID, nil)
	if err != nil {
		b.Fatal(err)
	}
	<-one.hub.pushes
	requestIDs := make([]string, b.N)
	for i := range requestIDs {
		requestIDs[i] = "r" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := one.svc.Send(ctx, ann.ID, m.SessionID, requestIDs[i], "hello, how are you doing today?"); err != nil {
			b.Fatal(err)
		}
		<-two.hub.pushes
	}
}

// TestDialogueEnvelope: the append script's pieces, joined around a partner and an id, are the
// envelope Go would encode, and the push's, the push, whatever the content spells.
func TestDialogueEnvelope(t *testing.T) {
	for _, content := range []string{"hi", `"to":1,"msgId":2,`, `}}{"to":`, "9007199254740991"} {
		m := session.Message{SessionID: 3, SenderID: 4, Content: content, SentAt: time.UnixMilli(5)}
		d, err := dialogueOf(m)
		if err != nil {
			t.Fatal(err)
		}
		got := d.envelope[0] + "42" + d.envelope[1] + "77" + d.envelope[2]
		m.ID = 77
		p := session.DialoguePush(m)
		want, _ := json.Marshal(envelope{To: 42, Push: &p})
		if got != string(want) {
			t.Errorf("content %q: joined %s, want %s", content, got, want)
		}
		if push := d.push("77"); push.Cmd != p.Cmd || string(push.Body) != string(p.Body) {
			t.Errorf("content %q: push %s %s, want %s %s", content, push.Cmd, push.Body, p.Cmd, p.Body)
		}
	}
}

// TestEnvelopeEncode: every kind of envelope reads back as itself, and one with a push is
// what json.Marshal makes of it, though encode takes the push's body as is.
func TestEnvelopeEncode(t *testing.T) {
	dialogue := session.DialoguePush(session.Message{ID: 7, SessionID: 3, SenderID: 4, Content: `"quoted" </script> é`, SentAt: time.UnixMilli(5)})
	empty := session.Push{Cmd: session.CmdPushSignal}
	for _, e := range []envelope{
		{To: 42, Push: &dialogue},
		{To: 42, Push: &dialogue, Hops: 1},
		{To: 42, Push: &empty},
		{To: 42, Close: 4000, Reason: `a "reason"`},
		{To: 42, Fence: 3, From: 2},
		{Fenced: 3},
		{},
	} {
		b, err := e.encode()
		if err != nil {
			t.Fatal(err)
		}
		var got envelope
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%+v encodes as %s: %v", e, b, err)
		}
		want, _ := json.Marshal(e)
		gotAgain, _ := json.Marshal(got)
		if string(gotAgain) != string(want) {
			t.Errorf("%+v encodes as %s, which reads back as %s, want %s", e, b, gotAgain, want)
		}
		if e.Push != nil && e.Hops == 0 && string(b) != string(want) {
			t.Errorf("%+v encodes as %s, want %s", e, b, want)
		}
	}
}

// BenchmarkDialogueEnvelope measures what the envelope of every message costs the node.
func BenchmarkDialogueEnvelope(b *testing.B) {
	m := session.Message{ID: 7, SessionID: 3, SenderID: 4, Content: "hello, how are you doing today? a message of an ordinary length", SentAt: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dialogueOf(m); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDeliveryTakesBackKeptPushes: while a node's channel has no subscription (its connection
// to Redis was lost, a failover), pushes for its connections are kept in their backlogs; once
// it has subscribed again, the node hands them to the connections, which are still there.
func TestDeliveryTakesBackKeptPushes(t *testing.T) {
	r := redistest.Start(t)
	two := startTestNode(t, func() redis.UniversalClient { return redis.NewClient(&redis.Options{Addr: r.Addr}) }, 2)
	ctx := context.Background()
	bob, _, err := two.svc.CreateAccount(ctx, "Bob", moderation.Client{})
	if err != nil {
		t.Fatal(err)
	}
	two.hold(t, bob.ID, 2)
	kept := session.SignalPush(session.SignalPartnerExit, 0, 7, bob.ID, nil)
	if err := two.store.AppendBacklog(ctx, bob.ID, kept); err != nil {
		t.Fatal(err)
	}
	if reply, err := r.Command("CLIENT", "KILL", "TYPE", "pubsub"); err != nil || reply == ":0" {
		t.Fatalf("CLIENT KILL TYPE pubsub = %q, %v; want the node's subscriptions closed", reply, err)
	}
	select {
	case got := <-two.hub.pushes:
		if got.to != bob.ID || got.p.Cmd != kept.Cmd || string(got.p.Body) != string(kept.Body) {
			t.Errorf("handed %+v, want the kept push for Bob", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the push kept while the node's channel was down never reached Bob's connection")
	}
	if backlog, err := two.store.Claim(ctx, bob.ID, 2); err != nil || len(backlog) != 0 {
		t.Errorf("Bob's backlog = %v, %v; want it empty, its push handed over", backlog, err)
	}
}

// claimOnPublish is a client hook that, when a push is first published to a node's channel,
// first has another node claim the account, as a RECONNECT racing with the push does.
type claimOnPublish struct {
	channel string
	claim   func()
	once    sync.Once
}

func (h *claimOnPublish) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *claimOnPublish) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if args := cmd.Args(); cmd.Name() == "spublish" && len(args) > 1 && args[1] == h.channel {
			h.once.Do(h.claim)
		}
		return next(ctx, cmd)
	}
}

func (h *claimOnPublish) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestDeliveryFollowsAccountFromGoneNode: a push routed to a node that has crashed is kept for
// the account's next claim, unless the account was claimed by another node since its route was
// read (its client reconnected there): then it goes there, and is not left in a backlog that
// the claim has already emptied.
func TestDeliveryFollowsAccountFromGoneNode(t *testing.T) {
	r := redistest.Start(t)
	newClient := func() redis.UniversalClient { return redis.NewClient(&redis.Options{Addr: r.Addr}) }
	one, two := startTestNode(t, newClient, 1), startTestNode(t, newClient, 2)
	ctx := context.Background()
	bob, _, err := two.svc.CreateAccount(ctx, "Bob", moderation.Client{})
	if err != nil {
		t.Fatal(err)
	}
	const crashed = 9 // a node without a subscription: gone
	if _, err := one.store.Claim(ctx, bob.ID, crashed); err != nil {
		t.Fatal(err)
	}
	one.store.rdb.AddHook(&claimOnPublish{channel: one.store.keys.channel(crashed), claim: func() { two.hold(t, bob.ID, 2) }})

	exit := session.SignalPush(session.SignalPartnerExit, 0, 7, bob.ID, nil)
	if err := one.delivery.Deliver(ctx, bob.ID, exit); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-two.hub.pushes:
		if got.to != bob.ID || string(got.p.Body) != string(exit.Body) {
			t.Errorf("node two was handed %+v, want the push for Bob", got)
		}
	case <-time.After(5 * time.Second):
		backlog, _ := two.store.Claim(ctx, bob.ID, 2)
		t.Fatalf("the push never reached Bob on node two, where he came back; his backlog holds %d pushes", len(backlog))
	}
}
