package moderation

import (
	"context"
	"slices"
	"sync"
	"time"
)

// MemoryStore is the Store of a single node.
type MemoryStore struct {
	mu   sync.Mutex // guards bans
	bans map[int64]Ban
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns a store without bans.
func NewMemoryStore() *MemoryStore { return &MemoryStore{bans: make(map[int64]Ban)} }

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
