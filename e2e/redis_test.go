package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/duetchat/duet/redisengine/redistest"
)

// Timings of the multi-node tests: short, so that crashes are noticed quickly.
const (
	nodePing     = 200 * time.Millisecond
	nodePresence = time.Second
)

// startNodes starts n nodes on the Redis at redisURL, sharing one key prefix. Later flags
// override the test timings.
func startNodes(t *testing.T, n int, redisURL string, flags ...string) []*server {
	t.Helper()
	var nodes []*server
	for range n {
		nodes = append(nodes, startServer(t, append([]string{
			"--engine", "redis", "--redis-url", redisURL, "--redis-timeout", "300ms",
			"--ping-interval", nodePing.String(), "--presence-timeout", nodePresence.String(),
		}, flags...)...))
	}
	return nodes
}

// pairAcrossNodes starts n nodes on a fresh Redis and pairs Ann, on the first, with Bob, on
// the second.
func pairAcrossNodes(t *testing.T, n int, flags ...string) (nodes []*server, a, b *client, sid int64) {
	t.Helper()
	r := redistest.Start(t)
	nodes = startNodes(t, n, r.URL(), flags...)
	a = newUser(t, nodes[0], seedDialect, "Ann")
	b = newUser(t, nodes[1], seedDialect, "Bob")
	return nodes, a, b, pair(t, a, b)
}

// kill ends the server at once, as a crash would: no close frames, no clean-up.
func (s *server) kill() {
	s.stopOnce.Do(func() {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	})
}

// chatAcross pairs a client on one node with a client on another and has them use the
// whole protocol across the nodes.
func chatAcross(t *testing.T, a, b *client) int64 {
	t.Helper()
	sid := pair(t, a, b)
	a.sayTo(b, sid, "hello from node one")
	last := b.sayTo(a, sid, "hello from node two")

	a.send("TYPING", map[string]any{"sessionId": sid, "typing": true})
	wantFields(t, b.waitSignal("Typing"), map[string]any{"data.accountId": a.id, "data.typing": true})
	a.say(sid, "typed")
	b.waitPush("PUSH_DIALOGUE")

	wantCode(t, a.request("DELIVERED_ACK", map[string]any{"sessionId": sid, "accountId": a.id, "msgId": last}), 0)
	wantFields(t, b.waitPush("PUSH_DELIVERED_ACK"), map[string]any{"sessionId": sid, "accountId": a.id, "msgId": last})
	wantCode(t, a.request("VIEWED_ACK", map[string]any{"sessionId": sid, "accountId": a.id, "msgId": last}), 0)
	wantFields(t, b.waitPush("PUSH_VIEWED_ACK"), map[string]any{"sessionId": sid, "accountId": a.id, "msgId": last})
	return sid
}

func TestRedisTwoNodes(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		r := redistest.Start(t)
		nodes := startNodes(t, 2, r.URL())
		a := newUser(t, nodes[0], d, "Ann")
		b := newUser(t, nodes[1], d, "Bob")
		sid := chatAcross(t, a, b)
		wantCode(t, b.request("LEAVE", map[string]any{"sessionId": sid}), 0)
		wantExit(t, a.waitSignal("PartnerExit"), a.id, b.id, sid, "left")
	})
}

// TestRedisMatchStormAcrossNodes has clients on three nodes match at once: every one ends in
// exactly one session, with someone else, and both sides agree.
func TestRedisMatchStormAcrossNodes(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	nodes := startNodes(t, 3, r.URL())
	const n = 30
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = newUser(t, nodes[i%len(nodes)], seedDialect, "u")
	}
	type reply struct {
		c *client
		f frame
	}
	replies := make(chan reply, n)
	for _, c := range clients {
		go func() { replies <- reply{c, c.request("MATCH", map[string]any{})} }()
	}
	partnerOf := map[int64]int64{}
	sessionOf := map[int64]int64{}
	for range n {
		r := <-replies
		switch r.f.code() {
		case 0:
			partnerOf[r.c.id], _ = r.f.int("partnerId")
			sessionOf[r.c.id], _ = r.f.int("sessionId")
		case 4:
			sig := r.c.waitSignal("NewSession")
			partnerOf[r.c.id], _ = sig.int("data.accountId")
			sessionOf[r.c.id], _ = sig.int("sessionId")
		default:
			t.Fatalf("MATCH reply %s, want code 0 or 4", r.f)
		}
	}
	for id, p := range partnerOf {
		if p == id || partnerOf[p] != id || sessionOf[p] != sessionOf[id] {
			t.Errorf("%d is paired with %d in session %d, but %d is paired with %d in %d", id, p, sessionOf[id], p, partnerOf[p], sessionOf[p])
		}
	}
}

