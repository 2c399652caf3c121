package session_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/duetchat/duet/match"
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

// BenchmarkSend measures a DIALOGUE through the service and the memory engine: validation, id,
// storage in the bounded history with requestId dedup, and the push's encoding.
func BenchmarkSend(b *testing.B) {
	ctx := context.Background()
	store := session.NewMemoryStore(session.MemoryOptions{HistorySize: 200, BacklogSize: 500, Retention: time.Minute, Now: time.Now})
	ids, err := session.NewIDs(1)
	if err != nil {
		b.Fatal(err)
	}
	svc := session.NewService(store, match.NewMemoryQueue(match.Rule{}), discard{}, ids, time.Now,
		slog.New(slog.NewTextHandler(io.Discard, nil)),
		session.Options{MaxSessions: 3, MaxContent: 2000, MaxNickname: 30, PresenceTimeout: time.Minute, TypingTimeout: time.Second})
	a, _, _ := svc.CreateAccount(ctx, "a")
	p, _, _ := svc.CreateAccount(ctx, "b")
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
