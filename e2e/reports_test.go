package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/duetchat/duet/redisengine/redistest"
)

// reportServer starts a server with the admin API on the suite's engine; on the redis engine it
// also returns the redis-server of its own, whose memory a test may read.
func reportServer(t *testing.T, flags ...string) (*server, *redistest.Server) {
	t.Helper()
	flags = append(append([]string{}, withAdmin...), flags...)
	if os.Getenv(engineEnv) != "redis" {
		return startServer(t, flags...), nil
	}
	r := redistest.Start(t)
	return startServer(t, append(flags, "--engine", "redis", "--redis-url", r.URL())...), r
}

// usedMemory is the memory the redis-server uses, in bytes.
func usedMemory(t *testing.T, r *redistest.Server) int64 {
	t.Helper()
	info, err := r.Command("INFO", "memory")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("used_memory %q: %v", v, err)
			}
			return n
		}
	}
	t.Fatalf("no used_memory in INFO memory: %s", info)
	return 0
}

// reconnected is the account of c on a new connection, which takes it over.
func reconnected(t *testing.T, s *server, c *client) *client {
	t.Helper()
	again := dial(t, s, seedDialect, c.nick)
	wantCode(t, again.request("RECONNECT", map[string]any{"accountId": c.id, "token": c.token}), 0)
	again.id, again.nick, again.token = c.id, c.nick, c.token
	return again
}

// TestReportsCostBounded: two members report their chat 100 times between them, each time on a
// new connection, after a history of 200 messages of 8 KB. They have one report each, the
// evidence is kept once and within its bounds, and Redis grows by kilobytes, not by the 160 MB
// that a copy of the history per report took.
func TestReportsCostBounded(t *testing.T) {
	s, r := reportServer(t)
	ann, bob := newUser(t, s, seedDialect, "Ann"), newUser(t, s, seedDialect, "Bob")
	sid := pair(t, ann, bob)
	long := strings.Repeat("😀", 1996) // with 4 characters more, 7,988 bytes: about the longest message
	var last string
	for i := range 100 {
		ann.say(sid, fmt.Sprintf("a%03d%s", i, long))
		last = fmt.Sprintf("b%03d%s", i, long)
		bob.say(sid, last)
	}
	var before int64
	if r != nil {
		before = usedMemory(t, r)
	}

	ids := map[int64]int64{} // reporter → report
	for i := range 100 {
		c := reconnected(t, s, []*client{ann, bob}[i%2])
		rep := c.request("REPORT", map[string]any{"sessionId": sid, "category": "spam", "note": fmt.Sprint("filing ", i)})
		wantCode(t, rep, 0)
		id := wantID(t, rep, "reportId")
		if first, ok := ids[c.id]; ok && first != id {
			t.Fatalf("REPORT %d by %s: reportId %d, want %d as before", i, c.nick, id, first)
		}
		ids[c.id] = id
	}
	if r != nil {
		grown := usedMemory(t, r) - before
		t.Logf("Redis used_memory grew by %d bytes for 100 REPORTs", grown)
		if grown > 2<<20 {
			t.Errorf("100 REPORTs of one chat grew Redis by %d bytes; want at most 2 MiB", grown)
		}
	}

	list := s.wantAdmin(t, 200, "GET", "/admin/api/reports", nil)
	second, _ := list.int("reports.1.reportId")
	wantFields(t, list, map[string]any{"total": 2, "open": 2, "reports.0.filings": 50, "reports.1.filings": 50,
		"reports.0.otherSideReportId": second})
	if strings.Contains(list.raw, "evidence") {
		t.Errorf("the report list carries evidence: %.300s", list.raw)
	}
	one := s.wantAdmin(t, 200, "GET", fmt.Sprint("/admin/api/reports/", ids[bob.id]), nil)
	wantFields(t, one, map[string]any{"note": "filing 99", "filings": 50, "otherSideReportId": ids[ann.id]})
	evidence := one.m["evidence"].([]any)
	size := 0
	for _, m := range evidence {
		size += len(m.(map[string]any)["content"].(string))
	}
	// evidence_kib (32 KiB) holds the last 4 messages of 7,988 bytes.
	if len(evidence) != 4 || size > 32<<10 || evidence[3].(map[string]any)["content"] != last {
		t.Errorf("evidence: %d messages, %d bytes; want the last 4, within 32 KiB, ending with the last message", len(evidence), size)
	}
}

