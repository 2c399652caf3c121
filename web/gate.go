package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
)

// Gate decides whether the node takes new WebSocket connections: not once it drains for a
// shutdown, and not beyond its maximum of open connections, which bounds its memory however
// many addresses a flood comes from. /readyz says the same, so that a load balancer sends new
// clients to other nodes.
type Gate struct {
	max  int
	open func() int // connections open now

	mu       sync.Mutex // guards the following fields
	opening  int        // upgrades under way, not yet counted by open
	draining bool
}

// NewGate returns a gate that admits connections while fewer than max are open, as open counts
// them (it must count a connection from before its upgrade handler returns until it closes).
func NewGate(max int, open func() int) *Gate {
	return &Gate{max: max, open: open}
}

// Drain closes the gate for good: the node is shutting down.
func (g *Gate) Drain() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.draining = true
}

// Refusals of the gate, as /readyz names them in its status.
const (
	statusDraining = "draining"
	statusFull     = "full"
)

// refusal says why the gate is closed now, by a status and a sentence; "" when it is open.
// g.mu must be held.
func (g *Gate) refusal() (status, msg string) {
	switch {
	case g.draining:
		return statusDraining, "the node is shutting down"
	case g.open()+g.opening >= g.max:
		return statusFull, fmt.Sprintf("the node is full: it holds its max_connections (%d)", g.max)
	}
	return "", ""
}

// state is refusal for /readyz.
func (g *Gate) state() (status, msg string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.refusal()
}

// fullRetryAfter is the Retry-After of a refusal because the node is full, in seconds.
const fullRetryAfter = "5"

// Guard returns h behind the gate: a request that comes while the gate is closed is answered
// 503 with the reason, and the WebSocket is never opened.
func (g *Gate) Guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		status, msg := g.refusal()
		if status == "" {
			g.opening++
		}
		g.mu.Unlock()
		if status != "" {
			if status == statusFull {
				w.Header().Set("Retry-After", fullRetryAfter)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
			return
		}
		defer func() {
			g.mu.Lock()
			g.opening--
			g.mu.Unlock()
		}()
		h.ServeHTTP(w, r)
	})
}
