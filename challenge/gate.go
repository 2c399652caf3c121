package challenge

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/duetchat/duet"
)

// Mode is when new accounts must solve a challenge.
type Mode string

// The modes: never; always; or in Auto, only while new accounts arrive faster than the first
// Step's rate, service-wide, or from an address over its own account rate.
const (
	Off  Mode = "off"
	On   Mode = "on"
	Auto Mode = "auto"
)

// ParseMode returns the mode named s.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case Off, On, Auto:
		return m, nil
	}
	return "", fmt.Errorf("%q is not a challenge mode: off, on or auto", s)
}

// Step is one level of difficulty: above Rate new-account requests per second, service-wide,
// challenges of MaxNumber are asked.
type Step struct {
	Rate      float64 `json:"rate"`
	MaxNumber int64   `json:"maxnumber"`
}

// Modes keep the mode an operator set for every node: "" while none has been set.
type Modes interface {
	SetChallengeMode(ctx context.Context, mode string) error
	ChallengeMode(ctx context.Context) (string, error)
}

// Observer counts what the Gate does.
type Observer interface {
	// Challenged counts a challenge issued, a proof accepted (solved) or a proof refused (failed).
	Challenged(now time.Time, outcome string)
}

// The outcomes an Observer counts.
const (
	Issued = "issued"
	Solved = "solved"
	Failed = "failed"
)

// Options configure a Gate.
type Options struct {
	Mode    Mode          // the mode of the node's settings, in force until an operator sets one
	Steps   []Step        // by rising Rate and MaxNumber; at least one
	Window  time.Duration // what the rate of new accounts is measured over
	Refresh time.Duration // how often a node shares its count and reads the mode in force
	Signer  Signer
	Ledger  Ledger
	Tallies Tallies
	Modes   Modes
	Now     func() time.Time
	Log     *slog.Logger
	Observe Observer
}

// Gate decides, for each request for a new account, whether a challenge must be solved first
// and how hard it is, and redeems proofs. Its view of the service (the mode in force and the
// rate of new accounts) is refreshed every Options.Refresh by Run, so that no request waits on
// the store for it.
type Gate struct {
	opt Options

	mu   sync.Mutex // guards the fields below
	mode Mode
	// The service's tallies of new-account requests in window w and the one before, as the last
	// refresh read them, and the requests counted here since.
	w, cur, prev int64
	pending      int64
}

// NewGate returns a gate in opt.Mode until Run reads the mode in force.
func NewGate(opt Options) *Gate {
	return &Gate{opt: opt, mode: opt.Mode}
}

// State is what a Gate shows operators.
type State struct {
	Mode       Mode    `json:"mode"`
	Configured Mode    `json:"configuredMode"`
	Active     bool    `json:"active"`    // ordinary new visitors are asked to solve a challenge now
	MaxNumber  int64   `json:"maxnumber"` // the difficulty they get; 0 when none
	Rate       float64 `json:"accountsPerSecond"`
	Steps      []Step  `json:"steps"`
}

// State returns what the gate decides now for a visitor from an ordinary address.
func (g *Gate) State() State {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.opt.Now()
	s := State{Mode: g.mode, Configured: g.opt.Mode, Rate: g.rateLocked(now), Steps: g.opt.Steps}
	if level := g.levelLocked(now); level >= 0 {
		s.Active, s.MaxNumber = true, g.opt.Steps[level].MaxNumber
	}
	return s
}

// SetMode sets the mode in force on every node: this one at once, the others at their next
// refresh.
func (g *Gate) SetMode(ctx context.Context, m Mode) error {
	if err := g.opt.Modes.SetChallengeMode(ctx, string(m)); err != nil {
		return err
	}
	g.mu.Lock()
	g.mode = m
	g.mu.Unlock()
	return nil
}

// Arrival is a request for a new account without a proof, as the Gate sees it.
type Arrival struct {
	// Level is the step the service calls for, or -1 when it asks for no challenge.
	Level int
	// Mode is the mode in force: with Off, an address over its account rate is refused rather
	// than challenged.
	Mode Mode
}

// Arrive counts a request for a new account without a proof, and says whether the service
// asks a challenge of it. Counted tells whether it counts towards the rate: requests from
// addresses exempt from limits do not.
func (g *Gate) Arrive(counted bool) Arrival {
	g.mu.Lock()
	defer g.mu.Unlock()
	if counted && g.mode != Off {
		g.pending++
	}
	return Arrival{Level: g.levelLocked(g.opt.Now()), Mode: g.mode}
}

