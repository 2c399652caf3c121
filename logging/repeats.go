// Package logging keeps a node's log readable when something fails many times over: a Redis
// outage fails every request, and each failure used to write its own line (thousands a
// second). Repeats passes the first line of each kind of failure at once, counts the ones that
// follow, and writes one summary line with the count at the end of its interval.
package logging

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode"
)

// maxKinds bounds the kinds of failure counted at once; lines of further kinds pass through,
// so that no kind is ever hidden and memory stays bounded.
const maxKinds = 1000

// Repeats is a slog.Handler that passes WARN and ERROR lines to another handler, each kind at
// most once per interval; the lines of that kind that follow within the interval are counted
// and summarised in one line when it ends: the same level and message, the last error, and
// repeated=count. A kind is a message and its err attribute, with the numbers in the error
// masked, so that failures that differ by an address, an id or a duration count as one.
// Lines below WARN pass through.
type Repeats struct {
	next  slog.Handler
	scope string // the attributes and groups added with WithAttrs and WithGroup
	state *repeatState
}

// repeatState is shared by a Repeats and the handlers derived from it.
type repeatState struct {
	interval time.Duration

	mu    sync.Mutex // guards kinds
	kinds map[string]*kind
}

// kind is a kind of failure seen in the current interval.
type kind struct {
	next     slog.Handler // the handler that received the first line, for the summary
	level    slog.Level
	msg      string
	err      slog.Value // of the last line
	repeated int        // lines after the first
	timer    *time.Timer
}

// NewRepeats returns a Repeats writing to next with the given interval.
func NewRepeats(next slog.Handler, interval time.Duration) *Repeats {
	return &Repeats{next: next, state: &repeatState{interval: interval, kinds: make(map[string]*kind)}}
}

// Enabled reports whether next handles level.
func (h *Repeats) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle passes r on, unless a line of its kind has passed in the current interval; then it
// is counted for the summary.
func (h *Repeats) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return h.next.Handle(ctx, r)
	}
	var err slog.Value
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "err" {
			err = a.Value
			return false
		}
		return true
	})
	key := h.scope + "\x00" + r.Level.String() + "\x00" + r.Message + "\x00" + maskNumbers(err.String())
	s := h.state
	s.mu.Lock()
	if k, ok := s.kinds[key]; ok {
		k.repeated++
		k.err = err
		s.mu.Unlock()
		return nil
	}
	if len(s.kinds) < maxKinds {
		k := &kind{next: h.next, level: r.Level, msg: r.Message}
		k.timer = time.AfterFunc(s.interval, func() { s.end(key, k) })
		s.kinds[key] = k
	}
	s.mu.Unlock()
	return h.next.Handle(ctx, r)
}

// end ends the interval of a kind and writes its summary, if lines were counted.
func (s *repeatState) end(key string, k *kind) {
	s.mu.Lock()
	if s.kinds[key] != k {
		s.mu.Unlock()
		return // already ended by Flush
	}
	delete(s.kinds, key)
	repeated, err := k.repeated, k.err
	s.mu.Unlock()
	if repeated == 0 {
		return
	}
	r := slog.NewRecord(time.Now(), k.level, k.msg, 0)
	if err.Kind() != slog.KindAny || err.Any() != nil {
		r.AddAttrs(slog.Attr{Key: "err", Value: err})
	}
	r.AddAttrs(slog.Int("repeated", repeated), slog.Duration("within", s.interval))
	_ = k.next.Handle(context.Background(), r)
}

// Flush ends every interval now, writing the summaries of the lines counted so far; a node
// calls it last, so that no count is lost when it stops.
func (h *Repeats) Flush() {
	s := h.state
	s.mu.Lock()
	kinds := make(map[string]*kind, len(s.kinds))
	for key, k := range s.kinds {
		if k.timer.Stop() {
			kinds[key] = k
		}
	}
	s.mu.Unlock()
	for key, k := range kinds {
		s.end(key, k)
	}
}

// WithAttrs returns a handler that adds attrs and counts its lines apart from h's.
func (h *Repeats) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Repeats{next: h.next.WithAttrs(attrs), scope: h.scope + fmt.Sprint(attrs), state: h.state}
}

// WithGroup returns a handler that puts attributes in group and counts its lines apart from h's.
func (h *Repeats) WithGroup(name string) slog.Handler {
	return &Repeats{next: h.next.WithGroup(name), scope: h.scope + "[" + name + "]", state: h.state}
}

// maskNumbers replaces every run of digits with #.
func maskNumbers(s string) string {
	var b strings.Builder
	digits := false
	for _, r := range s {
		if unicode.IsDigit(r) {
			if !digits {
				b.WriteByte('#')
			}
			digits = true
			continue
		}
		digits = false
		b.WriteRune(r)
	}
	return b.String()
}
