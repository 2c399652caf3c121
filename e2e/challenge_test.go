package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duetchat/duet/redisengine/redistest"
)

// Small steps of difficulty, so that the tests solve many challenges quickly; the defaults are
// measured in BENCHMARKS.md.
var quickSteps = []string{"--challenge-steps", "500,2000,8000"}

// challengeOf checks that a CRT_ACCOUNT reply asks for a proof of work, and returns its
// challenge.
func challengeOf(t testing.TB, f frame) frame {
	t.Helper()
	wantCode(t, f, 11)
	v, _ := f.get("challenge")
	m, isObject := v.(map[string]any)
	c := frame{m: m}
	if !isObject || c.str("algorithm") != "SHA-256" || c.str("salt") == "" || c.str("signature") == "" {
		t.Fatalf("CRT_ACCOUNT code 11 without a challenge: %s", f)
	}
	return c
}

// difficulty is a challenge's maxnumber.
func difficulty(c frame) int64 {
	n, _ := c.int("maxnumber")
	return n
}

// solve finds the number of an ALTCHA challenge, as a client does, and returns the proof.
func solve(t testing.TB, c frame) map[string]any {
	t.Helper()
	salt, want := c.str("salt"), c.str("challenge")
	for n := range difficulty(c) + 1 {
		sum := sha256.Sum256([]byte(salt + strconv.FormatInt(n, 10)))
		if hex.EncodeToString(sum[:]) == want {
			return map[string]any{"algorithm": c.str("algorithm"), "challenge": want, "number": n, "salt": salt, "signature": c.str("signature")}
		}
	}
	t.Fatalf("no number up to %d solves challenge %s", difficulty(c), c)
	return nil
}

// createWithProof asks for an account, solving the challenges it is given, and returns the
// reply that ends it and how many challenges were solved.
func (c *client) createWithProof(nick string) (frame, int) {
	c.t.Helper()
	r := c.request("CRT_ACCOUNT", map[string]any{"nickName": nick})
	solved := 0
	for ; r.code() == 11 && solved < 5; solved++ {
		r = c.request("CRT_ACCOUNT", map[string]any{"nickName": nick, "proof": solve(c.t, challengeOf(c.t, r))})
	}
	if r.code() == 0 {
		c.id, c.token, c.nick = wantID(c.t, r, "accountId"), r.str("token"), r.str("nickName")
	}
	return r, solved
}

// TestChallengeOn: with the challenge on, no account is made without a proof; a solved
// challenge makes one, once; expired, tampered, forged and wrong proofs are refused with a
// fresh challenge; and the account chats like any other.
func TestChallengeOn(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s := startServerRaw(t, append(append([]string{"--challenge", "on", "--challenge-ttl", "2s"}, quickSteps...), behindProxy...)...)
		ann := dialFrom(t, s, d, "Ann", "198.51.100.1")
		first := challengeOf(t, ann.request("CRT_ACCOUNT", map[string]any{"nickName": "Ann"}))
		if difficulty(first) != 500 {
			t.Errorf("maxnumber = %d, want the first step, 500", difficulty(first))
		}
		proof := solve(t, first)

		refused := map[string]func(p map[string]any){
			"a tampered salt":        func(p map[string]any) { p["salt"] = strings.Replace(p["salt"].(string), "expires=", "expires=9", 1) },
			"a forged signature":     func(p map[string]any) { p["signature"] = strings.Repeat("0", 64) },
			"another algorithm":      func(p map[string]any) { p["algorithm"] = "SHA-1" },
			"a wrong number":         func(p map[string]any) { p["number"] = p["number"].(int64) + 1 },
			"a negative number":      func(p map[string]any) { p["number"] = -1 },
			"a challenge of its own": func(p map[string]any) { p["challenge"] = strings.Repeat("a", 64) },
		}
		for what, spoil := range refused {
			bad := map[string]any{}
			for k, v := range proof {
				bad[k] = v
			}
			spoil(bad)
			r := ann.request("CRT_ACCOUNT", map[string]any{"nickName": "Ann", "proof": bad})
			if fresh := challengeOf(t, r); fresh.str("challenge") == proof["challenge"] {
				t.Errorf("%s: the refusal repeats the old challenge, want a fresh one", what)
			}
		}
		wantCode(t, ann.request("CRT_ACCOUNT", map[string]any{"nickName": "Ann", "proof": "yes"}), 1)

		r := ann.request("CRT_ACCOUNT", map[string]any{"nickName": "Ann", "proof": proof})
		wantCode(t, r, 0)
		ann.id, ann.token, ann.nick = wantID(t, r, "accountId"), r.str("token"), r.str("nickName")

		// The same proof again, from another connection and address: refused.
		eve := dialFrom(t, s, d, "Eve", "203.0.113.9")
		r = eve.request("CRT_ACCOUNT", map[string]any{"nickName": "Eve", "proof": proof})
		challengeOf(t, r)
		if !strings.Contains(r.str("msg"), "used already") {
			t.Errorf("a replayed proof: msg %q, want it to say it was used already", r.str("msg"))
		}

		// A challenge left too long expires.
		late := challengeOf(t, eve.request("CRT_ACCOUNT", map[string]any{"nickName": "Eve"}))
		time.Sleep(3 * time.Second)
		r = eve.request("CRT_ACCOUNT", map[string]any{"nickName": "Eve", "proof": solve(t, late)})
		challengeOf(t, r)
		if !strings.Contains(r.str("msg"), "expired") {
			t.Errorf("an expired proof: msg %q, want it to say it expired", r.str("msg"))
		}

		bob := dialFrom(t, s, d, "Bob", "198.51.100.2")
		if r, _ := bob.createWithProof("Bob"); r.code() != 0 {
			t.Fatalf("Bob, solving his challenge: %s", r)
		}
		sid := pair(t, ann, bob)
		ann.sayTo(bob, sid, "solved it")
	})
}

