package web

import (
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
)

// Sockets counts the open plain-HTTP connections of each peer address (the page, the API,
// health checks, keep-alive connections waiting for their next request) and closes a new one
// beyond the limit at once, so that one address cannot hold the node's file descriptors with
// idle sockets. A connection upgraded to a WebSocket leaves this count for push's, which counts
// WebSockets by client address.
//
// The peer is the address the connection comes from. Trusted proxies carry many clients on
// their connections and are not counted, nor are the addresses exempt from rate limits.
type Sockets struct {
	limit  int
	exempt []netip.Prefix

	mu   sync.Mutex
	open map[netip.Addr]int
}

// NewSockets returns a count that admits limit connections per peer address, except from the
// exempt prefixes.
func NewSockets(limit int, exempt ...[]netip.Prefix) *Sockets {
	return &Sockets{limit: limit, exempt: slices.Concat(exempt...), open: make(map[netip.Addr]int)}
}

// Track is an http.Server's ConnState hook.
func (s *Sockets) Track(c net.Conn, state http.ConnState) {
	peer, ok := peerAddr(c)
	if !ok || slices.ContainsFunc(s.exempt, func(p netip.Prefix) bool { return p.Contains(peer) }) {
		return
	}
	switch state {
	case http.StateNew:
		s.mu.Lock()
		s.open[peer]++
		over := s.open[peer] > s.limit
		s.mu.Unlock()
		if over {
			c.Close() // the server sees it closed and reports StateClosed, which counts it out
		}
	case http.StateHijacked, http.StateClosed:
		s.mu.Lock()
		if s.open[peer]--; s.open[peer] <= 0 {
			delete(s.open, peer)
		}
		s.mu.Unlock()
	}
}

// peerAddr is the address a connection comes from.
func peerAddr(c net.Conn) (netip.Addr, bool) {
	addr, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}, false
	}
	return addr.Addr().Unmap(), true
}
