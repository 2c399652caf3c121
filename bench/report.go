package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Report is what a run measured. As JSON, the message figures of the run against Duet are at
// the top level, next to the matching figures; the relay's are under "baseline".
type Report struct {
	*Messages
	*Matching
	Idle            *Idle     `json:"idle,omitempty"`
	Baseline        *Messages `json:"baseline,omitempty"`
	RatioToBaseline float64   `json:"ratio_to_baseline,omitempty"`
}

// Messages are the figures of a message load.
type Messages struct {
	Target          string  `json:"target"` // "duet" or "baseline"
	Connections     int     `json:"connections"`
	Rate            float64 `json:"rate"` // the target, in messages per second; 0: as fast as possible
	Size            int     `json:"size"`
	DurationSec     float64 `json:"duration_sec"`
	Sent            int64   `json:"sent"`
	Acked           int64   `json:"acked"`     // answered with code 0
	Delivered       int64   `json:"delivered"` // pushed to the partner, each message once
	DeliveredPerSec float64 `json:"delivered_per_sec"`
	Latency         Latency `json:"latency_ms"` // from writing DIALOGUE to reading its push
	// Errors counts replies with a code other than 0, by code in ErrorCodes.
	Errors     int64         `json:"errors"`
	ErrorCodes map[int]int64 `json:"error_codes"`
	Lost       int64         `json:"lost"`       // acknowledged but not delivered by the end of the drain
	Duplicated int64         `json:"duplicated"` // delivered more than once
	// Unexpected counts frames that are not JSON or speak of messages this run did not send.
	Unexpected  int64 `json:"unexpected"`
	Disconnects int   `json:"disconnects"` // connections the server closed during the run
	// ServerCPUPerMessage is the server's processor time per delivered message, in
	// microseconds, when its figures were read (--pid): a measure of its work that holds on a
	// busy machine, where messages per second depend on what else runs.
	ServerCPUPerMessage float64 `json:"server_cpu_us_per_msg,omitempty"`
	// RedisCPUPerMessage is the same for the Redis the server keeps its state in (--redis-url).
	RedisCPUPerMessage float64 `json:"redis_cpu_us_per_msg,omitempty"`
	// LoadCPUPerMessage is the same for this load generator, told with either of the others: on
	// one machine, what is left of its processors for the server and Redis.
	LoadCPUPerMessage float64 `json:"load_cpu_us_per_msg,omitempty"`
}

// Latency percentiles, in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Matching is how fast the run's connections were paired: all of them send MATCH at once, and
// each is matched when its reply (code 0) or its NewSession push arrives.
type Matching struct {
	Pairs         int          `json:"pairs"`
	MatchesPerSec float64      `json:"matches_per_sec"`
	MatchMillis   MatchLatency `json:"match_ms"` // from sending MATCH to knowing the chat
	// DoubleMatches counts connections told of more than one chat, or whose partner was told
	// of another chat.
	DoubleMatches int `json:"double_matches"`
	// Retries counts CRT_ACCOUNT and MATCH requests answered with code 2 (the server failed)
	// or 6 (rate limited), and sent again.
	Retries int64 `json:"setup_retries"`
	// ServerCPUPerMatch and RedisCPUPerMatch are the processor time of the server (--pid) and
	// of its Redis (--redis-url) from the first MATCH to the last chat known, per chat formed,
	// in microseconds.
	ServerCPUPerMatch float64 `json:"server_cpu_us_per_match,omitempty"`
	RedisCPUPerMatch  float64 `json:"redis_cpu_us_per_match,omitempty"`
	// LoadCPUPerMatch is the same for this load generator.
	LoadCPUPerMatch float64 `json:"load_cpu_us_per_match,omitempty"`
}

// MatchLatency percentiles, in milliseconds.
type MatchLatency struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
}

// Idle is the server's memory with matched, silent connections.
type Idle struct {
	Connections        int     `json:"connections"`
	HoldSec            float64 `json:"hold_sec"`
	ServerRSSBefore    int64   `json:"server_rss_before_bytes,omitempty"`
	ServerRSSAfter     int64   `json:"server_rss_after_bytes,omitempty"`
	BytesPerConnection float64 `json:"bytes_per_connection,omitempty"`
}

