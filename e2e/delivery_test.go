package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duetchat/duet/redisengine/redistest"
)

// takeover has Ann's token RECONNECT on a new connection to to, while her old connection is
// still open, and has the old connection send a DIALOGUE right after the RECONNECT reply. The
// old connection must be told LoggedInElsewhere and closed with 4000, and what it sent must not
// be served: refused with code 5 or never answered, and never pushed to Bob. The chat goes on
// with the new connection.
func takeover(t *testing.T, to *server, a, b *client, sid int64) {
	t.Helper()
	a2 := dial(t, to, reqDialect, a.name+" again") // its own requestIds: a reused one would be a resend
	wantCode(t, a2.request("RECONNECT", map[string]any{"accountId": a.id, "token": a.token}), 0)
	zombie := a.nextRequestID()
	// The old connection may already be closing: then what it sends is never read, as it must not be.
	_ = a.writeJSON(frameOf(a.d.request("DIALOGUE"), map[string]any{"requestId": zombie, "sessionId": sid, "content": "from the zombie"}))

	a.waitSignal("LoggedInElsewhere")
	a.wantClosed(4000)
	answer, answered := a.tryWait(0, func(f frame) bool { return f.cmd() == a.d.reply("DIALOGUE") && f.str("requestId") == zombie })
	if answered && answer.code() != 5 {
		t.Errorf("the old connection's DIALOGUE after the takeover was answered %s, want code 5 or no answer", answer)
	}
	a2.id, a2.nick, a2.token = a.id, a.nick, a.token
	b.sayTo(a2, sid, "still there?")
	a2.sayTo(b, sid, "yes, here")
	b.expectNone("the zombie's message", quiet, func(f frame) bool {
		return f.cmd() == b.d.push("PUSH_DIALOGUE") && f.str("content") == "from the zombie"
	})
}

// TestTakeoverFencesTheOldConnection repeats the takeover on one node, where the old
// connection's DIALOGUE used to slip through in a quarter of the tries.
func TestTakeoverFencesTheOldConnection(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	for i := range 20 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			a := newUser(t, s, seedDialect, "Ann")
			b := newUser(t, s, seedDialect, "Bob")
			takeover(t, s, a, b, pair(t, a, b))
		})
	}
}

// TestTakeoverAcrossNodes takes Ann's account from node one over to node two, on each kind of
// Redis deployment: node one's connection must be fenced and closed all the same.
func TestTakeoverAcrossNodes(t *testing.T) {
	t.Parallel()
	deployments := map[string]func(t *testing.T) string{
		"one server": func(t *testing.T) string { return redistest.Start(t).URL() },
		"sentinel":   func(t *testing.T) string { return redistest.StartSentinel(t).URL() },
		"cluster":    func(t *testing.T) string { return redistest.StartCluster(t).URL() },
	}
	for name, redisURL := range deployments {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			nodes := startNodes(t, 2, redisURL(t))
			for i := range 5 {
				a := newUser(t, nodes[0], seedDialect, fmt.Sprint("Ann", i))
				b := newUser(t, nodes[1], seedDialect, fmt.Sprint("Bob", i))
				sid := pair(t, a, b)
				a.sayTo(b, sid, "hello")
				takeover(t, nodes[1], a, b, sid)
			}
		})
	}
}

// TestBurstsAreNotSlowness has two clients send 1,000 messages each back to back, as a load
// test or several chats at once do, while reading as fast as they can: neither may be dropped
// as too slow, and each gets every message of the other.
func TestBurstsAreNotSlowness(t *testing.T) {
	t.Parallel()
	const n = 1000
	s := startServer(t)
	for try := range 20 {
		a := newUser(t, s, seedDialect, "Ann")
		b := newUser(t, s, seedDialect, "Bob")
		sid := pair(t, a, b)
		var wg sync.WaitGroup
		for _, c := range []*client{a, b} {
			wg.Go(func() {
				for i := range n {
					c.sendCmd("DIALOGUE", map[string]any{"requestId": fmt.Sprint(i), "sessionId": sid, "content": strings.Repeat("x", 100)})
				}
			})
		}
		wg.Wait()
		for _, c := range []*client{a, b} {
			if !c.waitReceived(c.d.push("PUSH_DIALOGUE"), n, 30*time.Second) || !c.waitReceived(c.d.reply("DIALOGUE"), n, 30*time.Second) {
				t.Fatalf("try %d: %s got %d pushes and %d replies of %d, then %v", try, c.name,
					c.receivedCount(c.d.push("PUSH_DIALOGUE")), c.receivedCount(c.d.reply("DIALOGUE")), n, c.err())
			}
		}
		if a.err() != nil || b.err() != nil {
			t.Fatalf("try %d: a connection closed: %v, %v", try, a.err(), b.err())
		}
	}
}