// TestChallengeAutoStartsUnderAFlood: in auto, ordinary visitors (and the seed's client, which
// knows nothing of proofs) make accounts without a challenge; a flood of new accounts from many
// addresses turns challenges on for everybody, harder as it grows; once it ends, they stop.
func TestChallengeAutoStartsUnderAFlood(t *testing.T) {
	// A flood of 40 makes 20 a second over the 2 s window, and still above 8 if a busy machine
	// spreads it over twice that.
	s := startServerRaw(t, append(append([]string{"--challenge-rates", "5,8,60", "--challenge-window", "2s"}, quickSteps...), behindProxy...)...)
	for i := range 3 {
		newcomer := dialFrom(t, s, seedDialect, "Quiet", fmt.Sprintf("198.51.100.%d", i+1))
		wantCode(t, newcomer.request("CRT_ACCOUNT", map[string]any{"nickName": "Quiet"}), 0)
		time.Sleep(500 * time.Millisecond)
	}

	// A bot farm: each address stays within its own account rate, together they flood.
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			bot := dialFrom(t, s, seedDialect, "Bot", fmt.Sprintf("203.0.113.%d", i+1))
			bot.request("CRT_ACCOUNT", map[string]any{"nickName": "Bot"})
		})
	}
	wg.Wait()
	visitor := dialFrom(t, s, seedDialect, "Ann", "198.51.100.50")
	c := challengeOf(t, visitor.request("CRT_ACCOUNT", map[string]any{"nickName": "Ann"}))
	if difficulty(c) != 2000 && difficulty(c) != 8000 {
		t.Errorf("during a flood of 40 accounts in a moment, maxnumber = %d, want a higher step (2000 or 8000)", difficulty(c))
	}
	if r := visitor.request("CRT_ACCOUNT", map[string]any{"nickName": "Ann", "proof": solve(t, c)}); r.code() != 0 {
		t.Fatalf("a visitor solving the challenge during the flood: %s", r)
	}

	// The flood is over once the window has passed it by.
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		quiet := dialFrom(t, s, seedDialect, "Cid", fmt.Sprintf("198.51.100.%d", 100+i))
		r := quiet.request("CRT_ACCOUNT", map[string]any{"nickName": "Cid"})
		if r.code() == 0 {
			break
		}
		challengeOf(t, r)
		if time.Now().After(deadline) {
			t.Fatal("challenges still asked 10s after the flood ended; the window is 2s")
		}
		time.Sleep(time.Second) // a visitor a second is ordinary here

	}
}

