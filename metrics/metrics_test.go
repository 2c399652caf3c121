package metrics_test

import (
	"testing"
	"time"

	"github.com/duetchat/duet/metrics"
	"github.com/duetchat/duet/metrics/boardtest"
)

func TestMemoryBoard(t *testing.T) {
	boardtest.Run(t, func(*testing.T) metrics.Board { return metrics.NewMemoryBoard() })
}

func TestPercentile(t *testing.T) {
	for _, tt := range []struct {
		samples []int64
		p       float64
		want    int64
	}{
		{nil, 50, 0},
		{[]int64{7}, 95, 7},
		{[]int64{5, 1, 4, 2, 3}, 50, 3},
		{[]int64{5, 1, 4, 2, 3}, 95, 5},
		{[]int64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}, 50, 50},
		{[]int64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}, 95, 100},
	} {
		if got := metrics.Percentile(tt.samples, tt.p); got != tt.want {
			t.Errorf("Percentile(%v, %v) = %d, want %d", tt.samples, tt.p, got, tt.want)
		}
	}
}

func TestSnapshot(t *testing.T) {
	n := metrics.New()
	start := time.Unix(1_800_000_000, 0)
	for i := range 3 {
		n.Sent(start.Add(time.Duration(i)*10*time.Second), time.Millisecond)
	}
	n.Matched(start, 0, 2*time.Second)

	s := n.Snapshot(start.Add(30*time.Second), 1, 4)
	if s.Connections != 1 || s.Accounts != 4 || s.MessagesPerMinute != 3 || s.MatchesPerMinute != 1 || len(s.MatchWaitsMs) != 2 {
		t.Errorf("Snapshot after 30s = %+v; want 1 connection, 4 accounts, 3 messages and 1 match in the last minute, 2 waits", s)
	}
	n.Matched(start.Add(4*time.Minute), 0, 30*time.Second)
	s = n.Snapshot(start.Add(5*time.Minute+time.Second), 0, 0)
	if s.MessagesPerMinute != 0 || s.MatchesPerMinute != 0 || len(s.MatchWaitsMs) != 2 || s.MatchWaitsMs[1] != 30_000 {
		t.Errorf("Snapshot after 5 minutes = %+v; want no recent messages or matches, and only the last match's 2 waits", s)
	}
}
