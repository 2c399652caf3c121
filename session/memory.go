package session

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"time"
)

// MemoryStore is the Store of a single node.
type MemoryStore struct {
	historySize int
	backlogSize int
	retention   time.Duration
	now         func() time.Time

	mu       sync.RWMutex // guards the following fields; a session's messages have their own lock
	accounts map[int64]*memAccount
	sessions map[int64]*memSession
	ended    []*memSession // ended sessions in order of ending, dropped after the retention
	// presenceResumed is the latest time that presence resumed after the store failed.
	presenceResumed time.Time
}

type memAccount struct {
	Account
	live    map[int64]*memSession
	backlog []Push
	node    int64 // the node its pushes are routed to, while routed
	routed  bool
}

// requestKey names a sender's requestId: two members may well use the same ones.
type requestKey struct {
	sender int64
	id     string
}

type memSession struct {
	mu sync.Mutex // guards the following fields; Session.EndedAt is written under both locks
	Session
	history  ring
	requests map[requestKey]int64 // → msgId, for the messages still in history
}

// MemoryOptions sizes a MemoryStore.
type MemoryOptions struct {
	HistorySize int           // messages kept per session
	BacklogSize int           // pushes kept per away account
	Retention   time.Duration // how long an ended session stays readable
	Now         func() time.Time
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store.
func NewMemoryStore(o MemoryOptions) *MemoryStore {
	return &MemoryStore{
		historySize: o.HistorySize, backlogSize: o.BacklogSize, retention: o.Retention, now: o.Now,
		accounts: make(map[int64]*memAccount), sessions: make(map[int64]*memSession),
	}
}

// errAccountTaken means an account was created with an id already in use.
var errAccountTaken = errors.New("session: account id already in use")

// Ping implements Store.
func (m *MemoryStore) Ping(context.Context) error { return nil }

// CreateAccount implements Store.
func (m *MemoryStore) CreateAccount(_ context.Context, a Account) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.accounts[a.ID]; ok {
		return errAccountTaken
	}
	m.accounts[a.ID] = &memAccount{Account: a, live: make(map[int64]*memSession)}
	return nil
}

// Account implements Store.
func (m *MemoryStore) Account(_ context.Context, id int64) (Account, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	a, ok := m.accounts[id]
	if !ok {
		return Account{}, ErrNoAccount
	}
	return a.view(), nil
}

// view is the account as Store returns it.
func (a *memAccount) view() Account {
	acct := a.Account
	acct.Connected, acct.Node = a.routed, a.node
	return acct
}

// FindAccounts implements Store.
func (m *MemoryStore) FindAccounts(_ context.Context, keep func(Account) bool, limit int) ([]Account, int, error) {
	m.mu.RLock()
	var found []Account
	for _, a := range m.accounts {
		if acct := a.view(); keep(acct) {
			found = append(found, acct)
		}
	}
	m.mu.RUnlock()
	return LastSeenFirst(found, limit), len(found), nil
}

