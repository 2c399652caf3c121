package logging

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// lines is a log written by several goroutines.
type lines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(strings.TrimSpace(l.buf.String()), "\n")
}

func newTestLog(interval time.Duration) (*slog.Logger, *Repeats, *lines) {
	out := &lines{}
	h := NewRepeats(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}), interval)
	return slog.New(h), h, out
}

func count(lines []string, substr string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

// TestRepeatsSummarise: an outage's thousand failures of one kind write one line at once and
// one summary with the count when the interval ends; another kind, and info lines, are not
// held back.
func TestRepeatsSummarise(t *testing.T) {
	const interval = 200 * time.Millisecond
	log, _, out := newTestLog(interval)
	var wg sync.WaitGroup
	for i := range 1000 {
		wg.Go(func() {
			// Failures that differ only by numbers (a port, an id) are one kind.
			log.Error("request failed", "cmd", "DIALOGUE", "account", i, "err", fmt.Errorf("dial tcp 127.0.0.1:%d: connection refused", 6000+i%7))
		})
	}
	wg.Wait()
	log.Warn("recording presence", "err", errors.New("redis: connection pool timeout"))
	log.Warn("recording presence", "err", errors.New("redis: connection pool timeout"))
	log.Info("admin request", "path", "/admin/api/bans")
	log.Info("admin request", "path", "/admin/api/bans")

	got := out.all()
	if n := count(got, `msg="request failed"`); n != 1 {
		t.Errorf("%d request failed lines before the interval ends, want 1:\n%s", n, strings.Join(got, "\n"))
	}
	if n := count(got, `msg="recording presence"`); n != 1 {
		t.Errorf("%d recording presence lines, want 1", n)
	}
	if n := count(got, `msg="admin request"`); n != 2 {
		t.Errorf("%d info lines, want both", n)
	}

	time.Sleep(interval + 300*time.Millisecond)
	got = out.all()
	if n := count(got, `msg="request failed"`); n != 2 || count(got, "repeated=999 within=200ms") != 1 {
		t.Errorf("after the interval: %d request failed lines, want the first and a summary with repeated=999:\n%s", n, strings.Join(got, "\n"))
	}
	if count(got, `level=WARN msg="recording presence" err="redis: connection pool timeout" repeated=1`) != 1 {
		t.Errorf("no summary of the second kind:\n%s", strings.Join(got, "\n"))
	}

	// A new interval starts with the next failure, which is written at once.
	log.Error("request failed", "err", errors.New("dial tcp 127.0.0.1:6001: connection refused"))
	if n := count(out.all(), `msg="request failed"`); n != 3 {
		t.Errorf("a failure after the interval: %d lines, want it written at once", n)
	}
}

// TestRepeatsFlush: a node that stops writes the counts it holds.
func TestRepeatsFlush(t *testing.T) {
	log, h, out := newTestLog(time.Hour)
	for range 5 {
		log.Error("request failed", "err", errors.New("redis down"))
	}
	h.Flush()
	if got := out.all(); len(got) != 2 || !strings.Contains(got[1], "repeated=4") {
		t.Errorf("after Flush: %q, want the first line and a summary with repeated=4", got)
	}
	h.Flush()
	if got := out.all(); len(got) != 2 {
		t.Errorf("a second Flush wrote %q", got[2:])
	}
}

// TestRepeatsScopes: lines of loggers with their own attributes count apart, and keep them.
func TestRepeatsScopes(t *testing.T) {
	log, h, out := newTestLog(time.Hour)
	a, b := log.With("component", "a"), log.With("component", "b")
	for range 3 {
		a.Warn("failing", "err", errors.New("x"))
		b.Warn("failing", "err", errors.New("x"))
	}
	h.Flush()
	got := out.all()
	if count(got, "component=a") != 2 || count(got, "component=b") != 2 || count(got, "repeated=2") != 2 {
		t.Errorf("log %q, want a first line and a summary for each component", got)
	}
}
