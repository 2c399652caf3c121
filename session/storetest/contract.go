// Package storetest is the contract every session.Store and session.Reports engine must meet, as
// test suites that each engine's tests run against a fresh store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/duetchat/duet"
	"github.com/duetchat/duet/moderation"
	"github.com/duetchat/duet/session"
)

// Sizes of the stores under test.
const (
	HistorySize = 5
	BacklogSize = 3
	Retention   = 300 * time.Millisecond
)

// Run runs the contract of session.Store against stores made by newStore, each holding
// HistorySize messages per session and BacklogSize pushes per account, and keeping ended
// sessions for Retention.
func Run(t *testing.T, newStore func(t *testing.T) session.Store) {
	tests := []struct {
		name string
		test func(t *testing.T, s session.Store)
	}{
		{"Accounts", accounts},
		{"Presence", presence},
		{"SeenMany", seenMany},
		{"Sessions", sessions},
		{"EndOnce", endOnce},
		{"AllLive", allLive},
		{"FindAccounts", findAccounts},
		{"Messages", messages},
		{"MessageErrors", messageErrors},
		{"History", history},
		{"ConcurrentSenders", concurrentSenders},
		{"Receipts", receipts},
		{"Backlog", backlog},
		{"ClaimRelease", claimRelease},
		{"Retention", retention},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.test(t, newStore(t)) })
	}
}

// ReportLimits are the limits of the report stores under test.
var ReportLimits = session.ReportLimits{Retention: Retention, MaxReports: 4}

// RunReports runs the contract of session.Reports against stores made by newReports, each
// within ReportLimits.
func RunReports(t *testing.T, newReports func(t *testing.T) session.Reports) {
	tests := []struct {
		name string
		test func(t *testing.T, s session.Reports)
	}{
		{"Reports", reports},
		{"Refile", refile},
		{"ReportsFull", reportsFull},
		{"ReportRetention", reportRetention},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.test(t, newReports(t)) })
	}
}

var ctx = context.Background()

func clientOf(id int64) moderation.Client {
	return moderation.NewHasher(nil).Client(netip.AddrFrom4([4]byte{192, 0, 2, byte(id)}))
}

func account(t *testing.T, s session.Store, id int64) session.Account {
	t.Helper()
	a := session.Account{ID: id, Nickname: fmt.Sprint("n", id), CreatedAt: time.Now(), LastSeen: time.Now(), Client: clientOf(id)}
	if err := s.CreateAccount(ctx, a); err != nil {
		t.Fatalf("CreateAccount(%d): %v", id, err)
	}
	return a
}

// pair creates accounts a and b and a live session id between them.
func pair(t *testing.T, s session.Store, id, a, b int64) session.Session {
	t.Helper()
	account(t, s, a)
	account(t, s, b)
	sess := session.Session{ID: id, Members: [2]session.Member{{ID: a, Nickname: "a", Client: clientOf(a)}, {ID: b, Nickname: "b"}}, StartedAt: time.Now(), CommonInterests: []string{"go"}}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return sess
}

func wantCode(t *testing.T, what string, err error, want duet.Code) {
	t.Helper()
	if got := duet.ErrorCode(err); got != want {
		t.Errorf("%s: code %d (%v), want %d", what, got, err, want)
	}
}

func accounts(t *testing.T, s session.Store) {
	a := account(t, s, 1)
	got, err := s.Account(ctx, 1)
	if err != nil || got.Nickname != a.Nickname || got.TokenHash != a.TokenHash || got.Client != a.Client {
		t.Fatalf("Account(1) = %+v, %v, want %+v", got, err, a)
	}
	_, err = s.Account(ctx, 2)
	wantCode(t, "Account(unknown)", err, duet.NoDataFound)
	if _, deleted, err := s.DeleteAccount(ctx, 1); !deleted || err != nil {
		t.Fatalf("DeleteAccount(1) = %v, %v, want deleted", deleted, err)
	}
	if _, deleted, _ := s.DeleteAccount(ctx, 1); deleted {
		t.Error("second DeleteAccount(1) deleted again")
	}
	_, err = s.Account(ctx, 1)
	wantCode(t, "Account(deleted)", err, duet.NoDataFound)
}

