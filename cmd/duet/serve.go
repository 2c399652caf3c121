package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/duetchat/duet/admin"
	"github.com/duetchat/duet/challenge"
	"github.com/duetchat/duet/config"
	"github.com/duetchat/duet/filter"
	"github.com/duetchat/duet/frontend"
	"github.com/duetchat/duet/logging"
	"github.com/duetchat/duet/metrics"
	"github.com/duetchat/duet/moderation"
	"github.com/duetchat/duet/push"
	"github.com/duetchat/duet/session"
	"github.com/duetchat/duet/web"
)

// serve runs a node until ctx ends, then shuts it down gracefully.
func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := config.Load(args, getenv, stderr)
	if err != nil {
		return err
	}
	log, flushLog, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	defer flushLog()
	for _, warning := range config.UnknownEnv(os.Environ()) {
		log.Warn(warning)
	}
	redis.SetLogger(redisLogger{log})
	n, err := startNode(ctx, cfg, log)
	if err != nil {
		return err
	}
	log.Info("duet is serving", "version", version, "addr", n.Addr(), "tls", cfg.TLS(), "engine", cfg.Engine)
	<-ctx.Done()
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	return n.Shutdown(shutdownCtx)
}

// newLogger returns the node's logger, and what writes the summaries of repeated failures it
// still holds, to call last.
func newLogger(cfg config.Config, w io.Writer) (*slog.Logger, func(), error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return nil, nil, fmt.Errorf("log_level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	if cfg.LogRepeatInterval == 0 {
		return slog.New(h), func() {}, nil
	}
	repeats := logging.NewRepeats(h, cfg.LogRepeatInterval)
	return slog.New(repeats), repeats.Flush, nil
}

// redisLogger hands go-redis's own messages (mostly retries while Redis is away, which the
// failing requests report anyway) to the node's log at debug level.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}

// node is one running Duet node: its engines, the service, the connection server and the HTTP
// server in front of them.
type node struct {
	log      *slog.Logger
	engines  *engines
	listener net.Listener
	http     *http.Server
	plain    *http.Server // on http_listen: ACME challenges and redirects to https; nil: none
	plainAt  net.Listener // http_listen's listener
	push     *push.Server
	gate     *web.Gate
	// At shutdown: how long /readyz says 503 before connections close, and over how long they close.
	drainDelay, drainSpread time.Duration
	stop                    context.CancelFunc // ends the background loops
	loops                   sync.WaitGroup
	served                  chan error // what each server's Serve returned
}

// startNode wires a node from cfg and starts serving on cfg.Listen. Ending starting gives up
// the start (while it waits for Redis, say); the node runs until Shutdown.
func startNode(starting context.Context, cfg config.Config, log *slog.Logger) (*node, error) {
	ctx, stop := context.WithCancel(context.Background())
	eng, err := openEngines(starting, cfg, log)
	if err != nil {
		stop()
		return nil, err
	}
	n, err := wireNode(ctx, cfg, log, eng)
	if err != nil {
		stop()
		return nil, errors.Join(err, eng.close(context.Background()))
	}
	n.stop = stop
	return n, nil
}

// accountLimits are the limits per account of cfg.
func accountLimits(cfg config.Config) push.Limits {
	return push.Limits{
		Dialogue: cfg.Dialogue, Content: cfg.Content, Match: cfg.Match, Leave: cfg.Leave,
		Typing: cfg.Typing, Report: cfg.Report, Receipt: cfg.Receipt, Resume: cfg.Resume,
	}
}

// addressLimits are the limits per client address of cfg.
func addressLimits(cfg config.Config) push.AddressLimits {
	return push.AddressLimits{
		Connect: cfg.Connect, Connections: cfg.AddressConnections, Account: cfg.Account, Challenged: cfg.AccountChallenged,
		Reconnect: cfg.Reconnect,
		Requests: push.Limits{
			Dialogue: cfg.AddressDialogue, Content: cfg.AddressContent, Match: cfg.AddressMatch,
			Report: cfg.AddressReport, Resume: cfg.AddressResume,
		},
		FullRetry: cfg.PingInterval, // about when the client may look again whether a place is free
	}
}

