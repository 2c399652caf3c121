// Package match is the waiting queue and the pairing rule. Longest waiter first; shared interests
// are preferred while either side has waited less than the interest window; never an account with
// itself, with a partner it is in a session with, left recently (for a cooldown that shrinks
// when few others wait) or blocked, nor, if the rule says so, two accounts from one client
// address. Queue is the engine interface: MemoryQueue serves one node, and a shared engine must
// pair just as atomically.
package match

import (
	"context"
	"math"
	"slices"
	"time"
)

// Waiter is an account waiting for a partner.
type Waiter struct {
	AccountID int64
	Nickname  string
	Interests []string // lower-case, unique
	Since     time.Time
	// Client is the hashed address the account connects from, an opaque string; empty means
	// unknown, and is never the same client as anyone.
	Client string
}

// Pair is two accounts the queue has matched. A is the one whose request found B, or the longer
// waiter when the queue paired two waiters by itself.
type Pair struct {
	A, B   Waiter
	Common []string // the interests they share, in A's order
}

// Queue is the waiting queue. Every method is atomic with respect to every other, on every node.
// A pair the queue returns is recorded as partnered: the two are not matched again until
// Release or Forget.
type Queue interface {
	// Match pairs w with the best waiting partner, removing the partner from the queue, or else
	// queues w (or leaves it queued with its first Since) and reports false.
	Match(ctx context.Context, w Waiter, now time.Time) (Pair, bool, error)
	// MatchWaiting pairs the waiters that became compatible as time passed.
	MatchWaiting(ctx context.Context, now time.Time) ([]Pair, error)
	// Requeue puts back a waiter of a pair whose session could not be created, keeping its place.
	Requeue(ctx context.Context, w Waiter) error
	// Cancel removes accountID from the queue and reports whether it was there.
	Cancel(ctx context.Context, accountID int64) (bool, error)
	// Release records that a and b parted at at, ending their session or undoing their pair;
	// the rule's partner cooldown, counted from at, decides when they may meet again.
	Release(ctx context.Context, a, b int64, at time.Time) error
	// Block records that a and b must never be matched again.
	Block(ctx context.Context, a, b int64) error
	// Forget removes every trace of an account that no longer exists.
	Forget(ctx context.Context, accountID int64) error
	// Waiting returns the queue, longest waiter first.
	Waiting(ctx context.Context) ([]Waiter, error)
}

// Rule is the pairing rule, shared by every engine so they all pair alike.
type Rule struct {
	// InterestWait is how long a waiter with interests holds out for someone who shares one.
	InterestWait time.Duration
	// PartnerCooldown is how long two who parted are kept apart while the queue is busy.
	PartnerCooldown time.Duration
	// CooldownQueue is how many others must be waiting for PartnerCooldown to apply in full;
	// with fewer, it shrinks in proportion (see Cooldown). Zero or less: always in full.
	CooldownQueue int
	// DistinctClients forbids pairing two waiters with the same Client.
	DistinctClients bool
}

// Cooldown is how long two who parted are kept apart when others wait besides them:
// PartnerCooldown × others / CooldownQueue, and all of it from CooldownQueue others on, to the
// millisecond below. Two alone on a quiet site may meet again at once, while on a busy one
// each meets someone else first. "Others" counts the queue as a pairing call finds it, the
// account asking included, less the two about to be paired.
//
// The arithmetic is that of IEEE doubles, which a Lua engine can repeat to the same millisecond.
func (r Rule) Cooldown(others int) time.Duration {
	if others >= r.CooldownQueue {
		return r.PartnerCooldown.Truncate(time.Millisecond)
	}
	ms := math.Floor(float64(r.PartnerCooldown.Milliseconds()) * float64(others) / float64(r.CooldownQueue))
	return time.Duration(ms) * time.Millisecond
}

// keptApart reports whether two who parted at parted are still kept apart at now, with others
// waiting besides them.
func (r Rule) keptApart(parted, now time.Time, others int) bool {
	return now.Before(parted.Add(r.Cooldown(others)))
}

// Common returns the interests a and b share, in a's order.
func Common(a, b []string) []string {
	var common []string
	for _, t := range a {
		if slices.Contains(b, t) {
			common = append(common, t)
		}
	}
	return common
}

// insists reports whether w still waits only for a partner with a shared interest.
func (r Rule) insists(w Waiter, now time.Time) bool {
	return len(w.Interests) > 0 && now.Sub(w.Since) < r.InterestWait
}

// sameClient reports whether DistinctClients keeps a and b apart.
func (r Rule) sameClient(a, b Waiter) bool {
	return r.DistinctClients && a.Client != "" && a.Client == b.Client
}

// Pick chooses w's partner among candidates (longest waiter first) and returns its index, or -1.
// allowed says whether the queue's bars let two accounts meet. The oldest candidate sharing an
// interest wins; failing that, the oldest one where neither side still insists on interests.
func (r Rule) Pick(w Waiter, candidates []Waiter, now time.Time, allowed func(a, b int64) bool) int {
	fallback := -1
	for i, c := range candidates {
		if c.AccountID == w.AccountID || r.sameClient(w, c) || !allowed(w.AccountID, c.AccountID) {
			continue
		}
		if len(Common(w.Interests, c.Interests)) > 0 {
			return i
		}
		if fallback < 0 && !r.insists(w, now) && !r.insists(c, now) {
			fallback = i
		}
	}
	return fallback
}
