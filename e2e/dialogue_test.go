package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDialogue(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		_, a, b, sid := chatting(t, d)

		before := time.Now()
		r := a.request("DIALOGUE", map[string]any{
			"requestId": "ann:1", "senderId": a.id, "sessionId": sid, "content": "hello world",
		})
		wantCode(t, r, 0)
		wantFields(t, r, map[string]any{"requestId": "ann:1"})
		first := wantID(t, r, "msgId")

		p := b.waitPush("PUSH_DIALOGUE")
		after := time.Now()
		wantFields(t, p, map[string]any{
			"msgId": first, "senderId": a.id, "sessionId": sid, "content": "hello world",
		})
		sentAt, ok := p.int("sentAt")
		if !ok {
			t.Fatalf("PUSH_DIALOGUE sentAt is not an integer: %s", p)
		}
		if lo, hi := before.Add(-2*time.Second).UnixMilli(), after.Add(2*time.Second).UnixMilli(); sentAt < lo || sentAt > hi {
			t.Errorf("PUSH_DIALOGUE sentAt = %d, want milliseconds near now (%d..%d)", sentAt, lo, hi)
		}
		a.expectNone("PUSH_DIALOGUE to the sender", 0, a.isPush("PUSH_DIALOGUE"))

		// The reply goes the other way with a larger msgId.
		second := b.sayTo(a, sid, "hi Ann")
		if second <= first {
			t.Errorf("second msgId %d, want > first %d", second, first)
		}

		// Content: up to 2000 characters (not bytes) is fine.
		a.sayTo(b, sid, strings.Repeat("x", 2000))
		a.sayTo(b, sid, strings.Repeat("ж", 2000))
		a.sayTo(b, sid, "emoji 🎉 and \"quotes\" and <b>tags</b>")
	})
}

func TestDialogueInvalid(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		_, a, b, sid := chatting(t, d)
		tests := map[string]struct {
			requestID any
			content   any
		}{
			"empty content":          {"v:1", ""},
			"2001 characters":        {"v:2", strings.Repeat("x", 2001)},
			"missing content":        {"v:3", nil},
			"empty requestId":        {"", "hello"},
			"65-character requestId": {strings.Repeat("r", 65), "hello"},
		}
		for name, tc := range tests {
			t.Run(name, func(t *testing.T) {
				fields := map[string]any{"requestId": tc.requestID, "senderId": a.id, "sessionId": sid}
				if tc.content != nil {
					fields["content"] = tc.content
				}
				wantCode(t, a.with(t).request("DIALOGUE", fields), 1)
			})
		}
		b.expectNone("PUSH_DIALOGUE", quiet, b.isPush("PUSH_DIALOGUE"))
		// A 64-character requestId is fine.
		r := a.request("DIALOGUE", map[string]any{
			"requestId": strings.Repeat("r", 64), "senderId": a.id, "sessionId": sid, "content": "ok",
		})
		wantCode(t, r, 0)
		b.waitPush("PUSH_DIALOGUE")
	})
}

func TestDialogueIdempotentResend(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		_, a, b, sid := chatting(t, d)
		send := func(rid, content string) int64 {
			t.Helper()
			r := a.request("DIALOGUE", map[string]any{
				"requestId": rid, "senderId": a.id, "sessionId": sid, "content": content,
			})
			wantCode(t, r, 0)
			wantFields(t, r, map[string]any{"requestId": rid})
			return wantID(t, r, "msgId")
		}
		first := send("same-id", "hello")
		p := b.waitPush("PUSH_DIALOGUE")
		wantFields(t, p, map[string]any{"msgId": first, "content": "hello"})

		again := send("same-id", "hello")
		if again != first {
			t.Errorf("resend msgId = %d, want the first msgId %d", again, first)
		}
		b.expectNone("PUSH_DIALOGUE of a resend", quiet, b.isPush("PUSH_DIALOGUE"))

		// A new requestId is a new message.
		if third := send("other-id", "hello"); third <= first {
			t.Errorf("new message msgId = %d, want > %d", third, first)
		}
		b.waitPush("PUSH_DIALOGUE")
	})
}

