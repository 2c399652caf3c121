package e2e

import (
	"fmt"
	"testing"
	"time"
)

// historyTotals adds up the minutes of /admin/api/stats/history and returns them with the
// newest minute.
func historyTotals(t *testing.T, s *server) (messages, matches int64, newest frame) {
	t.Helper()
	h := s.wantAdmin(t, 200, "GET", "/admin/api/stats/history", nil)
	minutes := h.m["minutes"].([]any)
	for _, m := range minutes {
		f := frame{m: m.(map[string]any)}
		n, _ := f.int("messages")
		k, _ := f.int("matches")
		messages, matches = messages+n, matches+k
		newest = f
	}
	return messages, matches, newest
}

// waitHistory polls the history through s until want says it shows the traffic, or fails.
func waitHistory(t *testing.T, s *server, want func(messages, matches int64, newest frame) bool) frame {
	t.Helper()
	for deadline := time.Now().Add(waitTimeout); ; time.Sleep(100 * time.Millisecond) {
		messages, matches, newest := historyTotals(t, s)
		if newest.m != nil && want(messages, matches, newest) {
			return newest
		}
		if time.Now().After(deadline) {
			t.Fatalf("history: %d messages, %d matches, newest minute %s; not what was sent", messages, matches, newest)
		}
	}
}

// TestAdminHistory: the last hour's minutes count the messages and matches sent, and the
// newest minute has the connections, waiting accounts and live sessions of now.
func TestAdminHistory(t *testing.T) {
	s := startServer(t, withAdmin...)
	a, b, c := newUser(t, s, seedDialect, "Ann"), newUser(t, s, seedDialect, "Bob"), newUser(t, s, seedDialect, "Cid")
	sid := pair(t, a, b)
	for i := range 3 {
		a.sayTo(b, sid, fmt.Sprint("message ", i))
	}
	wantCode(t, c.match(), 4)
	newest := waitHistory(t, s, func(messages, matches int64, newest frame) bool {
		waiting, _ := newest.int("waiting")
		return messages == 3 && matches == 1 && waiting == 1
	})
	wantFields(t, newest, map[string]any{"connections": 3, "waiting": 1, "sessions": 1})
	h := s.wantAdmin(t, 200, "GET", "/admin/api/stats/history", nil)
	from, _ := time.Parse(time.RFC3339, h.m["from"].(string))
	to, _ := time.Parse(time.RFC3339, h.m["to"].(string))
	if to.Sub(from) != 59*time.Minute {
		t.Errorf("history from %v to %v, want the last 60 minutes", from, to)
	}
}

// TestRedisAdminHistoryAcrossNodes: the history read through either node adds up both nodes'
// minutes.
func TestRedisAdminHistoryAcrossNodes(t *testing.T) {
	nodes, a, b, sid := pairAcrossNodes(t, 2, withAdmin...)
	a.sayTo(b, sid, "from node one")
	b.sayTo(a, sid, "from node two")
	for _, n := range nodes {
		waitHistory(t, n, func(messages, matches int64, newest frame) bool {
			conns, _ := newest.int("connections")
			return messages == 2 && matches == 1 && conns == 2
		})
	}
}

