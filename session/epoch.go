package session

import "crypto/rand"

// Epoch names the incarnation of the service's shared state. It changes only when that state
// was lost (a memory-engine node restarted, Redis emptied), so that a client whose RECONNECT
// fails can tell "the service restarted" from "you were away too long". Current must be cheap:
// it is read for every CRT_ACCOUNT and RECONNECT reply.
type Epoch interface {
	Current() string
}

// FixedEpoch is the epoch of state that lives and dies with the process: the memory engine's.
type FixedEpoch string

// Current implements Epoch.
func (e FixedEpoch) Current() string { return string(e) }

// NewEpochName returns a fresh epoch: 128 random bits, in 26 base32 characters.
func NewEpochName() string { return rand.Text() }