func wireNode(ctx context.Context, cfg config.Config, log *slog.Logger, eng *engines) (*node, error) {
	now := time.Now
	ids, err := session.NewIDs(eng.nodeID)
	if err != nil {
		return nil, err
	}
	measure := metrics.New()
	hub := push.NewHub(eng.nodeID, eng.Store, measure)
	out, err := eng.deliverer(ctx, hub, measure)
	if err != nil {
		return nil, err
	}
	content, err := filter.New(filter.Options{WordsFile: cfg.FilterWords, LinksAfter: cfg.FilterLinksAfter})
	if err != nil {
		return nil, err
	}
	observe := newLogObserver(measure, log)
	svc := session.NewService(eng.Engines, out, ids, now, log, session.Options{
		MaxSessions: cfg.MaxSessions, MaxContent: cfg.MaxContent, MaxNickname: cfg.MaxNickname, MaxCombiningMarks: cfg.MaxCombiningMarks,
		PingInterval: cfg.PingInterval, PresenceTimeout: cfg.PresenceTimeout, TypingTimeout: cfg.TypingTimeout,
		Cooloff: cfg.Cooloff, Observer: observe, Filter: content,
		Evidence: session.EvidenceLimits{Messages: cfg.EvidenceSize, Bytes: cfg.EvidenceKiB << 10},
	})
	gate := challenge.NewGate(challenge.Options{
		Mode: challenge.Mode(cfg.Challenge), Steps: challengeSteps(cfg), Window: cfg.ChallengeWindow, Refresh: challengeRefresh,
		Signer: challenge.NewSigner(eng.challengeSecret, cfg.ChallengeTTL), Ledger: eng.ledger, Tallies: eng.tallies,
		Modes: eng.Moderation, Now: now, Log: log, Observe: measure,
	})
	clientIP := web.ClientIP(cfg.TrustedProxies)
	pushSrv := push.NewServer(svc, hub, now, log, push.Options{
		PingInterval: cfg.PingInterval, PresenceTimeout: cfg.PresenceTimeout,
		ReadLimit: cfg.ReadLimit, SendQueueBytes: cfg.SendQueueBytes, WriteTimeout: cfg.WriteTimeout,
		AllowedOrigins: cfg.AllowedOrigins, ClientIP: clientIP, Hasher: moderation.NewHasher(eng.secret),
		RateLimitExempt: cfg.RateLimitExempt,
		Limits:          accountLimits(cfg), LimitStore: eng.limitStore,
		Addresses: eng.addresses, Address: addressLimits(cfg),
		AddressBuckets: eng.addressBuckets, AddressShare: cfg.AddressShare,
		BadFrameLimit: cfg.BadFrameLimit, BadFrameWindow: cfg.BadFrameWindow, Observer: observe,
		Challenges: gate,
	})
	measure.Register(gauges(eng, pushSrv, hub, gate)...)
	site, err := siteTexts(cfg)
	if err != nil {
		return nil, err
	}
	drainGate := web.NewGate(maxConnections(cfg.MaxConnections, log), pushSrv.Len)
	app := web.New(web.Options{
		WebSocket: pushSrv, Gate: drainGate, Ready: svc, ClientIP: clientIP, Log: log, Page: frontend.Page(),
		PageSettings: web.PageSettings{
			MaxSessions: cfg.MaxSessions, MaxContent: cfg.MaxContent, MaxNickname: cfg.MaxNickname,
			InterestWaitMs: cfg.InterestWait.Milliseconds(), Site: site,
		},
		Online: func(ctx context.Context) (web.OnlineCount, error) { return countOnline(ctx, eng, hub.Len(), now()) },
	})
	if !frontend.Built() {
		log.Warn("this binary has no web page; / says how to build it (make build)")
	}
	if cfg.AdminToken != "" {
		admin.Register(app, admin.Options{
			Token: cfg.AdminToken, TokenTries: cfg.AdminTokenTries, TokenWait: cfg.AdminTokenWait, Service: svc, Store: eng.Store, Queue: eng.Queue, Moderation: eng.Moderation, Board: eng.board,
			Challenges: gate, Metrics: measure.Handler(), Now: now, Log: log,
		})
	}

	var certs *web.TLS
	if cfg.TLS() {
		if certs, err = web.NewTLS(web.TLSOptions{
			CertFile: cfg.TLSCert, KeyFile: cfg.TLSKey,
			AutocertDomains: cfg.TLSAutocertDomains, AutocertCache: cfg.TLSAutocertCache,
			AutocertEmail: cfg.TLSAutocertEmail, AutocertDirectory: cfg.TLSAutocertDirectory,
			Now: now, Log: log,
		}); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
	}
	listener, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	n := &node{
		log: log, engines: eng, listener: listener, push: pushSrv, gate: drainGate, served: make(chan error, 2),
		drainDelay: cfg.DrainDelay, drainSpread: cfg.DrainSpread,
		http: newHTTPServer(app, cfg, log),
	}
	if cfg.HTTPListen != "" {
		if n.plainAt, err = net.Listen("tcp", cfg.HTTPListen); err != nil {
			listener.Close()
			return nil, fmt.Errorf("http_listen: %w", err)
		}
		_, httpsPort, _ := net.SplitHostPort(listener.Addr().String())
		n.plain = newHTTPServer(certs.PlainHandler(httpsPort), cfg, log)
		log.Info("plain HTTP answers ACME challenges and redirects to https", "http_listen", n.plainAt.Addr().String())
	}
	postStats := func(ctx context.Context) {
		id := metrics.Identity{Node: eng.nodeID, Version: version, StartedAt: now()}
		counts := func(ctx context.Context) (metrics.Counts, error) {
			c := metrics.Counts{Connections: pushSrv.Len(), Accounts: hub.Len()}
			waiting, err := eng.Queue.Waiting(ctx)
			if err != nil {
				return c, err
			}
			_, live, err := eng.Store.AllLive(ctx, 0)
			c.Waiting, c.Sessions = len(waiting), live
			return c, err
		}
		measure.PostEvery(ctx, eng.board, cfg.PingInterval, id, counts, now, log)
	}
	watchWords := func(ctx context.Context) {
		if err := content.Watch(ctx, cfg.FilterReload, log); err != nil {
			log.Error("watching the word list", "err", err)
		}
	}
	collector := func(ctx context.Context) {
		tuneGC(ctx, cfg.GCIdlePercent, cfg.GCBusyAllocMiB, runtimeGOGC(os.Getenv), log)
	}
	for _, loop := range append(eng.loops, svc.Run, pushSrv.Run, postStats, watchWords, gate.Run, collector) {
		n.loops.Go(func() { loop(ctx) })
	}
	if certs != nil {
		n.http.TLSConfig = certs.Config
		go func() { n.served <- n.http.ServeTLS(listener, "", "") }()
	} else {
		go func() { n.served <- n.http.Serve(listener) }()
	}
	if n.plain != nil {
		go func() { n.served <- n.plain.Serve(n.plainAt) }()
	}
	return n, nil
}

