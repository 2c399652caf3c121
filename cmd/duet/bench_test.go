package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/duetchat/duet/config"
	"github.com/duetchat/duet/redisengine/redistest"
)

// benchReport is the part of `duet bench --json` the tests read.
type benchReport struct {
	messages
	Pairs         int     `json:"pairs"`
	MatchesPerSec float64 `json:"matches_per_sec"`
	DoubleMatches int     `json:"double_matches"`
	Retries       int64   `json:"setup_retries"`
	// RedisCPUPerMatch and LoadCPUPerMatch are the processor time of Redis and of the load
	// generator per chat formed, in microseconds.
	RedisCPUPerMatch float64 `json:"redis_cpu_us_per_match"`
	LoadCPUPerMatch  float64 `json:"load_cpu_us_per_match"`
	Baseline         *messages
	Ratio            float64 `json:"ratio_to_baseline"`
	Idle             *struct {
		Connections        int     `json:"connections"`
		ServerRSSAfter     int64   `json:"server_rss_after_bytes"`
		BytesPerConnection float64 `json:"bytes_per_connection"`
	}
}

type messages struct {
	Target          string  `json:"target"`
	Sent            int64   `json:"sent"`
	Acked           int64   `json:"acked"`
	Delivered       int64   `json:"delivered"`
	DeliveredPerSec float64 `json:"delivered_per_sec"`
	Latency         struct {
		P50, P90, P99, Max float64
	} `json:"latency_ms"`
	Errors      int64 `json:"errors"`
	Lost        int64 `json:"lost"`
	Duplicated  int64 `json:"duplicated"`
	Unexpected  int64 `json:"unexpected"`
	Disconnects int   `json:"disconnects"`

	ServerCPUPerMessage float64 `json:"server_cpu_us_per_msg"`
	RedisCPUPerMessage  float64 `json:"redis_cpu_us_per_msg"`
	LoadCPUPerMessage   float64 `json:"load_cpu_us_per_msg"`
}

// startBenchNode runs a node whose rate limits spare the load generator on loopback.
func startBenchNode(t *testing.T) string {
	t.Helper()
	return startTestNode(t, func(c *config.Config) {
		c.RateLimitExempt = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
}

// runBenchJSON runs `duet bench --json` with args and decodes its report.
func runBenchJSON(t *testing.T, args ...string) benchReport {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"bench", "--json"}, args...), func(string) string { return "" }, &stdout, &stderr)
	t.Logf("duet bench %s:\n%s%s", strings.Join(args, " "), stderr.String(), stdout.String())
	if err != nil {
		t.Fatalf("duet bench: %v", err)
	}
	var r benchReport
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("the report is not JSON: %v", err)
	}
	return r
}

func TestBenchCountsAddUp(t *testing.T) {
	url := startBenchNode(t)
	// 6 connections sending 300 messages/s in all for 1s: 50 each.
	// The node runs in this process, whose processor time is then the server's (and the tool's).
	r := runBenchJSON(t, "--url", url, "--url", url, "--conns", "6", "--rate", "300", "--duration", "1s", "--size", "64",
		"--pid", strconv.Itoa(os.Getpid()))
	if r.Pairs != 3 || r.DoubleMatches != 0 || r.MatchesPerSec <= 0 {
		t.Errorf("matching: %d pairs, %v/s, %d double, want 3 pairs, a rate, none double", r.Pairs, r.MatchesPerSec, r.DoubleMatches)
	}
	if r.Sent != 300 || r.Acked != 300 || r.Delivered != 300 {
		t.Errorf("sent %d, acknowledged %d, delivered %d, want 300 of each", r.Sent, r.Acked, r.Delivered)
	}
	if r.Lost != 0 || r.Duplicated != 0 || r.Errors != 0 || r.Unexpected != 0 || r.Disconnects != 0 {
		t.Errorf("lost %d, duplicated %d, errors %d, unexpected %d, disconnects %d, want none",
			r.Lost, r.Duplicated, r.Errors, r.Unexpected, r.Disconnects)
	}
	// What arrived within the second, per second: at most what was offered, and how much of it
	// depends on how busy the machine is, which a test must not assert.
	if r.DeliveredPerSec <= 0 || r.DeliveredPerSec > 300 {
		t.Errorf("delivered %v/s, want more than 0 and at most the 300/s offered", r.DeliveredPerSec)
	}
	if r.ServerCPUPerMessage <= 0 {
		t.Errorf("server processor time per message %v, want it read from /proc", r.ServerCPUPerMessage)
	}
	if l := r.Latency; !(0 < l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.Max) {
		t.Errorf("latency %+v, want 0 < p50 <= p90 <= p99 <= max", l)
	}
}

