package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duetchat/duet/redisengine/redistest"
)

// closeSeen is when and how the server closed a connection.
type closeSeen struct {
	at   time.Time
	code int
}

// dialRaw opens a WebSocket that only waits for the server to close it, and reports the close.
func dialRaw(t testing.TB, s *server) <-chan closeSeen {
	t.Helper()
	conn, resp, err := dialer.Dial(s.wsURL(), nil)
	if err != nil {
		t.Fatalf("dial: %v (response %v)", err, resp)
	}
	t.Cleanup(func() { conn.Close() })
	closed := make(chan closeSeen, 1)
	go func() {
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				code := 0
				if ce, ok := err.(*websocket.CloseError); ok {
					code = ce.Code
				}
				closed <- closeSeen{time.Now(), code}
				return
			}
		}
	}()
	return closed
}

// readyz returns /readyz's status code and its JSON body.
func readyz(t testing.TB, s *server) (int, map[string]string) {
	t.Helper()
	resp, body := httpGet(t, s.httpURL()+"/readyz")
	var got map[string]string
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("/readyz body %q: %v", body, err)
	}
	return resp.StatusCode, got
}

// TestDrainOnSIGTERM: on SIGTERM the node first says it is not ready, refusing new WebSockets
// while the open ones go on, for drain_delay; then it closes them with 1001 one after another
// over drain_spread, not all at once; then it exits.
func TestDrainOnSIGTERM(t *testing.T) {
	t.Parallel()
	const conns, delay, spread = 8, time.Second, 2 * time.Second
	s := startServer(t, "--drain-delay", delay.String(), "--drain-spread", spread.String(), "--shutdown-timeout", "10s")
	var closes []<-chan closeSeen
	for range conns {
		closes = append(closes, dialRaw(t, s))
	}
	if code, body := readyz(t, s); code != http.StatusOK {
		t.Fatalf("/readyz before SIGTERM: %d %v, want 200", code, body)
	}

	sigterm := time.Now()
	exited := make(chan struct{})
	go func() {
		s.stop() // asserts exit status 0
		close(exited)
	}()
	deadline := time.Now().Add(delay / 2)
	for {
		code, body := readyz(t, s)
		if code == http.StatusServiceUnavailable {
			if body["status"] != "draining" || !strings.Contains(body["error"], "shutting down") {
				t.Errorf("/readyz while draining: %v, want status draining, shutting down", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d %v %v after SIGTERM, want 503 at once", code, body, time.Since(sigterm))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, resp, err := dialer.Dial(s.wsURL(), nil); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a new WebSocket while draining: %v (response %v), want HTTP 503", err, resp)
	}
	for i, closed := range closes {
		select {
		case c := <-closed:
			t.Fatalf("connection %d closed (%d) %v after SIGTERM, within drain_delay %v", i, c.code, c.at.Sub(sigterm), delay)
		default:
		}
	}

	var after []time.Duration
	for i, closed := range closes {
		select {
		case c := <-closed:
			if c.code != websocket.CloseGoingAway {
				t.Errorf("connection %d closed with %d, want 1001", i, c.code)
			}
			after = append(after, c.at.Sub(sigterm))
		case <-time.After(10 * time.Second):
			t.Fatalf("connection %d still open 10s after SIGTERM", i)
		}
	}
	slices.Sort(after)
	t.Logf("closes after SIGTERM: %v", after)
	if first := after[0]; first < delay-100*time.Millisecond {
		t.Errorf("first close %v after SIGTERM, want after drain_delay %v", first, delay)
	}
	// Evenly over the spread, the last comes (n-1)/n of it after the first.
	if gap, want := after[conns-1]-after[0], spread*(conns-1)/conns; gap < want*3/4 {
		t.Errorf("closes spread over %v, want about %v (drain_spread %v)", gap, want, spread)
	}
	for i := 1; i < conns; i++ {
		if after[i]-after[i-1] > spread/2 {
			t.Errorf("closes %d and %d %v apart, want even steps of %v", i-1, i, after[i]-after[i-1], spread/conns)
		}
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the node did not exit within 10s of its last connection closing")
	}
}

// TestMaxConnections: beyond max_connections a new WebSocket is refused with 503 and /readyz
// says the node is full; a place that comes free is taken again.
func TestMaxConnections(t *testing.T) {
	t.Parallel()
	const limit = 3
	s := startServer(t, "--max-connections", "3")
	var conns []*websocket.Conn
	for range limit {
		conn, _, err := dialer.Dial(s.wsURL(), nil)
		if err != nil {
			t.Fatalf("dial within max_connections: %v", err)
		}
		defer conn.Close()
		conns = append(conns, conn)
	}
	_, resp, err := dialer.Dial(s.wsURL(), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("dial beyond max_connections: %v (response %v), want HTTP 503 with Retry-After", err, resp)
	}
	if code, body := readyz(t, s); code != http.StatusServiceUnavailable || body["status"] != "full" || !strings.Contains(body["error"], "max_connections (3)") {
		t.Errorf("/readyz when full: %d %v, want 503 status full naming max_connections (3)", code, body)
	}

	conns[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, body := readyz(t, s)
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz 5s after a connection closed: %d %v, want 200", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	conn, _, err := dialer.Dial(s.wsURL(), nil)
	if err != nil {
		t.Fatalf("dial into the place that came free: %v", err)
	}
	conn.Close()
}

// TestIdleHTTPConnections: keep-alive sockets that sent one GET /healthz and then nothing are
// closed after http_idle_timeout, one address cannot open more plain HTTP connections than
// address_http_connections, and an open WebSocket outlives the idle timeout.
func TestIdleHTTPConnections(t *testing.T) {
	t.Parallel()
	const limit = 20
	s := startServerRaw(t, "--http-idle-timeout", "1s", "--address-http-connections", strconv.Itoa(limit))
	ann, bob := newUser(t, s, seedDialect, "Ann"), newUser(t, s, seedDialect, "Bob")
	sid := pair(t, ann, bob)

	// healthz asks on a fresh socket, keeps it open, and says whether the node answered.
	healthz := func() (net.Conn, *bufio.Reader, bool) {
		conn, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: duet\r\n\r\n"); err != nil {
			return conn, nil, false
		}
		r := bufio.NewReader(conn)
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			return conn, r, false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return conn, r, resp.StatusCode == http.StatusOK
	}
	type kept struct {
		conn net.Conn
		r    *bufio.Reader
	}
	var open []kept
	refused := 0
	for range limit + 5 {
		conn, r, ok := healthz()
		if !ok {
			refused++
			continue
		}
		open = append(open, kept{conn, r})
	}
	if len(open) != limit || refused != 5 {
		t.Fatalf("%d sockets answered and %d refused, want %d answered (address_http_connections) and 5 refused", len(open), refused, limit)
	}

	start := time.Now()
	for _, k := range open {
		k.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := k.r.ReadByte(); err != io.EOF {
			t.Fatalf("an idle keep-alive socket: read %v, want it closed by the node (EOF)", err)
		}
	}
	if waited := time.Since(start); waited < 500*time.Millisecond {
		t.Errorf("idle sockets closed after %v, before the idle timeout of 1s", waited)
	}
	if _, _, ok := healthz(); !ok {
		t.Error("a new socket after the idle ones closed was refused, want the count back")
	}
	ann.sayTo(bob, sid, "still here after the idle timeout")
}

// TestRedisOutageLogsSummaries: while Redis is down, hundreds of failing requests write a
// line or two at once and then one summary with their count, not a line each.
func TestRedisOutageLogsSummaries(t *testing.T) {
	t.Parallel()
	const clients, each = 10, 30
	r := redistest.Start(t)
	node := startNodes(t, 1, r.URL(), "--log-repeat-interval", "1s")[0]
	var users []*client
	for i := range clients {
		users = append(users, newUser(t, node, seedDialect, fmt.Sprint("user", i)))
	}
	r.Stop()
	before := strings.Count(node.logs.String(), `msg="request failed"`)
	start := time.Now()
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Go(func() {
			for range each {
				wantCode(t, u.request("MATCH", nil), 2)
			}
		})
	}
	wg.Wait()
	// A line per kind of failure (a refused dial, a pool timeout) per interval begun.
	intervals := int(time.Since(start)/time.Second) + 1
	if n := strings.Count(node.logs.String(), `msg="request failed"`) - before; n < 1 || n > 3*intervals {
		t.Errorf("%d failed requests in %d intervals wrote %d lines, want 1 to %d; log:\n%s", clients*each, intervals, n, 3*intervals, node.logs.String())
	}
	deadline := time.Now().Add(5 * time.Second)
	for !regexp.MustCompile(`msg="request failed".* repeated=\d+`).MatchString(node.logs.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("no summary of the failed requests 5s later; log:\n%s", node.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.Restart(t)
	waitReady(t, node) // so that the node stops cleanly, releasing its id
}

// TestLogLines: the admin page's polling writes nothing at the info level; a change an operator
// makes, a session started and a report filed write one info line each, without content; a
// request without the token is logged without the address it came from or the name it gave.
func TestLogLines(t *testing.T) {
	t.Parallel()
	s := startServer(t, withAdmin...)
	for range 3 {
		if code, _ := s.admin(t, "GET", "/admin/api/stats", nil); code != http.StatusOK {
			t.Fatalf("GET stats: %d", code)
		}
	}
	if code, _ := s.admin(t, "POST", "/admin/api/broadcast", map[string]any{"text": "secret notice words", "level": "info"}); code/100 != 2 {
		t.Fatalf("POST broadcast: %d", code)
	}
	if code, _ := s.adminAs(t, "a-guessed-token", "Mallory the operator", "POST", "/admin/api/broadcast", map[string]any{"text": "x", "level": "info"}); code != http.StatusUnauthorized {
		t.Fatalf("POST broadcast with a wrong token: %d, want 401", code)
	}
	a := newUser(t, s, seedDialect, "Ann")
	b := newUser(t, s, seedDialect, "Bob")
	sid := pair(t, a, b)
	a.sayTo(b, sid, "private chat words")
	wantCode(t, b.request("REPORT", map[string]any{"sessionId": sid, "category": "spam"}), 0)

	// The reply goes out before the node counts it, and logs the report.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(s.logs.String(), `msg="report filed"`) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	log := s.logs.String()
	lines := func(substr string) int { return strings.Count(log, substr) }
	if n := lines(`path=/admin/api/stats`); n != 0 {
		t.Errorf("%d lines of admin reads at the info level, want 0", n)
	}
	if n := lines(`msg="admin request" method=POST path=/admin/api/broadcast status=204 operator=tester`); n != 1 || lines("action=broadcast target=everyone") != 1 {
		t.Errorf("%d lines of the broadcast, want 1 with its action and target; log:\n%s", n, log)
	}
	stranger := regexp.MustCompile(`.*status=401.*`).FindString(log)
	if stranger == "" || strings.Contains(stranger, "Mallory") || strings.Contains(stranger, "address=") {
		t.Errorf("the line of a request without the token: %q, want one without the name it gave or its address", stranger)
	}
	if n := lines(`level=INFO msg="session started"`); n != 1 {
		t.Errorf("%d lines of the session started, want 1; log:\n%s", n, log)
	}
	if n := lines(`level=INFO msg="report filed"`); n != 1 {
		t.Errorf("%d lines of the report, want 1; log:\n%s", n, log)
	}
	for _, words := range []string{"secret notice words", "private chat words"} {
		if strings.Contains(log, words) {
			t.Errorf("the log holds %q", words)
		}
	}
}

// TestAdminTokenGuessing: forty wrong admin tokens in a row from one address get five 401s,
// then 429 with Retry-After, and then even the right token waits.
func TestAdminTokenGuessing(t *testing.T) {
	t.Parallel()
	s := startServer(t, withAdmin...)
	codes := map[int]int{}
	for i := range 40 {
		code, _ := s.adminAs(t, fmt.Sprint("wrong-token-", i), "tester", "GET", "/admin/api/stats", nil)
		codes[code]++
	}
	if codes[http.StatusUnauthorized] != 5 || codes[http.StatusTooManyRequests] != 35 {
		t.Errorf("40 wrong tokens answered %v, want 5 × 401 and 35 × 429", codes)
	}
	if code, _ := s.admin(t, "GET", "/admin/api/stats", nil); code != http.StatusTooManyRequests {
		t.Errorf("the right token right after: %d, want 429", code)
	}
}
