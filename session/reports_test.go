package session

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/duetchat/duet"
	"github.com/duetchat/duet/moderation"
)

// TestEvidenceBound: a report keeps the newest messages within both limits, and always the last.
func TestEvidenceBound(t *testing.T) {
	history := make([]Message, 10)
	for i := range history {
		history[i] = Message{ID: int64(i + 1), Content: strings.Repeat("x", 100)}
	}
	for _, tt := range []struct {
		name   string
		limits EvidenceLimits
		want   string
	}{
		{"by count", EvidenceLimits{Messages: 3, Bytes: 10_000}, "[8 9 10]"},
		{"by bytes", EvidenceLimits{Messages: 100, Bytes: 250}, "[9 10]"},
		{"exactly", EvidenceLimits{Messages: 100, Bytes: 300}, "[8 9 10]"},
		{"the last one, however long", EvidenceLimits{Messages: 100, Bytes: 10}, "[10]"},
		{"all", EvidenceLimits{Messages: 100, Bytes: 10_000}, "[1 2 3 4 5 6 7 8 9 10]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var ids []int64
			for _, m := range tt.limits.bound(history) {
				ids = append(ids, m.ID)
			}
			if got := fmt.Sprint(ids); got != tt.want {
				t.Errorf("bound = %s, want %s", got, tt.want)
			}
		})
	}
	if got := (EvidenceLimits{Messages: 5, Bytes: 5}).bound(nil); len(got) != 0 {
		t.Errorf("bound(nil) = %v, want none", got)
	}
}

// TestReportPages: the list ranks by distinct reporter addresses, keeps the two sides of a
// session together with group, and pages without splitting them.
func TestReportPages(t *testing.T) {
	ctx := context.Background()
	store := NewMemoryReports(ReportLimits{Retention: time.Hour, MaxReports: 100}, time.Now)
	svc := NewService(Engines{Reports: store}, nil, nil, time.Now, slog.New(slog.DiscardHandler), Options{})
	hash := moderation.NewHasher(nil)
	at := func(addr string) moderation.Client { return hash.Client(netip.MustParseAddr(addr)) }
	start := time.Now()
	var id int64
	file := func(session, reporter, reported int64, from string) {
		t.Helper()
		id++
		created := start.Add(time.Duration(id) * time.Second)
		r := Report{ID: id, SessionID: session, Reporter: reporter, Reported: reported, ReporterClient: at(from),
			Category: "spam", CreatedAt: created, UpdatedAt: created, Filings: 1, Status: ReportOpen}
		if _, err := store.FileReport(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Account 9 is reported by three accounts from one address (reports 1, 2, 4), and reports
	// one of them back (3, on session 10); account 8 by two people (5, 6).
	file(10, 1, 9, "192.0.2.1")
	file(11, 2, 9, "192.0.2.1")
	file(10, 9, 1, "192.0.2.9")
	file(12, 3, 9, "192.0.2.1")
	file(13, 4, 8, "192.0.2.4")
	file(14, 5, 8, "192.0.2.5")

	ids := func(p ReportPage) string {
		var got []string
		for _, r := range p.Reports {
			got = append(got, fmt.Sprintf("%d:%d", r.ID, r.Priority))
		}
		return strings.Join(got, " ")
	}
	for _, tt := range []struct {
		name string
		q    ReportQuery
		want string // id:priority, in order
		next int
	}{
		{"by priority, then newest", ReportQuery{Limit: 10}, "6:2 5:2 4:1 3:1 2:1 1:1", 0},
		{"grouped", ReportQuery{Limit: 10, BySession: true}, "6:2 5:2 4:1 3:1 1:1 2:1", 0},
		{"a page", ReportQuery{Limit: 2}, "6:2 5:2", 2},
		{"a page that keeps a session whole", ReportQuery{Limit: 4, BySession: true}, "6:2 5:2 4:1 3:1 1:1", 5},
		{"the last page", ReportQuery{Offset: 5, Limit: 4, BySession: true}, "2:1", 0},
		{"past the end", ReportQuery{Offset: 9, Limit: 4}, "", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := svc.Reports(ctx, tt.q)
			if err != nil || ids(p) != tt.want || p.NextOffset != tt.next || p.Total != 6 || p.Open != 6 {
				t.Errorf("Reports(%+v) = %q next %d, total %d, open %d, %v; want %q next %d, total 6, open 6",
					tt.q, ids(p), p.NextOffset, p.Total, p.Open, err, tt.want, tt.next)
			}
		})
	}
	one, err := svc.ReviewReport(ctx, 1)
	if err != nil || one.OtherSide != 3 || one.Priority != 1 {
		t.Errorf("ReviewReport(1) = other side %d, priority %d, %v; want 3 and 1", one.OtherSide, one.Priority, err)
	}
	if _, err := svc.Reports(ctx, ReportQuery{Status: "closed", Limit: 1}); duet.ErrorCode(err) != duet.ParamErr {
		t.Errorf("Reports(status closed) = %v, want ParamErr", err)
	}
}
