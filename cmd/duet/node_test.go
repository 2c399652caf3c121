package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/duetchat/duet/config"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startTestNode runs a node on a free loopback port with test-friendly timings, changed by
// tune, and shuts it down when the test ends. It returns the WebSocket URL.
func startTestNode(t testing.TB, tune func(*config.Config)) string {
	t.Helper()
	return "ws://" + startTestNodeOf(t, tune).Addr() + "/ws"
}

// startTestNodeOf is startTestNode returning the node.
func startTestNodeOf(t testing.TB, tune func(*config.Config)) *node {
	t.Helper()
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.PingInterval = 100 * time.Millisecond
	cfg.PresenceTimeout = 500 * time.Millisecond
	cfg.DrainDelay, cfg.DrainSpread = 0, 0
	if tune != nil {
		tune(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	n, err := startNode(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return n
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// client is a test's WebSocket client. Server heartbeats are answered and skipped.
type client struct {
	t      testing.TB
	mu     sync.Mutex // guards writes to ws
	ws     *websocket.Conn
	frames chan map[string]any
	closed chan int // the close code the server sent
}

func dial(t testing.TB, url string) *client {
	t.Helper()
	return dialWith(t, websocket.DefaultDialer, url)
}

func dialWith(t testing.TB, dialer *websocket.Dialer, url string) *client {
	t.Helper()
	ws, _, err := dialer.Dial(url, http.Header{})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c := &client{t: t, ws: ws, frames: make(chan map[string]any, 1024), closed: make(chan int, 1)}
	go c.readLoop()
	t.Cleanup(func() { ws.Close() })
	return c
}

func (c *client) readLoop() {
	defer close(c.frames)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			code := 0
			if ce, ok := err.(*websocket.CloseError); ok {
				code = ce.Code
			}
			c.closed <- code
			return
		}
		var f map[string]any
		if err := json.Unmarshal(data, &f); err != nil {
			c.t.Errorf("server sent a frame that is not JSON: %q", data)
			continue
		}
		switch f["cmd"] {
		case "PING":
			c.write(map[string]any{"cmd": "PONG", "accountId": f["accountId"]})
			continue
		case "PING_REQ":
			c.write(map[string]any{"cmd": "PING_RESP", "accountId": f["accountId"]})
			continue
		}
		c.frames <- f
	}
}

func (c *client) send(v any) {
	c.t.Helper()
	if err := c.write(v); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

func (c *client) write(v any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ws.WriteJSON(v)
}

// next returns the next frame that is not a heartbeat.
func (c *client) next() map[string]any {
	c.t.Helper()
	select {
	case f, ok := <-c.frames:
		if !ok {
			c.t.Fatal("connection closed while waiting for a frame")
		}
		return f
	case <-time.After(5 * time.Second):
		c.t.Fatal("no frame within 5s")
	}
	return nil
}

// expect returns the next frame, failing unless it has the given cmd and code (code < 0: none).
func (c *client) expect(cmd string, code int) map[string]any {
	c.t.Helper()
	f := c.next()
	if f["cmd"] != cmd {
		c.t.Fatalf("got frame %v, want cmd %s", f, cmd)
	}
	got, has := f["code"].(float64)
	if code >= 0 && (!has || int(got) != code) {
		c.t.Fatalf("got frame %v, want code %d", f, code)
	}
	return f
}

func id(f map[string]any, key string) int64 { return int64(f[key].(float64)) }

func TestChatBothDialects(t *testing.T) {
	url := startTestNode(t, nil)
	ann, tom := dial(t, url), dial(t, url+"")
	ann.send(map[string]any{"cmd": "CRT_ACCOUNT", "nickName": " Ann "})
	annID := id(ann.expect("CRT_ACCOUNT", 0), "accountId")
	tom.send(map[string]any{"cmd": "CRT_ACCOUNT_REQ", "nickName": "Tom"})
	tomID := id(tom.expect("CRT_ACCOUNT_RESP", 0), "accountId")

	ann.send(map[string]any{"cmd": "MATCH", "accountId": annID})
	ann.expect("MATCH", 4)
	tom.send(map[string]any{"cmd": "MATCH_REQ", "accountId": tomID})
	m := tom.expect("MATCH_RESP", 0)
	if id(m, "partnerId") != annID || m["partnerName"] != "Ann" {
		t.Fatalf("MATCH reply %v, want partner Ann %d", m, annID)
	}
	sessionID := id(m, "sessionId")
	sig := ann.expect("PUSH_SIGNAL", -1)
	if sig["signalType"] != "NewSession" || id(sig, "sessionId") != sessionID {
		t.Fatalf("got %v, want NewSession of %d", sig, sessionID)
	}

	tom.send(map[string]any{"cmd": "DIALOGUE_REQ", "requestId": "t1", "senderId": tomID, "sessionId": sessionID, "content": "hi Ann"})
	msgID := id(tom.expect("DIALOGUE_RESP", 0), "msgId")
	got := ann.expect("PUSH_DIALOGUE", -1)
	if id(got, "msgId") != msgID || got["content"] != "hi Ann" {
		t.Fatalf("got %v, want message %d", got, msgID)
	}
	ann.send(map[string]any{"cmd": "VIEWED_ACK", "sessionId": sessionID, "accountId": annID, "msgId": msgID})
	ann.expect("VIEWED_ACK", 0)
	tom.expect("PUSH_VIEWED_ACK_REQ", -1)

	ann.send(map[string]any{"cmd": "LEAVE", "sessionId": sessionID})
	ann.expect("LEAVE", 0)
	exit := tom.expect("PUSH_SIGNAL_REQ", -1)
	if exit["signalType"] != "PartnerExit" || exit["data"].(map[string]any)["reason"] != "left" {
		t.Fatalf("got %v, want PartnerExit left", exit)
	}
}

// pairUp creates two accounts on url, matches them and returns them with their session.
func pairUp(t testing.TB, url string) (a, b *client, aID, bID, sessionID int64) {
	t.Helper()
	a, b = dial(t, url), dial(t, url)
	a.send(map[string]any{"cmd": "CRT_ACCOUNT", "nickName": "A"})
	aID = id(a.expect("CRT_ACCOUNT", 0), "accountId")
	b.send(map[string]any{"cmd": "CRT_ACCOUNT", "nickName": "B"})
	bID = id(b.expect("CRT_ACCOUNT", 0), "accountId")
	a.send(map[string]any{"cmd": "MATCH"})
	a.expect("MATCH", 4)
	b.send(map[string]any{"cmd": "MATCH"})
	sessionID = id(b.expect("MATCH", 0), "sessionId")
	a.expect("PUSH_SIGNAL", -1)
	return a, b, aID, bID, sessionID
}

func TestShutdownClosesWith1001(t *testing.T) {
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.DrainDelay, cfg.DrainSpread = 0, 0
	cfg.DataDir = t.TempDir()
	n, err := startNode(context.Background(), cfg, slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	a, _, _, _, _ := pairUp(t, "ws://"+n.Addr()+"/ws")
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-a.closed:
		if code != websocket.CloseGoingAway {
			t.Errorf("close code %d, want %d", code, websocket.CloseGoingAway)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("connection still open after shutdown")
	}
}

// BenchmarkDialogue measures one message end to end over real WebSockets on loopback: the
// sender's frame, the reply, and the partner's push.
func BenchmarkDialogue(b *testing.B) {
	url := startTestNode(b, func(c *config.Config) {
		c.PingInterval, c.PresenceTimeout = 5*time.Second, time.Minute
		c.RateLimitExempt = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	a, p, aID, _, sessionID := pairUp(b, url)
	b.ResetTimer()
	for i := range b.N {
		a.send(map[string]any{"cmd": "DIALOGUE", "requestId": fmt.Sprint(i), "senderId": aID, "sessionId": sessionID, "content": "hello, how are you doing today?"})
		a.expect("DIALOGUE", 0)
		p.expect("PUSH_DIALOGUE", -1)
	}
}

// TestBacklogLargerThanSendQueue: a client coming back to more pushes than its send queue holds
// gets them all, after the RECONNECT reply, and stays connected.
func TestBacklogLargerThanSendQueue(t *testing.T) {
	const sendQueueBytes, missed = 1024, 30 // 30 pushes take about 4 KB
	url := startTestNode(t, func(c *config.Config) {
		c.SendQueueBytes = sendQueueBytes
		c.PresenceTimeout = 5 * time.Second
		c.RateLimitExempt = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	ann := dial(t, url)
	ann.send(map[string]any{"cmd": "CRT_ACCOUNT", "nickName": "Ann"})
	created := ann.expect("CRT_ACCOUNT", 0)
	annID, token := id(created, "accountId"), created["token"].(string)
	bob := dial(t, url)
	bob.send(map[string]any{"cmd": "CRT_ACCOUNT", "nickName": "Bob"})
	bob.expect("CRT_ACCOUNT", 0)
	ann.send(map[string]any{"cmd": "MATCH"})
	ann.expect("MATCH", 4)
	bob.send(map[string]any{"cmd": "MATCH"})
	sessionID := id(bob.expect("MATCH", 0), "sessionId")
	ann.expect("PUSH_SIGNAL", -1)

	ann.ws.Close()
	bob.expect("PUSH_SIGNAL", -1) // PartnerAway
	for i := range missed {
		bob.send(map[string]any{"cmd": "DIALOGUE", "requestId": fmt.Sprint(i), "sessionId": sessionID, "content": fmt.Sprint("message ", i)})
		bob.expect("DIALOGUE", 0)
	}
	back := dial(t, url)
	back.send(map[string]any{"cmd": "RECONNECT", "accountId": annID, "token": token})
	back.expect("RECONNECT", 0)
	for i := range missed {
		if got := back.expect("PUSH_DIALOGUE", -1); got["content"] != fmt.Sprint("message ", i) {
			t.Fatalf("backlog push %d = %v, want message %d", i, got, i)
		}
	}
	back.send(map[string]any{"cmd": "PING"})
	back.expect("PONG", -1)
}

// TestDataDirInUse: a second node on the data directory of a running one stops at start with an
// error that names data_dir, and leaves the first one serving.
func TestDataDirInUse(t *testing.T) {
	dir := t.TempDir()
	url := startTestNode(t, func(c *config.Config) { c.DataDir = dir })
	cfg := config.Default()
	cfg.Listen, cfg.DataDir = "127.0.0.1:0", dir
	n, err := startNode(context.Background(), cfg, slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	if err == nil {
		n.Shutdown(context.Background())
		t.Fatal("a second node started on the data directory of a running one")
	}
	if !strings.Contains(err.Error(), "data_dir "+dir) || !strings.Contains(err.Error(), "in use by another process") {
		t.Errorf("error = %q; want it to name data_dir %s and say it is in use", err, dir)
	}
	pairUp(t, url)
}
