package e2e

import "testing"

// TestForeignIds checks that an id in a request never stands for identity: naming another
// account, or a session one is not in, is code 5 and has no effect on anyone.
func TestForeignIds(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s := startServer(t)
		a := newUser(t, s, d, "Ann")
		b := newUser(t, s, d, "Bob")
		c := newUser(t, s, d, "Cid")
		sid := pair(t, a, b)
		fromBob := b.sayTo(a, sid, "secret")

		tests := map[string]struct {
			who    *client
			cmd    string
			fields map[string]any
		}{
			"DIALOGUE as partner":         {a, "DIALOGUE", map[string]any{"requestId": "f:1", "senderId": b.id, "sessionId": sid, "content": "forged"}},
			"VIEWED_ACK as partner":       {a, "VIEWED_ACK", map[string]any{"sessionId": sid, "accountId": b.id, "msgId": fromBob}},
			"MATCH as partner":            {a, "MATCH", map[string]any{"accountId": b.id}},
			"MATCH as stranger":           {c, "MATCH", map[string]any{"accountId": b.id}},
			"DIALOGUE into foreign":       {c, "DIALOGUE", map[string]any{"requestId": "f:2", "senderId": c.id, "sessionId": sid, "content": "intrude"}},
			"DIALOGUE as member, foreign": {c, "DIALOGUE", map[string]any{"requestId": "f:3", "senderId": a.id, "sessionId": sid, "content": "intrude"}},
			"VIEWED_ACK foreign":          {c, "VIEWED_ACK", map[string]any{"sessionId": sid, "accountId": c.id, "msgId": fromBob}},
			"RESUME foreign":              {c, "RESUME", map[string]any{"sessionId": sid, "afterMsgId": 0}},
			"LEAVE foreign":               {c, "LEAVE", map[string]any{"sessionId": sid}},
			"TYPING foreign":              {c, "TYPING", map[string]any{"sessionId": sid, "typing": true}},
			"REPORT foreign":              {c, "REPORT", map[string]any{"sessionId": sid, "category": "spam"}},
		}
		for name, tc := range tests {
			t.Run(name, func(t *testing.T) {
				wantCode(t, tc.who.with(t).request(tc.cmd, tc.fields), 5)
			})
		}

		// No effect: nobody got anything (no message, receipt, signal or history leak),
		// Bob was not queued by the forged MATCH (Cid would have got him), the session is live.
		for _, x := range []*client{a, b, c} {
			x.expectQuiet(quiet)
		}
		wantCode(t, c.match(), 4)
		b.expectNone("NewSession", quiet, b.isSignal("NewSession"))
		a.sayTo(b, sid, "still private")
		b.sayTo(a, sid, "yes")
	})
}
