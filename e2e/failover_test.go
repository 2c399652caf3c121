package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duetchat/duet/redisengine/redistest"
)

// Pace of the chat in the failover test: a message every chatPace per client, and a request
// that failed with code 2 sent again after retryPace, as a client would.
const (
	chatPace  = 25 * time.Millisecond
	retryPace = 50 * time.Millisecond
)

// chatter sends DIALOGUEs in a loop on its own goroutine, sending a request that failed with
// code 2 again with the same requestId until it is acknowledged.
type chatter struct {
	c   *client
	sid int64

	mu        sync.Mutex // guards the following fields
	acked     []ackedMessage
	refused   int   // replies with code 2
	err       error // what ended the loop other than stop
	lastRetry string
}

// ackedMessage is a DIALOGUE that got code 0: its requestId is its content.
type ackedMessage struct {
	content string
	msgID   int64
	at      time.Time
}

func (ch *chatter) run(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-time.After(chatPace):
		}
		if err := ch.send(ch.c.nextRequestID()); err != nil {
			ch.mu.Lock()
			ch.err = err
			ch.mu.Unlock()
			return
		}
	}
}

// send sends one DIALOGUE until it is acknowledged; only code 2 is worth a retry.
func (ch *chatter) send(rid string) error {
	want := ch.c.d.reply("DIALOGUE")
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := ch.c.writeJSON(frameOf(ch.c.d.request("DIALOGUE"), map[string]any{
			"requestId": rid, "senderId": ch.c.id, "sessionId": ch.sid, "content": rid,
		}))
		if err != nil {
			return fmt.Errorf("sending DIALOGUE %s: %w", rid, err)
		}
		reply, ok := ch.c.tryWait(waitTimeout, isCmd(want))
		if !ok {
			return fmt.Errorf("no reply to DIALOGUE %s within %v; connection error: %v", rid, waitTimeout, ch.c.err())
		}
		id, _ := reply.int("msgId")
		switch {
		case reply.code() == 0 && reply.str("requestId") == rid && id > 0:
			ch.mu.Lock()
			ch.acked = append(ch.acked, ackedMessage{content: rid, msgID: id, at: time.Now()})
			ch.mu.Unlock()
			return nil
		case reply.code() == 2 && reply.str("msg") != "" && time.Now().Before(deadline):
			ch.mu.Lock()
			ch.refused++
			ch.lastRetry = reply.str("msg")
			ch.mu.Unlock()
			time.Sleep(retryPace)
		default:
			return fmt.Errorf("DIALOGUE %s: reply %s, want code 0 (or code 2 with a msg for a while)", rid, reply)
		}
	}
}

// ackedSince is how many of the chatter's messages were acknowledged after t.
func (ch *chatter) ackedSince(t time.Time) int {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	n := 0
	for _, m := range ch.acked {
		if m.at.After(t) {
			n++
		}
	}
	return n
}