// TestAdminFindAccounts: accounts are found by a part of their nickname, whatever its case,
// the last seen first; a bad query is refused.
func TestAdminFindAccounts(t *testing.T) {
	s := startServer(t, withAdmin...)
	ann := newUser(t, s, seedDialect, "Annika")
	joanna := newUser(t, s, seedDialect, "JoAnna")
	newUser(t, s, seedDialect, "Bob")

	f := s.wantAdmin(t, 200, "GET", "/admin/api/accounts?nickname=ANN", nil)
	wantFields(t, f, map[string]any{"found": 2})
	found := map[any]any{}
	for _, a := range f.m["accounts"].([]any) {
		acct := a.(map[string]any)
		found[acct["nickName"]] = acct["accountId"]
		if acct["connected"] != true {
			t.Errorf("found %v not connected, want connected", acct)
		}
	}
	if fmt.Sprint(found["Annika"]) != fmt.Sprint(ann.id) || fmt.Sprint(found["JoAnna"]) != fmt.Sprint(joanna.id) {
		t.Errorf("found %v, want Annika (%d) and JoAnna (%d)", found, ann.id, joanna.id)
	}
	f = s.wantAdmin(t, 200, "GET", "/admin/api/accounts?nickname=ann&limit=1", nil)
	if wantFields(t, f, map[string]any{"found": 2}); len(f.m["accounts"].([]any)) != 1 {
		t.Errorf("limit=1 listed %v, want one account", f.m["accounts"])
	}
	wantFields(t, s.wantAdmin(t, 200, "GET", "/admin/api/accounts?nickname=nobody", nil), map[string]any{"found": 0})
	for _, q := range []string{"", "?nickname=%20", "?nickname=ann&limit=0", "?nickname=ann&limit=x"} {
		s.wantAdmin(t, 400, "GET", "/admin/api/accounts"+q, nil)
	}
}

// TestAdminBanImpact: before a ban, the count of connected accounts it cuts off: an address
// ban takes every connected account from that address, and no other; then the ban does cut
// them off, and the bans list names the operator who made it.
func TestAdminBanImpact(t *testing.T) {
	s := startServerRaw(t, append(behindProxy, withAdmin...)...)
	troll := userFrom(t, s, seedDialect, "Troll", "203.0.113.9")
	second := userFrom(t, s, seedDialect, "Troll2", "203.0.113.9")
	neighbour := userFrom(t, s, seedDialect, "Near", "203.0.113.10")
	userFrom(t, s, seedDialect, "Far", "198.51.100.1")

	impact := func(query string) int64 {
		t.Helper()
		n, _ := s.wantAdmin(t, 200, "GET", "/admin/api/bans/impact?"+query, nil).int("connectedAccounts")
		return n
	}
	if n := impact(fmt.Sprintf("kind=address&accountId=%d", troll.id)); n != 2 {
		t.Errorf("address ban of Troll cuts off %d connected accounts, want 2 (Troll and Troll2)", n)
	}
	if n := impact(fmt.Sprintf("kind=network&accountId=%d", troll.id)); n != 3 {
		t.Errorf("network ban of Troll cuts off %d connected accounts, want 3 (its /24)", n)
	}
	if n := impact(fmt.Sprintf("kind=account&accountId=%d", neighbour.id)); n != 1 {
		t.Errorf("account ban of Near cuts off %d, want 1", n)
	}
	acct := s.wantAdmin(t, 200, "GET", fmt.Sprintf("/admin/api/accounts/%d", troll.id), nil)
	hash := acct.m["client"].(map[string]any)["addr"].(string)
	if n := impact("kind=address&value=" + hash); n != 2 {
		t.Errorf("address ban by hash cuts off %d, want 2", n)
	}
	for _, q := range []string{"kind=address", fmt.Sprintf("kind=bogus&accountId=%d", troll.id), "kind=address&accountId=-1", "kind=address&value=nothex"} {
		s.wantAdmin(t, 400, "GET", "/admin/api/bans/impact?"+q, nil)
	}
	s.wantAdmin(t, 404, "GET", "/admin/api/bans/impact?kind=account&accountId=12345", nil)

	s.wantAdmin(t, 201, "POST", "/admin/api/bans", map[string]any{"kind": "address", "value": hash, "duration": "1h", "reason": "spam", "note": "seen before"})
	for _, c := range []*client{troll, second} {
		wantKicked(t, c)
	}
	bans := s.wantAdmin(t, 200, "GET", "/admin/api/bans", nil)
	wantFields(t, bans, map[string]any{"bans.0.by": "tester", "bans.0.reason": "spam", "bans.0.note": "seen before"})
	for deadline := time.Now().Add(waitTimeout); impact("kind=address&value="+hash) != 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the banned accounts still count as connected")
		}
	}
}
