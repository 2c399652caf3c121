package redisengine

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestChallengesShared: two nodes on one Redis, or a Cluster, accept a challenge once between
// them until it expires, and add up one tally of new accounts per window.
func TestChallengesShared(t *testing.T) {
	onServerAndCluster(t, func(t *testing.T, client redis.UniversalClient) {
		ctx := context.Background()
		one, two := NewChallenges(client, "t:", time.Second), NewChallenges(client, "t:", time.Second)

		until := time.Now().Add(2 * time.Second)
		for i, want := range []bool{true, false} {
			for _, node := range []*Challenges{one, two} {
				if fresh, err := node.Spend(ctx, "abc", until); err != nil || fresh != (want && node == one) {
					t.Errorf("try %d: Spend = %v, %v; want %v", i+1, fresh, err, want && node == one)
				}
			}
		}
		if ttl := client.TTL(ctx, "t:{spent:abc}").Val(); ttl <= 0 || ttl > 2*time.Second {
			t.Errorf("a spent challenge lives %v, want until it expires, within 2s", ttl)
		}

		if cur, prev, err := one.Add(ctx, 7, 3); cur != 3 || prev != 0 || err != nil {
			t.Errorf("Add(7, 3) = %d, %d, %v; want 3, 0", cur, prev, err)
		}
		if cur, prev, err := two.Add(ctx, 7, 2); cur != 5 || prev != 0 || err != nil {
			t.Errorf("Add(7, 2) on the other node = %d, %d, %v; want 5, 0", cur, prev, err)
		}
		if cur, prev, err := one.Add(ctx, 8, 0); cur != 0 || prev != 5 || err != nil {
			t.Errorf("Add(8, 0) = %d, %d, %v; want 0, 5", cur, prev, err)
		}
	})
}
