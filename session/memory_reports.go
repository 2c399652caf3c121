package session

import (
	"context"
	"slices"
	"sync"
	"time"
)

// MemoryReports keeps a single node's reports in memory, within its ReportLimits.
type MemoryReports struct {
	limits ReportLimits
	now    func() time.Time

	mu       sync.Mutex          // guards the following fields
	reports  []Report            // without evidence, in the order they were first filed
	evidence map[int64][]Message // by session, while a report of it is kept
}

var _ Reports = (*MemoryReports)(nil)

// NewMemoryReports returns an empty report store within limits.
func NewMemoryReports(limits ReportLimits, now func() time.Time) *MemoryReports {
	return &MemoryReports{limits: limits, now: now, evidence: make(map[int64][]Message)}
}

// FileReport implements Reports.
func (m *MemoryReports) FileReport(_ context.Context, r Report, evidence []Message) (Report, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pruneLocked()
	i := slices.IndexFunc(m.reports, func(k Report) bool { return k.SessionID == r.SessionID && k.Reporter == r.Reporter })
	if i >= 0 {
		m.reports[i].Refile(r)
		return m.reports[i], nil
	}
	for len(m.reports) >= m.limits.MaxReports {
		m.dropLocked(oldestResolved(m.reports))
	}
	r.Evidence = nil
	m.reports = append(m.reports, r)
	if _, ok := m.evidence[r.SessionID]; !ok {
		m.evidence[r.SessionID] = slices.Clone(evidence)
	}
	return r, nil
}

// oldestResolved is the index of the report that makes room in a full store: the oldest
// resolved one, or the oldest if all are open.
func oldestResolved(oldestFirst []Report) int {
	for i, r := range oldestFirst {
		if r.Status != ReportOpen {
			return i
		}
	}
	return 0
}

// pruneLocked drops the reports older than the retention.
func (m *MemoryReports) pruneLocked() {
	cutoff := m.now().Add(-m.limits.Retention)
	for len(m.reports) > 0 && m.reports[0].CreatedAt.Before(cutoff) {
		m.dropLocked(0)
	}
}

// dropLocked drops the i-th report, and its session's evidence with the session's last report.
func (m *MemoryReports) dropLocked(i int) {
	sessionID := m.reports[i].SessionID
	m.reports = slices.Delete(m.reports, i, i+1)
	if !slices.ContainsFunc(m.reports, func(r Report) bool { return r.SessionID == sessionID }) {
		delete(m.evidence, sessionID)
	}
}

// Reports implements Reports.
func (m *MemoryReports) Reports(context.Context) ([]Report, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pruneLocked()
	reports := slices.Clone(m.reports)
	slices.Reverse(reports)
	return reports, nil
}

// OpenReports implements Reports.
func (m *MemoryReports) OpenReports(context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pruneLocked()
	n := 0
	for _, r := range m.reports {
		if r.Status == ReportOpen {
			n++
		}
	}
	return n, nil
}

// Report implements Reports.
func (m *MemoryReports) Report(_ context.Context, id int64) (Report, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pruneLocked()
	i := slices.IndexFunc(m.reports, func(r Report) bool { return r.ID == id })
	if i < 0 {
		return Report{}, ErrNoReport
	}
	r := m.reports[i]
	r.Evidence = slices.Clone(m.evidence[r.SessionID])
	return r, nil
}

// ResolveReport implements Reports.
func (m *MemoryReports) ResolveReport(_ context.Context, id int64, status string, res Resolution) (Report, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pruneLocked()
	i := slices.IndexFunc(m.reports, func(r Report) bool { return r.ID == id })
	switch {
	case i < 0:
		return Report{}, ErrNoReport
	case m.reports[i].Status != ReportOpen:
		return Report{}, ErrResolved
	}
	m.reports[i].Status, m.reports[i].Resolution = status, &res
	return m.reports[i], nil
}
