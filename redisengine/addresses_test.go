package redisengine

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/duetchat/duet"
	"github.com/duetchat/duet/push"
)

// TestAddressesForgetDeadNodes: the connections a node counted for an address hold the
// address's places while the node renews them, and free them once it stops (as a node that
// died does), on a Redis Cluster as on one server.
func TestAddressesForgetDeadNodes(t *testing.T) {
	onServerAndCluster(t, func(t *testing.T, client redis.UniversalClient) {
		limits := push.AddressLimits{
			Connect: duet.Limit{Rate: 1000, Burst: 1000}, Connections: 2, Account: duet.Limit{Rate: 1, Burst: 1},
		}
		const life = 300 * time.Millisecond
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		ctx := context.Background()
		dying := NewAddresses(client, "t:", limits, life, time.Now, log)
		living := NewAddresses(client, "t:", limits, life, time.Now, log)
		running, stop := context.WithCancel(ctx)
		defer stop()
		go living.Run(running)

		for i, a := range []*Addresses{dying, living} {
			if err := a.Open(ctx, "addr"); err != nil {
				t.Fatalf("connection %d: %v", i+1, err)
			}
		}
		if err := living.Open(ctx, "addr"); duet.ErrorCode(err) != duet.RateLimited {
			t.Fatalf("third connection of an address allowed two: %v, want RateLimited", err)
		}
		// The dying node's place is freed after its lifetime; the living node's is kept.
		time.Sleep(2 * life)
		if err := living.Open(ctx, "addr"); err != nil {
			t.Fatalf("a place of a node that stopped renewing is still taken after its lifetime: %v", err)
		}
		if err := living.Open(ctx, "addr"); duet.ErrorCode(err) != duet.RateLimited {
			t.Fatalf("the renewed places were forgotten: %v, want RateLimited", err)
		}
		living.Close(ctx, "addr")
		if err := living.Open(ctx, "addr"); err != nil {
			t.Fatalf("a closed connection's place was not given back: %v", err)
		}

		if err := dying.CreateAccount(ctx, "addr"); err != nil {
			t.Fatal(err)
		}
		err := living.CreateAccount(ctx, "addr")
		if e, ok := err.(*duet.Error); !ok || e.Code != duet.RateLimited || e.RetryAfter <= 0 || e.RetryAfter > time.Second {
			t.Fatalf("second account of an address allowed one, from another node: %v, want RateLimited within 1s", err)
		}
	})
}

// TestAddressesShareBuckets: what two nodes spend of an address's request buckets is taken from
// one bucket, which owes at most its burst and refills at its rate; another address and a
// bucket not spent are not touched. On a Redis Cluster too, where the addresses' keys lie in
// different slots of one pipeline.
func TestAddressesShareBuckets(t *testing.T) {
	onServerAndCluster(t, func(t *testing.T, client redis.UniversalClient) {
		limits := push.AddressLimits{Requests: push.Limits{
			Content: duet.Limit{Rate: 100, Burst: 1000}, Dialogue: duet.Limit{Rate: 1, Burst: 10},
		}}
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		ctx := context.Background()
		now := time.Now()
		clock := func() time.Time { return now }
		one := NewAddresses(client, "t:", limits, time.Minute, clock, log)
		two := NewAddresses(client, "t:", limits, time.Minute, clock, log)

		left, err := one.ShareBuckets(ctx, map[string]map[string]int{"a": {"content": 600}, "b": {"dialogue": 3}})
		if err != nil {
			t.Fatal(err)
		}
		if got := left["a"]["content"].Tokens; got != 400 {
			t.Errorf("a's content after node one spent 600 of 1000: %v, want 400", got)
		}
		if got, ok := left["a"]["dialogue"]; ok {
			t.Errorf("a's dialogue bucket, which nobody spent, was returned: %v", got)
		}
		if got := left["b"]["dialogue"].Tokens; got != 7 {
			t.Errorf("b's dialogue after 3 of 10: %v, want 7", got)
		}

		now = now.Add(time.Second) // 100 characters refilled
		left, err = two.ShareBuckets(ctx, map[string]map[string]int{"a": {"content": 2000}})
		if err != nil {
			t.Fatal(err)
		}
		if got := left["a"]["content"].Tokens; got != -1000 {
			t.Errorf("a's content after node two overspent: %v, want -1000 (a debt of one burst at most)", got)
		}
	})
}