// TestStoppedReaderIsDropped has Bob stop reading while Ann keeps writing to him: Bob's
// connection is dropped once a write to it stays blocked for the write timeout (Ann hears
// PartnerAway), Ann is never held up, and Bob, back with RECONNECT and RESUME, has every message
// Ann was told was sent.
func TestStoppedReaderIsDropped(t *testing.T) {
	t.Parallel()
	// Long enough that a busy machine's slowest reply stays well below it: a DIALOGUE that
	// waited on Bob's blocked writes would take all of it.
	const writeTimeout = 3 * time.Second
	// Heartbeats too slow to matter: only the blocked writes can find Bob gone.
	s := startServer(t, "--write-timeout", writeTimeout.String(), "--ping-interval", "30s", "--presence-timeout", "2m",
		"--history-size", "10000", "--backlog-size", "10000")
	a := newUser(t, s, seedDialect, "Ann")
	bob := dialStalling(t, s)
	wantCode(t, a.match(), 4)
	bob.write(t, map[string]any{"cmd": "MATCH"})
	sid, _ := a.waitSignal("NewSession").int("sessionId")

	content := strings.Repeat("y", 2000)
	var sent []int64
	away := func(f frame) bool { return f.cmd() == "PUSH_SIGNAL" && f.str("signalType") == "PartnerAway" }
	for {
		if _, gone := a.tryWait(0, away); gone {
			break
		}
		if len(sent) > 10000 {
			t.Fatalf("Bob stopped reading and is still connected after %d messages of 2,000 characters", len(sent))
		}
		start := time.Now()
		sent = append(sent, a.say(sid, content))
		if d := time.Since(start); d > writeTimeout {
			t.Fatalf("Ann's DIALOGUE took %v to be acknowledged while Bob was not reading", d)
		}
	}

	b := dial(t, s, seedDialect, "Bob again")
	wantCode(t, b.request("RECONNECT", map[string]any{"accountId": bob.id, "token": bob.token}), 0)
	b.send("RESUME", map[string]any{"sessionId": sid, "afterMsgId": 0})
	got := map[int64]bool{}
	for {
		// The backlog and the history, megabytes of them, come before the reply.
		f, ok := b.tryWait(time.Minute, anyFrame)
		if !ok {
			t.Fatalf("no RESUME reply after %d messages: %v", len(got), b.err())
		}
		if f.cmd() == "RESUME" {
			wantCode(t, f, 0)
			break
		}
		id, _ := f.int("msgId")
		got[id] = true
	}
	for _, id := range sent {
		if !got[id] {
			t.Fatalf("message %d, acknowledged to Ann, never reached Bob after RECONNECT and RESUME (%d of %d did)", id, len(got), len(sent))
		}
	}
}

// stallingClient creates an account and reads its reply, then never reads again, with a small
// socket buffer so that the server's writes to it block soon.
type stallingClient struct {
	conn  *websocket.Conn
	id    int64
	token string
}

func dialStalling(t *testing.T, s *server) *stallingClient {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		nd := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			var err error
			if cerr := rc.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) }); cerr != nil {
				return cerr
			}
			return err
		}}
		return nd.DialContext(ctx, network, addr)
	}}
	conn, _, err := d.Dial(s.wsURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &stallingClient{conn: conn}
	c.write(t, map[string]any{"cmd": "CRT_ACCOUNT", "nickName": "Bob"})
	var reply struct {
		AccountID int64  `json:"accountId"`
		Token     string `json:"token"`
	}
	if err := conn.ReadJSON(&reply); err != nil || reply.AccountID == 0 {
		t.Fatalf("CRT_ACCOUNT: %+v, %v", reply, err)
	}
	c.id, c.token = reply.AccountID, reply.Token
	return c
}