// TestBenchReadsRedisCPU: with --redis-url, a run on the redis engine states Redis's processor
// time per message next to the node's, each message having cost Redis something, and so each
// chat formed.
func TestBenchReadsRedisCPU(t *testing.T) {
	redis := redistest.Start(t)
	url := startTestNode(t, func(c *config.Config) {
		c.Engine, c.RedisURL = "redis", redis.URL()
		c.RateLimitExempt = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	r := runBenchJSON(t, "--url", url, "--conns", "4", "--rate", "200", "--duration", "1s",
		"--pid", strconv.Itoa(os.Getpid()), "--redis-url", redis.URL())
	if r.Delivered == 0 || r.Lost != 0 {
		t.Fatalf("delivered %d, lost %d: want a run that delivers", r.Delivered, r.Lost)
	}
	if r.RedisCPUPerMessage <= 0 || r.ServerCPUPerMessage <= 0 {
		t.Errorf("processor time per message: server %v us, Redis %v us; want both read", r.ServerCPUPerMessage, r.RedisCPUPerMessage)
	}
	if r.RedisCPUPerMatch <= 0 || r.LoadCPUPerMatch <= 0 {
		t.Errorf("processor time per chat formed: Redis %v us, load generator %v us; want both read", r.RedisCPUPerMatch, r.LoadCPUPerMatch)
	}
	if r.LoadCPUPerMessage <= 0 {
		t.Errorf("load generator's processor time per message %v us, want it read", r.LoadCPUPerMessage)
	}
}

func TestBenchReportsRateLimitedReplies(t *testing.T) {
	// Default rate limits (a burst of 20 DIALOGUEs, then 5/s), but a client refused over and
	// over is not cut off and cooled off, so that every message gets its answer: 200 messages
	// each at a fixed rate, however fast the machine, stay under the 1000 refusals that would.
	url := startTestNode(t, func(c *config.Config) { c.BadFrameLimit = 1000 })
	r := runBenchJSON(t, "--url", url, "--conns", "2", "--rate", "400", "--duration", "1s")
	if r.Errors == 0 || r.Sent != r.Acked+r.Errors {
		t.Errorf("sent %d, acknowledged %d, errors %d: want rate-limit errors, and every message answered", r.Sent, r.Acked, r.Errors)
	}
	if r.Lost != 0 || r.Delivered != r.Acked {
		t.Errorf("lost %d, delivered %d of %d acknowledged, want all delivered", r.Lost, r.Delivered, r.Acked)
	}
}

func TestBenchReportsADroppedMessageAsLost(t *testing.T) {
	url := startProxy(t, startBenchNode(t), fault{drop: `"cmd":"PUSH_DIALOGUE"`})
	r := runBenchJSON(t, "--url", url, "--conns", "2", "--window", "2", "--duration", "300ms", "--drain", "500ms")
	if r.Lost != 1 || r.Delivered != r.Acked-1 || r.Sent != r.Acked {
		t.Errorf("sent %d, acknowledged %d, delivered %d, lost %d; want the one dropped push lost", r.Sent, r.Acked, r.Delivered, r.Lost)
	}
}

func TestBenchRetriesAFailedMatch(t *testing.T) {
	url := startProxy(t, startBenchNode(t), fault{refuseMatch: true})
	r := runBenchJSON(t, "--url", url, "--conns", "4", "--rate", "40", "--duration", "200ms")
	if r.Pairs != 2 || r.Retries != 1 || r.DoubleMatches != 0 {
		t.Errorf("%d pairs, %d set-up retries, %d double matches; want 2 pairs after 1 retry", r.Pairs, r.Retries, r.DoubleMatches)
	}
	if r.Errors != 0 || r.Lost != 0 || r.Delivered != r.Sent {
		t.Errorf("errors %d, lost %d, delivered %d of %d, want the chats to work", r.Errors, r.Lost, r.Delivered, r.Sent)
	}
}

func TestBenchReportsADoubleMatch(t *testing.T) {
	url := startProxy(t, startBenchNode(t), fault{twice: `"signalType":"NewSession"`})
	r := runBenchJSON(t, "--url", url, "--conns", "2", "--rate", "20", "--duration", "200ms")
	if r.DoubleMatches != 1 {
		t.Errorf("%d double matches, want 1: the connection told twice of its chat", r.DoubleMatches)
	}
}

func TestBenchBaseline(t *testing.T) {
	url := startBenchNode(t)
	r := runBenchJSON(t, "--url", url, "--conns", "4", "--duration", "300ms", "--baseline")
	b := r.Baseline
	if b == nil || b.Target != "baseline" || b.Delivered == 0 || b.Delivered != b.Sent || b.Lost != 0 || b.Duplicated != 0 {
		t.Fatalf("baseline %+v, want every message delivered once", b)
	}
	if want := r.DeliveredPerSec / b.DeliveredPerSec; r.Ratio != want {
		t.Errorf("ratio to baseline %v, want %v", r.Ratio, want)
	}
}

func TestBenchIdle(t *testing.T) {
	url := startBenchNode(t)
	// The node runs in this process, so this process's memory is the server's.
	r := runBenchJSON(t, "--url", url, "--idle", "10", "--hold", "300ms", "--pid", strconv.Itoa(os.Getpid()))
	if r.Idle == nil || r.Idle.Connections != 10 || r.Idle.ServerRSSAfter <= 0 || r.Pairs != 5 {
		t.Fatalf("idle report %+v with %d pairs, want 10 connections in 5 pairs and the server's memory", r.Idle, r.Pairs)
	}
	if r.Sent != 0 {
		t.Errorf("sent %d messages, want none while idle", r.Sent)
	}
}

func TestBenchBadFlags(t *testing.T) {
	tests := map[string]struct {
		args []string
		want string
	}{
		"odd connections": {[]string{"--conns", "3"}, "--conns"},
		"small content":   {[]string{"--size", "8"}, "--size"},
		"negative rate":   {[]string{"--rate", "-1"}, "--rate"},
		"window too big":  {[]string{"--window", "1000"}, "--window"},
		"http url":        {[]string{"--url", "http://localhost:8080/ws"}, "--url"},
		"negative pid":    {[]string{"--pid", "-1"}, "--pid"},
		"idle baseline":   {[]string{"--idle", "2", "--baseline"}, "--baseline"},
		"stray argument":  {[]string{"now"}, `"now"`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append([]string{"bench"}, tt.args...), func(string) string { return "" }, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("duet bench %q = %v, want an error naming %s", tt.args, err, tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("printed a report %q for bad flags", stdout.String())
			}
		})
	}
}

func TestBenchUnreachableNode(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"bench", "--url", "ws://127.0.0.1:1/ws", "--conns", "2"}, func(string) string { return "" }, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "opening connection") {
		t.Fatalf("duet bench against nothing = %v, want an error about opening connections", err)
	}
}

