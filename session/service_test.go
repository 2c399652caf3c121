package session_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/duetchat/duet"
	"github.com/duetchat/duet/match"
	"github.com/duetchat/duet/moderation"
	"github.com/duetchat/duet/session"
)

func TestIDsAreJSSafeAndIncreasing(t *testing.T) {
	for _, node := range []int64{0, session.MaxNodeID} {
		ids, err := session.NewIDs(node)
		if err != nil {
			t.Fatal(err)
		}
		prev := int64(0)
		for range 10000 {
			id := ids.Next()
			if id <= prev || id > 1<<53-1 {
				t.Fatalf("node %d issued %d after %d, want increasing and at most 2^53-1", node, id, prev)
			}
			prev = id
		}
	}
	if _, err := session.NewIDs(session.MaxNodeID + 1); err == nil {
		t.Errorf("NewIDs(%d) succeeded, want an error", session.MaxNodeID+1)
	}
}

// discard is a Deliverer that drops every push.
type discard struct{}

func (discard) Deliver(context.Context, int64, session.Push) error   { return nil }
func (discard) Disconnect(context.Context, int64, int, string) error { return nil }
func (discard) Broadcast(context.Context, session.Broadcast) error   { return nil }
func (discard) TakeOver(context.Context, int64, int64) error         { return nil }

