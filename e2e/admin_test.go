package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// adminToken is the admin token of the servers these tests start.
const adminToken = "e2e-admin-token-0123456789"

// withAdmin is the flag that turns the admin API on.
var withAdmin = []string{"--admin-token", adminToken}

// admin calls the admin API as operator "tester" and returns the status and the JSON body.
func (s *server) admin(t testing.TB, method, path string, body any) (int, frame) {
	t.Helper()
	return s.adminAs(t, adminToken, "tester", method, path, body)
}

// adminAs calls the admin API with a token and an operator name ("" sends none).
func (s *server) adminAs(t testing.TB, token, operator, method, path string, body any) (int, frame) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, s.httpURL()+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if operator != "" {
		req.Header.Set("X-Duet-Operator", operator)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, parseFrame(data)
}

// wantAdmin calls the admin API and checks the status.
func (s *server) wantAdmin(t testing.TB, want int, method, path string, body any) frame {
	t.Helper()
	status, f := s.admin(t, method, path, body)
	if status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, f)
	}
	return f
}

func TestAdminOff(t *testing.T) {
	s := startServer(t)
	if status, f := s.admin(t, http.MethodGet, "/admin/api/bans", nil); status != http.StatusNotFound {
		t.Errorf("admin API without admin_token: status %d, want 404: %s", status, f)
	}
}

func TestAdminAuth(t *testing.T) {
	// Many wrong tokens on purpose: more than the tries an address gets before it waits.
	s := startServer(t, append([]string{"--admin-token-tries", "1000"}, withAdmin...)...)
	for _, tt := range []struct{ name, token, path string }{
		{"no token", "", "/admin/api/bans"},
		{"wrong token", "e2e-admin-token-0123456780", "/admin/api/bans"},
		{"a prefix of the token", adminToken[:10], "/admin/api/bans"},
		{"an unknown endpoint, no token", "", "/admin/api/secrets"},
	} {
		status, f := s.adminAs(t, tt.token, "tester", http.MethodGet, tt.path, nil)
		if status != http.StatusUnauthorized || f.str("error") == "" {
			t.Errorf("%s: status %d, want 401 with an error message: %s", tt.name, status, f)
		}
	}
	if status, _ := s.admin(t, http.MethodGet, "/admin/api/secrets", nil); status != http.StatusNotFound {
		t.Errorf("an unknown endpoint with the token: status %d, want 404", status)
	}
	// Every endpoint, with a body that would do something: refused, and nothing done.
	a := newUser(t, s, seedDialect, "Ann")
	kick := map[string]any{"reason": "x"}
	for _, call := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/admin/api/stats", nil}, {"GET", "/admin/api/nodes", nil}, {"GET", "/metrics", nil},
		{"GET", "/admin/api/queue", nil}, {"GET", "/admin/api/sessions", nil}, {"GET", "/admin/api/sessions/1", nil},
		{"POST", "/admin/api/sessions/1/end", kick}, {"GET", fmt.Sprint("/admin/api/accounts/", a.id), nil},
		{"POST", fmt.Sprint("/admin/api/accounts/", a.id, "/kick"), kick}, {"GET", "/admin/api/bans", nil},
		{"POST", "/admin/api/bans", map[string]any{"kind": "account", "accountId": a.id, "duration": "1h", "reason": "x"}},
		{"DELETE", "/admin/api/bans/1", kick}, {"GET", "/admin/api/reports", nil}, {"GET", "/admin/api/reports/1", nil},
		{"POST", "/admin/api/reports/1/resolve", map[string]any{"decision": "reject", "note": "x"}},
		{"POST", "/admin/api/broadcast", map[string]any{"text": "hi", "level": "info"}},
		{"GET", "/admin/api/settings", nil}, {"PUT", "/admin/api/settings", map[string]any{"matchingPaused": true, "reason": "x"}},
		{"GET", "/admin/api/audit", nil},
	} {
		status, f := s.adminAs(t, "wrong-token-0123456789", "tester", call.method, call.path, call.body)
		if status != http.StatusUnauthorized {
			t.Errorf("%s %s with a wrong token: status %d, want 401: %s", call.method, call.path, status, f)
		}
	}
	a.expectNone("any effect of a refused call", quiet, anyFrame)
	wantCode(t, a.match(), 4)
}

