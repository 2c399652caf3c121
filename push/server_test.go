package push

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"net/netip"
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
	ids, err := session.NewIDs(1)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// A service without a store: the first request that needs one panics.
	svc := session.NewService(session.Engines{Queue: match.NewMemoryQueue(match.Rule{}), Moderation: moderation.NewMemoryStore(10)}, nil, ids, time.Now, log, session.Options{MaxNickname: 30})
	srv := NewServer(svc, NewHub(1, nil), time.Now, log, Options{
		PingInterval: time.Second, PresenceTimeout: 3 * time.Second, ReadLimit: 4096, SendQueue: 8,
		WriteTimeout: time.Second, BadFrameLimit: 5, BadFrameWindow: time.Minute, Hasher: moderation.NewHasher(nil),
		RateLimitExempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ts.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
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
