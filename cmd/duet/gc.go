package main

import (
	"context"
	"log/slog"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"strconv"
	"time"

	"github.com/duetchat/duet"
)

// gcMode chooses the garbage collector's target (GOGC) from how fast the node allocates. A node
// of idle connections allocates little, so a low target costs it little processor time and
// saves memory: the heap may grow only idle percent past what is live between collections, not
// the runtime's 100. A busy node, which allocates fast, would pay for that in processor time, so
// from busyRate on it gets the runtime's own target back; it counts as idle again once the rate
// falls under half of busyRate, so that a rate near busyRate does not switch it every second.
type gcMode struct {
	idle, own int     // GOGC while idle, and the runtime's own
	busyRate  float64 // bytes allocated per second
	busy      bool
}

// next returns the target for an allocation rate of rate bytes a second, and whether it is
// another than the one before.
func (m *gcMode) next(rate float64) (int, bool) {
	switch {
	case !m.busy && rate >= m.busyRate:
		m.busy = true
		return m.own, true
	case m.busy && rate < m.busyRate/2:
		m.busy = false
		return m.idle, true
	}
	return 0, false
}

// runtimeGOGC is the target the runtime starts with: GOGC from the environment, or 100 when it
// is unset or not a number, as the runtime reads it; -1 for off.
func runtimeGOGC(getenv func(string) string) int {
	switch v := getenv("GOGC"); v {
	case "":
		return 100
	case "off":
		return -1
	default:
		n, err := strconv.Atoi(v)
		if err != nil {
			return 100
		}
		return n
	}
}

// gcWindow is the number of seconds over which the allocation rate that gcMode judges is
// averaged: long enough that the heartbeats of many idle connections, which come in bursts every
// ping_interval, do not count as busy; short enough that a load counts as busy within a second
// or two.
const gcWindow = 10

// tuneGC sets the collector's target to idle and then, every second until ctx ends, to the one
// gcMode chooses from the rate the node allocated at over the last gcWindow seconds; while idle,
// it also returns freed memory to the system. It leaves the runtime alone when idle is 0, or not
// below the runtime's own target (GOGC=off included).
func tuneGC(ctx context.Context, idle int, busyMiB float64, own int, log *slog.Logger) {
	if idle == 0 || own < 0 || idle >= own {
		return
	}
	mode := gcMode{idle: idle, own: own, busyRate: busyMiB * (1 << 20)}
	debug.SetGCPercent(idle)
	allocs := []rtmetrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	allocated := func() uint64 {
		rtmetrics.Read(allocs)
		return allocs[0].Value.Uint64()
	}
	// The bytes allocated so far, as read at the end of each of the last gcWindow seconds.
	var totals [gcWindow]uint64
	totals[0] = allocated()
	seconds := 0
	duet.Every(ctx, time.Second, func() {
		seconds++
		now, since := allocated(), min(seconds, gcWindow)
		rate := float64(now-totals[(seconds-since)%gcWindow]) / float64(since)
		totals[seconds%gcWindow] = now
		target, changed := mode.next(rate)
		if changed {
			debug.SetGCPercent(target)
			log.Debug("garbage collector target", "gogc", target, "allocated_mib_per_second", rate/(1<<20))
		}
		if !mode.busy && (changed || seconds%gcWindow == 0) {
			// While idle, what the heap freed goes back to the system every gcWindow seconds,
			// and what a busy spell grew as it ends, rather than over the minutes the runtime's
			// scavenger would take; a collection of a node that allocates little is cheap.
			debug.FreeOSMemory()
		}
	})
}