func TestAdminValidation(t *testing.T) {
	s := startServer(t, withAdmin...)
	a := newUser(t, s, seedDialect, "Ann")
	for _, tt := range []struct {
		name, method, path string
		body               any
		noOperator         bool
		want               int
	}{
		{"ban without duration", "POST", "/admin/api/bans", map[string]any{"kind": "account", "accountId": a.id, "reason": "spam"}, false, 400},
		{"ban for a negative duration", "POST", "/admin/api/bans", map[string]any{"kind": "account", "accountId": a.id, "duration": "-1h", "reason": "spam"}, false, 400},
		{"ban without reason", "POST", "/admin/api/bans", map[string]any{"kind": "account", "accountId": a.id, "duration": "1h"}, false, 400},
		{"ban without operator", "POST", "/admin/api/bans", map[string]any{"kind": "account", "accountId": a.id, "duration": "1h", "reason": "spam"}, true, 400},
		{"ban of an unknown kind", "POST", "/admin/api/bans", map[string]any{"kind": "planet", "accountId": a.id, "duration": "1h", "reason": "spam"}, false, 400},
		{"ban of a malformed hash", "POST", "/admin/api/bans", map[string]any{"kind": "address", "value": "127.0.0.1", "duration": "1h", "reason": "spam"}, false, 400},
		{"ban of an unknown account's address", "POST", "/admin/api/bans", map[string]any{"kind": "address", "accountId": 12345, "duration": "1h", "reason": "spam"}, false, 404},
		{"ban with an unknown field", "POST", "/admin/api/bans", map[string]any{"kind": "account", "accountId": a.id, "duration": "1h", "reason": "spam", "forever": true}, false, 400},
		{"ban that is not JSON", "POST", "/admin/api/bans", "ban them", false, 400},
		{"lift an unknown ban", "DELETE", "/admin/api/bans/42", map[string]any{"reason": "mistake"}, false, 404},
		{"lift with a bad id", "DELETE", "/admin/api/bans/x", map[string]any{"reason": "mistake"}, false, 400},
		{"kick an unknown account", "POST", "/admin/api/accounts/12345/kick", map[string]any{"reason": "x"}, false, 404},
		{"an unknown account", "GET", "/admin/api/accounts/12345", nil, false, 404},
		{"sessions of a malformed account", "GET", "/admin/api/sessions?account=ann", nil, false, 400},
		{"sessions beyond the list limit", "GET", "/admin/api/sessions?limit=5000", nil, false, 400},
		{"an unknown session", "GET", "/admin/api/sessions/12345", nil, false, 404},
		{"end an unknown session", "POST", "/admin/api/sessions/12345/end", map[string]any{"reason": "x"}, false, 404},
		{"broadcast of nothing", "POST", "/admin/api/broadcast", map[string]any{"text": " ", "level": "info"}, false, 400},
		{"broadcast at an unknown level", "POST", "/admin/api/broadcast", map[string]any{"text": "hi", "level": "loud"}, false, 400},
		{"broadcast with two ends", "POST", "/admin/api/broadcast", map[string]any{"text": "hi", "level": "info", "duration": "1h", "until": "2099-01-01T00:00:00Z"}, false, 400},
		{"broadcast that ended", "POST", "/admin/api/broadcast", map[string]any{"text": "hi", "level": "info", "until": "2020-01-01T00:00:00Z"}, false, 400},
		{"broadcast for a month", "POST", "/admin/api/broadcast", map[string]any{"text": "hi", "level": "info", "duration": "720h"}, false, 400},
		{"settings without matchingPaused", "PUT", "/admin/api/settings", map[string]any{"reason": "x"}, false, 400},
		{"audit with a bad limit", "GET", "/admin/api/audit?limit=0", nil, false, 400},
	} {
		operator := "tester"
		if tt.noOperator {
			operator = ""
		}
		status, f := s.adminAs(t, adminToken, operator, tt.method, tt.path, tt.body)
		if status != tt.want || f.str("error") == "" {
			t.Errorf("%s: status %d, want %d with an error message: %s", tt.name, status, tt.want, f)
		}
	}
	// Nothing was done, so nothing was audited, and Ann is still here.
	if f := s.wantAdmin(t, 200, "GET", "/admin/api/audit", nil); len(f.m["entries"].([]any)) != 0 {
		t.Errorf("audit log after refused calls: %s, want empty", f)
	}
	wantCode(t, a.match(), 4) // still connected and served
}

