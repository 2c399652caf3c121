package e2e

import (
	"strings"
	"testing"
)

func TestBadFrames(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s := startServer(t)
		c := dial(t, s, d, "c")
		// Fix the dialect with a valid first frame.
		c.ping(nil)

		tests := map[string]string{
			"not JSON":       `hello there`,
			"truncated JSON": `{"cmd":"MATCH"`,
			"JSON array":     `["MATCH"]`,
			"empty object":   `{}`,
			"no cmd":         `{"nickName":"Tom"}`,
			"JSON string":    `"CRT_ACCOUNT"`,
		}
		for name, raw := range tests {
			t.Run(name, func(t *testing.T) {
				c := c.with(t)
				c.sendRaw(raw)
				r := c.waitCmd("ERROR")
				wantCode(t, r, 1)
				c.expectNone("other frame", 0, anyFrame)
			})
		}
		// The connection still works.
		c.createAccount("Tom")
	})
}

func TestUnknownCommand(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s := startServer(t)
		c := dial(t, s, d, "c")
		c.createAccount("Tom")
		r := c.request("FLY_TO_MOON", map[string]any{"speed": 3})
		wantCode(t, r, 1)
		c.expectNone("ERROR", quiet, isCmd("ERROR"))
	})
}

func TestWrongTypedFields(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		_, a, b, sid := chatting(t, d)
		tests := map[string]struct {
			cmd    string
			fields map[string]any
		}{
			"DIALOGUE sessionId string": {"DIALOGUE", map[string]any{"requestId": "r1", "senderId": a.id, "sessionId": "abc", "content": "x"}},
			"DIALOGUE content number":   {"DIALOGUE", map[string]any{"requestId": "r2", "senderId": a.id, "sessionId": sid, "content": 42}},
			"DIALOGUE sessionId float":  {"DIALOGUE", map[string]any{"requestId": "r3", "senderId": a.id, "sessionId": 1.5, "content": "x"}},
			"DIALOGUE requestId number": {"DIALOGUE", map[string]any{"requestId": 7, "senderId": a.id, "sessionId": sid, "content": "x"}},
			"MATCH interests string":    {"MATCH", map[string]any{"accountId": a.id, "interests": "music"}},
			"MATCH interests numbers":   {"MATCH", map[string]any{"accountId": a.id, "interests": []int{1, 2}}},
			"VIEWED_ACK msgId string":   {"VIEWED_ACK", map[string]any{"sessionId": sid, "accountId": a.id, "msgId": "1"}},
			"LEAVE sessionId bool":      {"LEAVE", map[string]any{"sessionId": true}},
			"RESUME afterMsgId string":  {"RESUME", map[string]any{"sessionId": sid, "afterMsgId": "0"}},
			"TYPING typing string":      {"TYPING", map[string]any{"sessionId": sid, "typing": "yes"}},
			"REPORT category number":    {"REPORT", map[string]any{"sessionId": sid, "category": 3}},
		}
		for name, tc := range tests {
			t.Run(name, func(t *testing.T) {
				r := a.with(t).request(tc.cmd, tc.fields)
				wantCode(t, r, 1)
			})
		}
		// Nothing reached Bob and the session is still live.
		b.expectQuiet(quiet)
		a.sayTo(b, sid, "fine")
	})
}

func TestInterestsOutOfRange(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	a := newUser(t, s, seedDialect, "Ann")
	eleven := make([]string, 11)
	for i := range eleven {
		eleven[i] = string(rune('a' + i))
	}
	tests := map[string][]string{
		"eleven tags":   eleven,
		"empty tag":     {"music", ""},
		"31 characters": {strings.Repeat("m", 31)},
	}
	for name, interests := range tests {
		t.Run(name, func(t *testing.T) {
			wantCode(t, a.with(t).match(interests...), 1)
		})
	}
	// Nothing was queued: a valid MATCH now is the first one and waits.
	wantCode(t, a.match("music"), 4)
	wantCode(t, a.request("CANCEL_MATCH", nil), 0)
}

func TestBadFrameLimitCloses1008(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		const limit = 5
		s := startServer(t, "--bad-frame-limit", "5", "--bad-frame-window", "1m")
		c := dial(t, s, d, "c")
		c.ping(nil)
		for i := 0; i < limit-1; i++ {
			c.sendRaw("not json")
			wantCode(t, c.waitCmd("ERROR"), 1)
		}
		for i := 0; i < 3; i++ {
			if err := c.writeRaw([]byte("not json")); err != nil {
				break
			}
		}
		c.wantClosed(1008)
	})
}

func TestReadLimitCloses1009(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s := startServer(t, "--read-limit", "1024")
		c := newUser(t, s, d, "Tom")
		// A frame just under the limit is fine.
		c.ping(map[string]any{"pad": strings.Repeat("p", 900)})
		c.send("CRT_ACCOUNT", map[string]any{"nickName": strings.Repeat("x", 2048)})
		c.wantClosed(1009)
	})
}

// ping sends a client heartbeat and checks the server's answer.
func (c *client) ping(extra map[string]any) frame {
	c.t.Helper()
	fields := map[string]any{}
	if c.id != 0 {
		fields["accountId"] = c.id
	}
	for k, v := range extra {
		fields[k] = v
	}
	c.sendCmd(c.d.clientPing(), fields)
	r := c.waitCmd(c.d.pong())
	if r.has("code") {
		c.t.Errorf("%s carries a code, want none: %s", r.cmd(), r)
	}
	return r
}

func TestClientPing(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s := startServer(t)
		anon := dial(t, s, d, "anon")
		anon.ping(nil)
		c := newUser(t, s, d, "Tom")
		c.ping(nil)
		c.expectQuiet(quiet)
		anon.expectQuiet(0)
	})
}

func TestServerHeartbeat(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		_, a, b, sid := chatting(t, d, "--ping-interval", "200ms", "--presence-timeout", "1s")
		// Eight pings take 1.6s, past the presence timeout (1s); answered, they keep Ann present.
		pings := a.waitPings(8, waitTimeout)
		for _, p := range pings {
			wantFields(t, p, map[string]any{"accountId": a.id, "code": nil})
		}
		b.expectNone("PUSH_SIGNAL", 0, b.isPush("PUSH_SIGNAL"))
		a.expectNone("PUSH_SIGNAL", 0, a.isPush("PUSH_SIGNAL"))
		a.sayTo(b, sid, "still here")
		a.ping(nil)
	})
}

func TestUnknownFieldsIgnored(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s := startServer(t)
		a := dial(t, s, d, "Ann")
		r := a.request("CRT_ACCOUNT", map[string]any{"nickName": "Ann", "avatar": map[string]any{"color": "red"}})
		wantCode(t, r, 0)
		a.id, a.nick = wantID(t, r, "accountId"), "Ann"
		b := newUser(t, s, d, "Bob")
		wantCode(t, a.request("MATCH", map[string]any{"accountId": a.id, "region": "eu", "v": 2}), 4)
		r = b.request("MATCH", map[string]any{"accountId": b.id, "region": "us"})
		wantCode(t, r, 0)
		sid := wantID(t, r, "sessionId")
		a.waitSignal("NewSession")
		r = a.request("DIALOGUE", map[string]any{
			"requestId": "u:1", "senderId": a.id, "sessionId": sid, "content": "hi", "format": "markdown",
		})
		wantCode(t, r, 0)
		wantFields(t, b.waitPush("PUSH_DIALOGUE"), map[string]any{"content": "hi"})
	})
}