func (c *stallingClient) write(t *testing.T, v any) {
	t.Helper()
	data, _ := json.Marshal(v)
	if err := c.conn.WriteMessage(websocket.TextMessage, data); err != nil {
		t.Fatal(err)
	}
}

// TestNodeCrashLosesNoSignal has Ann's node crash while she is in one chat and waiting for
// another. Meanwhile Cid leaves their chat and Bob is matched with her. Coming back on the other
// node, Ann learns both: her sessions, and, after the reply, PartnerExit and NewSession.
func TestNodeCrashLosesNoSignal(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	nodes := startNodes(t, 2, r.URL(), "--presence-timeout", "10s")
	a := newUser(t, nodes[0], seedDialect, "Ann")
	c := newUser(t, nodes[1], seedDialect, "Cid")
	left := pair(t, a, c)
	wantCode(t, a.match(), 4)

	nodes[0].kill()
	wantCode(t, c.request("LEAVE", map[string]any{"sessionId": left}), 0)
	b := newUser(t, nodes[1], seedDialect, "Bob")
	r2 := b.match()
	wantCode(t, r2, 0)
	wantFields(t, r2, map[string]any{"partnerId": a.id})
	matched := wantID(t, r2, "sessionId")

	back := dial(t, nodes[1], seedDialect, "Ann again")
	reply := back.request("RECONNECT", map[string]any{"accountId": a.id, "token": a.token})
	wantCode(t, reply, 0)
	wantSessions(t, reply, map[int64]map[string]any{matched: {"partnerId": b.id, "partnerName": "Bob"}})
	wantExit(t, back.waitSignal("PartnerExit"), a.id, c.id, left, "left")
	wantFields(t, back.waitSignal("NewSession"), map[string]any{"sessionId": matched, "data.accountId": b.id})
}

// TestNodeCrashReconnectRacesSignals has many clients' node crash; each comes back on the
// other node at the very moment its partner leaves their chat. Whichever comes first, each
// learns that the chat ended: PartnerExit, from its backlog or live. (A push routed to the
// crashed node and kept in the backlog just after the RECONNECT had emptied it used to wait
// there for the next RECONNECT.)
func TestNodeCrashReconnectRacesSignals(t *testing.T) {
	t.Parallel()
	const pairs = 16
	r := redistest.Start(t)
	// Slow heartbeats: a waiter is not taken for away while a busy machine runs the pairings.
	nodes := startNodes(t, 2, r.URL(), "--ping-interval", "1s", "--presence-timeout", "10s")
	anns, cids, sids := make([]*client, pairs), make([]*client, pairs), make([]int64, pairs)
	for i := range pairs {
		anns[i] = newUser(t, nodes[0], seedDialect, fmt.Sprint("Ann", i))
		cids[i] = newUser(t, nodes[1], seedDialect, fmt.Sprint("Cid", i))
		sids[i] = pair(t, anns[i], cids[i])
	}
	nodes[0].kill()

	backs := make([]*client, pairs)
	for i := range backs {
		backs[i] = dial(t, nodes[1], seedDialect, fmt.Sprint("Ann", i, " again"))
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range pairs {
		for _, send := range []func() error{
			func() error {
				return backs[i].writeJSON(map[string]any{"cmd": "RECONNECT", "accountId": anns[i].id, "token": anns[i].token})
			},
			func() error {
				return cids[i].writeJSON(map[string]any{"cmd": "LEAVE", "requestId": cids[i].nextRequestID(), "sessionId": sids[i]})
			},
		} {
			wg.Go(func() {
				<-start
				if err := send(); err != nil {
					t.Error(err)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	for i, back := range backs {
		wantCode(t, back.waitReply("RECONNECT"), 0)
		wantCode(t, cids[i].waitReply("LEAVE"), 0)
		exit, ok := back.tryWait(5*time.Second, back.isSignal("PartnerExit"))
		if !ok {
			t.Errorf("Ann%d, back on node two as Cid%d left, was never told PartnerExit", i, i)
			continue
		}
		wantExit(t, exit, anns[i].id, cids[i].id, sids[i], "left")
	}
}