func TestAdminEndSession(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s := startServer(t, withAdmin...)
		a, b := newUser(t, s, d, "Ann"), newUser(t, s, d, "Bob")
		sid := pair(t, a, b)
		a.sayTo(b, sid, "hello")

		f := s.wantAdmin(t, 200, "GET", fmt.Sprintf("/admin/api/sessions/%d", sid), nil)
		wantFields(t, f, map[string]any{"sessionId": sid, "members.0.accountId": b.id, "members.1.nickName": "Ann"})
		f = s.wantAdmin(t, 200, "GET", fmt.Sprintf("/admin/api/sessions?account=%d", b.id), nil)
		if got := f.m["sessions"].([]any); len(got) != 1 {
			t.Errorf("Bob's sessions: %s, want the one with Ann", f)
		}

		s.wantAdmin(t, 204, "POST", fmt.Sprintf("/admin/api/sessions/%d/end", sid), map[string]any{"reason": "abuse seen in reports"})
		for _, c := range []*client{a, b} {
			exit := c.waitSignal("PartnerExit")
			wantFields(t, exit, map[string]any{"sessionId": sid, "data.reason": "removed"})
		}
		r := a.request("DIALOGUE", map[string]any{"requestId": "late", "sessionId": sid, "content": "still there?"})
		wantCode(t, r, 8)
		status, _ := s.admin(t, "POST", fmt.Sprintf("/admin/api/sessions/%d/end", sid), map[string]any{"reason": "again"})
		if status != http.StatusConflict {
			t.Errorf("ending an ended session: status %d, want 409", status)
		}
		entries := s.wantAdmin(t, 200, "GET", "/admin/api/audit", nil).m["entries"].([]any)
		if len(entries) != 1 {
			t.Fatalf("audit entries: %v, want 1", entries)
		}
		e := frame{m: entries[0].(map[string]any)}
		wantFields(t, e, map[string]any{"operator": "tester", "action": "end-session", "target": fmt.Sprint("session:", sid), "reason": "abuse seen in reports"})
	})
}

func TestAdminKick(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s := startServer(t, withAdmin...)
		a, b := newUser(t, s, d, "Ann"), newUser(t, s, d, "Bob")
		sid := pair(t, a, b)
		f := s.wantAdmin(t, 200, "GET", fmt.Sprintf("/admin/api/accounts/%d", a.id), nil)
		node, _ := s.wantAdmin(t, 200, "GET", "/admin/api/nodes", nil).int("nodes.0.node")
		wantFields(t, f, map[string]any{"accountId": a.id, "nickName": "Ann", "connected": true, "node": node})
		if len(f.str("client.addr")) != 32 || len(f.str("client.network")) != 32 || strings.Contains(f.raw, "127.0.0.1") {
			t.Errorf("account view: %s, want the client address as two 32-digit hashes and never the address", f)
		}

		s.wantAdmin(t, 204, "POST", fmt.Sprintf("/admin/api/accounts/%d/kick", a.id), map[string]any{"reason": "calm down"})
		k := a.waitSignal("Kicked")
		wantFields(t, k, map[string]any{"data.reason": "calm down", "data.until": 0})
		a.wantClosed(1008)
		b.waitSignal("PartnerAway")

		// A kick is not a ban: Ann comes back to her chat.
		a2 := dial(t, s, d, "Ann again")
		r := a2.request("RECONNECT", map[string]any{"accountId": a.id, "token": a.token})
		wantCode(t, r, 0)
		wantFields(t, r, map[string]any{"sessions.0.sessionId": sid})
		b.waitSignal("PartnerBack")
	})
}

