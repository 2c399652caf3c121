package redistest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy forwards TCP connections from a loopback port of its own to a server. Cut plays a
// network failure between the proxy's clients and the server, Restore its end: a node given the
// proxy's URL loses its Redis while other nodes keep theirs, or gets it back later than they do.
type Proxy struct {
	Addr   string // host:port to connect to instead of the server's
	target string
	ln     net.Listener

	mu    sync.Mutex // guards the following fields
	cut   bool
	conns map[net.Conn]struct{} // both ends of every forwarded connection
}

// StartProxy starts a proxy to the server at target and stops it when the test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln, conns: make(map[net.Conn]struct{})}
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.Cut()
	})
	return p
}

// URL is the redis_url of the server through the proxy.
func (p *Proxy) URL() string { return "redis://" + p.Addr + "/0" }

// Cut closes every forwarded connection and closes the ones that come next at once, until
// Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Restore forwards new connections again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

func (p *Proxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // the listener closed with the test
		}
		go p.forward(client)
	}
}

// forward joins client to a new connection to the target, unless the proxy is cut.
func (p *Proxy) forward(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		client.Close()
		server.Close()
		return
	}
	p.conns[client], p.conns[server] = struct{}{}, struct{}{}
	p.mu.Unlock()
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		// One side ended: so does the other, as over a real network.
		dst.Close()
		src.Close()
	}
	go pipe(server, client)
	pipe(client, server)
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
}
