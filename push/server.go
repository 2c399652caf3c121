// Package push is the connection side of Duet: the WebSocket upgrade, the two dialects of the
// protocol, each connection's read loop and bounded send queue, heartbeats and presence
// reporting, and the Hub that delivers pushes to whichever connection holds an account.
package push

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duetchat/duet"
	"github.com/duetchat/duet/challenge"
	"github.com/duetchat/duet/moderation"
	"github.com/duetchat/duet/session"
)

// Options are the connection limits and timings.
type Options struct {
	PingInterval    time.Duration
	PresenceTimeout time.Duration
	ReadLimit       int64
	SendQueueBytes  int // bytes queued for a connection before it is dropped as too slow
	WriteTimeout    time.Duration
	AllowedOrigins  []string // empty: only the request's own host
	// ClientIP returns the address of the client that made a request, which may be behind
	// trusted proxies; nil: the TCP peer.
	ClientIP        func(r *http.Request) string
	Hasher          *moderation.Hasher
	RateLimitExempt []netip.Prefix
	// Limits are the rate limits of each account's requests, kept between its connections
	// (and, with LimitStore, from node to node).
	Limits     Limits
	LimitStore LimitStore // nil: this process keeps them, which is all there is on one node
	// Addresses keeps the limits per client address; nil: this process keeps Address.
	Addresses AddressLimiter
	Address   AddressLimits
	// AddressBuckets shares what each node spends of Address.Requests every AddressShare; nil:
	// this process keeps them, which is all there is on one node.
	AddressBuckets AddressBucketStore
	AddressShare   time.Duration

	BadFrameLimit  int
	BadFrameWindow time.Duration

	// Challenges decides when a new account must solve a challenge first; nil: never.
	Challenges *challenge.Gate

	Observer Observer // hears of requests; nil: nobody
}

// Observer hears of what the connections do, for metrics.
type Observer interface {
	// Replied is told of each reply to a request, by its command and code.
	Replied(cmd string, code duet.Code)
	// Sent is told of each message accepted at now, d after it arrived, with its push on its way.
	Sent(now time.Time, d time.Duration)
}

type nobody struct{}

func (nobody) Replied(string, duet.Code)     {}
func (nobody) Sent(time.Time, time.Duration) {}

// readBufferSize is each connection's read buffer (gatherConn.in). The upgrader only reads
// through a reader it is given if that holds more than 256 bytes.
const readBufferSize = 512

// Server accepts WebSocket connections and serves the protocol on them.
type Server struct {
	svc       *session.Service
	hub       *Hub
	opt       Options
	log       *slog.Logger
	now       func() time.Time
	upgrader  websocket.Upgrader
	addrs     AddressLimiter
	local     *localAddresses // addrs when this process keeps it, pruned by Run
	accounts  *accountLimits
	addresses *addressLimits

	mu       sync.Mutex // guards conns and closing
	conns    map[*conn]struct{}
	closing  bool
	handlers sync.WaitGroup
}

