package e2e

import (
	"fmt"
	"net/http"
	"testing"
)

func TestDialogueRateLimit(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		const burst, flood = 3, 10
		s := startServerRaw(t, "--dialogue-rate", "1", "--dialogue-burst", fmt.Sprint(burst))
		a := newUser(t, s, d, "Ann")
		b := newUser(t, s, d, "Bob")
		c := newUser(t, s, d, "Cid")
		e := newUser(t, s, d, "Eve")
		sab := pair(t, a, b)
		sce := pair(t, c, e)

		for i := range flood {
			a.send("DIALOGUE", map[string]any{
				"requestId": fmt.Sprintf("flood:%d", i), "senderId": a.id, "sessionId": sab, "content": "spam",
			})
		}
		var accepted []int64
		limited := 0
		for i := range flood {
			r := a.waitReply("DIALOGUE")
			switch r.code() {
			case 0:
				if limited > 0 {
					t.Errorf("reply %d accepted after a rate-limited one within the same instant: %s", i, r)
				}
				accepted = append(accepted, wantID(t, r, "msgId"))
			case 6:
				limited++
				wantCode(t, r, 6)
				if ms, ok := r.int("retryAfterMs"); !ok || ms <= 0 {
					t.Errorf("rate-limited reply: retryAfterMs = %v, want > 0: %s", r.m["retryAfterMs"], r)
				}
			default:
				t.Fatalf("flood reply %d: code %d, want 0 or 6: %s", i, r.code(), r)
			}
		}
		if len(accepted) < burst || len(accepted) > burst+1 {
			t.Errorf("accepted %d of %d messages sent at once, want the burst (%d)", len(accepted), flood, burst)
		}
		if limited == 0 {
			t.Errorf("no rate-limited reply to %d messages with burst %d", flood, burst)
		}
		// Bob got exactly the accepted ones.
		for _, id := range accepted {
			wantFields(t, b.waitPush("PUSH_DIALOGUE"), map[string]any{"msgId": id})
		}
		b.expectNone("PUSH_DIALOGUE of a rate-limited message", quiet, b.isPush("PUSH_DIALOGUE"))

		// Another client is unaffected.
		for i := range burst {
			c.sayTo(e, sce, fmt.Sprint("normal ", i))
		}
	})
}

func TestMatchRateLimit(t *testing.T) {
	t.Parallel()
	s := startServerRaw(t, "--match-rate", "0.5", "--match-burst", "2")
	a := newUser(t, s, seedDialect, "Ann")
	for range 2 {
		wantCode(t, a.match(), 4)
	}
	r := a.match()
	wantCode(t, r, 6)
	if ms, ok := r.int("retryAfterMs"); !ok || ms <= 0 {
		t.Errorf("retryAfterMs = %v, want > 0: %s", r.m["retryAfterMs"], r)
	}
}

func TestTypingRateLimit(t *testing.T) {
	t.Parallel()
	s := startServerRaw(t, "--typing-rate", "0.5", "--typing-burst", "2")
	a := newUser(t, s, reqDialect, "Ann")
	b := newUser(t, s, reqDialect, "Bob")
	sid := pair(t, a, b)
	for range 4 {
		a.send("TYPING", map[string]any{"sessionId": sid, "typing": true})
	}
	r := a.waitReply("TYPING")
	wantCode(t, r, 6)
	if ms, ok := r.int("retryAfterMs"); !ok || ms <= 0 {
		t.Errorf("retryAfterMs = %v, want > 0: %s", r.m["retryAfterMs"], r)
	}
}

func TestRateLimitExempt(t *testing.T) {
	t.Parallel()
	s := startServerRaw(t, "--dialogue-rate", "1", "--dialogue-burst", "3", "--rate-limit-exempt", "127.0.0.1/32")
	a := newUser(t, s, seedDialect, "Ann")
	b := newUser(t, s, seedDialect, "Bob")
	sid := pair(t, a, b)
	for i := range 10 {
		a.send("DIALOGUE", map[string]any{"requestId": fmt.Sprint("x:", i), "senderId": a.id, "sessionId": sid, "content": "fast"})
	}
	for range 10 {
		wantCode(t, a.waitReply("DIALOGUE"), 0)
	}
}

func TestOrigin(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		flags  []string
		origin string // empty: no Origin header; "self": the server's own origin
		want   int    // HTTP status of the handshake
	}{
		"default, no Origin":           {nil, "", http.StatusSwitchingProtocols},
		"default, own origin":          {nil, "self", http.StatusSwitchingProtocols},
		"default, foreign origin":      {nil, "https://evil.example", http.StatusForbidden},
		"allow-list, listed origin":    {[]string{"--allowed-origins", "https://a.example"}, "https://a.example", http.StatusSwitchingProtocols},
		"allow-list, unlisted origin":  {[]string{"--allowed-origins", "https://a.example"}, "https://evil.example", http.StatusForbidden},
		"allow-list, lookalike origin": {[]string{"--allowed-origins", "https://a.example"}, "https://a.example.evil.example", http.StatusForbidden},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, tc.flags...)
			origin := tc.origin
			if origin == "self" {
				origin = s.httpURL()
			}
			conn, resp, err := dialWithOrigin(s, origin)
			status := 0
			if resp != nil {
				status = resp.StatusCode
			}
			if status != tc.want {
				t.Fatalf("handshake with Origin %q: HTTP %d (err %v), want %d", origin, status, err, tc.want)
			}
			if conn == nil {
				return
			}
			c := newClient(t, conn, seedDialect, "c")
			c.createAccount("Tom")
		})
	}
}

func TestShutdownClosesWith1001(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	a := newUser(t, s, seedDialect, "Ann")
	b := newUser(t, s, reqDialect, "Bob")
	pair(t, a, b)
	anon := dial(t, s, seedDialect, "anon")
	anon.ping(nil)

	s.stop() // asserts exit status 0
	for _, c := range []*client{a, b, anon} {
		c.wantClosed(1001)
	}
}