// TestRedisNodeCrash kills the node holding one side: the other side, on another node, is told
// PartnerExit (timeout) once, within the presence timeout plus a ping interval.
func TestRedisNodeCrash(t *testing.T) {
	t.Parallel()
	nodes, a, b, sid := pairAcrossNodes(t, 3)
	a.sayTo(b, sid, "about to crash")

	lastFromA := time.Unix(0, a.lastSent.Load())
	nodes[0].kill()
	killed := time.Now()
	exit := b.waitFor("PartnerExit", nodePresence+nodePing+3*time.Second, b.isSignal("PartnerExit"))
	wantExit(t, exit, b.id, a.id, sid, "timeout")
	got := time.Since(lastFromA)
	t.Logf("PartnerExit %v after the kill, %v after Ann's last frame", time.Since(killed).Round(time.Millisecond), got.Round(time.Millisecond))
	if max := nodePresence + nodePing + time.Second; got > max {
		t.Errorf("PartnerExit came %v after Ann's last frame, want within the presence timeout + a ping interval (%v, slack 1s)", got, nodePresence+nodePing)
	}
	b.expectNone("a second PartnerExit", 2*nodePing+quiet, b.isSignal("PartnerExit"))
}

// TestRedisGracefulRestart stops one node with SIGTERM: its client is closed with 1001, comes
// back on another node with RECONNECT, and keeps its session and every message; the partner
// sees PartnerAway and PartnerBack, never PartnerExit.
func TestRedisGracefulRestart(t *testing.T) {
	t.Parallel()
	// Long enough for the stopped node to exit (a race-enabled binary lingers a second) and the
	// client to come back.
	const presence = 5 * time.Second
	nodes, a, b, sid := pairAcrossNodes(t, 2, "--presence-timeout", presence.String())
	a.sayTo(b, sid, "see you on the other side")

	nodes[0].stop()
	a.wantClosed(1001)
	wantFields(t, b.waitSignal("PartnerAway"), map[string]any{"sessionId": sid, "data.accountId": a.id})
	var sent []int64
	for _, text := range []string{"are", "you", "back?"} {
		sent = append(sent, b.say(sid, text))
	}

	a2 := dial(t, nodes[1], seedDialect, "Ann2")
	a2.send("RECONNECT", map[string]any{"accountId": a.id, "token": a.token})
	reply := a2.next()
	wantCode(t, reply, 0)
	wantSessions(t, reply, map[int64]map[string]any{sid: {"partnerId": b.id, "lastMsgId": sent[len(sent)-1]}})
	a2.id, a2.nick, a2.token = a.id, a.nick, a.token
	for _, id := range sent {
		wantFields(t, a2.waitPush("PUSH_DIALOGUE"), map[string]any{"msgId": id, "sessionId": sid})
	}
	wantFields(t, b.waitSignal("PartnerBack"), map[string]any{"sessionId": sid, "data.accountId": a.id})
	a2.sayTo(b, sid, "back")
	b.expectNone("PartnerExit", presence, b.isSignal("PartnerExit"))
}

// TestRedisURLForms pairs clients on two nodes through a Redis Cluster and through Sentinel,
// each named by its form of redis_url.
func TestRedisURLForms(t *testing.T) {
	t.Parallel()
	tests := map[string]func(t *testing.T) string{
		"cluster": func(t *testing.T) string {
			c := redistest.StartCluster(t)
			return c.URL()
		},
		"sentinel": func(t *testing.T) string {
			s := redistest.StartSentinel(t)
			return s.URL()
		},
	}
	for name, redisURL := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			nodes := startNodes(t, 2, redisURL(t))
			a := newUser(t, nodes[0], seedDialect, "Ann")
			b := newUser(t, nodes[1], reqDialect, "Bob")
			chatAcross(t, a, b)
		})
	}
}

