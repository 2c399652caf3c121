package e2e

import (
	"testing"
	"time"
)

func TestTyping(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		const typingTimeout = 1500 * time.Millisecond
		_, a, b, sid := chatting(t, d, "--typing-timeout", typingTimeout.String())
		typing := func(c *client, on bool) {
			t.Helper()
			c.send("TYPING", map[string]any{"sessionId": sid, "typing": on})
		}
		wantTyping := func(sig frame, on bool) {
			t.Helper()
			wantFields(t, sig, map[string]any{"sessionId": sid, "data.accountId": a.id, "data.typing": on})
		}

		t.Run("clears after the timeout", func(t *testing.T) {
			a, b := a.with(t), b.with(t)
			typing(a, true)
			sent := time.Now()
			wantTyping(b.waitSignal("Typing"), true)
			// No reply unless it fails.
			a.expectNone("reply to TYPING", 0, isCmd(d.reply("TYPING")))
			sig := b.waitSignalWithin("Typing", typingTimeout+waitTimeout)
			wantTyping(sig, false)
			if elapsed := time.Since(sent); elapsed < typingTimeout-300*time.Millisecond {
				t.Errorf("Typing false came %v after typing:true, want about the typing timeout %v", elapsed, typingTimeout)
			}
		})
		t.Run("a DIALOGUE clears it", func(t *testing.T) {
			a, b := a.with(t), b.with(t)
			typing(a, true)
			wantTyping(b.waitSignal("Typing"), true)
			sent := time.Now()
			a.say(sid, "done typing")
			b.waitPush("PUSH_DIALOGUE")
			sig := b.waitSignal("Typing")
			wantTyping(sig, false)
			if elapsed := time.Since(sent); elapsed >= typingTimeout-300*time.Millisecond {
				t.Errorf("Typing false came %v after the DIALOGUE, want well before the typing timeout %v", elapsed, typingTimeout)
			}
			b.expectNone("another Typing", quiet, b.isSignal("Typing"))
		})
		a.expectNone("reply to TYPING", 0, isCmd(d.reply("TYPING")))
		a.expectNone("Typing signal to the typist", 0, a.isSignal("Typing"))
	})
}

// TestAwayAndBack drops a connection without LOGOUT, sends to it meanwhile, and comes back.
func TestAwayAndBack(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s, a, b, sid := chatting(t, d)
		a.sayTo(b, sid, "brb")

		a.drop()
		away := b.waitSignal("PartnerAway")
		wantFields(t, away, map[string]any{"sessionId": sid, "data.accountId": a.id})

		var sent []int64
		for _, text := range []string{"are", "you", "there"} {
			sent = append(sent, b.say(sid, text))
		}

		a2 := dial(t, s, d, "Ann2")
		a2.send("RECONNECT", map[string]any{"accountId": a.id, "token": a.token})
		r := a2.next()
		if r.cmd() != d.reply("RECONNECT") {
			t.Fatalf("first frame after RECONNECT = %s, want the RECONNECT reply (the backlog comes after it)", r)
		}
		wantCode(t, r, 0)
		wantSessions(t, r, map[int64]map[string]any{
			sid: {"partnerId": b.id, "partnerName": "Bob", "lastMsgId": sent[len(sent)-1]},
		})
		a2.id, a2.nick, a2.token = a.id, a.nick, a.token
		for i, id := range sent {
			p := a2.next()
			if p.cmd() != d.push("PUSH_DIALOGUE") {
				t.Fatalf("frame %d after the RECONNECT reply = %s, want PUSH_DIALOGUE msgId %d", i+1, p, id)
			}
			wantFields(t, p, map[string]any{"msgId": id, "senderId": b.id, "sessionId": sid})
		}
		back := b.waitSignal("PartnerBack")
		wantFields(t, back, map[string]any{"sessionId": sid, "data.accountId": a.id})

		// The session goes on.
		a2.sayTo(b, sid, "back")
		b.sayTo(a2, sid, "welcome back")
		b.expectNone("PartnerExit", quiet, b.isSignal("PartnerExit"))
	})
}

// TestSilenceEndsSessions has a client stop answering heartbeats (and send nothing) while its
// TCP connection stays open: its partner sees PartnerAway, then PartnerExit timeout.
func TestSilenceEndsSessions(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		const (
			ping     = 200 * time.Millisecond
			presence = time.Second
			slack    = 1500 * time.Millisecond
		)
		_, a, b, sid := chatting(t, d, "--ping-interval", ping.String(), "--presence-timeout", presence.String())
		a.sayTo(b, sid, "hello")

		a.goSilent()
		away := b.next()
		awayAt := time.Now()
		if !b.isSignal("PartnerAway")(away) {
			t.Fatalf("Bob got %s, want PUSH_SIGNAL PartnerAway", away)
		}
		wantFields(t, away, map[string]any{"sessionId": sid, "data.accountId": a.id})

		exit := b.waitFor("PUSH_SIGNAL PartnerExit", presence+ping+slack+time.Second, anyFrame)
		exitAt := time.Now()
		if !b.isSignal("PartnerExit")(exit) {
			t.Fatalf("Bob got %s, want PUSH_SIGNAL PartnerExit", exit)
		}
		wantExit(t, exit, b.id, a.id, sid, "timeout")

		last := time.Unix(0, a.lastSent.Load())
		if got, min := awayAt.Sub(last), 2*ping-150*time.Millisecond; got < min {
			t.Errorf("PartnerAway came %v after Ann's last frame, want at least two ping intervals (%v)", got, 2*ping)
		}
		got := exitAt.Sub(last)
		if min := presence - 250*time.Millisecond; got < min {
			t.Errorf("PartnerExit came %v after Ann's last frame, want no earlier than the presence timeout %v", got, presence)
		}
		if max := presence + ping + slack; got > max {
			t.Errorf("PartnerExit came %v after Ann's last frame, want at most presence timeout + ping interval (%v, slack %v)", got, presence+ping, slack)
		}
		t.Logf("PartnerAway after %v, PartnerExit after %v of silence", awayAt.Sub(last).Round(time.Millisecond), got.Round(time.Millisecond))

		r := b.request("DIALOGUE", map[string]any{"requestId": "b:late", "senderId": b.id, "sessionId": sid, "content": "gone?"})
		wantCode(t, r, 8)
	})
}