func TestAdminBroadcast(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s := startServer(t, withAdmin...)
		a := newUser(t, s, d, "Ann")
		anonymous := dial(t, s, d, "no account yet")
		anonymous.sendCmd(d.clientPing(), nil) // speaks its dialect, without an account
		anonymous.waitCmd(d.pong())
		s.wantAdmin(t, 204, "POST", "/admin/api/broadcast", map[string]any{"text": "Maintenance at 22:00 UTC", "level": "warning"})
		for _, c := range []*client{a, anonymous} {
			wantFields(t, c.waitSignal("Notice"), map[string]any{"sessionId": 0, "data.text": "Maintenance at 22:00 UTC", "data.level": "warning"})
		}
	})
}

func TestAdminPauseMatching(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s := startServer(t, withAdmin...)
		a, b := newUser(t, s, d, "Ann"), newUser(t, s, d, "Bob")
		wantCode(t, a.match(), 4)
		f := s.wantAdmin(t, 200, "GET", "/admin/api/queue", nil)
		wantFields(t, f, map[string]any{"waiting.0.accountId": a.id, "waiting.0.nickName": "Ann"})

		f = s.wantAdmin(t, 200, "PUT", "/admin/api/settings", map[string]any{"matchingPaused": true, "reason": "spam wave"})
		wantFields(t, f, map[string]any{"matchingPaused": true})
		r := b.match()
		wantCode(t, r, 10)
		if r.str("msg") == "" {
			t.Errorf("MATCH while paused: %s, want a message", r)
		}
		a.expectNone("NewSession while matching is paused", 1500*time.Millisecond, a.isSignal("NewSession"))

		s.wantAdmin(t, 200, "PUT", "/admin/api/settings", map[string]any{"matchingPaused": false, "reason": "over"})
		wantCode(t, b.match(), 0)
		a.waitSignal("NewSession")
		actions := []string{}
		for _, e := range s.wantAdmin(t, 200, "GET", "/admin/api/audit", nil).m["entries"].([]any) {
			actions = append(actions, e.(map[string]any)["action"].(string))
		}
		if strings.Join(actions, ",") != "resume-matching,pause-matching" {
			t.Errorf("audit actions = %v, want resume-matching, pause-matching (newest first)", actions)
		}
	})
}