// TestRedisOutage stops Redis under a running node: requests fail with code 2 and a clear
// message in bounded time and /readyz says not ready; when Redis is back, so is the service.
func TestRedisOutage(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	node := startNodes(t, 1, r.URL())[0]
	newUser(t, node, seedDialect, "before")

	r.Stop()
	c := dial(t, node, seedDialect, "during")
	asked := time.Now()
	reply := c.request("CRT_ACCOUNT", map[string]any{"nickName": "during"})
	wantCode(t, reply, 2)
	if msg := reply.str("msg"); msg == "" || strings.Contains(msg, "redis") || strings.Contains(msg, "dial") {
		t.Errorf("code 2 msg = %q, want a sentence for a person, without internals", msg)
	}
	if took := time.Since(asked); took > 3*time.Second {
		t.Errorf("the failing request took %v, want it bounded by the Redis timeout", took)
	}
	if resp, body := httpGet(t, node.httpURL()+"/readyz"); resp.StatusCode != 503 {
		t.Errorf("/readyz during the outage = %d %s, want 503", resp.StatusCode, body)
	}

	r.Restart(t)
	waitReady(t, node)
	a := newUser(t, node, seedDialect, "Ann")
	b := newUser(t, node, seedDialect, "Bob")
	sid := pair(t, a, b)
	a.sayTo(b, sid, "we are back")
}

// TestRedisNodeCrashReconnect kills the node holding one side, whose client reconnects to
// another node within the presence timeout: the conversation goes on, and RESUME recovers what
// the partner sent while the pushes had nowhere to go.
func TestRedisNodeCrashReconnect(t *testing.T) {
	t.Parallel()
	nodes, a, b, sid := pairAcrossNodes(t, 2, "--presence-timeout", "5s")
	seen := b.sayTo(a, sid, "still there?")

	nodes[0].kill()
	lost := b.say(sid, "sent while Ann's node was down")

	a2 := dial(t, nodes[1], seedDialect, "Ann2")
	reply := a2.request("RECONNECT", map[string]any{"accountId": a.id, "token": a.token})
	wantCode(t, reply, 0)
	wantSessions(t, reply, map[int64]map[string]any{sid: {"partnerId": b.id, "lastMsgId": lost}})
	a2.id, a2.nick, a2.token = a.id, a.nick, a.token
	resumed := a2.request("RESUME", map[string]any{"sessionId": sid, "afterMsgId": seen})
	wantCode(t, resumed, 0)
	wantFields(t, resumed, map[string]any{"count": 1, "complete": true})
	// RESUME sends the messages before its reply; the reply has been read, so they are waiting.
	got := a2.waitFor("the message sent while the node was down", 0, a2.isPush("PUSH_DIALOGUE"))
	wantFields(t, got, map[string]any{"msgId": lost, "senderId": b.id})
	a2.sayTo(b, sid, "back, on another node")
	b.sayTo(a2, sid, "welcome back")
	b.expectNone("PartnerExit", quiet, b.isSignal("PartnerExit"))
}

// TestRedisRestartKeepsChats restarts a Redis that persists every write (appendfsync always)
// for longer than the presence timeout: no acknowledged message is lost, and nobody's chat is
// ended for the silence Redis imposed.
func TestRedisRestartKeepsChats(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	const presence = 1500 * time.Millisecond
	node := startNodes(t, 1, r.URL(), "--presence-timeout", presence.String())[0]
	a := newUser(t, node, seedDialect, "Ann")
	b := newUser(t, node, seedDialect, "Bob")
	sid := pair(t, a, b)
	var sent []int64
	for _, text := range []string{"one", "two", "three"} {
		sent = append(sent, a.sayTo(b, sid, text))
	}

	r.Stop()
	time.Sleep(presence + nodePing)
	r.Restart(t)
	waitReady(t, node)

	a.sayTo(b, sid, "still here")
	b.expectNone("PartnerExit", presence+2*nodePing, b.isSignal("PartnerExit"))
	resumed := b.request("RESUME", map[string]any{"sessionId": sid, "afterMsgId": 0})
	wantFields(t, resumed, map[string]any{"code": 0, "count": len(sent) + 1, "complete": true})
}

