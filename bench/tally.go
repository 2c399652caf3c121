package bench

import (
	"math"
	"math/bits"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// stream is one direction of a chat: the messages one client sends, numbered from 0, and which
// of them were acknowledged and delivered.
type stream struct {
	mu        sync.Mutex // guards the following fields
	sent      int64
	acked     bitset
	delivered bitset
}

// next numbers a new message.
func (s *stream) next() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent++
	return s.sent - 1
}

// acknowledge records that message seq was accepted, and reports whether it was ever sent.
func (s *stream) acknowledge(seq int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq < 0 || seq >= s.sent {
		return false
	}
	s.acked.set(seq)
	return true
}

// deliver records that message seq reached the partner. It reports whether it was ever sent,
// and whether it had arrived before.
func (s *stream) deliver(seq int64) (known, again bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq < 0 || seq >= s.sent {
		return false, false
	}
	return true, s.delivered.set(seq)
}

// lost counts the messages acknowledged but never delivered.
func (s *stream) lost() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acked.countAndNot(s.delivered)
}

// bitset is a growable set of message numbers.
type bitset []uint64

// set adds i and reports whether it was there already.
func (b *bitset) set(i int64) bool {
	word, bit := int(i/64), uint64(1)<<(i%64)
	for len(*b) <= word {
		*b = append(*b, 0)
	}
	had := (*b)[word]&bit != 0
	(*b)[word] |= bit
	return had
}

// countAndNot counts the members of b that are not in other.
func (b bitset) countAndNot(other bitset) int64 {
	n := 0
	for i, w := range b {
		if i < len(other) {
			w &^= other[i]
		}
		n += bits.OnesCount64(w)
	}
	return int64(n)
}

// Latencies are kept in microseconds, from 1 µs to a minute, to three significant digits.
const (
	latencyMax    = int64(time.Minute / time.Microsecond)
	latencyShards = 16 // receivers record into separate histograms, to not wait for each other
)

// tally counts what happens to the messages of a run. Its methods are safe for concurrent use.
type tally struct {
	epoch   time.Time    // message send times are carried as offsets from it
	end     atomic.Int64 // the end of the sending window, as an offset from epoch
	streams []stream     // one per connection, by connection index

	sent, acked, delivered, inWindow, duplicated, foreign atomic.Int64

	codesMu sync.Mutex // guards codes
	codes   map[int]int64

	latency [latencyShards]struct {
		mu sync.Mutex // guards h
		h  *hdrhistogram.Histogram
	}
}

func newTally(connections int) *tally {
	t := &tally{epoch: time.Now(), streams: make([]stream, connections), codes: make(map[int]int64)}
	t.end.Store(math.MaxInt64)
	for i := range t.latency {
		t.latency[i].h = newLatencyHistogram()
	}
	return t
}

// open starts a sending window of d from now, and returns its start and end.
func (t *tally) open(d time.Duration) (start, end time.Time) {
	start = time.Now()
	end = start.Add(d)
	t.end.Store(int64(end.Sub(t.epoch)))
	return start, end
}

func newLatencyHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, latencyMax, 3)
}

// content writes the content of message seq of connection sender into b: its numbers and
// send time, then padding up to size bytes.
func (t *tally) content(b []byte, sender int, seq int64, size int) []byte {
	start := len(b)
	b = strconv.AppendInt(b, int64(sender), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(time.Since(t.epoch)), 10)
	b = append(b, '.')
	for len(b)-start < size {
		b = append(b, 'x')
	}
	return b
}

// arrived counts a message that reached its receiver, given its content.
func (t *tally) arrived(content string) {
	now := time.Since(t.epoch)
	sender, seq, sentAt, ok := parseContent(content)
	if !ok || sender >= len(t.streams) {
		t.foreign.Add(1)
		return
	}
	known, again := t.streams[sender].deliver(seq)
	switch {
	case !known:
		t.foreign.Add(1)
		return
	case again:
		t.duplicated.Add(1)
		return
	}
	t.delivered.Add(1)
	if int64(now) < t.end.Load() {
		t.inWindow.Add(1)
	}
	shard := &t.latency[sender%latencyShards]
	shard.mu.Lock()
	_ = shard.h.RecordValue(max(1, int64((now-sentAt)/time.Microsecond))) // beyond a minute: clamped
	shard.mu.Unlock()
}

func parseContent(content string) (sender int, seq int64, sentAt time.Duration, ok bool) {
	fields := strings.SplitN(content, ".", 4)
	if len(fields) != 4 {
		return 0, 0, 0, false
	}
	s, err1 := strconv.Atoi(fields[0])
	q, err2 := strconv.ParseInt(fields[1], 10, 64)
	at, err3 := strconv.ParseInt(fields[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || s < 0 {
		return 0, 0, 0, false
	}
	return s, q, time.Duration(at), true
}

// refused counts a reply with a code other than 0.
func (t *tally) refused(code int) {
	t.codesMu.Lock()
	t.codes[code]++
	t.codesMu.Unlock()
}

// unexpected counts a frame the load generator cannot place: not JSON, or about a message it
// did not send.
func (t *tally) unexpected() { t.foreign.Add(1) }

func (t *tally) errorCodes() (total int64, codes map[int]int64) {
	t.codesMu.Lock()
	defer t.codesMu.Unlock()
	codes = make(map[int]int64, len(t.codes))
	for code, n := range t.codes {
		codes[code] = n
		total += n
	}
	return total, codes
}

func (t *tally) lost() int64 {
	var n int64
	for i := range t.streams {
		n += t.streams[i].lost()
	}
	return n
}

// latencies merges the shards' histograms.
func (t *tally) latencies() *hdrhistogram.Histogram {
	all := newLatencyHistogram()
	for i := range t.latency {
		shard := &t.latency[i]
		shard.mu.Lock()
		all.Merge(shard.h)
		shard.mu.Unlock()
	}
	return all
}