// TestAdminReports: two people report the same spammer. The reports come with the server's
// own copy of what was said, rank above a lone complaint, and accepting one with a ban removes
// the spammer.
func TestAdminReports(t *testing.T) {
	s := startServerRaw(t, append(behindProxy, withAdmin...)...)
	spammer := userFrom(t, s, seedDialect, "Spam", "203.0.113.66")
	ann, bob := userFrom(t, s, seedDialect, "Ann", "198.51.100.1"), userFrom(t, s, seedDialect, "Bob", "198.51.100.2")
	cid, dan := userFrom(t, s, seedDialect, "Cid", "198.51.100.3"), userFrom(t, s, seedDialect, "Dan", "198.51.100.4")

	var reportIDs []int64
	for _, victim := range []*client{ann, bob} {
		sid := pair(t, victim, spammer)
		spammer.sayTo(victim, sid, "cheap pills, write to me")
		victim.sayTo(spammer, sid, "no thanks")
		r := victim.request("REPORT", map[string]any{"sessionId": sid, "category": "spam", "note": "ad bot"})
		wantCode(t, r, 0)
		reportIDs = append(reportIDs, wantID(t, r, "reportId"))
		spammer.waitSignal("PartnerExit")
	}
	sid := pair(t, cid, dan)
	wantCode(t, cid.request("REPORT", map[string]any{"sessionId": sid, "category": "harassment"}), 0)

	list := s.wantAdmin(t, 200, "GET", "/admin/api/reports?status=open", nil)
	wantFields(t, list, map[string]any{"reports.0.priority": 2, "reports.1.priority": 2, "reports.2.priority": 1,
		"reports.2.category": "harassment", "reports.0.reportedId": spammer.id})
	if got := s.wantAdmin(t, 200, "GET", "/admin/api/reports?category=harassment", nil).m["reports"].([]any); len(got) != 1 {
		t.Errorf("reports of category harassment: %v, want 1", got)
	}

	one := s.wantAdmin(t, 200, "GET", fmt.Sprint("/admin/api/reports/", reportIDs[0]), nil)
	wantFields(t, one, map[string]any{"reporterId": ann.id, "reporterNickName": "Ann", "reportedNickName": "Spam", "status": "open", "note": "ad bot",
		"evidence.0.senderId": spammer.id, "evidence.0.content": "cheap pills, write to me",
		"evidence.1.senderId": ann.id, "evidence.1.content": "no thanks"})
	for _, path := range []string{"evidence.0.sentAt", "evidence.1.sentAt"} {
		if at, err := time.Parse(time.RFC3339Nano, one.str(path)); err != nil || time.Since(at) > time.Minute {
			t.Errorf("%s = %q, want the server's recent timestamp", path, one.str(path))
		}
	}

	for _, bad := range []map[string]any{
		{"decision": "maybe", "note": "x"},
		{"decision": "reject", "note": "x", "ban": map[string]any{"kind": "account", "duration": "1h"}},
		{"decision": "accept", "note": "x", "ban": map[string]any{"kind": "account", "duration": "forever"}},
		{"decision": "accept", "note": ""},
	} {
		if status, f := s.admin(t, "POST", fmt.Sprint("/admin/api/reports/", reportIDs[0], "/resolve"), bad); status != 400 {
			t.Errorf("resolve with %v: status %d, want 400: %s", bad, status, f)
		}
	}
	res := s.wantAdmin(t, 200, "POST", fmt.Sprint("/admin/api/reports/", reportIDs[0], "/resolve"), map[string]any{
		"decision": "accept", "note": "confirmed ad bot", "ban": map[string]any{"kind": "address", "duration": "72h"},
	})
	wantFields(t, res, map[string]any{"status": "accepted", "resolution.operator": "tester", "resolution.note": "confirmed ad bot"})
	wantKicked(t, spammer)
	wantKicked(t, dialFrom(t, s, seedDialect, "Spam, new nickname", "203.0.113.66"))

	if status, _ := s.admin(t, "POST", fmt.Sprint("/admin/api/reports/", reportIDs[0], "/resolve"), map[string]any{"decision": "reject", "note": "x"}); status != http.StatusConflict {
		t.Errorf("resolving a resolved report: status %d, want 409", status)
	}
	s.wantAdmin(t, 200, "POST", fmt.Sprint("/admin/api/reports/", reportIDs[1], "/resolve"), map[string]any{"decision": "reject", "note": "same bot, handled"})
	if got := s.wantAdmin(t, 200, "GET", "/admin/api/reports?status=open", nil).m["reports"].([]any); len(got) != 1 {
		t.Errorf("open reports after resolving two: %v, want 1", got)
	}
}

