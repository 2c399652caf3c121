package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// wantExit checks a PartnerExit signal.
func wantExit(t testing.TB, sig frame, receiver, partner, sid int64, reason string) {
	t.Helper()
	wantFields(t, sig, map[string]any{
		"sessionId": sid, "senderId": 0, "receiverId": receiver,
		"data.accountId": partner, "data.reason": reason,
	})
}

func TestLeave(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s, a, b, sid := chatting(t, d, "--partner-cooldown", "1m", "--cooldown-queue", "1", "--interest-wait", "1m")

		wantCode(t, a.request("LEAVE", map[string]any{"sessionId": sid}), 0)
		wantExit(t, b.waitSignal("PartnerExit"), b.id, a.id, sid, "left")
		a.expectNone("PartnerExit to the leaver", quiet, a.isSignal("PartnerExit"))

		for _, c := range []*client{b, a} {
			r := c.request("DIALOGUE", map[string]any{
				"requestId": c.nextRequestID(), "senderId": c.id, "sessionId": sid, "content": "anyone?",
			})
			wantCode(t, r, 8)
		}
		b.expectNone("PUSH_DIALOGUE", 0, b.isPush("PUSH_DIALOGUE"))
		a.expectNone("PUSH_DIALOGUE", 0, a.isPush("PUSH_DIALOGUE"))

		// Within the cooldown, with someone else waiting (Cid, holding out for chess), they are
		// not paired again.
		wantCode(t, newUser(t, s, d, "Cid").match("chess"), 4)
		wantCode(t, a.match(), 4)
		wantCode(t, b.match(), 4)
		a.expectNone("NewSession", quiet, a.isSignal("NewSession"))
		b.expectNone("NewSession", 0, b.isSignal("NewSession"))
	})
}

func TestLogout(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s := startServer(t)
		a := newUser(t, s, d, "Ann")
		b := newUser(t, s, d, "Bob")
		c := newUser(t, s, d, "Cid")
		sab := pair(t, a, b)
		sac := pair(t, a, c)
		wantCode(t, a.match(), 4) // queued for a third chat

		wantCode(t, a.request("LOGOUT", nil), 0)
		a.wantClosed(1000)
		wantExit(t, b.waitSignal("PartnerExit"), b.id, a.id, sab, "logout")
		wantExit(t, c.waitSignal("PartnerExit"), c.id, a.id, sac, "logout")

		// The sessions are over and Ann left the queue.
		r := b.request("DIALOGUE", map[string]any{"requestId": "b:1", "senderId": b.id, "sessionId": sab, "content": "?"})
		wantCode(t, r, 8)
		e := newUser(t, s, d, "Eve")
		wantCode(t, e.match(), 4)

		// The token is void.
		a2 := dial(t, s, d, "Ann2")
		wantCode(t, a2.request("RECONNECT", map[string]any{"accountId": a.id, "token": a.token}), 4)
	})
}

func TestReconnectRefused(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s := startServer(t)
		a := newUser(t, s, d, "Ann")

		x := dial(t, s, d, "x")
		wrongToken := x.request("RECONNECT", map[string]any{"accountId": a.id, "token": a.token + "x"})
		wantCode(t, wrongToken, 4)
		unknown := x.request("RECONNECT", map[string]any{"accountId": a.id + 1000, "token": a.token})
		wantCode(t, unknown, 4)
		if wrongToken.str("msg") != unknown.str("msg") {
			t.Errorf("msg for a wrong token %q differs from msg for an unknown account %q; want the same",
				wrongToken.str("msg"), unknown.str("msg"))
		}
		// Still no account on x, and Ann's connection is untouched.
		wantCode(t, x.request("MATCH", map[string]any{"accountId": a.id}), 5)
		a.expectQuiet(quiet)
		wantCode(t, a.match(), 4)
	})
}