// fault is what a test proxy does wrong, once: drop the first frame from the server that
// contains drop, pass it on twice if it contains twice, or answer the first MATCH itself with
// code 2 as a failing server would.
type fault struct {
	drop, twice string
	refuseMatch bool
}

// startProxy forwards WebSocket connections to upstream, committing f, and returns its URL.
func startProxy(t *testing.T, upstream string, f fault) string {
	t.Helper()
	var committed atomic.Bool
	var pumps sync.WaitGroup
	var upgrader websocket.Upgrader
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		server, _, err := websocket.DefaultDialer.Dial(upstream, nil)
		if err != nil {
			client.Close()
			t.Errorf("proxy: %v", err)
			return
		}
		var toClient sync.Mutex // guards writes to client
		pump := func(from, to *websocket.Conn, lock *sync.Mutex, alter func([]byte) bool) {
			defer from.Close()
			defer to.Close()
			for {
				typ, data, err := from.ReadMessage()
				if err != nil {
					return
				}
				if alter(data) {
					continue
				}
				lock.Lock()
				err = to.WriteMessage(typ, data)
				lock.Unlock()
				if err != nil {
					return
				}
			}
		}
		fromClient := func(data []byte) bool {
			if !f.refuseMatch || !bytes.Contains(data, []byte(`"cmd":"MATCH"`)) || !committed.CompareAndSwap(false, true) {
				return false
			}
			toClient.Lock()
			defer toClient.Unlock()
			return client.WriteMessage(websocket.TextMessage, []byte(`{"cmd":"MATCH","code":2,"msg":"the server failed"}`)) == nil
		}
		fromServer := func(data []byte) bool {
			if f.twice != "" && bytes.Contains(data, []byte(f.twice)) && committed.CompareAndSwap(false, true) {
				toClient.Lock()
				defer toClient.Unlock()
				return client.WriteMessage(websocket.TextMessage, data) != nil
			}
			return f.drop != "" && bytes.Contains(data, []byte(f.drop)) && committed.CompareAndSwap(false, true)
		}
		pumps.Go(func() { pump(client, server, &sync.Mutex{}, fromClient) })
		pumps.Go(func() { pump(server, client, &toClient, fromServer) })
	}))
	t.Cleanup(func() {
		srv.Close()
		pumps.Wait()
		if !committed.Load() {
			t.Errorf("the proxy never committed its fault %+v", f)
		}
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
}
