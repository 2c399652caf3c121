// Package moderationtest is the contract every moderation.Store engine must meet, as a test
// suite that each engine's tests run against a fresh store.
package moderationtest

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/duetchat/duet"
	"github.com/duetchat/duet/moderation"
)

// AuditSize is the audit log size of the stores under test.
const AuditSize = 3

// Run runs the contract against stores made by newStore, each keeping AuditSize audit entries.
func Run(t *testing.T, newStore func(t *testing.T) moderation.Store) {
	tests := []struct {
		name string
		test func(t *testing.T, s moderation.Store)
	}{
		{"FindByEveryKind", findByEveryKind},
		{"LongestWins", longestWins},
		{"Ended", ended},
		{"Lift", lift},
		{"List", list},
		{"Audit", audit},
		{"Pause", pause},
		{"ChallengeMode", challengeMode},
		{"Notice", notice},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.test(t, newStore(t)) })
	}
}

var (
	ctx = context.Background()
	// now is the stores' clock. Bans are judged by the time given, but a shared engine may let
	// keys expire by the wall clock, so it starts at the real time.
	now    = time.Now().Truncate(time.Millisecond)
	client = moderation.NewHasher([]byte("contract")).Client
)

func ban(t *testing.T, s moderation.Store, id int64, target moderation.Target, d time.Duration) moderation.Ban {
	t.Helper()
	b := moderation.Ban{ID: id, Target: target, Reason: "spam", Note: fmt.Sprint("private note ", id), By: moderation.ByOperator, CreatedAt: now, Until: now.Add(d)}
	if err := s.AddBan(ctx, b); err != nil {
		t.Fatalf("AddBan(%v): %v", target, err)
	}
	return b
}

func find(t *testing.T, s moderation.Store, at time.Time, targets []moderation.Target) (moderation.Ban, bool) {
	t.Helper()
	b, ok, err := s.FindBan(ctx, at, targets)
	if err != nil {
		t.Fatalf("FindBan: %v", err)
	}
	return b, ok
}

func same(a, b moderation.Ban) bool {
	return a.ID == b.ID && a.Target == b.Target && a.Reason == b.Reason && a.Note == b.Note && a.By == b.By &&
		a.CreatedAt.Equal(b.CreatedAt) && a.Until.Equal(b.Until)
}

func findByEveryKind(t *testing.T, s moderation.Store) {
	home, cafe := client(netip.MustParseAddr("192.0.2.10")), client(netip.MustParseAddr("198.51.100.7"))
	neighbour := client(netip.MustParseAddr("192.0.2.99")) // same /24 as home
	byAccount := ban(t, s, 1, moderation.AccountTarget(7), time.Hour)
	byAddress := ban(t, s, 2, moderation.Target{Kind: moderation.KindAddress, Value: cafe.Addr}, time.Hour)
	byNetwork := ban(t, s, 3, moderation.Target{Kind: moderation.KindNetwork, Value: home.Network}, time.Hour)

	tests := []struct {
		name    string
		targets []moderation.Target
		want    moderation.Ban
		found   bool
	}{
		{"the account, from anywhere", moderation.Targets(7, client(netip.MustParseAddr("203.0.113.1"))), byAccount, true},
		{"another account from the banned address", moderation.Targets(8, cafe), byAddress, true},
		{"a new client with no account yet, from the banned address", moderation.Targets(0, cafe), byAddress, true},
		{"another address in the banned network", moderation.Targets(9, neighbour), byNetwork, true},
		{"an unrelated client", moderation.Targets(10, client(netip.MustParseAddr("2001:db8::1"))), moderation.Ban{}, false},
		{"no targets", nil, moderation.Ban{}, false},
	}
	for _, tt := range tests {
		got, ok := find(t, s, now, tt.targets)
		if ok != tt.found || (ok && !same(got, tt.want)) {
			t.Errorf("%s: FindBan = %+v, %v; want %+v, %v", tt.name, got, ok, tt.want, tt.found)
		}
	}
}

func longestWins(t *testing.T, s moderation.Store) {
	c := client(netip.MustParseAddr("192.0.2.10"))
	ban(t, s, 1, moderation.AccountTarget(7), time.Minute)
	long := ban(t, s, 2, moderation.Target{Kind: moderation.KindAddress, Value: c.Addr}, 24*time.Hour)
	ban(t, s, 3, moderation.Target{Kind: moderation.KindNetwork, Value: c.Network}, time.Hour)
	if got, ok := find(t, s, now, moderation.Targets(7, c)); !ok || got.ID != long.ID {
		t.Errorf("FindBan = %+v, %v; want the ban that ends last, %d", got, ok, long.ID)
	}
}

func ended(t *testing.T, s moderation.Store) {
	ban(t, s, 1, moderation.AccountTarget(7), time.Minute)
	later := now.Add(time.Minute)
	if got, ok := find(t, s, later, moderation.Targets(7, moderation.Client{})); ok {
		t.Errorf("FindBan after the ban ended = %+v; want none", got)
	}
	if bans, err := s.Bans(ctx, later); err != nil || len(bans) != 0 {
		t.Errorf("Bans after the ban ended = %v, %v; want none", bans, err)
	}
	if _, err := s.LiftBan(ctx, 1, later); duet.ErrorCode(err) != duet.NoDataFound {
		t.Errorf("LiftBan of an ended ban: %v; want NoDataFound", err)
	}
}

