// Package push is the connection side of Duet: the WebSocket upgrade, the two dialects of the
// protocol, each connection's read loop and bounded send queue, heartbeats and presence
// reporting, and the Hub that delivers pushes to whichever connection holds an account.
package push

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/duetchat/duet/session"
)

// Options are the connection limits and timings.
type Options struct {
	PingInterval    time.Duration
	PresenceTimeout time.Duration
	ReadLimit       int64
	SendQueue       int
	WriteTimeout    time.Duration
	AllowedOrigins  []string // empty: only the request's own host
	RateLimitExempt []netip.Prefix
	DialogueRate    rate.Limit
	DialogueBurst   int
	MatchRate       rate.Limit
	MatchBurst      int
	TypingRate      rate.Limit
	TypingBurst     int
	BadFrameLimit   int
	BadFrameWindow  time.Duration
}

// readBufferSize is each connection's read buffer.
const readBufferSize = 512

// Server accepts WebSocket connections and serves the protocol on them.
type Server struct {
	svc      *session.Service
	hub      *Hub
	opt      Options
	log      *slog.Logger
	now      func() time.Time
	upgrader websocket.Upgrader

	mu       sync.Mutex // guards conns and closing
	conns    map[*conn]struct{}
	closing  bool
	handlers sync.WaitGroup
}

// NewServer returns a Server for svc whose connections register in hub.
func NewServer(svc *session.Service, hub *Hub, now func() time.Time, log *slog.Logger, opt Options) *Server {
	s := &Server{svc: svc, hub: hub, opt: opt, log: log, now: now, conns: make(map[*conn]struct{})}
	s.upgrader = websocket.Upgrader{
		// A small read buffer of its own per connection (frames larger than it are read in
		// parts); writing borrows a buffer from the pool per frame, so an idle connection holds
		// no write buffer.
		ReadBufferSize:  readBufferSize,
		WriteBufferPool: &sync.Pool{},
		CheckOrigin:     s.checkOrigin,
	}
	return s
}

// checkOrigin admits browsers from the allowed origins (by default the page's own host).
// Clients that send no Origin are not browsers, and cannot be led by another site.
func (s *Server) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if len(s.opt.AllowedOrigins) == 0 {
		u, err := url.Parse(origin)
		return err == nil && strings.EqualFold(u.Host, r.Host)
	}
	return slices.ContainsFunc(s.opt.AllowedOrigins, func(o string) bool {
		return strings.EqualFold(strings.TrimSuffix(o, "/"), origin)
	})
}

// ServeHTTP upgrades the request to a WebSocket and hands it to a goroutine of its own, which
// serves it until it closes. The HTTP handler returns at once, so the deep stack of the HTTP
// server and its middleware is not kept alive for every idle connection.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		http.Error(w, "the server is shutting down", http.StatusServiceUnavailable)
		return
	}
	s.handlers.Add(1)
	s.mu.Unlock()

	gw := &gatheringWriter{ResponseWriter: w}
	ws, err := s.upgrader.Upgrade(gw, r, nil)
	if err != nil {
		s.handlers.Done()
		return // the upgrader has answered with the reason
	}
	c := s.newConn(ws, gw.conn, remoteAddr(r))
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		c.abort(closeGoingAway, "server shutting down")
		s.handlers.Done()
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	go s.serve(c)
}

// serve reads the connection's frames until it closes, then cleans up after it.
func (s *Server) serve(c *conn) {
	defer s.handlers.Done()
	c.readLoop(context.Background())
	c.abort(closeNormal, "")
	c.writer.Wait()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.cleanup(c)
}

func (s *Server) newConn(ws *websocket.Conn, sock *gatherConn, remote netip.Addr) *conn {
	c := &conn{
		srv: s, ws: ws, sock: sock, remote: remote,
		room:      make(chan struct{}, 1),
		badFrames: make([]time.Time, s.opt.BadFrameLimit),
	}
	c.lastFrame.Store(s.now().UnixNano())
	exempt := slices.ContainsFunc(s.opt.RateLimitExempt, func(p netip.Prefix) bool { return p.Contains(remote) })
	if !exempt {
		c.dialogue = rate.NewLimiter(s.opt.DialogueRate, s.opt.DialogueBurst)
		c.matching = rate.NewLimiter(s.opt.MatchRate, s.opt.MatchBurst)
		c.typing = rate.NewLimiter(s.opt.TypingRate, s.opt.TypingBurst)
	}
	ws.SetReadLimit(s.opt.ReadLimit)
	// A WebSocket-level ping is a sign of life too; it is answered as the protocol requires.
	ws.SetPingHandler(func(data string) error {
		c.lastFrame.Store(s.now().UnixNano())
		err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(s.opt.WriteTimeout))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	return c
}

// cleanup runs when a connection has ended: if it still held its account, the account is away
// (its partners are told) until it reconnects or its presence times out.
func (s *Server) cleanup(c *conn) {
	ctx := context.Background()
	current, err := s.hub.detach(ctx, c)
	if err != nil {
		s.log.Warn("keeping undelivered pushes", "account", c.account.Load(), "err", err)
	}
	if !current || c.loggedOut.Load() {
		return
	}
	id := c.account.Load()
	if err := s.svc.Seen(ctx, map[int64]time.Time{id: time.Unix(0, c.lastFrame.Load())}); err != nil {
		s.log.Warn("recording presence", "account", id, "err", err)
	}
	if err := s.svc.Away(ctx, id); err != nil {
		s.log.Warn("marking an account away", "account", id, "err", err)
	}
	// A RECONNECT may have attached a new connection and reported the account back while this
	// one was still being cleaned up; the account is then present after all.
	if s.hub.attached(id) {
		if err := s.svc.Back(ctx, id); err != nil {
			s.log.Warn("marking an account back", "account", id, "err", err)
		}
	}
}

// Run sends heartbeats and reports presence every ping interval until ctx ends. An account
// whose connection has been silent for two ping intervals is reported away.
func (s *Server) Run(ctx context.Context) {
	t := time.NewTicker(s.opt.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.heartbeat(ctx)
		}
	}
}

func (s *Server) heartbeat(ctx context.Context) {
	now := s.now()
	seen := make(map[int64]time.Time)
	s.hub.each(func(c *conn) {
		id := c.account.Load()
		last := time.Unix(0, c.lastFrame.Load())
		seen[id] = last
		if now.Sub(last) > 2*s.opt.PingInterval && c.silent.CompareAndSwap(false, true) {
			if err := s.svc.Away(ctx, id); err != nil {
				s.log.Warn("marking an account away", "account", id, "err", err)
			}
		}
		c.enqueue(frame{kind: kindPush, cmd: cmdPing, body: pingBody(id)})
	})
	if err := s.svc.Seen(ctx, seen); err != nil {
		s.log.Warn("recording presence", "accounts", len(seen), "err", err)
	}
}

// Shutdown closes every connection with 1001, so that clients reconnect (to another node, or
// to this one when it is back), and waits for their handlers to finish or ctx to end.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for c := range s.conns {
		c.abort(closeGoingAway, "server shutting down")
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.handlers.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// remoteAddr is the peer address of the connection. Forwarding headers are not trusted here.
func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	addr, _ := netip.ParseAddr(host)
	return addr.Unmap()
}