// TestReportListPaged: with 1,000 reports kept, the list answers a page of them, without
// evidence, and says how many there are and where the next page starts.
func TestReportListPaged(t *testing.T) {
	s, _ := reportServer(t, "--max-reports", "2000")
	long := strings.Repeat("x", 2000)
	for range 500 {
		a, b := newUser(t, s, seedDialect, "Ann"), newUser(t, s, seedDialect, "Bob")
		sid := pair(t, a, b)
		a.say(sid, long)
		wantCode(t, a.request("REPORT", map[string]any{"sessionId": sid, "category": "spam"}), 0)
		wantCode(t, b.request("REPORT", map[string]any{"sessionId": sid, "category": "other"}), 0)
		a.drop()
		b.drop()
	}
	page := s.wantAdmin(t, 200, "GET", "/admin/api/reports", nil)
	wantFields(t, page, map[string]any{"total": 1000, "open": 1000, "nextOffset": 100})
	if n := len(page.m["reports"].([]any)); n != 100 {
		t.Errorf("a page of %d reports; want the default 100", n)
	}
	if strings.Contains(page.raw, "evidence") || len(page.raw) > 100<<10 {
		t.Errorf("the first page is %d bytes, with evidence: %v; want at most 100 KiB, without", len(page.raw), strings.Contains(page.raw, "evidence"))
	}
	lastPage := s.wantAdmin(t, 200, "GET", "/admin/api/reports?group=session&offset=900&limit=100", nil)
	if n := len(lastPage.m["reports"].([]any)); n != 100 || lastPage.has("nextOffset") {
		t.Errorf("the last page holds %d reports, nextOffset %v; want 100 and none", n, lastPage.has("nextOffset"))
	}
	if status, _ := s.admin(t, "GET", "/admin/api/reports?offset=-1", nil); status != 400 {
		t.Errorf("offset -1: status %d, want 400", status)
	}
}

// TestCrossReports: an abuser reports their victim first, from three accounts made on one
// address. The operator sees each of their reports next to the victim's report on the same
// chat, and the victim's priority counts one address, not three accounts.
func TestCrossReports(t *testing.T) {
	s := startServer(t, append(behindProxy, withAdmin...)...)
	victim := userFrom(t, s, seedDialect, "Vic", "198.51.100.20")
	type pairOfReports struct{ abuser, victim int64 }
	var cross []pairOfReports
	for i := range 3 {
		abuser := userFrom(t, s, seedDialect, fmt.Sprint("Mal", i), "203.0.113.50")
		sid := pair(t, victim, abuser)
		abuser.sayTo(victim, sid, "you will regret this")
		r := abuser.request("REPORT", map[string]any{"sessionId": sid, "category": "harassment", "note": "they insulted me"})
		wantCode(t, r, 0)
		victim.waitSignal("PartnerExit")
		// Someone else's report comes in between.
		x, y := userFrom(t, s, seedDialect, "Xan", fmt.Sprint("192.0.2.", 10+i)), userFrom(t, s, seedDialect, "Yul", fmt.Sprint("192.0.2.", 20+i))
		wantCode(t, x.request("REPORT", map[string]any{"sessionId": pair(t, x, y), "category": "spam"}), 0)

		v := victim.request("REPORT", map[string]any{"sessionId": sid, "category": "harassment", "note": "threats"})
		wantCode(t, v, 0)
		cross = append(cross, pairOfReports{wantID(t, r, "reportId"), wantID(t, v, "reportId")})
	}

	list := s.wantAdmin(t, 200, "GET", "/admin/api/reports?group=session", nil)
	reports := list.m["reports"].([]any)
	at := map[int64]int{}
	for i := range reports {
		id, _ := list.int(fmt.Sprint("reports.", i, ".reportId"))
		at[id] = i
	}
	for _, c := range cross {
		if at[c.victim]-at[c.abuser] != 1 && at[c.abuser]-at[c.victim] != 1 {
			t.Errorf("reports %d and %d of one chat at %d and %d of the list; want them side by side", c.abuser, c.victim, at[c.abuser], at[c.victim])
		}
		wantFields(t, list, map[string]any{
			fmt.Sprint("reports.", at[c.abuser], ".otherSideReportId"): c.victim,
			fmt.Sprint("reports.", at[c.victim], ".otherSideReportId"): c.abuser,
			// Three accounts from one address weigh one.
			fmt.Sprint("reports.", at[c.abuser], ".priority"): 1,
		})
		wantFields(t, s.wantAdmin(t, 200, "GET", fmt.Sprint("/admin/api/reports/", c.abuser), nil), map[string]any{
			"otherSideReportId": c.victim, "evidence.0.content": "you will regret this",
		})
	}
}