// BenchmarkSend measures a DIALOGUE through the service and the memory engine: validation, id,
// storage in the bounded history with requestId dedup, and the push's encoding.
func BenchmarkSend(b *testing.B) {
	ctx := context.Background()
	store := session.NewMemoryStore(session.MemoryOptions{HistorySize: 200, BacklogSize: 500, Retention: time.Minute, Now: time.Now})
	ids, err := session.NewIDs(1)
	if err != nil {
		b.Fatal(err)
	}
	svc := session.NewService(session.Engines{Store: store, Queue: match.NewMemoryQueue(match.Rule{}), Moderation: moderation.NewMemoryStore(10)}, discard{}, ids, time.Now,
		slog.New(slog.NewTextHandler(io.Discard, nil)),
		session.Options{MaxSessions: 3, MaxContent: 2000, MaxNickname: 30, PresenceTimeout: time.Minute, TypingTimeout: time.Second})
	a, _, _ := svc.CreateAccount(ctx, "a", moderation.Client{})
	p, _, _ := svc.CreateAccount(ctx, "b", moderation.Client{})
	if _, err := svc.Match(ctx, a.ID, nil); err == nil {
		b.Fatal("first MATCH paired with nobody there")
	}
	m, err := svc.Match(ctx, p.ID, nil)
	if err != nil {
		b.Fatal(err)
	}
	requestIDs := make([]string, 1024)
	for i := range requestIDs {
		requestIDs[i] = fmt.Sprint("r", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := svc.Send(ctx, p.ID, m.SessionID, requestIDs[i%len(requestIDs)]+fmt.Sprint(i/len(requestIDs)), "hello, how are you doing today?"); err != nil {
			b.Fatal(err)
		}
	}
}

// failingStore is a MemoryStore whose Seen and CreateSession fail while down is set.
type failingStore struct {
	*session.MemoryStore
	down bool
}

func (f *failingStore) CreateSession(ctx context.Context, sess session.Session) error {
	if f.down {
		return errors.New("storage is down")
	}
	return f.MemoryStore.CreateSession(ctx, sess)
}

func (f *failingStore) Seen(ctx context.Context, seen map[int64]time.Time) error {
	if f.down {
		return errors.New("storage is down")
	}
	return f.MemoryStore.Seen(ctx, seen)
}

// recorder is a Deliverer that keeps the pushes.
type recorder struct{ pushes []session.Push }

func (r *recorder) Deliver(_ context.Context, _ int64, p session.Push) error {
	r.pushes = append(r.pushes, p)
	return nil
}
func (r *recorder) Disconnect(context.Context, int64, int, string) error { return nil }
func (r *recorder) Broadcast(context.Context, session.Broadcast) error   { return nil }
func (r *recorder) TakeOver(context.Context, int64, int64) error         { return nil }

// TestSweepWaitsForEveryNodeAfterStorageFailure: while storage is down nobody's presence is
// refreshed. Two nodes share a store; node one reaches it again first, node two two ping
// intervals later. Node one's sweep must not take node two's account for gone meanwhile: the
// outage's silence counts against nobody, until the presence timeout after the last node came
// back. Then the account that no node reports is gone, and its partner is told.
func TestSweepWaitsForEveryNodeAfterStorageFailure(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	shared := session.NewMemoryStore(session.MemoryOptions{HistorySize: 10, BacklogSize: 10, Retention: time.Minute, Now: clock})
	ids, _ := session.NewIDs(3)
	const ping, presence = time.Second, 5 * time.Second
	var nodes [2]*failingStore
	var services [2]*session.Service
	out := &recorder{}
	for i := range nodes {
		nodes[i] = &failingStore{MemoryStore: shared}
		services[i] = session.NewService(session.Engines{Store: nodes[i], Queue: match.NewMemoryQueue(match.Rule{}), Moderation: moderation.NewMemoryStore(10)}, out, ids, clock,
			slog.New(slog.NewTextHandler(io.Discard, nil)),
			session.Options{MaxSessions: 3, MaxContent: 100, MaxNickname: 30, PingInterval: ping, PresenceTimeout: presence, TypingTimeout: time.Second})
	}
	one, two := services[0], services[1]
	a, _, _ := one.CreateAccount(ctx, "a", moderation.Client{}) // on node one
	b, _, _ := one.CreateAccount(ctx, "b", moderation.Client{}) // on node two
	one.Match(ctx, a.ID, nil)
	if _, err := one.Match(ctx, b.ID, nil); err != nil {
		t.Fatal(err)
	}
	sweep := func(what string) {
		t.Helper()
		if err := one.Sweep(ctx); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	present := func(what string, ids ...int64) {
		t.Helper()
		for _, id := range ids {
			if _, err := shared.Account(ctx, id); err != nil {
				t.Fatalf("%s: the sweep took account %d for gone: %v", what, id, err)
			}
		}
	}

	nodes[0].down, nodes[1].down = true, true
	now = now.Add(presence + ping) // an outage longer than the presence timeout
	if err := one.Seen(ctx, map[int64]time.Time{a.ID: now}); err == nil {
		t.Fatal("Seen succeeded with storage down")
	}
	if err := two.Seen(ctx, map[int64]time.Time{b.ID: now}); err == nil {
		t.Fatal("Seen succeeded with storage down")
	}
	nodes[0].down = false
	for range 2 {
		now = now.Add(ping)
		if err := one.Seen(ctx, map[int64]time.Time{a.ID: now}); err != nil {
			t.Fatal(err)
		}
		sweep("node one back, node two not yet")
		present("node one back, node two not yet", a.ID, b.ID)
	}
	nodes[1].down = false
	now = now.Add(ping)
	if err := two.Seen(ctx, map[int64]time.Time{b.ID: now}); err != nil {
		t.Fatal(err)
	}
	sweep("both back")
	present("both back", a.ID, b.ID)

	// From now on only a is reported: b is gone a presence timeout after its last report.
	for end := now.Add(presence); !now.After(end); {
		now = now.Add(ping)
		one.Seen(ctx, map[int64]time.Time{a.ID: now})
		sweep("b silent")
	}
	if _, err := shared.Account(ctx, b.ID); err == nil {
		t.Fatal("b, silent past the presence timeout after both nodes came back, is still there")
	}
	present("a reported throughout", a.ID)
	if n := len(out.pushes); n == 0 || !strings.Contains(string(out.pushes[n-1].Body), `"reason":"timeout"`) {
		t.Errorf("last push = %v, want PartnerExit timeout to a", out.pushes)
	}
}

// TestFailedStartRequeues: when the session of a pair cannot be stored, the one who was waiting
// keeps its place in the queue and the one who asked gets code 2; nobody is left half-matched.
func TestFailedStartRequeues(t *testing.T) {
	ctx := context.Background()
	store := &failingStore{MemoryStore: session.NewMemoryStore(session.MemoryOptions{HistorySize: 10, BacklogSize: 10, Retention: time.Minute, Now: time.Now})}
	queue := match.NewMemoryQueue(match.Rule{})
	ids, _ := session.NewIDs(4)
	svc := session.NewService(session.Engines{Store: store, Queue: queue, Moderation: moderation.NewMemoryStore(10)}, &recorder{}, ids, time.Now, slog.New(slog.NewTextHandler(io.Discard, nil)),
		session.Options{MaxSessions: 3, MaxContent: 100, MaxNickname: 30, PingInterval: time.Second, PresenceTimeout: time.Minute, TypingTimeout: time.Second})
	a, _, _ := svc.CreateAccount(ctx, "a", moderation.Client{})
	b, _, _ := svc.CreateAccount(ctx, "b", moderation.Client{})
	svc.Match(ctx, a.ID, nil)
	waiting, _ := queue.Waiting(ctx)

	store.down = true
	_, err := svc.Match(ctx, b.ID, nil)
	if code := duet.ErrorCode(err); code != duet.InternalErr {
		t.Fatalf("MATCH with storage down = %v (code %d), want code 2", err, code)
	}
	if got, _ := queue.Waiting(ctx); len(got) != 1 || got[0].AccountID != a.ID || !got[0].Since.Equal(waiting[0].Since) {
		t.Fatalf("queue = %v, want a back in its place %v", got, waiting)
	}
	store.down = false
	m, err := svc.Match(ctx, b.ID, nil)
	if err != nil || m.Partner.ID != a.ID {
		t.Fatalf("MATCH after storage came back = %+v, %v, want a", m, err)
	}
}
