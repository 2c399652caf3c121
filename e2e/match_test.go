package e2e

import (
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMatch(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s := startServer(t)
		a := newUser(t, s, d, "Ann")
		b := newUser(t, s, d, "Bob")

		r := a.match()
		wantCode(t, r, 4)
		wantFields(t, r, map[string]any{"sessionId": nil, "partnerId": nil})
		// Repeated MATCH while queued changes nothing and answers 4 again.
		wantCode(t, a.match(), 4)
		a.expectQuiet(quiet)

		r = b.match()
		wantCode(t, r, 0)
		wantFields(t, r, map[string]any{"partnerId": a.id, "partnerName": "Ann"})
		sid := wantID(t, r, "sessionId")
		if got, ok := r.strings("commonInterests"); r.has("commonInterests") && (!ok || len(got) != 0) {
			t.Errorf("MATCH reply commonInterests = %v, want an empty list (no interests given): %s", got, r)
		}

		sig := a.waitSignal("NewSession")
		wantFields(t, sig, map[string]any{
			"sessionId": sid, "senderId": b.id, "receiverId": a.id,
			"data.accountId": b.id, "data.nickName": "Bob",
		})
		if got, ok := sig.strings("data.commonInterests"); !ok || len(got) != 0 {
			t.Errorf("NewSession data.commonInterests: want an empty JSON list, got %s", sig)
		}
		// Exactly one NewSession, and none for the one who got the reply.
		a.expectNone("second NewSession", quiet, a.isSignal("NewSession"))
		b.expectNone("NewSession for the requester", 0, b.isSignal("NewSession"))

		// Both can talk in the new session.
		a.sayTo(b, sid, "hi Bob")
		b.sayTo(a, sid, "hi Ann")
	})
}

func TestCancelMatch(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s := startServer(t)
		a := newUser(t, s, d, "Ann")
		b := newUser(t, s, d, "Bob")

		wantCode(t, a.request("CANCEL_MATCH", nil), 4)
		wantCode(t, a.match(), 4)
		wantCode(t, a.request("CANCEL_MATCH", nil), 0)
		wantCode(t, a.request("CANCEL_MATCH", nil), 4)

		// Ann is not in the queue any more: Bob waits.
		wantCode(t, b.match(), 4)
		a.expectNone("NewSession", quiet, a.isSignal("NewSession"))
		b.expectNone("NewSession", 0, b.isSignal("NewSession"))
	})
}

func TestMatchPrefersSharedInterests(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--interest-wait", "1s", "--partner-cooldown", "1m")
	a := newUser(t, s, seedDialect, "Ann")
	b := newUser(t, s, seedDialect, "Bob")
	c := newUser(t, s, seedDialect, "Cid")

	// Ann and Bob left each other, so both wait at once: Ann first, Bob with an interest.
	sid := pair(t, a, b)
	wantCode(t, a.request("LEAVE", map[string]any{"sessionId": sid}), 0)
	b.waitSignal("PartnerExit")
	wantCode(t, a.match(), 4)
	wantCode(t, b.match("Music", "go"), 4)

	// Cid shares "music" (in another case) with Bob: Bob is preferred over Ann, who waited longer.
	r := c.match("chess", "MUSIC")
	wantCode(t, r, 0)
	wantFields(t, r, map[string]any{"partnerId": b.id, "partnerName": "Bob"})
	csid := wantID(t, r, "sessionId")
	if got, ok := r.strings("commonInterests"); !ok || len(got) != 1 || !strings.EqualFold(got[0], "music") {
		t.Errorf("MATCH reply commonInterests = %v, want [music]: %s", got, r)
	}
	sig := b.waitSignal("NewSession")
	wantFields(t, sig, map[string]any{"sessionId": csid, "data.accountId": c.id, "data.nickName": "Cid"})
	if got, ok := sig.strings("data.commonInterests"); !ok || len(got) != 1 || !strings.EqualFold(got[0], "music") {
		t.Errorf("NewSession data.commonInterests = %v, want [music]: %s", got, sig)
	}
	a.expectNone("NewSession", 0, a.isSignal("NewSession"))

	// After the interest window, anyone will do: Dan (no shared interest) gets Ann.
	dan := newUser(t, s, seedDialect, "Dan")
	r = dan.match("knitting")
	start := time.Now()
	if r.code() == 4 {
		r = dan.waitSignalWithin("NewSession", 1*time.Second+waitTimeout)
		wantFields(t, r, map[string]any{"data.accountId": a.id})
	} else {
		wantCode(t, r, 0)
		wantFields(t, r, map[string]any{"partnerId": a.id})
	}
	if sig := a.waitSignal("NewSession"); sig.has("data.accountId") {
		wantFields(t, sig, map[string]any{"data.accountId": dan.id})
	}
	t.Logf("Dan was matched with Ann %v after asking", time.Since(start).Round(time.Millisecond))
}

