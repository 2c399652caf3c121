package e2e

import (
	"fmt"
	"testing"
	"time"
)

// These tests restart a single node on the memory engine over the same data_dir: what
// moderation decided must outlive the process, and what has expired must not.

// durableNode returns the flags of a memory-engine node behind the test as its proxy, with the
// admin API, keeping its records in dir.
func durableNode(dir string, flags ...string) []string {
	return append(append([]string{"--engine", "memory", "--data-dir", dir}, append(behindProxy, withAdmin...)...), flags...)
}

// TestModerationSurvivesRestart: an address ban, a report and the audit log are all still there
// after the node restarts, and the banned address is still refused, under a new nickname too.
func TestModerationSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s := startServerRaw(t, durableNode(dir)...)
	troll := userFrom(t, s, seedDialect, "Troll", "203.0.113.9")
	ann := userFrom(t, s, seedDialect, "Ann", "198.51.100.1")
	sid := pair(t, ann, troll)
	troll.sayTo(ann, sid, "you will regret this")
	r := ann.request("REPORT", map[string]any{"sessionId": sid, "category": "harassment", "note": "threats"})
	wantCode(t, r, 0)
	reportID := wantID(t, r, "reportId")
	ban := s.wantAdmin(t, 201, "POST", "/admin/api/bans", map[string]any{
		"kind": "address", "accountId": troll.id, "duration": "24h", "reason": "threats",
	})
	banID := wantID(t, ban, "id")
	wantKicked(t, troll)
	s.stop()

	s = startServerRaw(t, durableNode(dir)...)
	wantKicked(t, dialFrom(t, s, seedDialect, "Troll, back after the restart", "203.0.113.9"))
	wantFields(t, s.wantAdmin(t, 200, "GET", "/admin/api/bans", nil), map[string]any{
		"bans.0.id": banID, "bans.0.target.kind": "address", "bans.0.reason": "threats", "bans.0.until": ban.str("until"),
	})
	wantFields(t, s.wantAdmin(t, 200, "GET", "/admin/api/reports", nil), map[string]any{
		"reports.0.reportId": reportID, "reports.0.reportedId": troll.id, "reports.0.note": "threats", "reports.0.status": "open",
	})
	wantFields(t, s.wantAdmin(t, 200, "GET", fmt.Sprint("/admin/api/reports/", reportID), nil), map[string]any{
		"evidence.0.senderId": troll.id, "evidence.0.content": "you will regret this",
	})
	wantFields(t, s.wantAdmin(t, 200, "GET", "/admin/api/audit", nil), map[string]any{
		"entries.0.operator": "tester", "entries.0.action": "ban", "entries.0.reason": "threats",
	})
	// Others are served as before, and the report can be decided after the restart.
	wantCode(t, userFrom(t, s, seedDialect, "Bob", "198.51.100.2").match(), 4)
	s.wantAdmin(t, 200, "POST", fmt.Sprint("/admin/api/reports/", reportID, "/resolve"), map[string]any{"decision": "accept", "note": "banned already"})
}

// TestExpiredRecordsPurged: a ban that ended and a report past the report retention are gone,
// whether the node ran on or restarted meanwhile, and the address the ban named is let in again.
func TestExpiredRecordsPurged(t *testing.T) {
	dir := t.TempDir()
	flags := durableNode(dir, "--report-retention", "3s")
	s := startServerRaw(t, flags...)
	troll := userFrom(t, s, seedDialect, "Troll", "203.0.113.9")
	ann := userFrom(t, s, seedDialect, "Ann", "198.51.100.1")
	sid := pair(t, ann, troll)
	wantCode(t, ann.request("REPORT", map[string]any{"sessionId": sid, "category": "spam"}), 0)
	s.wantAdmin(t, 201, "POST", "/admin/api/bans", map[string]any{"kind": "address", "accountId": troll.id, "duration": "3s", "reason": "spam"})
	wantKicked(t, troll)
	s.stop()

	s = startServerRaw(t, flags...)
	wantKicked(t, dialFrom(t, s, seedDialect, "Troll, within the ban", "203.0.113.9"))
	if got := s.wantAdmin(t, 200, "GET", "/admin/api/reports", nil).m["reports"].([]any); len(got) != 1 {
		t.Fatalf("reports after a restart, within the retention: %v; want the one filed", got)
	}
	for deadline := time.Now().Add(3*time.Second + waitTimeout); ; time.Sleep(100 * time.Millisecond) {
		bans := s.wantAdmin(t, 200, "GET", "/admin/api/bans", nil).m["bans"].([]any)
		reports := s.wantAdmin(t, 200, "GET", "/admin/api/reports", nil).m["reports"].([]any)
		if len(bans) == 0 && len(reports) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bans %v and reports %v still kept %v after they expired", bans, reports, waitTimeout)
		}
	}
	s.stop()

	s = startServerRaw(t, flags...)
	for _, list := range []string{"bans", "reports"} {
		if f := s.wantAdmin(t, 200, "GET", "/admin/api/"+list, nil); len(f.m[list].([]any)) != 0 {
			t.Errorf("%s after they expired and a restart: %s; want none", list, f)
		}
	}
	wantCode(t, userFrom(t, s, seedDialect, "Troll, after the ban", "203.0.113.9").match(), 4)
}