// TestChallengeCarrierAddress: 200 people behind one carrier address, joining within a short
// time, all get in: beyond the address's account rate they solve challenges, harder as the
// address spends its challenged burst, instead of being refused. A bot beyond that is refused.
func TestChallengeCarrierAddress(t *testing.T) {
	s := startServerRaw(t, append(append([]string{
		// A slow refill of the challenged burst, so that however long a busy machine takes over
		// the 200, the address has spent enough of it to reach the second step.
		"--connect-burst", "1000", "--account-rate", "0.5", "--account-burst", "60", "--account-challenged-rate", "1", "--account-challenged-burst", "300",
		"--challenge-rates", "1000,2000,3000", // the service is never busy here: only the address is
	}, quickSteps...), behindProxy...)...)
	const carrier = "100.64.0.1"
	free, challenged, hardest := 0, 0, int64(0)
	start := time.Now()
	for i := range 200 {
		person := dialFrom(t, s, seedDialect, "P", carrier)
		r := person.request("CRT_ACCOUNT", map[string]any{"nickName": fmt.Sprintf("P%d", i)})
		if r.code() == 11 {
			c := challengeOf(t, r)
			hardest = max(hardest, difficulty(c))
			r = person.request("CRT_ACCOUNT", map[string]any{"nickName": fmt.Sprintf("P%d", i), "proof": solve(t, c)})
			challenged++
		} else {
			free++
		}
		if r.code() != 0 {
			t.Fatalf("person %d of 200 at one address: %s, want an account", i+1, r)
		}
		person.drop()
	}
	// Free: the burst, and what the account rate refilled meanwhile.
	if refilled := int(time.Since(start).Seconds()*0.5) + 1; free < 60 || free > 60+refilled {
		t.Errorf("%d accounts free and %d with a challenge, want the burst of 60 (and up to %d refilled) free and the rest challenged", free, challenged, refilled)
	}
	if hardest != 2000 {
		t.Errorf("the hardest challenge at 140 of a challenged burst of 300 spent: %d, want the second step, 2000", hardest)
	}

	// A bot at the same address that keeps going meets the hard cap.
	for i := 0; ; i++ {
		bot := dialFrom(t, s, seedDialect, "Bot", carrier)
		r := bot.request("CRT_ACCOUNT", map[string]any{"nickName": "Bot"})
		bot.drop()
		if r.code() == 6 {
			if ms, _ := r.int("retryAfterMs"); ms <= 0 {
				t.Errorf("refused at the hard cap without retryAfterMs: %s", r)
			}
			break
		}
		if r.code() != 0 { // a token of the account rate, refilled meanwhile
			challengeOf(t, r)
		}
		if i > 200 {
			t.Fatal("200 more challenges at one address, never refused: no hard cap")
		}
	}
}

// TestChallengeAcrossNodes: on two nodes, a proof accepted on one is refused on the other, and a
// mode set by an operator on node 1 holds on node 2 within a second, with an audit entry.
func TestChallengeAcrossNodes(t *testing.T) {
	onceOnly(t)
	r := redistest.Start(t)
	nodes := startNodes(t, 2, r.URL(), append(append([]string{"--challenge", "on"}, quickSteps...), withAdmin...)...)
	ann := dial(t, nodes[0], seedDialect, "Ann")
	proof := solve(t, challengeOf(t, ann.request("CRT_ACCOUNT", map[string]any{"nickName": "Ann"})))
	wantCode(t, ann.request("CRT_ACCOUNT", map[string]any{"nickName": "Ann", "proof": proof}), 0)
	eve := dial(t, nodes[1], seedDialect, "Eve")
	replay := eve.request("CRT_ACCOUNT", map[string]any{"nickName": "Eve", "proof": proof})
	challengeOf(t, replay)
	if !strings.Contains(replay.str("msg"), "used already") {
		t.Errorf("the proof replayed on node 2: msg %q, want it to say it was used already", replay.str("msg"))
	}

	status, body := nodes[0].admin(t, http.MethodPut, "/admin/api/challenge", map[string]any{"mode": "off", "reason": "the bots are gone"})
	if status != http.StatusOK || body.str("mode") != "off" {
		t.Fatalf("PUT /admin/api/challenge = %d %s, want 200 and mode off", status, body)
	}
	set := time.Now()
	for {
		cid := dial(t, nodes[1], seedDialect, "Cid")
		r := cid.request("CRT_ACCOUNT", map[string]any{"nickName": "Cid"})
		cid.drop()
		if r.code() == 0 {
			break
		}
		challengeOf(t, r)
		if time.Since(set) > 1500*time.Millisecond {
			t.Fatal("node 2 still asks a challenge 1.5s after the mode was set off on node 1")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Eve, whose proof was refused while challenges were on, needs none now.
	wrong := solve(t, challengeOf(t, replay))
	wrong["number"] = wrong["number"].(int64) + 1
	wantCode(t, eve.request("CRT_ACCOUNT", map[string]any{"nickName": "Eve", "proof": wrong}), 0)

	// The last minute's figures come from each node's post, every ping interval.
	var view frame
	for range 20 {
		_, view = nodes[1].admin(t, http.MethodGet, "/admin/api/challenge", nil)
		if failed, _ := view.int("lastMinute.failed"); failed == 2 {
			break
		}
		time.Sleep(nodePing)
	}
	wantFields(t, view, map[string]any{"mode": "off", "configuredMode": "on", "active": false, "maxnumber": 0, "lastMinute.solved": 1, "lastMinute.failed": 2})
	_, audit := nodes[1].admin(t, http.MethodGet, "/admin/api/audit", nil)
	wantFields(t, audit, map[string]any{"entries.0.action": "challenge-mode", "entries.0.target": "challenge:off", "entries.0.reason": "the bots are gone"})

	status, body = nodes[1].admin(t, http.MethodPut, "/admin/api/challenge", map[string]any{"mode": "sometimes", "reason": "typo"})
	if status != http.StatusBadRequest || !strings.Contains(body.str("error"), "off, on or auto") {
		t.Errorf("PUT a mode that is none: %d %s, want 400 saying the modes", status, body)
	}
}
