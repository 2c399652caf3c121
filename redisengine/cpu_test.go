package redisengine

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/duetchat/duet/redisengine/redistest"
)

// TestCPUTime: the processor time of one server and of a Cluster's masters is read, and grows
// as they work.
func TestCPUTime(t *testing.T) {
	for name, url := range map[string]func(t *testing.T) string{
		"server":  func(t *testing.T) string { return redistest.Start(t).URL() },
		"cluster": func(t *testing.T) string { return redistest.StartCluster(t).URL() },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			client := openClient(t, url(t))
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
}
