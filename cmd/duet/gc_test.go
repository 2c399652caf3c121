package main

import (
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"testing"
	"time"

	"github.com/duetchat/duet/config"
)

// TestGCMode: the collector's target is the idle one until the node allocates busyRate a
// second, the runtime's own from then on, and the idle one again only under half of busyRate.
func TestGCMode(t *testing.T) {
	m := gcMode{idle: 40, own: 100, busyRate: 8 << 20}
	for _, step := range []struct {
		rate    float64
		want    int
		changed bool
	}{
		{1 << 20, 0, false},   // idle, as it started
		{8 << 20, 100, true},  // busy
		{5 << 20, 0, false},   // still busy above half
		{3 << 20, 40, true},   // idle under half
		{7 << 20, 0, false},   // still idle under busyRate
		{64 << 20, 100, true}, // busy again
	} {
		got, changed := m.next(step.rate)
		if got != step.want || changed != step.changed {
			t.Fatalf("at %.0f MiB/s: %d, %v; want %d, %v", step.rate/(1<<20), got, changed, step.want, step.changed)
		}
	}
}

func TestRuntimeGOGC(t *testing.T) {
	for env, want := range map[string]int{"": 100, "off": -1, "50": 50, "200": 200, "lots": 100} {
		if got := runtimeGOGC(func(string) string { return env }); got != want {
			t.Errorf("GOGC=%q: %d, want %d", env, got, want)
		}
	}
}

// TestNodeTunesGC: a node sets the collector's target to gc_idle_percent as it starts, and
// with gc_idle_percent 0 leaves the runtime's own.
func TestNodeTunesGC(t *testing.T) {
	if runtimeGOGC(func(string) string { return "" }) != 100 || debug.SetGCPercent(100) != 100 {
		t.Skip("this test process runs with GOGC set")
	}
	t.Cleanup(func() { debug.SetGCPercent(100) })
	gogc := func() uint64 {
		s := []rtmetrics.Sample{{Name: "/gc/gogc:percent"}}
		rtmetrics.Read(s)
		return s[0].Value.Uint64()
	}
	startTestNode(t, func(c *config.Config) { c.GCIdlePercent, c.GCBusyAllocMiB = 37, 1<<20 })
	deadline := time.Now().Add(2 * time.Second)
	for gogc() != 37 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := gogc(); got != 37 {
		t.Errorf("GOGC of a node with gc_idle_percent 37: %d", got)
	}
	debug.SetGCPercent(100)
	startTestNode(t, func(c *config.Config) { c.GCIdlePercent = 0 })
	time.Sleep(200 * time.Millisecond)
	if got := gogc(); got != 100 {
		t.Errorf("GOGC of a node with gc_idle_percent 0: %d, want the runtime's 100", got)
	}
}