// TestRedisSentinelFailover kills the Redis master under two nodes while clients chat across
// them: requests fail with code 2 until the Sentinels have promoted a replica, then the service
// comes back by itself, and no acknowledged message is lost or doubled: RESUME from 0 returns
// each, once, on both sides, and what a partner was pushed is among them. Messages wait for a
// replica (redis_min_replicas), as nothing else keeps a failover from losing the last ones.
// The failover outlasts the presence timeout, and the nodes reach the new master up to a
// second apart: nobody's chat ends for that silence.
func TestRedisSentinelFailover(t *testing.T) {
	t.Parallel()
	g := redistest.StartSentinelGroup(t)
	nodes := startNodes(t, 2, g.URL(), "--presence-timeout", "2s", "--redis-min-replicas", "1", "--redis-replica-timeout", "200ms")
	const pairs = 3
	var chatters []*chatter
	for i := range pairs {
		d := dialects[i%len(dialects)]
		a := newUser(t, nodes[0], d, fmt.Sprint("Ann", i))
		b := newUser(t, nodes[1], d, fmt.Sprint("Bob", i))
		sid := pair(t, a, b)
		chatters = append(chatters, &chatter{c: a, sid: sid}, &chatter{c: b, sid: sid})
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, ch := range chatters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch.run(stop)
		}()
	}
	stopChat := sync.OnceFunc(func() {
		close(stop)
		wg.Wait()
	})
	t.Cleanup(stopChat)
	waitChat := func(what string, since time.Time, n int) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			done := true
			for _, ch := range chatters {
				ch.mu.Lock()
				err := ch.err
				ch.mu.Unlock()
				if err != nil {
					t.Fatalf("%s: %v", ch.c.name, err)
				}
				done = done && ch.ackedSince(since) >= n
			}
			if done {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("not every client had %d messages acknowledged %s within 30s", n, what)
			}
		}
	}
	waitChat("before the failover", time.Time{}, 5)

	old := g.Master(t)
	old.Stop()
	killed := time.Now()
	g.WaitFailover(t, old)
	promoted := time.Now()
	waitChat("after the failover", promoted, 5)
	stopChat()

	refused := 0
	for _, ch := range chatters {
		refused += ch.refused
		if ch.refused > 0 {
			t.Logf("%s: %d DIALOGUEs acknowledged, %d replies with code 2 (last: %q); first acknowledgement after the kill came %v after it",
				ch.c.name, len(ch.acked), ch.refused, ch.lastRetry, firstAckAfter(ch, killed).Sub(killed).Round(time.Millisecond))
		}
	}
	t.Logf("master killed; replica promoted %v later", promoted.Sub(killed).Round(time.Millisecond))
	if refused == 0 {
		t.Errorf("no request failed with code 2 while the master was down")
	}

	for i := 0; i < len(chatters); i += 2 {
		a, b := chatters[i], chatters[i+1]
		want := map[int64]ackedMessage{}
		senders := map[int64]int64{}
		for _, ch := range []*chatter{a, b} {
			for _, m := range ch.acked {
				if prev, ok := want[m.msgID]; ok {
					t.Errorf("%s: msgId %d acknowledged for %q and for %q", ch.c.name, m.msgID, prev.content, m.content)
				}
				want[m.msgID] = m
				senders[m.msgID] = ch.c.id
			}
		}
		for _, ch := range []*chatter{a, b} {
			c := ch.c.with(t)
			c.expectNone("PartnerExit", 0, c.isSignal("PartnerExit"))
			pushed := c.settledPushes()
			for _, p := range pushed {
				id, _ := p.int("msgId")
				if _, ok := want[id]; !ok {
					t.Errorf("%s was pushed msgId %d, which no reply acknowledged and RESUME will not return: %s", c.name, id, p)
				}
			}
			checkResume(t, c, ch.sid, want, senders)
		}
	}
}

// firstAckAfter is when the chatter's first message after t was acknowledged.
func firstAckAfter(ch *chatter, t time.Time) time.Time {
	for _, m := range ch.acked {
		if m.at.After(t) {
			return m.at
		}
	}
	return time.Time{}
}

// settledPushes waits until no PUSH_DIALOGUE has arrived for a while, and takes them all.
func (c *client) settledPushes() []frame {
	c.t.Helper()
	cmd := c.d.push("PUSH_DIALOGUE")
	for n := -1; n != c.receivedCount(cmd); {
		n = c.receivedCount(cmd)
		time.Sleep(quiet)
	}
	var pushed []frame
	for {
		f, ok := c.tryWait(0, isCmd(cmd))
		if !ok {
			return pushed
		}
		pushed = append(pushed, f)
	}
}

// checkResume has c RESUME its session from 0 and checks that it gets want, every message
// once with its sender and content, and nothing else.
func checkResume(t *testing.T, c *client, sid int64, want map[int64]ackedMessage, senders map[int64]int64) {
	t.Helper()
	reply := c.request("RESUME", map[string]any{"sessionId": sid, "afterMsgId": 0})
	wantCode(t, reply, 0)
	wantFields(t, reply, map[string]any{"count": len(want), "complete": true})
	// RESUME sends the messages before its reply; the reply has been read, so they are waiting.
	got := map[int64]bool{}
	for {
		f, ok := c.tryWait(0, c.isPush("PUSH_DIALOGUE"))
		if !ok {
			break
		}
		id, _ := f.int("msgId")
		m, ok := want[id]
		if !ok {
			t.Errorf("%s: RESUME returned msgId %d, which no reply acknowledged: %s", c.name, id, f)
			continue
		}
		got[id] = true
		wantFields(t, f, map[string]any{"senderId": senders[id], "content": m.content})
	}
	var missing []string
	for id, m := range want {
		if !got[id] {
			missing = append(missing, fmt.Sprintf("%d (%q, acknowledged at %s)", id, m.content, m.at.Format("15:04:05.000")))
		}
	}
	if len(missing) > 0 {
		t.Errorf("%s: RESUME from 0 lacks %d acknowledged messages: %s", c.name, len(missing), strings.Join(missing, ", "))
	}
}

