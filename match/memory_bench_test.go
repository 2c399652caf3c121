package match_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duetchat/duet/match"
)

// BenchmarkMemoryQueueMatch reports how many pairs per second the in-memory queue makes, with
// requests from many goroutines at once (the counterpart of the Redis engine's
// BenchmarkQueueMatch).
func BenchmarkMemoryQueueMatch(b *testing.B) {
	q := match.NewMemoryQueue(match.Rule{InterestWait: 10 * time.Second})
	ctx := context.Background()
	now := time.Now()
	var ids, pairs atomic.Int64
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := ids.Add(1)
			_, ok, err := q.Match(ctx, match.Waiter{AccountID: id, Nickname: "n", Since: now}, now)
			if err != nil {
				b.Error(err)
				return
			}
			if ok {
				pairs.Add(1)
			}
		}
	})
	b.ReportMetric(float64(pairs.Load())/b.Elapsed().Seconds(), "pairs/s")
}
