package bench

import (
	"testing"
	"time"
)

func TestTallyCountsLostAndDuplicated(t *testing.T) {
	sink := newTally(2)
	sink.open(time.Minute)
	var contents []string
	for range 3 {
		seq := sink.streams[1].next()
		contents = append(contents, string(sink.content(nil, 1, seq, 50)))
		sink.streams[1].acknowledge(seq)
	}
	if len(contents[0]) != 50 {
		t.Fatalf("content %q has %d bytes, want 50", contents[0], len(contents[0]))
	}
	sink.arrived(contents[0])
	sink.arrived(contents[2])
	sink.arrived(contents[2])
	sink.arrived("0.7.123.xxxx")          // never sent
	sink.arrived("hello from a stranger") // not the load generator's
	if got := sink.delivered.Load(); got != 2 {
		t.Errorf("delivered %d, want 2", got)
	}
	if got := sink.duplicated.Load(); got != 1 {
		t.Errorf("duplicated %d, want 1", got)
	}
	if got := sink.lost(); got != 1 {
		t.Errorf("lost %d, want 1 (message 1)", got)
	}
	if got := sink.foreign.Load(); got != 2 {
		t.Errorf("unexpected %d, want 2", got)
	}
	if got := sink.latencies().TotalCount(); got != 2 {
		t.Errorf("%d latencies recorded, want 2", got)
	}
}

func TestBitsetGrowsAndCounts(t *testing.T) {
	var acked, delivered bitset
	for _, i := range []int64{0, 63, 64, 1000} {
		acked.set(i)
	}
	if delivered.set(1000) || !delivered.set(1000) {
		t.Error("set(1000) twice: want false, then true")
	}
	if got := acked.countAndNot(delivered); got != 3 {
		t.Errorf("countAndNot = %d, want 3", got)
	}
}
