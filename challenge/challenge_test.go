package challenge

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/duetchat/duet"
)

var ctx = context.Background()

// solve finds a challenge's number as a client does.
func solve(t testing.TB, c Challenge) Proof {
	t.Helper()
	for n := range c.MaxNumber + 1 {
		if digest(c.Salt, n) == c.Challenge {
			return Proof{Algorithm: c.Algorithm, Challenge: c.Challenge, Number: n, Salt: c.Salt, Signature: c.Signature}
		}
	}
	t.Fatalf("no number solves %+v", c)
	return Proof{}
}

// TestVerify: a solved challenge verifies until it expires; every field that a client could
// change to pay less is caught, with the reason a client is told.
func TestVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := NewSigner([]byte("a key of sixteen+"), 5*time.Minute)
	c := s.Issue(1000, now)
	if c.Algorithm != "SHA-256" || c.MaxNumber != 1000 || !strings.HasSuffix(c.Salt, "?expires=1800000300") {
		t.Fatalf("Issue = %+v, want SHA-256, maxnumber 1000 and the expiry in the salt", c)
	}
	good := solve(t, c)
	if until, err := s.Verify(good, now.Add(time.Minute)); err != nil || !until.Equal(now.Add(5*time.Minute)) {
		t.Fatalf("Verify(solved) = %v, %v; want its expiry", until, err)
	}
	tests := []struct {
		name  string
		spoil func(p *Proof)
		at    time.Duration
		want  error
	}{
		{"expired", func(*Proof) {}, 5 * time.Minute, ErrExpired},
		{"a later expiry", func(p *Proof) { p.Salt = strings.Replace(p.Salt, "1800000300", "1900000000", 1) }, 0, ErrWrong},
		{"no expiry", func(p *Proof) { p.Salt = strings.Split(p.Salt, "?")[0] }, 0, ErrForged},
		{"another key's signature", func(p *Proof) { p.Signature = NewSigner([]byte("another key, 16+"), time.Minute).sign(p.Challenge) }, 0, ErrForged},
		{"a challenge of its own", func(p *Proof) { p.Challenge = digest(p.Salt, 0) }, 0, ErrForged},
		{"another algorithm", func(p *Proof) { p.Algorithm = "SHA-512" }, 0, ErrForged},
		{"the wrong number", func(p *Proof) { p.Number++ }, 0, ErrWrong},
		{"a negative number", func(p *Proof) { p.Number = -p.Number - 1 }, 0, ErrWrong},
	}
	for _, tt := range tests {
		p := good
		tt.spoil(&p)
		if _, err := s.Verify(p, now.Add(tt.at)); !errors.Is(err, tt.want) {
			t.Errorf("%s: Verify = %v, want %v", tt.name, err, tt.want)
		}
	}
}

// TestIssueDrawsTheNumber: the numbers of challenges spread over the whole range, so that a
// client cannot start from a likely one.
func TestIssueDrawsTheNumber(t *testing.T) {
	s := NewSigner([]byte("a key of sixteen+"), time.Minute)
	var low, high int
	for range 200 {
		p := solve(t, s.Issue(99, time.Now()))
		if p.Number < 50 {
			low++
		} else {
			high++
		}
	}
	if low < 60 || high < 60 {
		t.Errorf("of 200 numbers in 0..99, %d below 50 and %d above: not drawn evenly", low, high)
	}
}

// TestMemoryLedger: a challenge is spent once until it expires; a full ledger refuses rather
// than forgets an unexpired one, and makes room as they expire.
func TestMemoryLedger(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewMemoryLedger(2, func() time.Time { return now })
	spend := func(c string, until time.Duration, want bool) {
		t.Helper()
		if fresh, err := l.Spend(ctx, c, now.Add(until)); fresh != want || err != nil {
			t.Errorf("Spend(%s) = %v, %v; want %v", c, fresh, err, want)
		}
	}
	spend("a", time.Minute, true)
	spend("a", time.Minute, false)
	spend("b", 2*time.Minute, true)
	_, err := l.Spend(ctx, "c", now.Add(time.Minute))
	if duet.ErrorCode(err) != duet.RateLimited {
		t.Errorf("Spend on a full ledger = %v, want RateLimited", err)
	}
	now = now.Add(time.Minute)
	spend("c", time.Minute, true) // a expired, and made room
	spend("b", time.Minute, false)
	if l.Len() != 2 {
		t.Errorf("Len = %d, want 2", l.Len())
	}
}

type modes struct{ mode string }

func (m *modes) SetChallengeMode(_ context.Context, mode string) error { m.mode = mode; return nil }
func (m *modes) ChallengeMode(context.Context) (string, error)         { return m.mode, nil }

type outcomes map[string]int

func (o outcomes) Challenged(_ time.Time, outcome string) { o[outcome]++ }

func newGate(mode Mode, now *time.Time, shared *modes) (*Gate, outcomes) {
	seen := outcomes{}
	return NewGate(Options{
		Mode: mode, Steps: []Step{{Rate: 2, MaxNumber: 100}, {Rate: 10, MaxNumber: 200}, {Rate: 50, MaxNumber: 400}},
		Window: 10 * time.Second, Refresh: time.Second, Signer: NewSigner([]byte("a key of sixteen+"), time.Minute),
		Ledger: NewMemoryLedger(1000, func() time.Time { return *now }), Tallies: &MemoryTallies{}, Modes: shared,
		Now: func() time.Time { return *now }, Log: slog.New(slog.DiscardHandler), Observe: seen,
	}), seen
}