func lift(t *testing.T, s moderation.Store) {
	b := ban(t, s, 1, moderation.AccountTarget(7), time.Hour)
	kept := ban(t, s, 2, moderation.AccountTarget(7), time.Minute)
	got, err := s.LiftBan(ctx, b.ID, now)
	if err != nil || !same(got, b) {
		t.Fatalf("LiftBan = %+v, %v; want %+v", got, err, b)
	}
	if _, err := s.LiftBan(ctx, b.ID, now); duet.ErrorCode(err) != duet.NoDataFound {
		t.Errorf("LiftBan twice: %v; want NoDataFound", err)
	}
	if got, ok := find(t, s, now, moderation.Targets(7, moderation.Client{})); !ok || got.ID != kept.ID {
		t.Errorf("FindBan after lifting one of two bans = %+v, %v; want the other, %d", got, ok, kept.ID)
	}
	if _, err := s.LiftBan(ctx, 99, now); duet.ErrorCode(err) != duet.NoDataFound {
		t.Errorf("LiftBan of an unknown ban: %v; want NoDataFound", err)
	}
}

func list(t *testing.T, s moderation.Store) {
	if bans, err := s.Bans(ctx, now); err != nil || len(bans) != 0 {
		t.Fatalf("Bans of an empty store = %v, %v", bans, err)
	}
	var want []moderation.Ban
	for i := int64(1); i <= 3; i++ {
		b := moderation.Ban{ID: i, Target: moderation.AccountTarget(i), Reason: "r", By: moderation.ByAuto,
			CreatedAt: now.Add(time.Duration(i) * time.Second), Until: now.Add(time.Hour)}
		if err := s.AddBan(ctx, b); err != nil {
			t.Fatal(err)
		}
		want = append([]moderation.Ban{b}, want...)
	}
	got, err := s.Bans(ctx, now.Add(time.Minute))
	if err != nil || len(got) != len(want) {
		t.Fatalf("Bans = %v, %v; want %d bans", got, err, len(want))
	}
	for i := range want {
		if !same(got[i], want[i]) {
			t.Errorf("Bans[%d] = %+v; want %+v (newest first)", i, got[i], want[i])
		}
	}
}

func audit(t *testing.T, s moderation.Store) {
	if got, err := s.Audit(ctx, 10); err != nil || len(got) != 0 {
		t.Fatalf("Audit of an empty log = %v, %v", got, err)
	}
	var added []moderation.Entry
	for i := range AuditSize + 2 {
		e := moderation.Entry{At: now.Add(time.Duration(i) * time.Second), Operator: "ann", Address: "192.0.2.1",
			Action: "ban", Target: fmt.Sprint("account:", i), Reason: "spam", Note: fmt.Sprint("note ", i)}
		if err := s.AddAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
		added = append(added, e)
	}
	got, err := s.Audit(ctx, 10)
	if err != nil || len(got) != AuditSize {
		t.Fatalf("Audit = %v, %v; want the newest %d entries", got, err, AuditSize)
	}
	for i, e := range got {
		want := added[len(added)-1-i]
		if !e.At.Equal(want.At) || e.Target != want.Target || e.Operator != want.Operator || e.Address != want.Address || e.Reason != want.Reason || e.Note != want.Note {
			t.Errorf("Audit[%d] = %+v; want %+v (newest first)", i, e, want)
		}
	}
	if got, err := s.Audit(ctx, 1); err != nil || len(got) != 1 || got[0].Target != added[len(added)-1].Target {
		t.Errorf("Audit(limit 1) = %v, %v; want the newest entry", got, err)
	}
}

func pause(t *testing.T, s moderation.Store) {
	if got, err := s.MatchingPaused(ctx); err != nil || got {
		t.Errorf("MatchingPaused of a new store = %v, %v; want false", got, err)
	}
	for _, want := range []bool{true, true, false} {
		if err := s.SetMatchingPaused(ctx, want); err != nil {
			t.Fatal(err)
		}
		if got, err := s.MatchingPaused(ctx); err != nil || got != want {
			t.Errorf("MatchingPaused = %v, %v; want %v", got, err, want)
		}
	}
}

// challengeMode keeps the mode set last, and none before.
func challengeMode(t *testing.T, s moderation.Store) {
	if got, err := s.ChallengeMode(ctx); err != nil || got != "" {
		t.Errorf("ChallengeMode of a new store = %q, %v; want none", got, err)
	}
	for _, want := range []string{"on", "off", "auto"} {
		if err := s.SetChallengeMode(ctx, want); err != nil {
			t.Fatal(err)
		}
		if got, err := s.ChallengeMode(ctx); err != nil || got != want {
			t.Errorf("ChallengeMode = %q, %v; want %q", got, err, want)
		}
	}
}

// notice keeps the current notice until it ends; a new one replaces it.
func notice(t *testing.T, s moderation.Store) {
	if _, ok, err := s.CurrentNotice(ctx, now); ok || err != nil {
		t.Fatalf("CurrentNotice before any = %v, %v, want none", ok, err)
	}
	first := moderation.Notice{Text: "Maintenance at 22:00 UTC", Level: "warning", Until: now.Add(time.Hour)}
	if err := s.SetNotice(ctx, first); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.CurrentNotice(ctx, now.Add(time.Minute))
	if err != nil || !ok || got.Text != first.Text || got.Level != first.Level || !got.Until.Equal(first.Until) {
		t.Errorf("CurrentNotice = %+v, %v, %v, want %+v", got, ok, err, first)
	}
	if _, ok, _ := s.CurrentNotice(ctx, first.Until); ok {
		t.Error("CurrentNotice at its end still has it")
	}
	second := moderation.Notice{Text: "Maintenance moved to 23:00 UTC", Level: "info", Until: now.Add(2 * time.Hour)}
	if err := s.SetNotice(ctx, second); err != nil {
		t.Fatal(err)
	}
	if got, ok, _ := s.CurrentNotice(ctx, now); !ok || got.Text != second.Text {
		t.Errorf("CurrentNotice after a new one = %+v, %v, want %+v", got, ok, second)
	}
}