// TestReconnectTakeover opens the account on a second connection while the first is alive; the
// second may even speak the other dialect.
func TestReconnectTakeover(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		first, second dialect
	}{
		{"seed to seed", seedDialect, seedDialect},
		{"req to req", reqDialect, reqDialect},
		{"seed to req", seedDialect, reqDialect},
		{"req to seed", reqDialect, seedDialect},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t)
			a := newUser(t, s, tc.first, "Ann")
			b := newUser(t, s, tc.first, "Bob")
			c := newUser(t, s, tc.first, "Cid")
			sid := pair(t, a, b)
			quietSid := pair(t, a, c)
			a.sayTo(b, sid, "one")
			last := b.sayTo(a, sid, "two")

			a2 := dial(t, s, tc.second, "Ann2")
			r := a2.request("RECONNECT", map[string]any{"accountId": a.id, "token": a.token})
			wantCode(t, r, 0)
			wantSessions(t, r, map[int64]map[string]any{
				sid:      {"partnerId": b.id, "partnerName": "Bob", "lastMsgId": last},
				quietSid: {"partnerId": c.id, "partnerName": "Cid", "lastMsgId": 0},
			})

			a.waitSignal("LoggedInElsewhere")
			a.wantClosed(4000)

			// The session goes on with the new connection.
			a2.id, a2.nick, a2.token = a.id, a.nick, a.token
			b.sayTo(a2, sid, "three")
			a2.sayTo(b, sid, "four")
		})
	}
}

// wantSessions checks the sessions list of a RECONNECT reply, keyed by sessionId.
func wantSessions(t testing.TB, r frame, want map[int64]map[string]any) {
	t.Helper()
	v, _ := r.get("sessions")
	list, ok := v.([]any)
	if !ok || len(list) != len(want) {
		t.Fatalf("RECONNECT sessions = %v, want %d sessions: %s", v, len(want), r)
	}
	for _, e := range list {
		obj, _ := e.(map[string]any)
		entry := frame{raw: r.raw, m: obj}
		sid, _ := entry.int("sessionId")
		fields, ok := want[sid]
		if !ok {
			t.Errorf("RECONNECT lists session %v, want only %v: %s", obj["sessionId"], want, r)
			continue
		}
		wantFields(t, entry, fields)
	}
}

func TestResume(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		_, a, b, sid := chatting(t, d)
		type msg struct {
			id     int64
			sender int64
			text   string
		}
		var msgs []msg
		for i := range 6 {
			from, to := a, b
			if i%2 == 1 {
				from, to = b, a
			}
			text := strings.Repeat("m", i+1)
			msgs = append(msgs, msg{from.sayTo(to, sid, text), from.id, text})
		}

		resume := func(t *testing.T, c *client, after int64, want []msg, complete bool) {
			t.Helper()
			c.send("RESUME", map[string]any{"sessionId": sid, "afterMsgId": after})
			for _, w := range want {
				f := c.next()
				if f.cmd() != c.d.push("PUSH_DIALOGUE") {
					t.Fatalf("got %s, want PUSH_DIALOGUE msgId %d before the RESUME reply", f, w.id)
				}
				wantFields(t, f, map[string]any{"msgId": w.id, "senderId": w.sender, "sessionId": sid, "content": w.text})
			}
			r := c.next()
			if r.cmd() != c.d.reply("RESUME") {
				t.Fatalf("got %s, want the RESUME reply after %d messages", r, len(want))
			}
			wantCode(t, r, 0)
			wantFields(t, r, map[string]any{"sessionId": sid, "count": len(want), "complete": complete})
		}
		t.Run("after the second", func(t *testing.T) { resume(t, a.with(t), msgs[1].id, msgs[2:], true) })
		t.Run("from the start", func(t *testing.T) { resume(t, b.with(t), 0, msgs, true) })
		t.Run("after the last", func(t *testing.T) { resume(t, a.with(t), msgs[5].id, nil, true) })

		// It still works for a while after the session ended.
		wantCode(t, a.request("LEAVE", map[string]any{"sessionId": sid}), 0)
		b.waitSignal("PartnerExit")
		t.Run("after the session ended", func(t *testing.T) { resume(t, b.with(t), msgs[3].id, msgs[4:], true) })
	})
}