// TestDialogueConcurrentBothWays has both sides send hundreds of messages at once and checks
// that each side receives all of the other's, once, in the order sent and in msgId order.
// Each side keeps up to window requests in flight, like a fast client that pipelines but
// does not flood its own send queue on the server (default 256 frames).
func TestDialogueConcurrentBothWays(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		const n, window = 300, 32
		_, a, b, sid := chatting(t, d)

		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for _, c := range []*client{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range n {
					if i >= window && !c.waitReceived(c.d.reply("DIALOGUE"), i-window+1, waitTimeout) {
						errs <- fmt.Errorf("%s: no reply to message %d within %v: %v", c.name, i-window, waitTimeout, c.err())
						return
					}
					key := fmt.Sprintf("%s-%d", c.name, i)
					err := c.writeJSON(frameOf(c.d.request("DIALOGUE"), map[string]any{
						"requestId": key, "senderId": c.id, "sessionId": sid, "content": key,
					}))
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("sending: %v", err)
		}

		check := func(sender, receiver *client) {
			t.Helper()
			sent := map[string]int64{} // requestId -> msgId
			for range n {
				r := sender.waitReply("DIALOGUE")
				wantCode(t, r, 0)
				sent[r.str("requestId")] = wantID(t, r, "msgId")
			}
			var last int64
			for i := range n {
				p := receiver.waitPush("PUSH_DIALOGUE")
				want := fmt.Sprintf("%s-%d", sender.name, i)
				id, _ := p.int("msgId")
				if got := p.str("content"); got != want {
					t.Fatalf("%s: message %d content = %q, want %q (in the order sent)", receiver.name, i, got, want)
				}
				if id != sent[want] {
					t.Errorf("%s: %q msgId = %d, want %d (as replied to the sender)", receiver.name, want, id, sent[want])
				}
				if id <= last {
					t.Fatalf("%s: msgId %d after %d, want strictly increasing", receiver.name, id, last)
				}
				last = id
			}
			if len(sent) != n {
				t.Errorf("%s: %d distinct requestIds echoed, want %d", sender.name, len(sent), n)
			}
		}
		check(a, b)
		check(b, a)
		a.expectNone("extra PUSH_DIALOGUE", quiet, a.isPush("PUSH_DIALOGUE"))
		b.expectNone("extra PUSH_DIALOGUE", 0, b.isPush("PUSH_DIALOGUE"))
	})
}

func TestViewedAck(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		_, a, b, sid := chatting(t, d)
		m1 := a.sayTo(b, sid, "one")
		m2 := a.sayTo(b, sid, "two")

		r := b.request("VIEWED_ACK", map[string]any{"sessionId": sid, "accountId": b.id, "msgId": m2})
		wantCode(t, r, 0)
		p := a.waitPush("PUSH_VIEWED_ACK")
		wantFields(t, p, map[string]any{"sessionId": sid, "accountId": b.id, "msgId": m2})

		// The watermark only moves forward: an older msgId answers 0 and pushes nothing.
		r = b.request("VIEWED_ACK", map[string]any{"sessionId": sid, "accountId": b.id, "msgId": m1})
		wantCode(t, r, 0)
		a.expectNone("PUSH_VIEWED_ACK for an older msgId", quiet, a.isPush("PUSH_VIEWED_ACK"))
		b.expectNone("PUSH_VIEWED_ACK to the reader", 0, b.isPush("PUSH_VIEWED_ACK"))

		// And it does move forward to a newer message, either side's.
		m3 := a.sayTo(b, sid, "three")
		wantCode(t, b.request("VIEWED_ACK", map[string]any{"sessionId": sid, "accountId": b.id, "msgId": m3}), 0)
		wantFields(t, a.waitPush("PUSH_VIEWED_ACK"), map[string]any{"msgId": m3, "accountId": b.id})
	})
}