// LastSeenFirst sorts accounts by when they were last seen, newest first, and returns the first
// limit of them.
func LastSeenFirst(accounts []Account, limit int) []Account {
	slices.SortFunc(accounts, func(a, b Account) int {
		if c := b.LastSeen.Compare(a.LastSeen); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return accounts[:min(limit, len(accounts))]
}

// DeleteAccount implements Store.
func (m *MemoryStore) DeleteAccount(_ context.Context, id int64) ([]Session, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.accounts[id]
	if !ok {
		return nil, false, nil
	}
	delete(m.accounts, id)
	return snapshot(a.live), true, nil
}

// Seen implements Store.
func (m *MemoryStore) Seen(_ context.Context, seen map[int64]time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, t := range seen {
		if a, ok := m.accounts[id]; ok && t.After(a.LastSeen) {
			a.LastSeen = t
		}
	}
	return nil
}

// ResumePresence implements Store.
func (m *MemoryStore) ResumePresence(_ context.Context, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if at.After(m.presenceResumed) {
		m.presenceResumed = at
	}
	return nil
}

// SetAway implements Store.
func (m *MemoryStore) SetAway(_ context.Context, id int64, away bool) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.accounts[id]
	if !ok || a.Away == away {
		return false, nil
	}
	a.Away = away
	return true, nil
}

// Lapsed implements Store.
func (m *MemoryStore) Lapsed(_ context.Context, cutoff time.Time) ([]int64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if !m.presenceResumed.Before(cutoff) {
		return nil, nil
	}
	var ids []int64
	for id, a := range m.accounts {
		if a.LastSeen.Before(cutoff) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// CreateSession implements Store.
func (m *MemoryStore) CreateSession(_ context.Context, s Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.purgeLocked()
	for _, mem := range s.Members {
		if _, ok := m.accounts[mem.ID]; !ok {
			return ErrNoAccount
		}
	}
	ms := &memSession{Session: s, history: newRing(m.historySize), requests: make(map[requestKey]int64)}
	m.sessions[s.ID] = ms
	for _, mem := range s.Members {
		m.accounts[mem.ID].live[s.ID] = ms
	}
	return nil
}

// Session implements Store.
func (m *MemoryStore) Session(_ context.Context, id int64) (Session, error) {
	ms, err := m.session(id)
	if err != nil {
		return Session{}, err
	}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return ms.Session, nil
}

// LiveSessions implements Store.
func (m *MemoryStore) LiveSessions(_ context.Context, accountID int64) ([]Session, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	a, ok := m.accounts[accountID]
	if !ok {
		return nil, ErrNoAccount
	}
	return snapshot(a.live), nil
}

// snapshot copies sessions, oldest first.
func snapshot(live map[int64]*memSession) []Session {
	sessions := make([]Session, 0, len(live))
	for _, ms := range live {
		ms.mu.Lock()
		sessions = append(sessions, ms.Session)
		ms.mu.Unlock()
	}
	slices.SortFunc(sessions, func(a, b Session) int { return a.StartedAt.Compare(b.StartedAt) })
	return sessions
}

// EndSession implements Store.
func (m *MemoryStore) EndSession(_ context.Context, id int64, reason string, at time.Time) (Session, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ms, ok := m.sessions[id]
	if !ok {
		return Session{}, false, ErrNoSession
	}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if !ms.Live() {
		return ms.Session, false, nil
	}
	ms.EndedAt, ms.EndReason = at, reason
	for _, mem := range ms.Members {
		if a, ok := m.accounts[mem.ID]; ok {
			delete(a.live, id)
		}
	}
	m.ended = append(m.ended, ms)
	m.purgeLocked()
	return ms.Session, true, nil
}

// AllLive implements Store.
func (m *MemoryStore) AllLive(_ context.Context, limit int) ([]Session, int, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var live []Session
	count := 0
	for _, ms := range m.sessions {
		ms.mu.Lock()
		if ms.Live() {
			count++
			if limit > 0 { // a count alone, asked every ping interval, copies nothing
				live = append(live, ms.Session)
			}
		}
		ms.mu.Unlock()
	}
	if limit <= 0 {
		return nil, count, nil
	}
	slices.SortFunc(live, func(a, b Session) int { return b.StartedAt.Compare(a.StartedAt) })
	return live[:min(limit, len(live))], len(live), nil
}

// purgeLocked drops the sessions that ended more than the retention ago.
func (m *MemoryStore) purgeLocked() {
	cutoff := m.now().Add(-m.retention)
	n := 0
	for n < len(m.ended) && m.ended[n].EndedAt.Before(cutoff) {
		delete(m.sessions, m.ended[n].ID)
		n++
	}
	m.ended = slices.Delete(m.ended, 0, n)
}

// session returns a live session or one ended within the retention. One ended longer ago is
// gone for readers at once, though its memory is freed only at the next purge.
func (m *MemoryStore) session(id int64) (*memSession, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	ms, ok := m.sessions[id]
	// EndedAt is written under m.mu too; the rest of the session needs ms.mu.
	if !ok || (!ms.EndedAt.IsZero() && ms.EndedAt.Before(m.now().Add(-m.retention))) {
		return nil, ErrNoSession
	}
	return ms, nil
}

// AppendMessage implements Store.
func (m *MemoryStore) AppendMessage(_ context.Context, msg Message) (Appended, error) {
	ms, err := m.session(msg.SessionID)
	if err != nil {
		return Appended{}, err
	}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	partner, ok := ms.Partner(msg.SenderID)
	if !ok {
		return Appended{}, ErrNotMember
	}
	if !ms.Live() {
		return Appended{}, ErrEnded
	}
	if msg.RequestID != "" {
		if id, ok := ms.requests[requestKey{msg.SenderID, msg.RequestID}]; ok {
			first, _ := ms.history.find(id)
			return Appended{Message: first, Partner: partner.ID, Duplicate: true}, nil
		}
	}
	if msg.ID <= ms.LastMsgID {
		msg.ID = ms.LastMsgID + 1
	}
	ms.LastMsgID = msg.ID
	if evicted, ok := ms.history.push(msg); ok && evicted.RequestID != "" {
		delete(ms.requests, requestKey{evicted.SenderID, evicted.RequestID})
	}
	if msg.RequestID != "" {
		ms.requests[requestKey{msg.SenderID, msg.RequestID}] = msg.ID
	}
	return Appended{Message: msg, Partner: partner.ID}, nil
}

// Messages implements Store.
func (m *MemoryStore) Messages(_ context.Context, sessionID, afterMsgID int64) ([]Message, bool, error) {
	ms, err := m.session(sessionID)
	if err != nil {
		return nil, false, err
	}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	msgs := ms.history.after(afterMsgID)
	return msgs, afterMsgID >= ms.history.dropped, nil
}

// Acknowledge implements Store.
func (m *MemoryStore) Acknowledge(_ context.Context, sessionID, reader, msgID int64, viewed bool) (Receipt, error) {
	ms, err := m.session(sessionID)
	if err != nil {
		return Receipt{}, err
	}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	side := ms.side(reader)
	if side < 0 {
		return Receipt{}, ErrNotMember
	}
	if !ms.Live() {
		return Receipt{}, ErrEnded
	}
	if msgID > ms.LastMsgID {
		return Receipt{}, ErrNoMessage
	}
	r := Receipt{Partner: ms.Members[1-side].ID}
	if msgID > ms.Delivered[side] {
		ms.Delivered[side], r.Delivered = msgID, true
	}
	if viewed && msgID > ms.Viewed[side] {
		ms.Viewed[side], r.Viewed = msgID, true
	}
	return r, nil
}

// AppendBacklog implements Store.
func (m *MemoryStore) AppendBacklog(_ context.Context, accountID int64, ps ...Push) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a, ok := m.accounts[accountID]; ok {
		m.appendBacklogLocked(a, ps)
	}
	return nil
}

func (m *MemoryStore) appendBacklogLocked(a *memAccount, ps []Push) {
	a.backlog = append(a.backlog, ps...)
	if over := len(a.backlog) - m.backlogSize; over > 0 {
		a.backlog = slices.Delete(a.backlog, 0, over)
	}
}

// Claim implements Store.
func (m *MemoryStore) Claim(_ context.Context, accountID, node int64) ([]Push, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.accounts[accountID]
	if !ok {
		return nil, nil
	}
	a.node, a.routed = node, true
	b := a.backlog
	a.backlog = nil
	return b, nil
}

// Release implements Store.
func (m *MemoryStore) Release(_ context.Context, accountID, node int64, pending []Push) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.accounts[accountID]
	if !ok {
		return false, nil
	}
	held := a.routed && a.node == node
	if held {
		a.routed = false
	}
	m.appendBacklogLocked(a, pending)
	return held, nil
}

// ring is a session's bounded history, oldest first. Its buffer grows with the history up to
// size, so that a quiet session costs little.
type ring struct {
	buf     []Message
	size    int
	head    int   // index of the oldest message; 0 until the ring is full
	n       int   // messages held
	dropped int64 // msgId of the newest message that fell out, 0 if none
}

func newRing(size int) ring { return ring{size: size} }

// push appends m and returns the message it evicted, if the ring was full.
func (r *ring) push(m Message) (Message, bool) {
	if r.n < r.size {
		if len(r.buf) == cap(r.buf) {
			grown := make([]Message, len(r.buf), min(max(2*len(r.buf), 8), r.size))
			copy(grown, r.buf)
			r.buf = grown
		}
		r.buf = append(r.buf, m)
		r.n++
		return Message{}, false
	}
	evicted := r.buf[r.head]
	r.buf[r.head] = m
	r.head = (r.head + 1) % len(r.buf)
	r.dropped = evicted.ID
	return evicted, true
}

func (r *ring) at(i int) Message { return r.buf[(r.head+i)%len(r.buf)] }

// after returns the held messages with an id above id, in order.
func (r *ring) after(id int64) []Message {
	start := sort.Search(r.n, func(j int) bool { return r.at(j).ID > id })
	out := make([]Message, 0, r.n-start)
	for j := start; j < r.n; j++ {
		out = append(out, r.at(j))
	}
	return out
}

// find returns the held message with the given id.
func (r *ring) find(id int64) (Message, bool) {
	j := sort.Search(r.n, func(j int) bool { return r.at(j).ID >= id })
	if j < r.n && r.at(j).ID == id {
		return r.at(j), true
	}
	return Message{}, false
}
