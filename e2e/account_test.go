package e2e

import (
	"strings"
	"testing"
)

func TestHealthEndpoints(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, body := httpGet(t, s.httpURL()+path)
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: status = %d, want 200; body %s", path, resp.StatusCode, body)
		}
		if f := parseFrame(body); f.m == nil {
			t.Errorf("GET %s: body is not a JSON object: %q", path, body)
		}
	}
}

func TestCreateAccount(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s := startServer(t)
		tests := map[string]struct {
			nick     any // sent as nickName; absent when nil
			wantCode int64
			wantNick string
		}{
			"plain":                   {nick: "Tom", wantNick: "Tom"},
			"trimmed":                 {nick: "   Ann  ", wantNick: "Ann"},
			"30 characters":           {nick: strings.Repeat("x", 30), wantNick: strings.Repeat("x", 30)},
			"30 non-ASCII characters": {nick: strings.Repeat("é", 30), wantNick: strings.Repeat("é", 30)},
			"30 after trimming":       {nick: "  " + strings.Repeat("y", 30) + "  ", wantNick: strings.Repeat("y", 30)},
			"empty":                   {nick: "", wantCode: 1},
			"only spaces":             {nick: "    ", wantCode: 1},
			"31 characters":           {nick: strings.Repeat("x", 31), wantCode: 1},
			"bell character":          {nick: "to\am", wantCode: 1},
			"newline inside":          {nick: "to\nm", wantCode: 1},
			"tab inside":              {nick: "to\tm", wantCode: 1},
			"NUL inside":              {nick: "to\x00m", wantCode: 1},
			"DEL inside":              {nick: "to\x7fm", wantCode: 1},
			"missing":                 {nick: nil, wantCode: 1},
			"number":                  {nick: 5, wantCode: 1},
		}
		tokens := map[string]bool{}
		ids := map[int64]bool{}
		for name, tc := range tests {
			t.Run(name, func(t *testing.T) {
				c := dial(t, s, d, "c")
				fields := map[string]any{}
				if tc.nick != nil {
					fields["nickName"] = tc.nick
				}
				r := c.request("CRT_ACCOUNT", fields)
				wantCode(t, r, tc.wantCode)
				if tc.wantCode != 0 {
					// The connection stays usable: a valid CRT_ACCOUNT now works.
					c.createAccount("Retry")
					return
				}
				wantFields(t, r, map[string]any{"nickName": tc.wantNick})
				id := wantID(t, r, "accountId")
				token := r.str("token")
				// 128 random bits are at least 22 characters in base64 (32 in hex).
				if len(token) < 22 {
					t.Errorf("token = %q (%d characters), want a secret of at least 128 bits", token, len(token))
				}
				if ids[id] || tokens[token] {
					t.Errorf("accountId %d or token %q was handed out twice", id, token)
				}
				ids[id], tokens[token] = true, true
			})
		}
	})
}

func TestCreateAccountTwiceOnOneConnection(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s := startServer(t)
		c := newUser(t, s, d, "Tom")
		r := c.request("CRT_ACCOUNT", map[string]any{"nickName": "Again"})
		wantCode(t, r, 1)
		// The connection still belongs to the first account.
		p := c.request("MATCH", map[string]any{"accountId": c.id})
		wantCode(t, p, 4)
	})
}

func TestRequestsBeforeAccount(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s := startServer(t)
		// Someone real exists, so that the ids below name a real account and session.
		a := newUser(t, s, d, "Ann")
		b := newUser(t, s, d, "Bob")
		sid := pair(t, a, b)
		msg := a.sayTo(b, sid, "hi")

		tests := map[string]map[string]any{
			"MATCH":        {"accountId": a.id},
			"CANCEL_MATCH": {},
			"DIALOGUE":     {"requestId": "x:1", "senderId": a.id, "sessionId": sid, "content": "hello"},
			"VIEWED_ACK":   {"sessionId": sid, "accountId": b.id, "msgId": msg},
			"RESUME":       {"sessionId": sid, "afterMsgId": 0},
			"LEAVE":        {"sessionId": sid},
			"TYPING":       {"sessionId": sid, "typing": true},
			"REPORT":       {"sessionId": sid, "category": "spam"},
			"LOGOUT":       {},
		}
		for cmd, fields := range tests {
			t.Run(cmd, func(t *testing.T) {
				c := dial(t, s, d, "anon")
				r := c.request(cmd, fields)
				wantCode(t, r, 5)
				c.expectNone("PUSH_DIALOGUE", 0, c.isPush("PUSH_DIALOGUE"))
			})
		}
		// None of it touched Ann and Bob.
		a.expectQuiet(quiet)
		b.expectQuiet(0)
		a.sayTo(b, sid, "still here")
	})
}
