package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/duetchat/duet/redisengine/redistest"
)

// TestAddressLimitsAcrossNodes: on the redis engine the limits per client address hold for the
// whole service. An address that spreads its connections and accounts over two nodes meets
// address_connections, account_burst and connect_burst once, not once per node; another
// address is not touched; and when Redis is down the address is told to try again in a
// moment rather than let through unchecked.
func TestAddressLimitsAcrossNodes(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	nodes := startNodes(t, 2, r.URL(), append(behindProxy, "--address-connections", "4",
		"--connect-burst", "6", "--connect-rate", "0.01", "--account-burst", "3", "--account-rate", "0.01",
		"--challenge", "off")...) // which would ask a proof of work instead of refusing (TestChallengeCarrierAddress)
	const addr = "203.0.113.9"
	on := func(i int) *server { return nodes[i%2] } // node 1, node 2, node 1...

	var bots []*client
	for i := range 4 {
		bots = append(bots, dialFrom(t, on(i), seedDialect, fmt.Sprint("bot ", i), addr))
	}
	for i, c := range bots[:3] {
		c.createAccount(fmt.Sprint("bot", i))
	}
	r4 := bots[3].request("CRT_ACCOUNT", map[string]any{"nickName": "bot3"})
	wantCode(t, r4, 6)
	if !strings.Contains(r4.str("msg"), "accounts") {
		t.Errorf("fourth account from one address over two nodes: %s, want a refusal about accounts", r4)
	}
	for i := range 2 {
		over := dialFrom(t, on(i), seedDialect, fmt.Sprint("fifth connection on node ", i+1), addr)
		e := over.waitCmd("ERROR")
		wantCode(t, e, 6)
		if !strings.Contains(e.str("msg"), "close one first") {
			t.Errorf("fifth connection from one address over two nodes: %s, want a refusal about open connections", e)
		}
		over.wantClosed(1008)
	}

	// Two places freed, one on each node, are taken again: six new connections in all, the
	// burst. One more place freed cannot be taken: the address has no new connection left.
	bots[0].drop()
	bots[1].drop()
	for i := range 2 {
		if e := reopen(t, on(i), addr, "close one first"); e.raw != "" {
			t.Fatalf("a freed place on node %d: refused with %s", i+1, e)
		}
	}
	bots[2].drop()
	refusal := reopen(t, on(1), addr, "close one first")
	wantCode(t, refusal, 6)
	if !strings.Contains(refusal.str("msg"), "new connections") {
		t.Errorf("seventh new connection from one address over two nodes: %v, want a refusal about new connections", refusal)
	}

	for i := range 2 {
		userFrom(t, on(i), seedDialect, fmt.Sprint("someone else on node ", i+1), "198.51.100.9")
	}

	// A connection let in before Redis stops asks for an account at once: a connection without
	// an account that stays silent is closed after presence_timeout.
	late := dialFrom(t, nodes[0], seedDialect, "late", "198.51.100.11")
	r.Stop()
	refused := late.request("CRT_ACCOUNT", map[string]any{"nickName": "late"})
	wantCode(t, refused, 2)
	if !strings.Contains(refused.str("msg"), "try again in a moment") {
		t.Errorf("an account while Redis is down: %s, want to try again in a moment", refused)
	}
	h := http.Header{"X-Forwarded-For": {"198.51.100.10"}}
	if ws, resp, err := dialer.Dial(nodes[0].wsURL(), h); err == nil {
		ws.Close()
		t.Error("a connection was let in while Redis was down, its address's limits unchecked")
	} else if resp == nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a connection while Redis is down: %v (%+v), want HTTP 503 with Retry-After", err, resp)
	} else if body, _ := io.ReadAll(resp.Body); !strings.Contains(string(body), "try again in a moment") {
		t.Errorf("a connection while Redis is down was told %q, want to try again in a moment", body)
	}
	r.Restart(t) // for the nodes to shut down cleanly
}

// reopen dials from addr until the address is not refused with a message holding busy (its
// freed place not yet counted back), and returns the ERROR it was refused with, or the zero
// frame if it was let in.
func reopen(t *testing.T, s *server, addr, busy string) frame {
	t.Helper()
	for deadline := time.Now().Add(waitTimeout); ; time.Sleep(50 * time.Millisecond) {
		c := dialFrom(t, s, seedDialect, "again", addr)
		e, refused := c.tryWait(quiet, isCmd("ERROR"))
		if !refused || !strings.Contains(e.str("msg"), busy) {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("the place of a closed connection from %s was not given back within %v", addr, waitTimeout)
		}
	}
}