// challengeRefresh is how often a node shares its count of new accounts and reads the challenge
// mode in force: a mode an operator sets holds on every node within it.
const challengeRefresh = time.Second

// challengeSteps are the steps of difficulty of cfg.
func challengeSteps(cfg config.Config) []challenge.Step {
	steps := make([]challenge.Step, len(cfg.ChallengeSteps))
	for i, n := range cfg.ChallengeSteps {
		steps[i] = challenge.Step{Rate: cfg.ChallengeRates[i], MaxNumber: n}
	}
	return steps
}

// siteTexts reads the operator's texts of the site that the page shows.
func siteTexts(cfg config.Config) (web.SiteTexts, error) {
	site := web.SiteTexts{Name: cfg.SiteName, Contact: cfg.SiteContact, Abuse: cfg.SiteAbuse}
	var err error
	if site.Rules, err = web.ReadSiteText(cfg.SiteRulesFile); err != nil {
		return site, fmt.Errorf("config: site_rules_file: %w", err)
	}
	if site.Privacy, err = web.ReadSiteText(cfg.SitePrivacyFile); err != nil {
		return site, fmt.Errorf("config: site_privacy_file: %w", err)
	}
	return site, nil
}

// newHTTPServer serves h with the timeouts of plain HTTP and a count of each peer address's
// connections; a WebSocket, once upgraded, leaves both behind for push's limits.
func newHTTPServer(h http.Handler, cfg config.Config, log *slog.Logger) *http.Server {
	sockets := web.NewSockets(cfg.AddressHTTPConnections, cfg.TrustedProxies, cfg.RateLimitExempt)
	return &http.Server{
		Handler:      h,
		ReadTimeout:  cfg.HTTPTimeout,
		WriteTimeout: cfg.HTTPTimeout,
		IdleTimeout:  cfg.HTTPIdleTimeout,
		ConnState:    sockets.Track,
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// gauges are the figures /metrics reads when it is scraped: the connections and the accounts
// they hold on this node, and the waiting and chatting accounts of the whole service (the same
// on every node), from the engines.
func gauges(eng *engines, pushSrv *push.Server, hub *push.Hub, gate *challenge.Gate) []prometheus.Collector {
	read := func(f func(ctx context.Context) (int, error)) func() float64 {
		return func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), gaugeTimeout)
			defer cancel()
			n, err := f(ctx)
			if err != nil {
				return math.NaN()
			}
			return float64(n)
		}
	}
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "duet_connections", Help: "Open WebSocket connections on this node."},
			func() float64 { return float64(pushSrv.Len()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "duet_accounts", Help: "Accounts connected to this node."},
			func() float64 { return float64(hub.Len()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "duet_waiting", Help: "Accounts waiting for a partner, in the whole service."},
			read(func(ctx context.Context) (int, error) {
				ws, err := eng.Queue.Waiting(ctx)
				return len(ws), err
			})),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "duet_challenge_maxnumber", Help: "Difficulty of the proof-of-work challenge an ordinary new visitor is asked now; 0: none."},
			func() float64 { return float64(gate.State().MaxNumber) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "duet_challenge_mode", Help: "The proof-of-work mode in force: 0 off, 1 on, 2 auto."},
			func() float64 { return float64(slices.Index(challengeModes, gate.State().Mode)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "duet_account_requests_per_second", Help: "Requests for a new account without a proof, per second, in the whole service, as this node last saw them."},
			func() float64 { return gate.State().Rate }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "duet_live_sessions", Help: "Live sessions, in the whole service."},
			read(func(ctx context.Context) (int, error) {
				_, n, err := eng.Store.AllLive(ctx, 0)
				return n, err
			})),
	}
}

