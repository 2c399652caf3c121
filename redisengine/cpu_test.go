package redisengine

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestCPUTime: the processor time of one server and of a Cluster's masters is read, and grows
// as they work.
func TestCPUTime(t *testing.T) {
	onServerAndCluster(t, func(t *testing.T, client redis.UniversalClient) {
		ctx := context.Background()
		before, err := CPUTime(ctx, client)
		if err != nil || before <= 0 {
			t.Fatalf("CPUTime = %v, %v; want a positive time", before, err)
		}
		if _, err := client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := range 20000 {
				p.Set(ctx, "cpu:"+string(rune('a'+i%26)), i, 0)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		after, err := CPUTime(ctx, client)
		if err != nil || after <= before {
			t.Errorf("CPUTime after 20000 SETs = %v, %v; want more than %v", after, err, before)
		}
	})
}
