package moderation

import (
	"context"
	"slices"
	"sync"
	"time"
)

// MemoryStore is the Store of a single node.
type MemoryStore struct {
	auditSize int

	mu     sync.Mutex // guards the following fields
	bans   map[int64]Ban
	audit  []Entry // oldest first
	paused bool
	mode   string // the challenge mode
	notice Notice
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store whose audit log keeps auditSize entries.
func NewMemoryStore(auditSize int) *MemoryStore {
	return &MemoryStore{auditSize: auditSize, bans: make(map[int64]Ban)}
}

// AddBan implements Store.
func (m *MemoryStore) AddBan(_ context.Context, b Ban) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.prune(b.CreatedAt)
	m.bans[b.ID] = b
	return nil
}

// LiftBan implements Store.
func (m *MemoryStore) LiftBan(_ context.Context, id int64, now time.Time) (Ban, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.bans[id]
	if !ok || !b.Active(now) {
		return Ban{}, ErrNoBan
	}
	delete(m.bans, id)
	return b, nil
}

// Bans implements Store.
func (m *MemoryStore) Bans(_ context.Context, now time.Time) ([]Ban, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.prune(now)
	bans := make([]Ban, 0, len(m.bans))
	for _, b := range m.bans {
		bans = append(bans, b)
	}
	slices.SortFunc(bans, func(a, b Ban) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return bans, nil
}

// FindBan implements Store.
func (m *MemoryStore) FindBan(_ context.Context, now time.Time, targets []Target) (Ban, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var found Ban
	for _, b := range m.bans {
		if b.Active(now) && slices.Contains(targets, b.Target) && b.Until.After(found.Until) {
			found = b
		}
	}
	return found, found.ID != 0, nil
}

// prune forgets the bans that have ended.
func (m *MemoryStore) prune(now time.Time) {
	for id, b := range m.bans {
		if !b.Active(now) {
			delete(m.bans, id)
		}
	}
}

// AddAudit implements Store.
func (m *MemoryStore) AddAudit(_ context.Context, e Entry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.audit = append(m.audit, e)
	if over := len(m.audit) - m.auditSize; over > 0 {
		m.audit = slices.Delete(m.audit, 0, over)
	}
	return nil
}

// Audit implements Store.
func (m *MemoryStore) Audit(_ context.Context, limit int) ([]Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := min(limit, len(m.audit))
	entries := make([]Entry, n)
	for i := range n {
		entries[i] = m.audit[len(m.audit)-1-i]
	}
	return entries, nil
}

// SetMatchingPaused implements Store.
func (m *MemoryStore) SetMatchingPaused(_ context.Context, paused bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.paused = paused
	return nil
}

// MatchingPaused implements Store.
func (m *MemoryStore) MatchingPaused(context.Context) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.paused, nil
}

// SetChallengeMode implements Store.
func (m *MemoryStore) SetChallengeMode(_ context.Context, mode string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mode = mode
	return nil
}

// ChallengeMode implements Store.
func (m *MemoryStore) ChallengeMode(context.Context) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mode, nil
}

// SetNotice implements Store.
func (m *MemoryStore) SetNotice(_ context.Context, n Notice) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.notice = n
	return nil
}

// CurrentNotice implements Store.
func (m *MemoryStore) CurrentNotice(_ context.Context, now time.Time) (Notice, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !now.Before(m.notice.Until) {
		return Notice{}, false, nil
	}
	return m.notice, true, nil
}
