package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/duetchat/duet/config"
	"github.com/duetchat/duet/frontend"
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
	log, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	redis.SetLogger(redisLogger{log})
	n, err := startNode(cfg, log)
	if err != nil {
		return err
	}
	log.Info("duet is serving", "version", version, "addr", n.Addr(), "engine", cfg.Engine)
	<-ctx.Done()
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	return n.Shutdown(shutdownCtx)
}

func newLogger(cfg config.Config, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return nil, fmt.Errorf("log_level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
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
	push     *push.Server
	stop     context.CancelFunc // ends the background loops
	loops    sync.WaitGroup
	served   chan error
}

// startNode wires a node from cfg and starts serving on cfg.Listen.
func startNode(cfg config.Config, log *slog.Logger) (*node, error) {
	ctx, stop := context.WithCancel(context.Background())
	eng, err := openEngines(ctx, cfg, log)
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

func wireNode(ctx context.Context, cfg config.Config, log *slog.Logger, eng *engines) (*node, error) {
	now := time.Now
	ids, err := session.NewIDs(eng.nodeID)
	if err != nil {
		return nil, err
	}
	hub := push.NewHub(eng.nodeID, eng.store)
	out, err := eng.deliverer(ctx, hub)
	if err != nil {
		return nil, err
	}
	svc := session.NewService(eng.store, eng.queue, out, ids, now, log, session.Options{
		MaxSessions: cfg.MaxSessions, MaxContent: cfg.MaxContent, MaxNickname: cfg.MaxNickname,
		PingInterval: cfg.PingInterval, PresenceTimeout: cfg.PresenceTimeout, PartnerCooldown: cfg.PartnerCooldown, TypingTimeout: cfg.TypingTimeout,
	})
	pushSrv := push.NewServer(svc, hub, now, log, push.Options{
		PingInterval: cfg.PingInterval, PresenceTimeout: cfg.PresenceTimeout,
		ReadLimit: cfg.ReadLimit, SendQueue: cfg.SendQueue, WriteTimeout: cfg.WriteTimeout,
		AllowedOrigins: cfg.AllowedOrigins, RateLimitExempt: cfg.RateLimitExempt,
		DialogueRate: rate.Limit(cfg.DialogueRate), DialogueBurst: cfg.DialogueBurst,
		MatchRate: rate.Limit(cfg.MatchRate), MatchBurst: cfg.MatchBurst,
		TypingRate: rate.Limit(cfg.TypingRate), TypingBurst: cfg.TypingBurst,
		BadFrameLimit: cfg.BadFrameLimit, BadFrameWindow: cfg.BadFrameWindow,
	})
	app := web.New(web.Options{
		WebSocket: pushSrv, Ready: svc, Log: log, Page: frontend.Page(),
		PageSettings: web.PageSettings{
			MaxSessions: cfg.MaxSessions, MaxContent: cfg.MaxContent, MaxNickname: cfg.MaxNickname,
			InterestWaitMs: cfg.InterestWait.Milliseconds(),
		},
	})
	if !frontend.Built() {
		log.Warn("this binary has no web page; / says how to build it (make build)")
	}

	listener, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	n := &node{
		log: log, engines: eng, listener: listener, push: pushSrv, served: make(chan error, 1),
		http: &http.Server{
			Handler:           app,
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
	}
	for _, loop := range append(eng.loops, svc.Run, pushSrv.Run) {
		n.loops.Go(func() { loop(ctx) })
	}
	go func() { n.served <- n.http.Serve(listener) }()
	return n, nil
}

// Addr is the address the node listens on.
func (n *node) Addr() string { return n.listener.Addr().String() }

// Shutdown stops accepting connections, closes every WebSocket with 1001 so that clients
// reconnect, then stops the HTTP server, the background loops and the engines.
func (n *node) Shutdown(ctx context.Context) error {
	errPush := n.push.Shutdown(ctx)
	errHTTP := n.http.Shutdown(ctx)
	n.stop()
	n.loops.Wait()
	errEngines := n.engines.close(ctx)
	if err := <-n.served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return errors.Join(errPush, errHTTP, errEngines)
}
