package session

import (
	"context"
	"slices"
	"sync"
	"time"
)

// MemoryReports keeps a single node's reports in memory, for the report retention.
type MemoryReports struct {
	retention time.Duration
	now       func() time.Time

	mu      sync.Mutex // guards reports
	reports []Report   // in the order they were added
}

var _ Reports = (*MemoryReports)(nil)

// NewMemoryReports returns an empty report store that keeps reports for retention.
func NewMemoryReports(retention time.Duration, now func() time.Time) *MemoryReports {
	return &MemoryReports{retention: retention, now: now}
}

// AddReport implements Reports.
func (m *MemoryReports) AddReport(_ context.Context, r Report) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pruneLocked()
	m.reports = append(m.reports, r)
	return nil
}

// pruneLocked drops the reports older than the retention.
func (m *MemoryReports) pruneLocked() {
	cutoff := m.now().Add(-m.retention)
	i := 0
	for i < len(m.reports) && m.reports[i].CreatedAt.Before(cutoff) {
		i++
	}
	m.reports = slices.Delete(m.reports, 0, i)
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

// Report implements Reports.
func (m *MemoryReports) Report(_ context.Context, id int64) (Report, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pruneLocked()
	i := slices.IndexFunc(m.reports, func(r Report) bool { return r.ID == id })
	if i < 0 {
		return Report{}, ErrNoReport
	}
	return m.reports[i], nil
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