func TestMatchNotWithCurrentPartner(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s := startServer(t)
		a := newUser(t, s, d, "Ann")
		b := newUser(t, s, d, "Bob")
		c := newUser(t, s, d, "Cid")
		pair(t, a, b)

		// Both want a second chat; they must not get each other again.
		wantCode(t, a.match(), 4)
		wantCode(t, b.match(), 4)
		a.expectNone("NewSession", quiet, a.isSignal("NewSession"))
		b.expectNone("NewSession", 0, b.isSignal("NewSession"))

		// Longest waiter first: Cid gets Ann.
		r := c.match()
		wantCode(t, r, 0)
		wantFields(t, r, map[string]any{"partnerId": a.id})
		a.waitSignal("NewSession")
		wantCode(t, b.request("CANCEL_MATCH", nil), 0)
	})
}

// TestMatchAgainWhenAlone: the partner cooldown shrinks with the queue, so two alone on a quiet
// site who left each other meet again at once.
func TestMatchAgainWhenAlone(t *testing.T) {
	t.Parallel()
	_, a, b, sid := chatting(t, seedDialect, "--partner-cooldown", "1h")
	wantCode(t, a.request("LEAVE", map[string]any{"sessionId": sid}), 0)
	b.waitSignal("PartnerExit")

	wantCode(t, a.match(), 4)
	r := b.match()
	wantCode(t, r, 0)
	wantFields(t, r, map[string]any{"partnerId": a.id})
	a.waitSignal("NewSession")
}

func TestMatchNeverSelf(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	a := newUser(t, s, seedDialect, "Ann")
	wantCode(t, a.match(), 4)
	wantCode(t, a.match(), 4)
	wantCode(t, a.match(), 4)
	a.expectNone("NewSession", quiet, a.isSignal("NewSession"))
}

func TestMaxSessions(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s := startServer(t, "--max-sessions", "2")
		a := newUser(t, s, d, "Ann")
		b := newUser(t, s, d, "Bob")
		c := newUser(t, s, d, "Cid")
		e := newUser(t, s, d, "Eve")
		pair(t, a, b)
		pair(t, a, c)
		r := a.match()
		wantCode(t, r, 9)
		// Not queued: Eve waits rather than getting Ann.
		wantCode(t, e.match(), 4)
		a.expectNone("NewSession", quiet, a.isSignal("NewSession"))
		// Bob has one session and may still match.
		wantCode(t, b.match(), 0)
	})
}

// TestMatchStorm has many clients MATCH at the same instant and checks that the result is a
// proper pairing: everyone in exactly one session with someone else, both sides agreeing.
func TestMatchStorm(t *testing.T) {
	t.Parallel()
	const n = 40
	s := startServer(t)
	clients := make([]*client, n)
	byID := map[int64]int{}
	for i := range clients {
		d := dialects[i%2]
		clients[i] = newUser(t, s, d, "u"+string(rune('A'+i%26))+string(rune('a'+i/26)))
		byID[clients[i].id] = i
	}

	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if err := c.writeJSON(frameOf(c.d.request("MATCH"), map[string]any{"accountId": c.id})); err != nil {
				errs <- err
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("sending MATCH: %v", err)
	}

	type seat struct{ session, partner int64 }
	seats := make([]seat, n)
	waiting := 0
	for i, c := range clients {
		r := c.waitReply("MATCH")
		switch r.code() {
		case 0:
			seats[i] = seat{wantID(t, r, "sessionId"), wantID(t, r, "partnerId")}
		case 4:
			waiting++
		default:
			t.Fatalf("%s: MATCH reply code %d, want 0 or 4: %s", c.name, r.code(), r)
		}
	}
	// Whoever was told to wait must be paired by now or soon: at most one can stay queued,
	// and with an even number of clients, none.
	for i, c := range clients {
		if seats[i].session != 0 {
			continue
		}
		sig := c.waitSignal("NewSession")
		seats[i] = seat{wantID(t, sig, "sessionId"), wantID(t, sig, "data.accountId")}
		waiting--
	}
	if waiting != 0 {
		t.Fatalf("internal: waiting = %d", waiting)
	}

	members := map[int64][]int{}
	for i, st := range seats {
		if st.partner == clients[i].id {
			t.Errorf("%s was matched with itself in session %d", clients[i].name, st.session)
		}
		members[st.session] = append(members[st.session], i)
	}
	for sid, m := range members {
		if len(m) != 2 {
			t.Errorf("session %d has %d members, want 2", sid, len(m))
			continue
		}
		x, y := m[0], m[1]
		if seats[x].partner != clients[y].id || seats[y].partner != clients[x].id {
			t.Errorf("session %d: %s says partner %d, %s says partner %d; want each other (%d, %d)",
				sid, clients[x].name, seats[x].partner, clients[y].name, seats[y].partner, clients[y].id, clients[x].id)
		}
	}
	if len(members) != n/2 {
		t.Errorf("got %d sessions, want %d", len(members), n/2)
	}
	// Nobody gets a second session out of one MATCH.
	for _, c := range clients {
		c.expectNone("second NewSession", 0, c.isSignal("NewSession"))
	}
	clients[0].expectNone("second NewSession", quiet, clients[0].isSignal("NewSession"))
	for _, c := range clients {
		c.expectNone("second NewSession", 0, c.isSignal("NewSession"))
	}
}
