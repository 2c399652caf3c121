package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/duetchat/duet/config"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startTestNode runs a node on a free loopback port with test-friendly timings, changed by
// tune, and shuts it down when the test ends. It returns the WebSocket URL.
func startTestNode(t *testing.T, tune func(*config.Config)) string {
	t.Helper()
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.PingInterval = 100 * time.Millisecond
	cfg.PresenceTimeout = 500 * time.Millisecond
	if tune != nil {
		tune(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	n, err := startNode(cfg, log)
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
	return "ws://" + n.Addr() + "/ws"
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// client is a test's WebSocket client. Server heartbeats are answered and skipped.
type client struct {
	t      *testing.T
	ws     *websocket.Conn
	frames chan map[string]any
	closed chan int // the close code the server sent
}

func dial(t *testing.T, url string) *client {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(url, http.Header{})
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
		case "PING", "PING_REQ":
			continue
		}
		c.frames <- f
	}
}

func (c *client) send(v any) {
	c.t.Helper()
	if err := c.ws.WriteJSON(v); err != nil {
		c.t.Fatalf("send: %v", err)
	}
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