// Progress is a live view of a message load, over the last second.
type Progress struct {
	Target                      string
	Elapsed                     time.Duration
	SentPerSec, DeliveredPerSec float64
	Delivered                   int64
	Errors, Duplicated          int64
}

func (p Progress) String() string {
	return fmt.Sprintf("%-8s %5.0fs  sent %8.0f/s  delivered %8.0f/s  total %9d  errors %d  duplicated %d",
		p.Target, p.Elapsed.Seconds(), p.SentPerSec, p.DeliveredPerSec, p.Delivered, p.Errors, p.Duplicated)
}

// WriteText writes the report for a person to read.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	if r.Matching != nil {
		m := r.Matching
		fmt.Fprintf(&b, "matching   %d pairs, %.0f matches/s, time to match p50 %.1f ms p99 %.1f ms, double matches %d, set-up requests retried %d\n",
			m.Pairs, m.MatchesPerSec, m.MatchMillis.P50, m.MatchMillis.P99, m.DoubleMatches, m.Retries)
		writeCPU(&b, "chat formed", m.ServerCPUPerMatch, m.RedisCPUPerMatch, m.LoadCPUPerMatch)
	}
	if r.Messages != nil {
		writeMessages(&b, r.Messages)
	}
	if r.Baseline != nil {
		writeMessages(&b, r.Baseline)
		fmt.Fprintf(&b, "duet delivers %.2f of the baseline's messages per second\n", r.RatioToBaseline)
	}
	if i := r.Idle; i != nil {
		fmt.Fprintf(&b, "idle       %d matched connections held %.0fs", i.Connections, i.HoldSec)
		if i.ServerRSSAfter > 0 {
			fmt.Fprintf(&b, ", server RSS %.1f MiB -> %.1f MiB: %.0f bytes (%.2f KiB) per connection",
				mib(i.ServerRSSBefore), mib(i.ServerRSSAfter), i.BytesPerConnection, i.BytesPerConnection/1024)
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeMessages(b *strings.Builder, m *Messages) {
	rate := "as fast as possible"
	if m.Rate > 0 {
		rate = fmt.Sprintf("at %.0f/s", m.Rate)
	}
	fmt.Fprintf(b, "%-10s %d connections, %d-byte messages %s for %.0fs\n", m.Target, m.Connections, m.Size, rate, m.DurationSec)
	fmt.Fprintf(b, "           delivered %.0f msgs/s; latency p50 %.2f ms p90 %.2f ms p99 %.2f ms max %.2f ms\n",
		m.DeliveredPerSec, m.Latency.P50, m.Latency.P90, m.Latency.P99, m.Latency.Max)
	fmt.Fprintf(b, "           sent %d, acknowledged %d, delivered %d; lost %d, duplicated %d, unexpected %d, disconnects %d\n",
		m.Sent, m.Acked, m.Delivered, m.Lost, m.Duplicated, m.Unexpected, m.Disconnects)
	writeCPU(b, "delivered message", m.ServerCPUPerMessage, m.RedisCPUPerMessage, m.LoadCPUPerMessage)
	fmt.Fprintf(b, "           errors %d", m.Errors)
	codes := make([]int, 0, len(m.ErrorCodes))
	for code := range m.ErrorCodes {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	for _, code := range codes {
		fmt.Fprintf(b, " (code %d: %d)", code, m.ErrorCodes[code])
	}
	b.WriteString("\n")
}

// writeCPU writes the processor time per unit that the server and its Redis spent, those of
// the two that were measured, and then this load generator's.
func writeCPU(b *strings.Builder, unit string, server, redis, load float64) {
	switch {
	case server > 0 && redis > 0:
		fmt.Fprintf(b, "           processor time per %s: server %.1f us + Redis %.1f us = %.1f us", unit, server, redis, server+redis)
	case server > 0:
		fmt.Fprintf(b, "           server processor time %.1f us per %s", server, unit)
	case redis > 0:
		fmt.Fprintf(b, "           Redis processor time %.1f us per %s", redis, unit)
	default:
		return
	}
	if load > 0 {
		fmt.Fprintf(b, "; load generator %.1f us", load)
	}
	b.WriteString("\n")
}

func mib(bytes int64) float64 { return float64(bytes) / (1 << 20) }
