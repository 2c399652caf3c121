package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/duetchat/duet/redisengine/redistest"
)

// Limits of these tests, the documented defaults of content_* and max_content: a burst of 6,000
// characters, then 200 a second, in DIALOGUEs of 2,000 at most.
const (
	contentBurst = 6000
	contentRate  = 200
	longMessage  = 2000
)

// TestLimitsSurviveReconnect: an abuser whose client RECONNECTs its account on a fresh
// WebSocket, from a new address each time, after every refusal, gets no more through than
// content_burst then content_rate; and RESUME, limited per account, stays refused across a
// RECONNECT too.
func TestLimitsSurviveReconnect(t *testing.T) {
	t.Parallel()
	s := startServerRaw(t, append(behindProxy, "--resume-burst", "2", "--resume-rate", "0.01")...)
	a, b := userFrom(t, s, seedDialect, "Ann", "198.51.100.1"), userFrom(t, s, seedDialect, "Bob", "198.51.100.2")
	sid := pair(t, a, b)
	floodByReconnecting(t, []*server{s}, a, sid)

	a = reconnectFrom(t, s, a, "203.0.113.99")
	for range 2 {
		wantCode(t, a.request("RESUME", map[string]any{"sessionId": sid, "afterMsgId": 0}), 0)
	}
	wantCode(t, a.request("RESUME", map[string]any{"sessionId": sid, "afterMsgId": 0}), 6)
	a = reconnectFrom(t, s, a, "203.0.113.100")
	wantCode(t, a.request("RESUME", map[string]any{"sessionId": sid, "afterMsgId": 0}), 6)
}

// TestLimitsSurviveReconnectAcrossNodes: the same abuser, reconnecting to the other of two
// nodes each time, gets no more through either; and RECONNECT itself is limited per address
// over both nodes.
func TestLimitsSurviveReconnectAcrossNodes(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	nodes := startNodes(t, 2, r.URL(), append(behindProxy, "--reconnect-burst", "2", "--reconnect-rate", "0.01")...)
	a, b := userFrom(t, nodes[0], seedDialect, "Ann", "198.51.100.1"), userFrom(t, nodes[1], seedDialect, "Bob", "198.51.100.2")
	sid := pair(t, a, b)
	floodByReconnecting(t, nodes, a, sid)

	const addr = "203.0.113.50"
	for i := range 2 {
		a = reconnectFrom(t, nodes[i%2], a, addr)
	}
	again := dialFrom(t, nodes[0], seedDialect, "Ann again", addr)
	refused := again.request("RECONNECT", map[string]any{"accountId": a.id, "token": a.token})
	wantCode(t, refused, 6)
	if !strings.Contains(refused.str("msg"), "reconnects") {
		t.Errorf("third RECONNECT from one address over two nodes: %s, want a refusal about reconnects", refused)
	}
}

// floodByReconnecting has a's account send long DIALOGUEs in sid for a while, and after each
// refusal RECONNECT on a fresh WebSocket to the next of servers, from a new address. It checks
// that no more characters got through than content_burst and content_rate allow.
func floodByReconnecting(t *testing.T, servers []*server, a *client, sid int64) {
	t.Helper()
	long := strings.Repeat("x", longMessage)
	start := time.Now()
	accepted, reconnects := 0, 0
	for reconnects < 20 {
		r := a.request("DIALOGUE", map[string]any{
			"requestId": fmt.Sprint("flood ", accepted, " ", reconnects), "senderId": a.id, "sessionId": sid, "content": long,
		})
		switch r.code() {
		case 0:
			accepted += longMessage
		case 6:
			reconnects++
			a = reconnectFrom(t, servers[reconnects%len(servers)], a, fmt.Sprint("203.0.113.", reconnects))
		default:
			t.Fatalf("DIALOGUE after %d reconnects: %s, want code 0 or 6", reconnects, r)
		}
	}
	allowed := contentBurst + int(contentRate*time.Since(start).Seconds())
	if accepted > allowed {
		t.Errorf("%d characters accepted in %v over %d reconnects on %d node(s), want at most %d (content_burst, then content_rate)",
			accepted, time.Since(start).Round(time.Millisecond), reconnects, len(servers), allowed)
	}
}

// reconnectFrom takes c's account over on a fresh WebSocket to s from addr, and returns it.
func reconnectFrom(t *testing.T, s *server, c *client, addr string) *client {
	t.Helper()
	next := dialFrom(t, s, seedDialect, c.name, addr)
	wantCode(t, next.request("RECONNECT", map[string]any{"accountId": c.id, "token": c.token}), 0)
	next.id, next.nick, next.token = c.id, c.nick, c.token
	return next
}