// TestRedisSentinelFailoverReplicasBehind kills the master while its replicas lag behind it, as
// asynchronous replication allows. With redis_min_replicas a DIALOGUE sent then is refused with
// code 2, never acknowledged nor pushed; sent again once a replica is master it is stored once,
// pushed to Bob once, and RESUME returns it on both sides. (Without the setting it is acknowledged,
// pushed to Bob, and lost with the master.)
func TestRedisSentinelFailoverReplicasBehind(t *testing.T) {
	t.Parallel()
	g := redistest.StartSentinelGroup(t)
	nodes := startNodes(t, 2, g.URL(), "--redis-min-replicas", "1", "--redis-replica-timeout", "200ms", "--presence-timeout", "10s")
	a := newUser(t, nodes[0], seedDialect, "Ann")
	b := newUser(t, nodes[1], seedDialect, "Bob")
	sid := pair(t, a, b)
	before := a.sayTo(b, sid, "before")

	old := g.Master(t)
	release := g.HoldReplication(t, old)
	const content = "while the replicas lag"
	dialogue := map[string]any{"requestId": a.nextRequestID(), "senderId": a.id, "sessionId": sid, "content": content}
	wantCode(t, a.request("DIALOGUE", dialogue), 2)
	old.Stop()
	release()
	g.WaitFailover(t, old)

	reply := a.request("DIALOGUE", dialogue)
	for deadline := time.Now().Add(20 * time.Second); reply.code() == 2 && time.Now().Before(deadline); {
		time.Sleep(retryPace)
		reply = a.request("DIALOGUE", dialogue)
	}
	wantCode(t, reply, 0)
	sent := wantID(t, reply, "msgId")
	// Node two may not have subscribed again yet: the push then waits in Bob's backlog until it
	// has, and takes it back for Bob's connection.
	pushed := b.waitFor("the message acknowledged after the failover", 10*time.Second, b.isPush("PUSH_DIALOGUE"))
	wantFields(t, pushed, map[string]any{"msgId": sent, "content": content})
	for _, p := range b.settledPushes() {
		t.Errorf("Bob was pushed %s besides msgId %d", p, sent)
	}
	want := map[int64]ackedMessage{before: {content: "before", msgID: before}, sent: {content: content, msgID: sent}}
	senders := map[int64]int64{before: a.id, sent: a.id}
	for _, c := range []*client{a, b} {
		checkResume(t, c, sid, want, senders)
	}
}

// TestRedisOutageNodesBackApart cuts two nodes from Redis for longer than the presence
// timeout, then gives node one its Redis back well before node two: node one's sweep must not
// take Bob, on node two, for gone in the meantime. The silence of an outage counts against
// nobody: the chat goes on once both are back, and nobody is told PartnerExit.
func TestRedisOutageNodesBackApart(t *testing.T) {
	t.Parallel()
	const presence = 3 * time.Second
	r := redistest.Start(t)
	proxies := []*redistest.Proxy{redistest.StartProxy(t, r.Addr), redistest.StartProxy(t, r.Addr)}
	var nodes []*server
	for _, p := range proxies {
		nodes = append(nodes, startNodes(t, 1, p.URL(), "--presence-timeout", presence.String())...)
	}
	a := newUser(t, nodes[0], seedDialect, "Ann")
	b := newUser(t, nodes[1], seedDialect, "Bob")
	sid := pair(t, a, b)
	a.sayTo(b, sid, "before")

	for _, p := range proxies {
		p.Cut()
	}
	time.Sleep(presence + nodePing)
	proxies[0].Restore()
	waitReady(t, nodes[0])
	// Long past the two ping intervals that node one held its sweep for, after its own outage.
	time.Sleep(presence / 2)
	proxies[1].Restore()
	waitReady(t, nodes[1])

	for _, c := range []*client{a, b} {
		c.expectNone("PartnerExit", presence+2*nodePing, c.isSignal("PartnerExit"))
	}
	a.sayTo(b, sid, "still here")
	b.sayTo(a, sid, "me too")
}
