package push

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duetchat/duet/match"
	"github.com/duetchat/duet/moderation"
	"github.com/duetchat/duet/session"
)

// TestPanicAnswersUnknownErr: a request that panics in the server gets code 3, and the
// connection and the server go on serving.
func TestPanicAnswersUnknownErr(t *testing.T) {
	ws := dialStoreless(t)
	for _, step := range []struct{ send, want string }{
		{`{"cmd":"CRT_ACCOUNT","nickName":"Ann"}`, `{"cmd":"CRT_ACCOUNT","code":3,"msg":"the server could not handle this request"}`},
		{`{"cmd":"PING"}`, `{"cmd":"PONG","accountId":0}`},
	} {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(step.send)); err != nil {
			t.Fatal(err)
		}
		ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, got, err := ws.ReadMessage()
		if err != nil || string(got) != step.want {
			t.Fatalf("after %s got %s (%v), want %s", step.send, got, err, step.want)
		}
	}
}

// TestQuietConnectionWaitsOutsideTheWebSocket: once its client has gone quiet, a connection is
// waited on by a goroutine parked in the socket's read buffer, whose stack stays small, not
// inside the WebSocket's frame reader, whose stack reading and serving frames has grown; and
// frames that arrive together are all served.
func TestQuietConnectionWaitsOutsideTheWebSocket(t *testing.T) {
	const conns = 3
	for range conns {
		ws := dialStoreless(t)
		// Two PINGs in one write, masked with a zero key as a client must mask them.
		payload := `{"cmd":"PING"}`
		ping := append([]byte{0x81, 0x80 | byte(len(payload)), 0, 0, 0, 0}, payload...)
		if _, err := ws.UnderlyingConn().Write(append(ping, ping...)); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			ws.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, got, err := ws.ReadMessage(); err != nil || string(got) != `{"cmd":"PONG","accountId":0}` {
				t.Fatalf("got %s (%v), want PONG", got, err)
			}
		}
	}
	var parked, inWebSocket int
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		buf := make([]byte, 1<<20)
		stacks := strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n")
		parked, inWebSocket = 0, 0
		for _, g := range stacks {
			if strings.Contains(g, "push.(*gatherConn).awaitInput") {
				parked++
			}
			if strings.Contains(g, "websocket.(*Conn).NextReader") && strings.Contains(g, "duet/push.") {
				inWebSocket++
			}
		}
		if parked == conns && inWebSocket == 0 {
			return
		}
	}
	t.Fatalf("%d connections waited in the socket's read buffer and %d inside the WebSocket, want %d and 0", parked, inWebSocket, conns)
}

// dialStoreless connects to a server whose service has no store: the first request that needs
// one panics.
func dialStoreless(t *testing.T) *websocket.Conn {
	t.Helper()
	ids, err := session.NewIDs(1)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := session.NewService(session.Engines{Queue: match.NewMemoryQueue(match.Rule{}), Moderation: moderation.NewMemoryStore(10)}, nil, ids, time.Now, log, session.Options{MaxNickname: 30})
	srv := NewServer(svc, NewHub(1, nil, nil), time.Now, log, Options{
		PingInterval: time.Second, PresenceTimeout: 3 * time.Second, ReadLimit: 4096, SendQueueBytes: 1024,
		WriteTimeout: time.Second, BadFrameLimit: 5, BadFrameWindow: time.Minute, Hasher: moderation.NewHasher(nil),
		RateLimitExempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ts.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}
