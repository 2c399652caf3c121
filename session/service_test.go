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

// TestSweepWaitsAfterStorageFailure: while storage is down nobody's presence is refreshed, so
// once it is back the sweep waits two ping intervals, for every node to refresh its
// connections, before it takes anyone for gone.
func TestSweepWaitsAfterStorageFailure(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	store := &failingStore{MemoryStore: session.NewMemoryStore(session.MemoryOptions{HistorySize: 10, BacklogSize: 10, Retention: time.Minute, Now: clock})}
	ids, _ := session.NewIDs(3)
	out := &recorder{}
	const ping, presence = time.Second, 5 * time.Second
	svc := session.NewService(session.Engines{Store: store, Queue: match.NewMemoryQueue(match.Rule{}), Moderation: moderation.NewMemoryStore(10)}, out, ids, clock,
		slog.New(slog.NewTextHandler(io.Discard, nil)),
		session.Options{MaxSessions: 3, MaxContent: 100, MaxNickname: 30, PingInterval: ping, PresenceTimeout: presence, TypingTimeout: time.Second})
	a, _, _ := svc.CreateAccount(ctx, "a", moderation.Client{})
	b, _, _ := svc.CreateAccount(ctx, "b", moderation.Client{})
	svc.Match(ctx, a.ID, nil)
	if _, err := svc.Match(ctx, b.ID, nil); err != nil {
		t.Fatal(err)
	}

	store.down = true
	now = now.Add(presence + ping) // an outage longer than the presence timeout
	if err := svc.Seen(ctx, map[int64]time.Time{a.ID: now}); err == nil {
		t.Fatal("Seen succeeded with storage down")
	}
	store.down = false
	for _, step := range []time.Duration{0, ping} {
		now = now.Add(step)
		if err := svc.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Account(ctx, a.ID); err != nil {
			t.Fatalf("%v after storage came back, the sweep took a for gone: %v", step, err)
		}
	}
	// Only b's node fails to refresh: after the hold, b is gone and a is told.
	svc.Seen(ctx, map[int64]time.Time{a.ID: now})
	now = now.Add(ping + time.Millisecond)
	if err := svc.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Account(ctx, b.ID); err == nil {
		t.Fatal("b, silent past the presence timeout and the hold, is still there")
	}
	if _, err := store.Account(ctx, a.ID); err != nil {
		t.Fatalf("a, refreshed, was taken for gone: %v", err)
	}
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