// waitReady waits for the node's /readyz to say ready, as it should soon after Redis is back.
func waitReady(t *testing.T, node *server) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, _ := httpGet(t, node.httpURL()+"/readyz")
		if resp.StatusCode == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("/readyz not ready 10s after Redis came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRedisAdminAcrossNodes: what an operator does through one node reaches clients on every
// node: a ban, a notice, a paused queue, an ended session; and the audit log is one.
func TestRedisAdminAcrossNodes(t *testing.T) {
	nodes, a, b, sid := pairAcrossNodes(t, 2, withAdmin...)
	c := newUser(t, nodes[1], seedDialect, "Cid")

	for deadline := time.Now().Add(waitTimeout); ; time.Sleep(50 * time.Millisecond) {
		st := nodes[0].wantAdmin(t, 200, "GET", "/admin/api/stats", nil)
		online, _ := st.int("accountsOnline")
		if online == 3 && len(st.m["nodes"].([]any)) == 2 {
			wantFields(t, st, map[string]any{"connections": 3, "liveSessions": 1, "waiting": 0})
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats through one node: %s, want both nodes and the 3 accounts", st)
		}
	}

	nodes[0].wantAdmin(t, 204, "POST", "/admin/api/broadcast", map[string]any{"text": "hello everyone", "level": "info"})
	for _, u := range []*client{a, b, c} {
		wantFields(t, u.waitSignal("Notice"), map[string]any{"data.text": "hello everyone"})
	}
	// Late arrivals are shown it too, on the node it was sent through and on the other.
	for i, n := range nodes {
		late := dial(t, n, seedDialect, fmt.Sprint("late on node ", i))
		late.createAccount("Dan")
		wantFields(t, late.next(), map[string]any{"cmd": "PUSH_SIGNAL", "signalType": "Notice", "data.text": "hello everyone"})
	}

	nodes[1].wantAdmin(t, 200, "PUT", "/admin/api/settings", map[string]any{"matchingPaused": true, "reason": "test"})
	wantCode(t, c.match(), 10)
	nodes[0].wantAdmin(t, 200, "PUT", "/admin/api/settings", map[string]any{"matchingPaused": false, "reason": "test over"})
	wantCode(t, c.match(), 4)
	wantCode(t, c.request("CANCEL_MATCH", nil), 0)

	nodes[0].wantAdmin(t, 204, "POST", fmt.Sprintf("/admin/api/sessions/%d/end", sid), map[string]any{"reason": "test"})
	for _, u := range []*client{a, b} {
		wantFields(t, u.waitSignal("PartnerExit"), map[string]any{"sessionId": sid, "data.reason": "removed"})
	}

	nodes[0].wantAdmin(t, 201, "POST", "/admin/api/bans", map[string]any{"kind": "account", "accountId": b.id, "duration": "1h", "reason": "spam"})
	wantKicked(t, b)
	again := dial(t, nodes[0], seedDialect, "Bob on the other node")
	wantCode(t, again.request("RECONNECT", map[string]any{"accountId": b.id, "token": b.token}), 7)

	entries := nodes[1].wantAdmin(t, 200, "GET", "/admin/api/audit", nil).m["entries"].([]any)
	if len(entries) != 5 {
		t.Errorf("audit log read through the other node: %d entries, want 5 (broadcast, pause, resume, end, ban)", len(entries))
	}
}

// TestRedisEpoch: nodes on one Redis name one epoch, which outlives a node's restart; once
// Redis is emptied every node names a new one within a ping interval or so, and a RECONNECT
// of an account lost with it says so.
func TestRedisEpoch(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	nodes := startNodes(t, 2, r.URL())
	epochOf := func(s *server, name string) string {
		t.Helper()
		e := dial(t, s, seedDialect, name).createAccount(name).str("epoch")
		if e == "" {
			t.Fatalf("%s: CRT_ACCOUNT reply has no epoch", name)
		}
		return e
	}
	ann := newUser(t, nodes[0], seedDialect, "Ann")
	epoch := epochOf(nodes[0], "Bob")
	if got := epochOf(nodes[1], "Cid"); got != epoch {
		t.Fatalf("two nodes on one Redis: epochs %q and %q, want one", epoch, got)
	}
	nodes[1].stop()
	nodes[1] = startNodes(t, 1, r.URL())[0]
	if got := epochOf(nodes[1], "Dan"); got != epoch {
		t.Fatalf("a restarted node: epoch %q, want the service's %q", got, epoch)
	}

	if reply, err := r.Command("FLUSHALL"); err != nil || reply != "+OK" {
		t.Fatalf("FLUSHALL: %q, %v", reply, err)
	}
	var fresh string
	for deadline := time.Now().Add(waitTimeout); ; time.Sleep(nodePing / 2) {
		if fresh = epochOf(nodes[0], "Eve"); fresh != epoch {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("epoch still %q %v after FLUSHALL", epoch, waitTimeout)
		}
	}
	for deadline := time.Now().Add(waitTimeout); epochOf(nodes[1], "Fay") != fresh; time.Sleep(nodePing / 2) {
		if time.Now().After(deadline) {
			t.Fatalf("the second node does not name the new epoch %q within %v", fresh, waitTimeout)
		}
	}
	reply := dial(t, nodes[1], seedDialect, "Ann again").request("RECONNECT", map[string]any{"accountId": ann.id, "token": ann.token})
	wantCode(t, reply, 4)
	wantFields(t, reply, map[string]any{"epoch": fresh})
}