// TestGateRises: in auto, no challenge at an ordinary rate; above each step's rate, that step;
// as the window slides past a burst, the steps come down again. Requests not counted (exempt
// addresses) raise nothing.
func TestGateRises(t *testing.T) {
	now := time.Unix(1_000_000, 0) // the start of a window
	g, _ := newGate(Auto, &now, &modes{})
	arrive := func(n int, counted bool) int {
		level := -1
		for range n {
			level = g.Arrive(counted).Level
		}
		return level
	}
	if level := arrive(20, true); level != -1 {
		t.Errorf("20 requests in a 10s window (2/s): level %d, want none", level)
	}
	if level := arrive(500, false); level != -1 {
		t.Errorf("requests not counted: level %d, want none", level)
	}
	if level := arrive(1, true); level != 0 {
		t.Errorf("21 requests in 10s: level %d, want the first step", level)
	}
	g.refresh(ctx)
	if level := arrive(80, true); level != 1 {
		t.Errorf("101 requests in 10s: level %d, want the second step", level)
	}
	if s := g.State(); !s.Active || s.MaxNumber != 200 || s.Rate != 10.1 {
		t.Errorf("State = %+v, want active at maxnumber 200 and 10.1 requests a second", s)
	}
	// Half a window later the burst counts half, then not at all.
	g.refresh(ctx)
	now = now.Add(15 * time.Second)
	g.refresh(ctx)
	if s := g.State(); s.Rate != 5.05 || s.MaxNumber != 100 {
		t.Errorf("State half a window on = %+v, want 5.05 a second at maxnumber 100", s)
	}
	now = now.Add(5 * time.Second)
	if s := g.State(); s.Rate != 0 || s.Active {
		t.Errorf("State a window on = %+v, want quiet", s)
	}
}

// TestGateModes: on asks at least the first step always; off never; a mode set on one node
// holds at once there and at the next refresh on another, and a node without a set mode keeps
// its own.
func TestGateModes(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	shared := &modes{}
	one, _ := newGate(Auto, &now, shared)
	two, _ := newGate(Auto, &now, shared)
	if a := one.Arrive(true); a.Level != -1 || a.Mode != Auto {
		t.Errorf("auto, quiet: %+v, want no challenge", a)
	}
	if err := one.SetMode(ctx, On); err != nil {
		t.Fatal(err)
	}
	if a := one.Arrive(true); a.Level != 0 || a.Mode != On {
		t.Errorf("on, quiet: %+v, want the first step", a)
	}
	if a := two.Arrive(true); a.Mode != Auto {
		t.Errorf("the other node before its refresh: %+v, still auto", a)
	}
	two.refresh(ctx)
	if s := two.State(); s.Mode != On || s.Configured != Auto || s.MaxNumber != 100 {
		t.Errorf("the other node after its refresh: %+v, want on at maxnumber 100, configured auto", s)
	}
	if err := two.SetMode(ctx, Off); err != nil {
		t.Fatal(err)
	}
	before := two.State().Rate
	for range 1000 {
		two.Arrive(true)
	}
	if s := two.State(); s.Active || s.Rate != before {
		t.Errorf("off under a flood: %+v, want no challenge and nothing counted", s)
	}
}

// TestRedeem: a proof is accepted once, and every outcome is counted.
func TestRedeem(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	g, seen := newGate(On, &now, &modes{})
	required := g.Require(2, nil)
	if duet.ErrorCode(required) != duet.ChallengeRequired || required.Challenge.MaxNumber != 400 {
		t.Fatalf("Require(2) = %v %+v, want code 11 and maxnumber 400", required, required.Challenge)
	}
	p := solve(t, required.Challenge)
	if err := g.Redeem(ctx, p); err != nil {
		t.Fatalf("Redeem(solved) = %v", err)
	}
	if err := g.Redeem(ctx, p); !errors.Is(err, ErrReplayed) {
		t.Errorf("Redeem(solved) again = %v, want ErrReplayed", err)
	}
	again := g.Require(0, ErrReplayed)
	if duet.ErrorMessage(again) != ErrReplayed.Error() {
		t.Errorf("Require after a replay says %q, want %q", duet.ErrorMessage(again), ErrReplayed.Error())
	}
	if want := (outcomes{Issued: 2, Solved: 1, Failed: 1}); len(seen) != 3 || seen[Issued] != 2 || seen[Solved] != 1 || seen[Failed] != 1 {
		t.Errorf("outcomes = %v, want %v", seen, want)
	}
}

// TestAddressLevel: an address's challenged burst is shared evenly by the steps.
func TestAddressLevel(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	g, _ := newGate(Auto, &now, &modes{})
	for spent, want := range map[float64]int{0: 0, 0.3: 0, 0.34: 1, 0.66: 1, 0.67: 2, 1: 2} {
		if got := g.AddressLevel(spent); got != want {
			t.Errorf("AddressLevel(%v) = %d, want %d", spent, got, want)
		}
	}
}

// BenchmarkIssue is the server's work per challenge issued.
func BenchmarkIssue(b *testing.B) {
	s := NewSigner([]byte("a key of sixteen+"), 5*time.Minute)
	now := time.Now()
	for b.Loop() {
		s.Issue(100_000, now)
	}
}

// BenchmarkVerify is the server's work per proof verified (without the ledger).
func BenchmarkVerify(b *testing.B) {
	s := NewSigner([]byte("a key of sixteen+"), 5*time.Minute)
	now := time.Now()
	p := solve(b, s.Issue(1000, now))
	for b.Loop() {
		if _, err := s.Verify(p, now); err != nil {
			b.Fatal(err)
		}
	}
}