func presence(t *testing.T, s session.Store) {
	account(t, s, 1)
	account(t, s, 2)
	old := time.Now().Add(-time.Hour)
	if err := s.Seen(ctx, map[int64]time.Time{1: time.Now().Add(time.Minute), 99: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := s.Seen(ctx, map[int64]time.Time{1: old}); err != nil { // never moves back
		t.Fatal(err)
	}
	lapsed, err := s.Lapsed(ctx, time.Now().Add(time.Second))
	if err != nil || len(lapsed) != 1 || lapsed[0] != 2 {
		t.Errorf("Lapsed = %v, %v, want [2]", lapsed, err)
	}
	// After an outage, silence before the latest resumption counts against nobody.
	resumed := time.Now().Add(10 * time.Second)
	for _, at := range []time.Time{resumed, old} { // never moves back
		if err := s.ResumePresence(ctx, at); err != nil {
			t.Fatal(err)
		}
	}
	for cutoff, want := range map[time.Time]int{resumed.Add(-time.Second): 0, resumed: 0, resumed.Add(time.Millisecond): 1} {
		if lapsed, err := s.Lapsed(ctx, cutoff); err != nil || len(lapsed) != want {
			t.Errorf("Lapsed(%v after presence resumed) = %v, %v, want %d accounts", cutoff.Sub(resumed), lapsed, err, want)
		}
	}
	for _, step := range []struct {
		away, changed bool
	}{{true, true}, {true, false}, {false, true}, {false, false}} {
		if changed, err := s.SetAway(ctx, 1, step.away); changed != step.changed || err != nil {
			t.Errorf("SetAway(%v) = %v, %v, want %v", step.away, changed, err, step.changed)
		}
	}
}

// seenMany reports many accounts at once, as a node's heartbeat does.
func seenMany(t *testing.T, s session.Store) {
	const n = 600
	later := time.Now().Add(time.Hour)
	seen := make(map[int64]time.Time, n)
	for id := int64(1); id <= n; id++ {
		account(t, s, id)
		seen[id] = later
	}
	if err := s.Seen(ctx, seen); err != nil {
		t.Fatal(err)
	}
	if lapsed, err := s.Lapsed(ctx, later.Add(-time.Minute)); err != nil || len(lapsed) != 0 {
		t.Errorf("Lapsed before the sightings = %d accounts, %v, want none", len(lapsed), err)
	}
	if lapsed, _ := s.Lapsed(ctx, later.Add(time.Minute)); len(lapsed) != n {
		t.Errorf("Lapsed after the sightings = %d accounts, want %d", len(lapsed), n)
	}
}

func sessions(t *testing.T, s session.Store) {
	sess := pair(t, s, 10, 1, 2)
	got, err := s.Session(ctx, 10)
	if err != nil || got.Members != sess.Members || !got.Live() || fmt.Sprint(got.CommonInterests) != "[go]" {
		t.Fatalf("Session(10) = %+v, %v, want %+v", got, err, sess)
	}
	live, err := s.LiveSessions(ctx, 2)
	if err != nil || len(live) != 1 || live[0].ID != 10 {
		t.Fatalf("LiveSessions(2) = %v, %v, want [10]", live, err)
	}
	err = s.CreateSession(ctx, session.Session{ID: 11, Members: [2]session.Member{{ID: 1}, {ID: 99}}})
	wantCode(t, "CreateSession with a missing member", err, duet.NoDataFound)
	_, err = s.Session(ctx, 11)
	wantCode(t, "Session(11)", err, duet.NoDataFound)

	ended, ok, err := s.EndSession(ctx, 10, session.ReasonLeft, time.Now())
	if err != nil || !ok || ended.Live() || ended.EndReason != session.ReasonLeft {
		t.Fatalf("EndSession = %+v, %v, %v", ended, ok, err)
	}
	if live, _ := s.LiveSessions(ctx, 1); len(live) != 0 {
		t.Errorf("LiveSessions after end = %v, want none", live)
	}
	if got, err := s.Session(ctx, 10); err != nil || got.Live() {
		t.Errorf("ended Session(10) = %+v, %v, want it readable and ended", got, err)
	}
	_, _, err = s.EndSession(ctx, 12, session.ReasonLeft, time.Now())
	wantCode(t, "EndSession(unknown)", err, duet.NoDataFound)
}

// endOnce has many end one session at once: exactly one of them ends it.
func endOnce(t *testing.T, s session.Store) {
	pair(t, s, 10, 1, 2)
	var wg sync.WaitGroup
	var mu sync.Mutex
	enders := 0
	for range 20 {
		wg.Go(func() {
			_, ended, err := s.EndSession(ctx, 10, session.ReasonTimeout, time.Now())
			if err != nil {
				t.Error(err)
			}
			if ended {
				mu.Lock()
				enders++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if enders != 1 {
		t.Errorf("%d calls ended the session, want 1", enders)
	}
}

func appendMsg(t *testing.T, s session.Store, m session.Message) session.Appended {
	t.Helper()
	res, err := s.AppendMessage(ctx, m)
	if err != nil {
		t.Fatalf("AppendMessage(%+v): %v", m, err)
	}
	if want := session.DialoguePush(res.Message); res.Push.Cmd != "" && (res.Push.Cmd != want.Cmd || string(res.Push.Body) != string(want.Body)) {
		t.Fatalf("AppendMessage(%+v) has the push %s %s, want %s %s", m, res.Push.Cmd, res.Push.Body, want.Cmd, want.Body)
	}
	return res
}

func messages(t *testing.T, s session.Store) {
	pair(t, s, 10, 1, 2)
	first := appendMsg(t, s, session.Message{ID: 100, SessionID: 10, SenderID: 1, Content: "hi", SentAt: time.Now(), RequestID: "r1"})
	if first.Partner != 2 || first.Duplicate || first.Message.ID != 100 {
		t.Fatalf("first append = %+v, want id 100 for partner 2", first)
	}
	// An id at or below the last one is moved past it: ids strictly increase in a session.
	second := appendMsg(t, s, session.Message{ID: 50, SessionID: 10, SenderID: 2, Content: "hey", SentAt: time.Now(), RequestID: "r1"})
	if second.Message.ID != 101 || second.Partner != 1 || second.Duplicate {
		t.Fatalf("second append = %+v, want id 101: a requestId is the sender's own", second)
	}
	dup := appendMsg(t, s, session.Message{ID: 200, SessionID: 10, SenderID: 1, Content: "hi again", RequestID: "r1"})
	if !dup.Duplicate || dup.Message.ID != 100 || dup.Message.Content != "hi" {
		t.Fatalf("resend = %+v, want the first message as a duplicate", dup)
	}
	got, _ := s.Session(ctx, 10)
	if got.LastMsgID != 101 {
		t.Errorf("LastMsgID = %d, want 101", got.LastMsgID)
	}
}

func messageErrors(t *testing.T, s session.Store) {
	pair(t, s, 10, 1, 2)
	account(t, s, 3)
	_, err := s.AppendMessage(ctx, session.Message{ID: 1, SessionID: 10, SenderID: 3, Content: "x"})
	wantCode(t, "append by a stranger", err, duet.Unauthorized)
	_, err = s.AppendMessage(ctx, session.Message{ID: 1, SessionID: 11, SenderID: 1, Content: "x"})
	wantCode(t, "append to an unknown session", err, duet.NoDataFound)
	if _, _, err := s.EndSession(ctx, 10, session.ReasonLeft, time.Now()); err != nil {
		t.Fatal(err)
	}
	_, err = s.AppendMessage(ctx, session.Message{ID: 1, SessionID: 10, SenderID: 1, Content: "x"})
	wantCode(t, "append to an ended session", err, duet.SessionEnded)
	if msgs, _, _ := s.Messages(ctx, 10, 0); len(msgs) != 0 {
		t.Errorf("messages after failed appends = %v, want none", msgs)
	}
}

func history(t *testing.T, s session.Store) {
	pair(t, s, 10, 1, 2)
	for i := int64(1); i <= HistorySize+2; i++ {
		appendMsg(t, s, session.Message{ID: i, SessionID: 10, SenderID: 1 + i%2, Content: fmt.Sprint(i), RequestID: fmt.Sprint("r", i)})
	}
	msgs, complete, err := s.Messages(ctx, 10, 4)
	if err != nil || !complete || len(msgs) != 3 || msgs[0].ID != 5 || msgs[2].ID != 7 || msgs[0].Content != "5" {
		t.Fatalf("Messages(after 4) = %v, %v, %v, want 5..7 complete", msgs, complete, err)
	}
	msgs, complete, _ = s.Messages(ctx, 10, 1)
	if complete || len(msgs) != HistorySize || msgs[0].ID != 3 {
		t.Fatalf("Messages(after 1) = %v, complete %v, want 3..7 incomplete", msgs, complete)
	}
	if msgs, complete, _ = s.Messages(ctx, 10, 2); !complete || len(msgs) != HistorySize {
		t.Errorf("Messages(after 2) = %v, complete %v, want 3..7 complete", msgs, complete)
	}
	// A requestId whose message left the history is forgotten with it.
	if res := appendMsg(t, s, session.Message{ID: 8, SessionID: 10, SenderID: 2, Content: "again", RequestID: "r1"}); res.Duplicate {
		t.Errorf("resend of a forgotten requestId = %+v, want a new message", res)
	}
}

// concurrentSenders has both members send at once: every message is stored once, in id order.
func concurrentSenders(t *testing.T, s session.Store) {
	pair(t, s, 10, 1, 2)
	const each = 50
	var wg sync.WaitGroup
	for _, sender := range []int64{1, 2} {
		wg.Go(func() {
			for i := range each {
				if _, err := s.AppendMessage(ctx, session.Message{ID: 1, SessionID: 10, SenderID: sender, Content: "x", RequestID: fmt.Sprint(i)}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	got, _ := s.Session(ctx, 10)
	if got.LastMsgID != 2*each {
		t.Errorf("LastMsgID = %d, want %d", got.LastMsgID, 2*each)
	}
}

// receipts moves the delivered and read watermarks: each only forward, viewing moves both, and
// the session carries them for a member who comes back.
func receipts(t *testing.T, s session.Store) {
	pair(t, s, 10, 1, 2)
	for i := int64(1); i <= 4; i++ {
		appendMsg(t, s, session.Message{ID: i, SessionID: 10, SenderID: 1, Content: "x"})
	}
	for _, step := range []struct {
		reader, msgID   int64
		viewed          bool
		want            session.Receipt
		code            duet.Code
		delivered, seen [2]int64 // the watermarks afterwards
	}{
		{2, 2, false, session.Receipt{Partner: 1, Delivered: true}, duet.OK, [2]int64{0, 2}, [2]int64{0, 0}},
		{2, 1, false, session.Receipt{Partner: 1}, duet.OK, [2]int64{0, 2}, [2]int64{0, 0}},
		{2, 2, false, session.Receipt{Partner: 1}, duet.OK, [2]int64{0, 2}, [2]int64{0, 0}},
		{2, 1, true, session.Receipt{Partner: 1, Viewed: true}, duet.OK, [2]int64{0, 2}, [2]int64{0, 1}}, // delivered stays ahead
		{2, 3, true, session.Receipt{Partner: 1, Delivered: true, Viewed: true}, duet.OK, [2]int64{0, 3}, [2]int64{0, 3}},
		{2, 3, true, session.Receipt{Partner: 1}, duet.OK, [2]int64{0, 3}, [2]int64{0, 3}},
		{2, 2, false, session.Receipt{Partner: 1}, duet.OK, [2]int64{0, 3}, [2]int64{0, 3}},
		{1, 1, true, session.Receipt{Partner: 2, Delivered: true, Viewed: true}, duet.OK, [2]int64{1, 3}, [2]int64{1, 3}}, // each member has its own
		{2, 5, false, session.Receipt{}, duet.NoDataFound, [2]int64{1, 3}, [2]int64{1, 3}},
		{2, 5, true, session.Receipt{}, duet.NoDataFound, [2]int64{1, 3}, [2]int64{1, 3}},
		{3, 1, false, session.Receipt{}, duet.Unauthorized, [2]int64{1, 3}, [2]int64{1, 3}},
	} {
		what := fmt.Sprintf("Acknowledge(reader %d, msg %d, viewed %v)", step.reader, step.msgID, step.viewed)
		got, err := s.Acknowledge(ctx, 10, step.reader, step.msgID, step.viewed)
		wantCode(t, what, err, step.code)
		if err == nil && got != step.want {
			t.Errorf("%s = %+v, want %+v", what, got, step.want)
		}
		sess, err := s.Session(ctx, 10)
		if err != nil || sess.Delivered != step.delivered || sess.Viewed != step.seen {
			t.Errorf("after %s: delivered %v, viewed %v (%v), want %v, %v", what, sess.Delivered, sess.Viewed, err, step.delivered, step.seen)
		}
	}
	if live, err := s.LiveSessions(ctx, 1); err != nil || len(live) != 1 || live[0].Delivered != [2]int64{1, 3} || live[0].Viewed != [2]int64{1, 3} {
		t.Errorf("LiveSessions(1) = %+v, %v, want the watermarks", live, err)
	}
	if delivered, viewed := (session.Session{Members: [2]session.Member{{ID: 1}, {ID: 2}}, Delivered: [2]int64{1, 3}, Viewed: [2]int64{1, 2}}).Receipts(1); delivered != 3 || viewed != 2 {
		t.Errorf("Receipts(1) = %d, %d, want the partner's 3, 2", delivered, viewed)
	}
	s.EndSession(ctx, 10, session.ReasonLeft, time.Now())
	_, err := s.Acknowledge(ctx, 10, 2, 4, false)
	wantCode(t, "Acknowledge in an ended session", err, duet.SessionEnded)
}

func pushN(n int) session.Push {
	return session.Push{Cmd: "PUSH_SIGNAL", Body: []byte(fmt.Sprintf(`{"n":%d}`, n))}
}

func backlog(t *testing.T, s session.Store) {
	account(t, s, 1)
	for i := range BacklogSize + 1 {
		if err := s.AppendBacklog(ctx, 1, pushN(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AppendBacklog(ctx, 1, pushN(BacklogSize+1), pushN(BacklogSize+2)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Claim(ctx, 1, 7)
	if err != nil || len(got) != BacklogSize || string(got[0].Body) != `{"n":3}` || got[0].Cmd != "PUSH_SIGNAL" {
		t.Fatalf("Claim = %v, %v, want the newest %d, oldest first", got, err, BacklogSize)
	}
	if got, _ := s.Claim(ctx, 1, 7); len(got) != 0 {
		t.Errorf("second Claim = %v, want an empty backlog", got)
	}
	if err := s.AppendBacklog(ctx, 99, pushN(0)); err != nil {
		t.Errorf("AppendBacklog(unknown account) = %v, want it dropped quietly", err)
	}
}

// claimRelease: a node's release keeps what it could not write, but never undoes a later
// claim by another node.
func claimRelease(t *testing.T, s session.Store) {
	connectedTo := func(when string, wantConnected bool, wantNode int64) {
		t.Helper()
		a, err := s.Account(ctx, 1)
		if err != nil || a.Connected != wantConnected || (wantConnected && a.Node != wantNode) {
			t.Errorf("Account %s: connected %v to node %d (%v); want %v, %d", when, a.Connected, a.Node, err, wantConnected, wantNode)
		}
	}
	account(t, s, 1)
	connectedTo("before any claim", false, 0)
	if _, err := s.Claim(ctx, 1, 7); err != nil {
		t.Fatal(err)
	}
	connectedTo("claimed by node 7", true, 7)
	if held, err := s.Release(ctx, 1, 7, []session.Push{pushN(1), pushN(2)}); err != nil || !held {
		t.Fatalf("Release by the node that held the account = %v, %v; want true", held, err)
	}
	connectedTo("released", false, 0)
	if _, err := s.Claim(ctx, 1, 8); err != nil { // a reconnect elsewhere takes the backlog
		t.Fatal(err)
	}
	if held, err := s.Release(ctx, 1, 7, []session.Push{pushN(3)}); err != nil || held { // a late release by 7
		t.Fatalf("a late Release by a node the account was taken from = %v, %v; want false", held, err)
	}
	got, err := s.Claim(ctx, 1, 8)
	if err != nil || len(got) != 1 || string(got[0].Body) != `{"n":3}` {
		t.Fatalf("Claim after a late release = %v, %v, want just its pending push", got, err)
	}
	if _, err := s.Claim(ctx, 99, 7); err != nil {
		t.Errorf("Claim(unknown account) = %v, want nothing and no error", err)
	}
}

func retention(t *testing.T, s session.Store) {
	pair(t, s, 10, 1, 2)
	appendMsg(t, s, session.Message{ID: 1, SessionID: 10, SenderID: 1, Content: "x"})
	if _, _, err := s.EndSession(ctx, 10, session.ReasonLeft, time.Now()); err != nil {
		t.Fatal(err)
	}
	if msgs, _, err := s.Messages(ctx, 10, 0); err != nil || len(msgs) != 1 {
		t.Fatalf("Messages right after the end = %v, %v, want the message", msgs, err)
	}
	deadline := time.Now().Add(Retention + 5*time.Second)
	for {
		// Another write gives a lazily purging engine its chance.
		pair(t, s, time.Now().UnixNano(), time.Now().UnixNano()+1, time.Now().UnixNano()+2)
		_, _, err := s.Messages(ctx, 10, 0)
		if duet.ErrorCode(err) == duet.NoDataFound {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("history still there %v after the retention of %v: %v", time.Since(deadline)+Retention+5*time.Second, Retention, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// report is a report on sessionID by account 1, filed at created, and the evidence given with
// it.
func report(id, sessionID int64, created time.Time) (session.Report, []session.Message) {
	sent := created.Add(-time.Minute)
	hash := moderation.NewHasher(nil)
	return session.Report{
			ID: id, SessionID: sessionID, Reporter: 1, Reported: 2, ReporterNick: "Ann", ReportedNick: "Bob", Category: "spam", Note: "links",
			ReporterClient: hash.Client(netip.MustParseAddr("192.0.2.1")), ReportedClient: hash.Client(netip.MustParseAddr("192.0.2.2")),
			CreatedAt: created, UpdatedAt: created, Filings: 1, Status: session.ReportOpen,
		}, []session.Message{
			{ID: 100, SessionID: sessionID, SenderID: 2, Content: "buy now", SentAt: sent},
			{ID: 101, SessionID: sessionID, SenderID: 1, Content: "no thanks", SentAt: sent.Add(time.Second)},
		}
}

func sameReport(t *testing.T, what string, got, want session.Report) {
	t.Helper()
	ok := got.ID == want.ID && got.SessionID == want.SessionID && got.Reporter == want.Reporter && got.Reported == want.Reported &&
		got.ReporterNick == want.ReporterNick && got.ReportedNick == want.ReportedNick &&
		got.ReporterClient == want.ReporterClient && got.ReportedClient == want.ReportedClient && got.Category == want.Category && got.Note == want.Note &&
		got.CreatedAt.Equal(want.CreatedAt) && got.UpdatedAt.Equal(want.UpdatedAt) && got.Filings == want.Filings &&
		got.Status == want.Status && len(got.Evidence) == len(want.Evidence) && (got.Resolution == nil) == (want.Resolution == nil)
	for i := 0; ok && i < len(want.Evidence); i++ {
		g, w := got.Evidence[i], want.Evidence[i]
		ok = g.ID == w.ID && g.SenderID == w.SenderID && g.Content == w.Content && g.SentAt.Equal(w.SentAt)
	}
	if ok && want.Resolution != nil {
		g, w := got.Resolution, want.Resolution
		ok = g.Operator == w.Operator && g.Note == w.Note && g.At.Equal(w.At) && g.BanID == w.BanID
	}
	if !ok {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
}

// notExpiring is a filing time that the short Retention does not reach during a test, however
// slow the machine: an hour ahead.
func notExpiring() time.Time { return time.Now().Add(time.Hour) }

// file files r with evidence and checks that it is stored as want.
func file(t *testing.T, s session.Reports, r session.Report, evidence []session.Message, want session.Report) {
	t.Helper()
	got, err := s.FileReport(ctx, r, evidence)
	if err != nil {
		t.Fatal(err)
	}
	sameReport(t, fmt.Sprintf("FileReport(%d)", r.ID), got, want)
}

// wantReportIDs checks the ids Reports lists, and that it lists no evidence.
func wantReportIDs(t *testing.T, s session.Reports, want ...int64) {
	t.Helper()
	all, err := s.Reports(ctx)
	var ids []int64
	for _, r := range all {
		ids = append(ids, r.ID)
		if r.Evidence != nil {
			t.Errorf("Reports lists report %d with evidence", r.ID)
		}
	}
	if err != nil || fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("Reports = %v, %v; want %v", ids, err, want)
	}
}

func reports(t *testing.T, s session.Reports) {
	now := notExpiring()
	var want []session.Report
	for i := range int64(3) {
		r, evidence := report(i+1, 10+i, now.Add(time.Duration(i)*time.Millisecond))
		file(t, s, r, evidence, r)
		r.Evidence = evidence
		want = append([]session.Report{r}, want...)
	}
	all, err := s.Reports(ctx)
	if err != nil || len(all) != len(want) {
		t.Fatalf("Reports = %v, %v, want %d reports", all, err, len(want))
	}
	for i := range want {
		listed := want[i]
		listed.Evidence = nil
		sameReport(t, fmt.Sprintf("Reports[%d] (newest first, without evidence)", i), all[i], listed)
	}
	one, err := s.Report(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	sameReport(t, "Report(2), with evidence", one, want[1])
	_, err = s.Report(ctx, 99)
	wantCode(t, "Report(unknown)", err, duet.NoDataFound)

	res := session.Resolution{Operator: "ann", Note: "spam indeed", At: now.Add(time.Second), BanID: 7}
	resolved, err := s.ResolveReport(ctx, 2, session.ReportAccepted, res)
	want[1].Status, want[1].Resolution = session.ReportAccepted, &res
	if err != nil {
		t.Fatal(err)
	}
	listed := want[1]
	listed.Evidence = nil
	sameReport(t, "ResolveReport(2)", resolved, listed)
	if one, err = s.Report(ctx, 2); err != nil {
		t.Fatal(err)
	}
	sameReport(t, "Report(2) once resolved", one, want[1])
	if n, err := s.OpenReports(ctx); err != nil || n != 2 {
		t.Errorf("OpenReports = %d, %v; want 2 once one of 3 is resolved", n, err)
	}
	if _, err := s.ResolveReport(ctx, 2, session.ReportRejected, res); !errors.Is(err, session.ErrResolved) {
		t.Errorf("ResolveReport twice: %v, want ErrResolved", err)
	}
	_, err = s.ResolveReport(ctx, 99, session.ReportRejected, res)
	wantCode(t, "ResolveReport(unknown)", err, duet.NoDataFound)
}

// refile: a reporter's second report on a session updates the first, and the evidence is the
// session's, kept once: the other member's report shares it.
func refile(t *testing.T, s session.Reports) {
	now := notExpiring()
	first, evidence := report(1, 10, now)
	file(t, s, first, evidence, first)

	again, later := report(2, 10, now.Add(time.Second))
	again.Category, again.Note = "harassment", "and threats"
	later = append(later, session.Message{ID: 102, SessionID: 10, SenderID: 2, Content: "more", SentAt: now})
	want := first
	want.Category, want.Note, want.UpdatedAt, want.Filings = "harassment", "and threats", again.UpdatedAt, 2
	file(t, s, again, later, want)

	other, otherEvidence := report(3, 10, now.Add(2*time.Second))
	other.Reporter, other.Reported = 2, 1
	file(t, s, other, otherEvidence[:1], other)
	wantReportIDs(t, s, 3, 1)
	for _, id := range []int64{1, 3} {
		got, err := s.Report(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Evidence) != len(evidence) || got.Evidence[1].Content != evidence[1].Content {
			t.Errorf("Report(%d).Evidence = %+v, want the session's, as first filed: %+v", id, got.Evidence, evidence)
		}
	}
}

// reportsFull: a full store makes room for a new report by dropping the oldest resolved one,
// or the oldest when all are open, with its evidence unless the session has another report.
func reportsFull(t *testing.T, s session.Reports) {
	now := notExpiring()
	for i := range int64(ReportLimits.MaxReports) {
		r, evidence := report(i+1, 10+i, now.Add(time.Duration(i)*time.Millisecond))
		file(t, s, r, evidence, r)
	}
	if _, err := s.ResolveReport(ctx, 2, session.ReportRejected, session.Resolution{Operator: "ann", Note: "no", At: now}); err != nil {
		t.Fatal(err)
	}
	r, evidence := report(5, 20, now.Add(time.Second))
	file(t, s, r, evidence, r)
	wantReportIDs(t, s, 5, 4, 3, 1)

	r, evidence = report(6, 21, now.Add(2*time.Second))
	file(t, s, r, evidence, r)
	wantReportIDs(t, s, 6, 5, 4, 3)
	if _, err := s.Report(ctx, 1); duet.ErrorCode(err) != duet.NoDataFound {
		t.Errorf("Report(1) once dropped: %v, want NoDataFound", err)
	}

	// Session 10 is reported again: the evidence filed with this report is its own, not that of
	// the report dropped before.
	r, evidence = report(7, 10, now.Add(3*time.Second))
	evidence = evidence[1:]
	file(t, s, r, evidence, r)
	if got, err := s.Report(ctx, 7); err != nil || len(got.Evidence) != 1 {
		t.Errorf("Report(7) = %+v, %v; want the one message filed with it", got, err)
	}
}

func reportRetention(t *testing.T, s session.Reports) {
	first, evidence := report(1, 10, time.Now())
	file(t, s, first, evidence, first)
	// Past its retention, while a later report keeps the store alive and before a filing
	// purges, the report is gone from the list, which still answers.
	time.Sleep(Retention / 2)
	second, evidence := report(2, 11, time.Now())
	file(t, s, second, evidence, second)
	time.Sleep(time.Until(first.CreatedAt.Add(Retention + 10*time.Millisecond)))
	if listed, err := s.Reports(ctx); err != nil || slices.ContainsFunc(listed, func(r session.Report) bool { return r.ID == 1 }) {
		t.Errorf("Reports past the first report's retention = %v, %v; want it left out", listed, err)
	}
	deadline := time.Now().Add(Retention + 5*time.Second)
	for {
		// Another filing gives a lazily purging engine its chance.
		r, evidence := report(2, 11, time.Now())
		if _, err := s.FileReport(ctx, r, evidence); err != nil {
			t.Fatal(err)
		}
		_, err := s.Report(ctx, 1)
		if duet.ErrorCode(err) == duet.NoDataFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("report still there %v after the retention of %v: %v", time.Since(deadline)+Retention+5*time.Second, Retention, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	all, err := s.Reports(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range all {
		if r.ID == 1 {
			t.Errorf("Reports still lists the report after the retention")
		}
	}
	// The session's evidence went with its last report: a new report brings its own.
	r, evidence := report(3, 10, time.Now())
	file(t, s, r, evidence[:1], r)
	if got, err := s.Report(ctx, 3); err != nil || len(got.Evidence) != 1 {
		t.Errorf("Report(3) = %+v, %v; want the one message filed with it", got, err)
	}
}

func allLive(t *testing.T, s session.Store) {
	start := time.Now()
	for i := range int64(3) {
		a, b := 100+2*i, 101+2*i
		account(t, s, a)
		account(t, s, b)
		sess := session.Session{ID: 10 + i, Members: [2]session.Member{{ID: a}, {ID: b}}, CommonInterests: []string{}, StartedAt: start.Add(time.Duration(i) * time.Second)}
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.EndSession(ctx, 11, session.ReasonLeft, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		limit int
		want  []int64
	}{{10, []int64{12, 10}}, {1, []int64{12}}, {0, nil}} {
		got, n, err := s.AllLive(ctx, tt.limit)
		var ids []int64
		for _, sess := range got {
			ids = append(ids, sess.ID)
		}
		if err != nil || n != 2 || fmt.Sprint(ids) != fmt.Sprint(tt.want) {
			t.Errorf("AllLive(%d) = %v, %d, %v; want %v (newest first), 2 live", tt.limit, ids, n, err, tt.want)
		}
	}
}

// findAccounts finds accounts by a condition, the last seen first, and counts them beyond the
// limit; connected accounts are found connected.
func findAccounts(t *testing.T, s session.Store) {
	for id := int64(1); id <= 4; id++ {
		account(t, s, id)
	}
	now := time.Now()
	if err := s.Seen(ctx, map[int64]time.Time{1: now.Add(time.Second), 3: now.Add(3 * time.Second), 4: now.Add(2 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(ctx, 3, 7); err != nil {
		t.Fatal(err)
	}
	odd := func(a session.Account) bool { return a.ID != 2 }
	for _, tt := range []struct {
		limit int
		want  string
	}{{10, "[3 4 1]"}, {2, "[3 4]"}, {0, "[]"}} {
		got, n, err := s.FindAccounts(ctx, odd, tt.limit)
		ids := []int64{}
		for _, a := range got {
			ids = append(ids, a.ID)
		}
		if err != nil || n != 3 || fmt.Sprint(ids) != tt.want {
			t.Errorf("FindAccounts(limit %d) = %v, %d, %v; want %s (last seen first), 3 in all", tt.limit, ids, n, err, tt.want)
		}
	}
	connected, n, err := s.FindAccounts(ctx, func(a session.Account) bool { return a.Connected }, 10)
	if err != nil || n != 1 || connected[0].ID != 3 || connected[0].Node != 7 || connected[0].Nickname != "n3" || connected[0].Client != clientOf(3) {
		t.Errorf("FindAccounts(connected) = %+v, %d, %v; want account 3, n3, on node 7", connected, n, err)
	}
}