func TestResumeHistoryWindow(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		_, a, b, sid := chatting(t, d, "--history-size", "5")
		var ids []int64
		for i := range 10 {
			ids = append(ids, a.sayTo(b, sid, strings.Repeat("h", i+1)))
		}
		for _, tc := range []struct {
			name     string
			after    int64
			want     []int64
			complete bool
		}{
			{"older than the window", ids[0], ids[5:], false},
			{"inside the window", ids[6], ids[7:], true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				b := b.with(t)
				b.send("RESUME", map[string]any{"sessionId": sid, "afterMsgId": tc.after})
				for _, id := range tc.want {
					f := b.next()
					if f.cmd() != d.push("PUSH_DIALOGUE") {
						t.Fatalf("got %s, want PUSH_DIALOGUE msgId %d", f, id)
					}
					wantFields(t, f, map[string]any{"msgId": id})
				}
				r := b.next()
				if r.cmd() != d.reply("RESUME") {
					t.Fatalf("got %s, want the RESUME reply", r)
				}
				wantCode(t, r, 0)
				wantFields(t, r, map[string]any{"count": len(tc.want), "complete": tc.complete})
			})
		}
	})
}

func TestReport(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		// A short cooldown: the pair must stay apart because of the report, not the cooldown.
		_, a, b, sid := chatting(t, d, "--partner-cooldown", "100ms")
		b.sayTo(a, sid, "buy cheap links")

		for name, fields := range map[string]map[string]any{
			"unknown category":   {"sessionId": sid, "category": "rude"},
			"501-character note": {"sessionId": sid, "category": "spam", "note": strings.Repeat("n", 501)},
		} {
			t.Run(name, func(t *testing.T) { wantCode(t, a.with(t).request("REPORT", fields), 1) })
		}
		b.expectNone("PartnerExit", quiet, b.isSignal("PartnerExit"))

		r := a.request("REPORT", map[string]any{"sessionId": sid, "category": "spam", "note": strings.Repeat("n", 500)})
		wantCode(t, r, 0)
		wantID(t, r, "reportId")
		wantExit(t, b.waitSignal("PartnerExit"), b.id, a.id, sid, "left")

		time.Sleep(300 * time.Millisecond) // let the cooldown pass; only the report keeps them apart
		wantCode(t, a.match(), 4)
		wantCode(t, b.match(), 4)
		a.expectNone("NewSession", quiet, a.isSignal("NewSession"))
		b.expectNone("NewSession", 0, b.isSignal("NewSession"))
	})
}

func TestReportCategories(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	for _, category := range []string{"spam", "sexual", "minor", "harassment", "scam", "other"} {
		t.Run(category, func(t *testing.T) {
			a := newUser(t, s, seedDialect, "Ann")
			b := newUser(t, s, seedDialect, "Bob")
			sid := pair(t, a, b)
			r := a.request("REPORT", map[string]any{"sessionId": sid, "category": category})
			wantCode(t, r, 0)
			wantID(t, r, "reportId")
			b.waitSignal("PartnerExit")
		})
	}
}

// TestEpoch: CRT_ACCOUNT and RECONNECT name the epoch of the service's state, which survives a
// reconnect; a server that starts afresh (memory engine: a restart; redis engine in this
// suite: a Redis of its own) names another, in the code-4 RECONNECT reply too.
func TestEpoch(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s := startServer(t)
		a := dial(t, s, d, "Ann")
		epoch := a.createAccount("Ann").str("epoch")
		if epoch == "" {
			t.Fatalf("CRT_ACCOUNT reply has no epoch")
		}
		again := dial(t, s, d, "Ann again")
		r := again.request("RECONNECT", map[string]any{"accountId": a.id, "token": a.token})
		wantCode(t, r, 0)
		wantFields(t, r, map[string]any{"epoch": epoch})
		wrong := dial(t, s, d, "wrong token").request("RECONNECT", map[string]any{"accountId": a.id, "token": a.token + "x"})
		wantCode(t, wrong, 4)
		wantFields(t, wrong, map[string]any{"epoch": epoch})

		s.stop()
		restarted := startServer(t)
		r = dial(t, restarted, d, "Ann after the restart").request("RECONNECT", map[string]any{"accountId": a.id, "token": a.token})
		wantCode(t, r, 4)
		fresh := r.str("epoch")
		if fresh == "" || fresh == epoch {
			t.Errorf("RECONNECT after a restart: epoch %q, want a new one (was %q): %s", fresh, epoch, r)
		}
		wantFields(t, dial(t, restarted, d, "Bob").createAccount("Bob"), map[string]any{"epoch": fresh})
	})
}