// levelLocked is the step the mode and the rate at now call for, or -1 for none.
func (g *Gate) levelLocked(now time.Time) int {
	level := -1
	if g.mode == Off {
		return level
	}
	rate := g.rateLocked(now)
	for i, s := range g.opt.Steps {
		if rate > s.Rate {
			level = i
		}
	}
	if g.mode == On {
		level = max(level, 0)
	}
	return level
}

// rateLocked is the rate of new-account requests over the window that ends at now: all of the
// current window's tally and the part of the previous one's that the window still covers, as if
// its requests were spread evenly. The requests counted here since the last refresh fall in
// the current window.
func (g *Gate) rateLocked(now time.Time) float64 {
	window := g.opt.Window.Nanoseconds()
	cur, prev := g.pending, int64(0)
	switch now.UnixNano() / window {
	case g.w:
		cur, prev = g.cur+g.pending, g.prev
	case g.w + 1:
		prev = g.cur
	}
	covered := 1 - float64(now.UnixNano()%window)/float64(window)
	return (float64(prev)*covered + float64(cur)) / g.opt.Window.Seconds()
}

// AddressLevel is the step for an address over its own account rate that has spent the given
// fraction (0 to 1) of the burst of accounts it may make with challenges: the steps share that
// burst evenly, so that each new account from a busy address costs more than the one before.
func (g *Gate) AddressLevel(spent float64) int {
	n := len(g.opt.Steps)
	return min(max(int(spent*float64(n)), 0), n-1)
}

// Require returns the refusal of a new account until it solves a challenge of the given
// level, with a fresh challenge; why, if not nil, is the sentence of a refused proof.
func (g *Gate) Require(level int, why error) *Required {
	now := g.opt.Now()
	g.opt.Observe.Challenged(now, Issued)
	msg := "solve the challenge first"
	if why != nil {
		msg = why.Error()
	}
	return &Required{Challenge: g.opt.Signer.Issue(g.opt.Steps[level].MaxNumber, now), err: &duet.Error{Code: duet.ChallengeRequired, Msg: msg}}
}

// Redeem accepts p, once on the whole service, or says why not: ErrExpired, ErrForged, ErrWrong
// or ErrReplayed, each counted as failed and to be answered with a fresh challenge; any other
// error (the ledger failed, or is full) is the client's answer as it is.
func (g *Gate) Redeem(ctx context.Context, p Proof) error {
	now := g.opt.Now()
	until, err := g.opt.Signer.Verify(p, now)
	if err == nil {
		var fresh bool
		if fresh, err = g.opt.Ledger.Spend(ctx, p.Challenge, until); err != nil {
			return err
		}
		if !fresh {
			err = ErrReplayed
		}
	}
	outcome := Solved
	if err != nil {
		outcome = Failed
	}
	g.opt.Observe.Challenged(now, outcome)
	return err
}

// Required refuses a new account until its client solves Challenge: it wraps the
// *duet.Error of code ChallengeRequired that the reply carries along with the challenge.
type Required struct {
	Challenge Challenge
	err       *duet.Error
}

func (r *Required) Error() string { return r.err.Error() }
func (r *Required) Unwrap() error { return r.err }

// Run refreshes the gate's view of the service every Options.Refresh until ctx ends.
func (g *Gate) Run(ctx context.Context) {
	g.refresh(ctx)
	duet.Every(ctx, g.opt.Refresh, func() { g.refresh(ctx) })
}

// refresh adds this node's count to the service's tally and reads the rate and the mode in
// force; what the store does not answer is kept as it was, and counted again next time.
func (g *Gate) refresh(ctx context.Context) {
	w := g.opt.Now().UnixNano() / g.opt.Window.Nanoseconds()
	g.mu.Lock()
	n := g.pending
	g.mu.Unlock()
	cur, prev, err := g.opt.Tallies.Add(ctx, w, n)
	if err != nil {
		if ctx.Err() == nil {
			g.opt.Log.Warn("sharing the count of new accounts", "err", err)
		}
		return
	}
	mode := g.opt.Mode
	set, err := g.opt.Modes.ChallengeMode(ctx)
	if err != nil && ctx.Err() == nil {
		g.opt.Log.Warn("reading the challenge mode", "err", err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pending -= n
	g.w, g.cur, g.prev = w, cur, prev
	if err != nil {
		return
	}
	if m, parseErr := ParseMode(set); parseErr == nil {
		mode = m
	}
	g.mode = mode
}