// countOnline counts the accounts connected to every node and those waiting, for the page.
// This node's own figure is the live one, here: its post on the board is up to a ping interval
// old, and the visitor who just started, asking from this node, must count.
func countOnline(ctx context.Context, eng *engines, here int, now time.Time) (web.OnlineCount, error) {
	nodes, err := eng.board.Nodes(ctx, now)
	if err != nil {
		return web.OnlineCount{}, err
	}
	waiting, err := eng.Queue.Waiting(ctx)
	if err != nil {
		return web.OnlineCount{}, err
	}
	n := web.OnlineCount{Online: here, Waiting: len(waiting)}
	for _, node := range nodes {
		if node.Node != eng.nodeID {
			n.Online += node.Accounts
		}
	}
	return n, nil
}

// challengeModes are the modes by their number in the duet_challenge_mode gauge.
var challengeModes = []challenge.Mode{challenge.Off, challenge.On, challenge.Auto}

// gaugeTimeout bounds how long a scrape waits for the engines.
const gaugeTimeout = time.Second

// Addr is the address the node listens on.
func (n *node) Addr() string { return n.listener.Addr().String() }

// Shutdown drains the node: /readyz answers 503 and new WebSockets are refused for the drain
// delay, so that a load balancer stops sending clients here; then the WebSockets are closed
// with 1001 over the drain spread, so that their clients reconnect elsewhere a few at a time;
// then the HTTP server, the background loops and the engines stop.
func (n *node) Shutdown(ctx context.Context) error {
	n.gate.Drain()
	if n.drainDelay > 0 {
		n.log.Info("draining: /readyz answers 503 before connections close", "drain_delay", n.drainDelay)
		select {
		case <-time.After(n.drainDelay):
		case <-ctx.Done():
		}
	}
	n.log.Info("closing connections", "connections", n.push.Len(), "drain_spread", n.drainSpread)
	errPush := n.push.Drain(ctx, n.drainSpread)
	errs := []error{errPush}
	servers := []*http.Server{n.http}
	if n.plain != nil {
		servers = append(servers, n.plain)
	}
	for _, srv := range servers {
		errs = append(errs, srv.Shutdown(ctx))
	}
	n.stop()
	n.loops.Wait()
	errs = append(errs, n.engines.close(ctx))
	for range servers {
		if err := <-n.served; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// spareFiles are the files a node needs besides its WebSockets: page and API requests, Redis
// connections, logs.
const spareFiles = 1024

// defaultMaxConnections is max_connections when the open-file limit allows it and the
// setting is 0.
const defaultMaxConnections = 20000

// maxConnections returns the cap on WebSockets: the setting, or with 0 the default lowered to
// what the open-file limit allows. A setting above that is kept, with a warning, so that the
// limit an operator meets is known and not failing accepts. Go has raised the soft limit to the
// hard one at start, so only the hard limit (ulimit -Hn, LimitNOFILE in systemd) can give more.
func maxConnections(setting int, log *slog.Logger) int {
	limit, known := openFileLimit()
	allowed := defaultMaxConnections
	if known {
		room := limit / 2 // a small limit: half of it
		if limit > 2*spareFiles {
			room = limit - spareFiles
		}
		allowed = int(min(uint64(allowed), room))
	}
	switch {
	case setting == 0:
		log.Info("connections per node", "max_connections", allowed, "open_file_limit", limit)
		return allowed
	case known && uint64(setting)+spareFiles > limit:
		log.Warn("the open-file limit is lower than max_connections needs; raise it (ulimit -Hn, systemd LimitNOFILE) or lower max_connections",
			"max_connections", setting, "open_file_limit", limit, "needs", uint64(setting)+spareFiles)
	}
	return setting
}