// TestReportAfterTheEnd: abusers often leave first. Either member may still report the session
// while its messages are kept, with the same evidence, and nobody hears of the end twice; once
// they are gone, REPORT answers 8.
func TestReportAfterTheEnd(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s := startServer(t, append(withAdmin, "--history-retention", "2s", "--partner-cooldown", "100ms")...)
		ann, bob := newUser(t, s, d, "Ann"), newUser(t, s, d, "Bob")
		sid := pair(t, ann, bob)
		ann.sayTo(bob, sid, "hi")
		bob.sayTo(ann, sid, "send me photos or else")
		wantCode(t, bob.request("LEAVE", map[string]any{"sessionId": sid}), 0)
		wantExit(t, ann.waitSignal("PartnerExit"), ann.id, bob.id, sid, "left")

		r := ann.request("REPORT", map[string]any{"sessionId": sid, "category": "harassment", "note": "threats"})
		wantCode(t, r, 0)
		report := s.wantAdmin(t, 200, "GET", fmt.Sprint("/admin/api/reports/", wantID(t, r, "reportId")), nil)
		wantFields(t, report, map[string]any{"reporterId": ann.id, "reportedId": bob.id, "category": "harassment",
			"evidence.0.content": "hi", "evidence.1.content": "send me photos or else", "evidence.1.senderId": bob.id})
		// The one who left may report too.
		wantCode(t, bob.request("REPORT", map[string]any{"sessionId": sid, "category": "other"}), 0)
		for _, c := range []*client{ann, bob} {
			c.expectNone("PartnerExit again", quiet, c.isSignal("PartnerExit"))
		}
		// The report keeps them apart: the cooldown alone would not.
		time.Sleep(200 * time.Millisecond)
		wantCode(t, ann.match(), 4)
		wantCode(t, bob.match(), 4)
		ann.expectNone("NewSession with the reported partner", quiet, ann.isSignal("NewSession"))
		for _, c := range []*client{ann, bob} {
			wantCode(t, c.request("CANCEL_MATCH", nil), 0)
		}

		// The same after the partner's account is gone altogether.
		cid, dan := newUser(t, s, d, "Cid"), newUser(t, s, d, "Dan")
		sid2 := pair(t, cid, dan)
		dan.sayTo(cid, sid2, "spam spam")
		wantCode(t, dan.request("LOGOUT", nil), 0)
		wantExit(t, cid.waitSignal("PartnerExit"), cid.id, dan.id, sid2, "logout")
		r = cid.request("REPORT", map[string]any{"sessionId": sid2, "category": "spam"})
		wantCode(t, r, 0)
		report = s.wantAdmin(t, 200, "GET", fmt.Sprint("/admin/api/reports/", wantID(t, r, "reportId")), nil)
		wantFields(t, report, map[string]any{"reportedId": dan.id, "evidence.0.content": "spam spam"})
		if len(report.str("reportedClient.addr")) != 32 {
			t.Errorf("report on an account that is gone: %s, want the address hash it came from, for an address ban", report)
		}

		// After the retention the messages are gone, and so is the chance to report.
		time.Sleep(2500 * time.Millisecond)
		r = ann.request("REPORT", map[string]any{"sessionId": sid, "category": "harassment"})
		wantCode(t, r, 8)
	})
}