// TestAdminStats: the figures an operator watches follow what the clients do, on the API and
// on /metrics.
func TestAdminStats(t *testing.T) {
	s := startServer(t, withAdmin...)
	a, b, c := newUser(t, s, seedDialect, "Ann"), newUser(t, s, seedDialect, "Bob"), newUser(t, s, seedDialect, "Cid")
	sid := pair(t, a, b)
	a.sayTo(b, sid, "one")
	b.sayTo(a, sid, "two")
	wantCode(t, c.match(), 4)
	wantCode(t, c.request("DIALOGUE", map[string]any{"requestId": "x", "sessionId": sid, "content": "not mine"}), 5)

	var st frame
	for deadline := time.Now().Add(waitTimeout); ; time.Sleep(100 * time.Millisecond) {
		// Each node posts its figures every ping interval.
		st = s.wantAdmin(t, 200, "GET", "/admin/api/stats", nil)
		if n, _ := st.int("messagesPerMinute"); n >= 2 || time.Now().After(deadline) {
			break
		}
	}
	wantFields(t, st, map[string]any{"accountsOnline": 3, "connections": 3, "waiting": 1, "liveSessions": 1,
		"messagesPerMinute": 2, "matchesPerMinute": 1, "timeToMatchMs.samples": 2, "matchingPaused": false})
	if nodes := st.m["nodes"].([]any); len(nodes) != 1 {
		t.Errorf("nodes in the stats: %v, want this one", nodes)
	}
	f := s.wantAdmin(t, 200, "GET", "/admin/api/sessions", nil)
	wantFields(t, f, map[string]any{"live": 1, "sessions.0.sessionId": sid})
	// The page's count, public, from the same figures.
	status, online := s.adminAs(t, "", "", "GET", "/online.json", nil)
	if status != 200 {
		t.Fatalf("/online.json: status %d", status)
	}
	wantFields(t, online, map[string]any{"online": 3, "waiting": 1})

	metrics := scrape(t, s)
	for name, want := range map[string]float64{
		"duet_connections": 3, "duet_accounts": 3, "duet_waiting": 1, "duet_live_sessions": 1,
		"duet_messages_total": 2, "duet_matches_total": 1, `duet_replies_total{cmd="DIALOGUE",code="5"}`: 1,
		"duet_time_to_match_seconds_count": 2, "duet_send_to_push_seconds_count": 2,
		`duet_pushes_total{where="local"}`: 3, // NewSession to Ann, then each message
	} {
		if got, ok := metrics[name]; !ok || got != want {
			t.Errorf("/metrics %s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", `duet_replies_total{cmd="CRT_ACCOUNT",code="0"}`} {
		if _, ok := metrics[name]; !ok {
			t.Errorf("/metrics has no %s", name)
		}
	}
	if status, _ := s.adminAs(t, "", "", "GET", "/metrics", nil); status != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: status %d, want 401", status)
	}
}

// scrape reads /metrics in Prometheus's text format into a map from each sample's name (with
// its labels, as written) to its value.
func scrape(t testing.TB, s *server) map[string]float64 {
	t.Helper()
	families := metricFamilies(t, s)
	samples := map[string]float64{}
	for name, fam := range families {
		for _, m := range fam.GetMetric() {
			key := name
			if labels := m.GetLabel(); len(labels) > 0 {
				var parts []string
				for _, l := range labels {
					parts = append(parts, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
				}
				key += "{" + strings.Join(parts, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				samples[key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				samples[key] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				samples[key+"_count"] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return samples
}

// metricFamilies reads a node's /metrics, with the admin token, in Prometheus's text format.
func metricFamilies(t testing.TB, s *server) map[string]*dto.MetricFamily {
	t.Helper()
	req, err := http.NewRequest("GET", s.httpURL()+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: status %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics is not in Prometheus's text format: %v", err)
	}
	return families
}

// TestNoticeLateArrival: a notice carries its end, and a connection that opens while it is
// current is shown it right after the reply to its first request, whatever that is; once it
// has ended, or been replaced, late arrivals see nothing of it.
func TestNoticeLateArrival(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		s := startServer(t, withAdmin...)
		early := newUser(t, s, d, "Ann")
		until := time.Now().Add(10 * time.Minute).Truncate(time.Second).UTC()
		s.wantAdmin(t, 204, "POST", "/admin/api/broadcast", map[string]any{"text": "Maintenance at 22:00 UTC", "level": "warning", "until": until.Format(time.RFC3339)})
		notice := map[string]any{"sessionId": 0, "data.text": "Maintenance at 22:00 UTC", "data.level": "warning", "data.until": until.UnixMilli()}
		wantFields(t, early.waitSignal("Notice"), notice)

		for _, first := range []string{"CRT_ACCOUNT", "PING", "MATCH"} {
			late := dial(t, s, d, "late, starting with "+first)
			switch first {
			case "CRT_ACCOUNT":
				late.createAccount("Bob")
			case "PING":
				late.sendCmd(d.clientPing(), nil)
				late.waitCmd(d.pong())
			case "MATCH": // refused: no account yet; a reply all the same
				wantCode(t, late.request("MATCH", nil), 5)
			}
			f := late.next()
			if !late.isSignal("Notice")(f) {
				t.Fatalf("%s: the frame after the first reply is %s, want the current Notice", late.name, f)
			}
			wantFields(t, f, notice)
			late.expectNone("a second Notice", quiet, late.isSignal("Notice"))
		}

		// A new notice replaces it; a short one ends, and then nobody new is shown anything.
		s.wantAdmin(t, 204, "POST", "/admin/api/broadcast", map[string]any{"text": "Back to normal", "level": "info", "duration": "1s"})
		wantFields(t, early.waitSignal("Notice"), map[string]any{"data.text": "Back to normal"})
		time.Sleep(1100 * time.Millisecond)
		after := dial(t, s, d, "after the end")
		after.createAccount("Cid")
		after.expectNone("a Notice that has ended", quiet, after.isSignal("Notice"))
	})
}