// TestDeliveredAck: the delivery receipt is a watermark like the read receipt, a read receipt
// moves it too (with PUSH_VIEWED_ACK alone), and a reloaded page finds both in RECONNECT.
func TestDeliveredAck(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s, a, b, sid := chatting(t, d)
		m1 := a.sayTo(b, sid, "one")
		m2 := a.sayTo(b, sid, "two")
		ack := func(c *client, cmd string, msgID int64) frame {
			t.Helper()
			return c.request(cmd, map[string]any{"sessionId": sid, "accountId": c.id, "msgId": msgID})
		}
		isReceipt := func(f frame) bool {
			return f.cmd() == d.push("PUSH_DELIVERED_ACK") || f.cmd() == d.push("PUSH_VIEWED_ACK")
		}

		wantCode(t, ack(b, "DELIVERED_ACK", m2), 0)
		wantFields(t, a.waitPush("PUSH_DELIVERED_ACK"), map[string]any{"sessionId": sid, "accountId": b.id, "msgId": m2})
		wantCode(t, ack(b, "DELIVERED_ACK", m1), 0) // older: answered, nothing pushed
		wantCode(t, ack(b, "DELIVERED_ACK", m2), 0) // the same: likewise
		a.expectNone("a receipt that moved nothing", quiet, isReceipt)

		// Viewing implies delivery: one PUSH_VIEWED_ACK, and a later DELIVERED_ACK for it is old news.
		m3 := a.sayTo(b, sid, "three")
		wantCode(t, ack(b, "VIEWED_ACK", m3), 0)
		wantFields(t, a.waitPush("PUSH_VIEWED_ACK"), map[string]any{"sessionId": sid, "accountId": b.id, "msgId": m3})
		wantCode(t, ack(b, "DELIVERED_ACK", m3), 0)
		a.expectNone("PUSH_DELIVERED_ACK after the message was seen", quiet, isReceipt)
		b.expectNone("a receipt pushed to the reader", 0, isReceipt)

		// Bob's own message has reached Ann's client, not her eyes.
		m4 := b.sayTo(a, sid, "four")
		wantCode(t, ack(a, "DELIVERED_ACK", m4), 0)
		wantFields(t, b.waitPush("PUSH_DELIVERED_ACK"), map[string]any{"accountId": a.id, "msgId": m4})

		wantCode(t, b.request("DELIVERED_ACK", map[string]any{"sessionId": sid}), 1)
		wantCode(t, ack(b, "DELIVERED_ACK", m4+1000), 4)

		// A reload: each side's RECONNECT says how far its own messages got.
		for _, tc := range []struct {
			c                 *client
			delivered, viewed int64
		}{{a, m3, m3}, {b, m4, 0}} {
			again := dial(t, s, d, tc.c.name+" again")
			r := again.request("RECONNECT", map[string]any{"accountId": tc.c.id, "token": tc.c.token})
			wantCode(t, r, 0)
			wantSessions(t, r, map[int64]map[string]any{sid: {"lastMsgId": m4, "deliveredMsgId": tc.delivered, "viewedMsgId": tc.viewed}})
		}
	})
}

// TestReceiptRateLimit: VIEWED_ACK and DELIVERED_ACK share one bucket per connection.
func TestReceiptRateLimit(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s := startServerRaw(t, "--receipt-rate", "0.01", "--receipt-burst", "2")
		a, b := newUser(t, s, d, "Ann"), newUser(t, s, d, "Bob")
		sid := pair(t, a, b)
		m := a.sayTo(b, sid, "hi")
		wantCode(t, b.request("DELIVERED_ACK", map[string]any{"sessionId": sid, "msgId": m}), 0)
		wantCode(t, b.request("VIEWED_ACK", map[string]any{"sessionId": sid, "msgId": m}), 0)
		for _, cmd := range []string{"VIEWED_ACK", "DELIVERED_ACK"} {
			r := b.request(cmd, map[string]any{"sessionId": sid, "msgId": m})
			wantCode(t, r, 6)
			if ms, ok := r.int("retryAfterMs"); !ok || ms <= 0 {
				t.Errorf("%s over the limit: retryAfterMs = %v, want > 0: %s", cmd, r.m["retryAfterMs"], r)
			}
		}
	})
}
