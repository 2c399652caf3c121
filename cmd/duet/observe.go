package main

import (
	"log/slog"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/duetchat/duet"
	"github.com/duetchat/duet/metrics"
)

// Lines of sessions started: at most matchLogRate a second on average, in bursts of up to
// matchLogBurst, so that the log of a busy node does not grow with its traffic.
const (
	matchLogRate  = 1
	matchLogBurst = 10
)

// logObserver hands what the node does to its metrics and writes an info line for each
// session started and each report filed, without their content. Lines of sessions started
// are sampled: each says how many went unlogged since the one before (duet_matches_total
// counts them all).
type logObserver struct {
	*metrics.Node
	log      *slog.Logger
	matches  *rate.Limiter
	unlogged atomic.Int64
}

func newLogObserver(m *metrics.Node, log *slog.Logger) *logObserver {
	return &logObserver{Node: m, log: log, matches: rate.NewLimiter(matchLogRate, matchLogBurst)}
}

// Matched counts a session started and logs it, if the sample takes it.
func (o *logObserver) Matched(now time.Time, waits ...time.Duration) {
	o.Node.Matched(now, waits...)
	if !o.matches.AllowN(now, 1) {
		o.unlogged.Add(1)
		return
	}
	waited := make([]string, len(waits))
	for i, w := range waits {
		waited[i] = w.Round(time.Millisecond).String()
	}
	attrs := []any{"waited", waited}
	if n := o.unlogged.Swap(0); n > 0 {
		attrs = append(attrs, "unlogged", n)
	}
	o.log.Info("session started", attrs...)
}

// Replied counts a reply and logs a report filed.
func (o *logObserver) Replied(cmd string, code duet.Code) {
	o.Node.Replied(cmd, code)
	if cmd == "REPORT" && code == duet.OK {
		o.log.Info("report filed")
	}
}