// NewServer returns a Server for svc whose connections register in hub.
func NewServer(svc *session.Service, hub *Hub, now func() time.Time, log *slog.Logger, opt Options) *Server {
	if opt.Observer == nil {
		opt.Observer = nobody{}
	}
	s := &Server{svc: svc, hub: hub, opt: opt, log: log, now: now, conns: make(map[*conn]struct{})}
	s.addrs = opt.Addresses
	if s.addrs == nil {
		s.local = newLocalAddresses(opt.Address, now)
		s.addrs = s.local
	}
	s.accounts = newAccountLimits(opt.Limits, opt.LimitStore, now)
	s.addresses = newAddressLimits(opt.Address.Requests, opt.AddressBuckets, now)
	hub.all = s.eachConn
	hub.handOver = s.handOver
	s.upgrader = websocket.Upgrader{
		// No read buffer of the upgrader's own: each connection reads through its socket's
		// small one (frames larger than it are read in parts), given by gatheringWriter.Hijack.
		// Writing borrows a buffer from the pool per frame, so an idle connection holds no
		// write buffer.
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

	// The address takes its place before the handshake completes, so that the client cannot
	// open another connection before this one counts.
	remote := s.clientAddr(r)
	client := s.opt.Hasher.Client(remote)
	exempt := slices.ContainsFunc(s.opt.RateLimitExempt, func(p netip.Prefix) bool { return p.Contains(remote) })
	var refusal error
	if !exempt {
		refusal = s.addrs.Open(r.Context(), client.Addr)
	}
	if refusal != nil && duet.ErrorCode(refusal) != duet.RateLimited {
		// The limits could not be checked (the shared store is down, as the limiter has
		// logged): the client is told to come back in a moment, before the upgrade, as by a
		// node that is full.
		w.Header().Set("Retry-After", "1")
		http.Error(w, duet.ErrorMessage(refusal), http.StatusServiceUnavailable)
		s.handlers.Done()
		return
	}
	giveUp := func() {
		if !exempt && refusal == nil {
			s.addrs.Close(context.Background(), client.Addr)
		}
		s.handlers.Done()
	}
	gw := &gatheringWriter{ResponseWriter: w}
	ws, err := s.upgrader.Upgrade(gw, r, nil)
	if err != nil {
		giveUp()
		return // the upgrader has answered with the reason
	}
	c := s.newConn(ws, gw.conn, client, exempt)
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		c.abort(closeGoingAway, "server shutting down")
		giveUp()
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	go s.serve(c, refusal)
}

// serve admits the connection, unless its address was refused, serves its frames until it
// closes, then cleans up after it.
func (s *Server) serve(c *conn, refusal error) {
	ctx := context.Background()
	if s.admit(ctx, c, refusal) {
		if !c.exempt {
			c.address = s.addresses.bind(c.client.Addr)
		}
		// On a goroutine of its own, started on a small stack: admitting grew this one's.
		go c.serveFrames(ctx, func() {
			s.release(c)
			if !c.exempt {
				s.addresses.unbind(c.client.Addr)
			}
			s.end(c)
		})
		return
	}
	c.writer.Wait() // until the refusal is written and the connection closed
	s.end(c)
}

// end cleans up after a connection that has closed.
func (s *Server) end(c *conn) {
	defer s.handlers.Done()
	c.abort(closeNormal, "")
	c.writer.Wait()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.cleanup(c)
}

// admit lets a new connection in unless its address was refused a place or is banned. A client
// refused gets an ERROR frame (RateLimited) or Kicked (banned), and the connection is closed
// with 1008. Should the ban check fail, the client is let in: every request that creates or
// resumes an account checks again.
func (s *Server) admit(ctx context.Context, c *conn, refusal error) bool {
	if refusal != nil {
		c.reply(frame{kind: kindError, body: mustJSON(errorBody(refusal, ""))})
		c.closeAfter(closePolicy, "too many connections")
		return false
	}
	err := s.svc.CheckBan(ctx, 0, c.client)
	if e, ok := errors.AsType[*duet.Error](err); ok && e.Code == duet.Banned {
		c.kick(session.KickedData{Reason: e.Reason, Until: e.Until.UnixMilli()})
		s.release(c)
		return false
	}
	if err != nil {
		s.log.Warn("checking a new connection for bans", "err", err)
	}
	return true
}

// release gives back the place the connection took among its address's.
func (s *Server) release(c *conn) {
	if !c.exempt {
		s.addrs.Close(context.Background(), c.client.Addr)
	}
}

func (s *Server) newConn(ws *websocket.Conn, sock *gatherConn, client moderation.Client, exempt bool) *conn {
	c := &conn{
		srv: s, ws: ws, sock: sock, client: client, exempt: exempt,
		room: make(chan struct{}, 1),
	}
	c.lastFrame.Store(s.now().UnixNano())
	if c.exempt {
		c.limits = unlimited
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
	if !c.exempt && c.limits != nil {
		// Saved before the account is released, so that a node taking it up from here finds
		// what this connection spent; a connection taken over was saved for when it was fenced.
		if !c.fenced.Load() {
			s.handOver(c.account.Load())
		}
		defer s.accounts.unbind(c.account.Load())
	}
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

// handOver saves the account's limits for the node that holds it next.
func (s *Server) handOver(accountID int64) {
	if err := s.accounts.save(context.Background(), accountID); err != nil {
		s.log.Warn("saving an account's rate limits", "account", accountID, "err", err)
	}
}

// Run sends heartbeats and reports presence every ping interval until ctx ends. An account
// whose connection has been silent for two ping intervals is reported away.
func (s *Server) Run(ctx context.Context) {
	if s.opt.AddressBuckets != nil {
		go s.shareAddresses(ctx)
	}
	duet.Every(ctx, s.opt.PingInterval, func() {
		s.heartbeat(ctx)
		if s.local != nil {
			s.local.prune(s.now())
		}
		s.accounts.prune(s.now())
		s.addresses.prune(s.now())
	})
}

// shareAddresses shares with the other nodes what this node's clients spent of their
// addresses' limits, every AddressShare until ctx ends.
func (s *Server) shareAddresses(ctx context.Context) {
	duet.Every(ctx, s.opt.AddressShare, func() {
		if err := s.addresses.share(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("sharing what client addresses spent of their rate limits", "err", err)
		}
	})
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

// Shutdown closes every connection at once with 1001: Drain with no spread.
func (s *Server) Shutdown(ctx context.Context) error { return s.Drain(ctx, 0) }

// Drain refuses new connections and closes the open ones with 1001, so that clients reconnect
// (to another node, or to this one when it is back), one after another at even intervals over
// spread, so that the other nodes are not asked to take them all in the same second. Should ctx
// end first, the rest are closed at once. It returns when their handlers have finished, or ctx
// has ended.
func (s *Server) Drain(ctx context.Context, spread time.Duration) error {
	s.mu.Lock()
	s.closing = true // no connection is added from now on
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	start := time.Now()
	wait := time.NewTimer(0)
	defer wait.Stop()
	for i, c := range conns {
		// The i-th closes at i/n of the spread, timed from the start so that delays do not add up.
		if due := time.Until(start.Add(spread * time.Duration(i) / time.Duration(len(conns)))); due > 0 && ctx.Err() == nil {
			wait.Reset(due)
			select {
			case <-wait.C:
			case <-ctx.Done():
			}
		}
		c.abort(closeGoingAway, "server shutting down")
	}
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

// clientAddr is the address of the client behind the request, as Options.ClientIP finds it.
func (s *Server) clientAddr(r *http.Request) netip.Addr {
	if s.opt.ClientIP == nil {
		peer, _ := netip.ParseAddrPort(r.RemoteAddr)
		return peer.Addr().Unmap()
	}
	addr, _ := netip.ParseAddr(s.opt.ClientIP(r))
	return addr.Unmap()
}

// Len returns how many connections are open on this node.
func (s *Server) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// eachConn calls fn for every open connection, with or without an account, outside the
// server's lock.
func (s *Server) eachConn(fn func(*conn)) {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		fn(c)
	}
}
