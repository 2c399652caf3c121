package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/duetchat/duet/boltengine"
	"github.com/duetchat/duet/challenge"
	"github.com/duetchat/duet/config"
	"github.com/duetchat/duet/match"
	"github.com/duetchat/duet/metrics"
	"github.com/duetchat/duet/moderation"
	"github.com/duetchat/duet/push"
	"github.com/duetchat/duet/redisengine"
	"github.com/duetchat/duet/session"
)

// engines are where a node keeps its shared state, and how its pushes reach other nodes.
type engines struct {
	session.Engines
	nodeID int64
	board  metrics.Board
	secret []byte // the key of client address hashes
	// The proof-of-work challenges: the key that signs them, and what the nodes share of them.
	challengeSecret []byte
	ledger          challenge.Ledger
	tallies         challenge.Tallies
	// addresses keeps the limits per client address for all nodes; nil: each node keeps its own.
	addresses push.AddressLimiter
	// addressBuckets shares what each node spends of the request limits per client address;
	// nil: there is one node.
	addressBuckets push.AddressBucketStore
	// limitStore carries an account's rate limits from node to node; nil: there is one node.
	limitStore push.LimitStore
	// deliverer returns how pushes leave this node, given its hub of local connections and who
	// hears where they go. It is
	// ready to receive before it returns.
	deliverer func(ctx context.Context, hub *push.Hub, observe session.DeliveryObserver) (session.Deliverer, error)
	loops     []func(ctx context.Context) // run until the node stops
	close     func(ctx context.Context) error
}

// nodeLeaseTTL is how long a dead node keeps its node id before another node may take it.
const nodeLeaseTTL = 30 * time.Second

func openEngines(ctx context.Context, cfg config.Config, log *slog.Logger) (*engines, error) {
	rule := match.Rule{
		InterestWait: cfg.InterestWait, PartnerCooldown: cfg.PartnerCooldown, CooldownQueue: cfg.CooldownQueue,
		DistinctClients: cfg.DistinctClients,
	}
	switch cfg.Engine {
	case "redis":
		return openRedis(ctx, cfg, rule, log)
	default:
		return openMemory(cfg, rule, log)
	}
}

// reportLimits are the limits of every engine's report store.
func reportLimits(cfg config.Config) session.ReportLimits {
	return session.ReportLimits{Retention: cfg.ReportRetention, MaxReports: cfg.MaxReports}
}

// purgeInterval is how often the memory engine deletes the bans that ended and the reports past
// their retention from its data directory.
const purgeInterval = time.Minute

// openMemory opens the engines of a single node: everything in memory, except what moderation
// must not forget at a restart, which is kept in cfg.DataDir unless that is empty.
func openMemory(cfg config.Config, rule match.Rule, log *slog.Logger) (*engines, error) {
	eng := &engines{
		Engines: session.Engines{
			Store: session.NewMemoryStore(session.MemoryOptions{
				HistorySize: cfg.HistorySize, BacklogSize: cfg.BacklogSize, Retention: cfg.HistoryRetention, Now: time.Now,
			}),
			Queue: match.NewMemoryQueue(rule),
			Epoch: session.FixedEpoch(session.NewEpochName()),
		},
		nodeID:          0, // the only node
		board:           metrics.NewMemoryBoard(),
		secret:          []byte(cfg.AddressSecret),
		challengeSecret: []byte(cfg.ChallengeSecret),
		ledger:          challenge.NewMemoryLedger(cfg.ChallengeLedger, time.Now),
		tallies:         &challenge.MemoryTallies{},
		deliverer: func(_ context.Context, hub *push.Hub, _ session.DeliveryObserver) (session.Deliverer, error) {
			return hub, nil
		},
		close: func(context.Context) error { return nil },
	}
	if cfg.DataDir == "" {
		log.Warn("data_dir is empty: bans, reports and the audit log are kept in memory only, and lost at each restart")
		eng.Reports = session.NewMemoryReports(reportLimits(cfg), time.Now)
		eng.Moderation = moderation.NewMemoryStore(cfg.AuditSize)
		if len(eng.secret) == 0 {
			eng.secret = []byte(rand.Text())
		}
		if len(eng.challengeSecret) == 0 {
			eng.challengeSecret = []byte(rand.Text())
		}
		return eng, nil
	}
	db, err := boltengine.Open(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("data_dir %s: %w", cfg.DataDir, err)
	}
	if len(eng.secret) == 0 {
		if eng.secret, err = db.AddressSecret(); err != nil {
			return nil, errors.Join(fmt.Errorf("data_dir %s: %w", cfg.DataDir, err), db.Close())
		}
	}
	if len(eng.challengeSecret) == 0 {
		if eng.challengeSecret, err = db.ChallengeSecret(); err != nil {
			return nil, errors.Join(fmt.Errorf("data_dir %s: %w", cfg.DataDir, err), db.Close())
		}
	}
	log.Info("keeping bans, reports and the audit log", "file", db.Path())
	mod, reports := boltengine.NewModeration(db, cfg.AuditSize), boltengine.NewReports(db, reportLimits(cfg), time.Now)
	eng.Moderation, eng.Reports = mod, reports
	eng.loops = []func(context.Context){func(ctx context.Context) {
		boltengine.PurgeEvery(ctx, purgeInterval, time.Now, log, mod, reports)
	}}
	eng.close = func(context.Context) error { return db.Close() }
	return eng, nil
}

// Pauses between tries while a start waits for Redis: from the first, doubling up to the
// longest. A line is logged at most every redisWaitLog.
const (
	redisRetryFirst   = 100 * time.Millisecond
	redisRetryLongest = 2 * time.Second
	redisWaitLog      = 5 * time.Second
)

// waitForRedis tries Redis until it answers or patience has passed, so that a node started
// with or before its Redis (by compose, systemd) waits for it instead of exiting and being
// restarted in a loop. A refused password or permission will not get better, and fails at once.
func waitForRedis(ctx context.Context, client redis.UniversalClient, patience time.Duration, where string, log *slog.Logger) error {
	start := time.Now()
	pause := redisRetryFirst
	var logged time.Time
	for {
		err := client.Ping(ctx).Err()
		switch {
		case err == nil:
			if !logged.IsZero() {
				log.Info("Redis answers", "redis_url", where, "waited", time.Since(start).Round(time.Millisecond))
			}
			return nil
		case redis.IsAuthError(err) || redis.IsPermissionError(err):
			return fmt.Errorf("engine redis: redis_url %s: %w", where, err)
		case time.Since(start) >= patience:
			return fmt.Errorf("engine redis: redis_url %s: no answer within redis_wait (%v): %w", where, patience, err)
		}
		if time.Since(logged) >= redisWaitLog {
			log.Warn("waiting for Redis", "redis_url", where, "err", err, "redis_wait", patience, "waited", time.Since(start).Round(time.Second))
			logged = time.Now()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("engine redis: stopped while waiting for Redis at %s: %w", where, context.Cause(ctx))
		case <-time.After(min(pause, patience-time.Since(start))):
		}
		pause = min(2*pause, redisRetryLongest)
	}
}

func openRedis(ctx context.Context, cfg config.Config, rule match.Rule, log *slog.Logger) (*engines, error) {
	client, err := redisengine.Open(cfg.RedisURL, cfg.RedisTimeout)
	if err != nil {
		return nil, fmt.Errorf("config: redis_url: %w", err)
	}
	// The URL may hold a password: logs and errors show it redacted, and never go-redis's own
	// view of the options.
	where := redisengine.Redacted(cfg.RedisURL)
	if err := waitForRedis(ctx, client, cfg.RedisWait, where, log); err != nil {
		client.Close()
		return nil, err
	}
	lease, err := redisengine.LeaseNodeID(ctx, client, cfg.RedisPrefix, session.MaxNodeID, nodeLeaseTTL, log)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("engine redis: redis_url %s: %w", where, err)
	}
	log.Info("leased a node id", "node", lease.ID())
	secret := []byte(cfg.AddressSecret)
	if len(secret) == 0 {
		if secret, err = redisengine.AddressSecret(ctx, client, cfg.RedisPrefix); err != nil {
			return nil, errors.Join(err, lease.Release(ctx), client.Close())
		}
	}
	challengeSecret := []byte(cfg.ChallengeSecret)
	if len(challengeSecret) == 0 {
		if challengeSecret, err = redisengine.ChallengeSecret(ctx, client, cfg.RedisPrefix); err != nil {
			return nil, errors.Join(err, lease.Release(ctx), client.Close())
		}
	}
	epoch, err := redisengine.OpenEpoch(ctx, client, cfg.RedisPrefix, log)
	if err != nil {
		return nil, errors.Join(err, lease.Release(ctx), client.Close())
	}
	store := redisengine.NewStore(client, redisengine.StoreOptions{
		Prefix: cfg.RedisPrefix, Node: lease.ID(), HistorySize: cfg.HistorySize, BacklogSize: cfg.BacklogSize,
		Retention: cfg.HistoryRetention, AccountTTL: cfg.PresenceTimeout * 3,
		MinReplicas: cfg.RedisMinReplicas, ReplicaTimeout: cfg.RedisReplicaTimeout,
	})
	var delivery *redisengine.Delivery
	addresses := redisengine.NewAddresses(client, cfg.RedisPrefix, addressLimits(cfg), nodeLeaseTTL, time.Now, log)
	challenges := redisengine.NewChallenges(client, cfg.RedisPrefix, cfg.ChallengeWindow)
	return &engines{
		Engines: session.Engines{
			Store:      store,
			Reports:    redisengine.NewReports(client, cfg.RedisPrefix, reportLimits(cfg)),
			Queue:      redisengine.NewQueue(client, cfg.RedisPrefix, rule),
			Moderation: redisengine.NewModeration(client, cfg.RedisPrefix, cfg.AuditSize),
			Epoch:      epoch,
		},
		nodeID:          lease.ID(),
		board:           redisengine.NewBoard(client, cfg.RedisPrefix),
		secret:          secret,
		challengeSecret: challengeSecret,
		ledger:          challenges,
		tallies:         challenges,
		addresses:       addresses,
		addressBuckets:  addresses,
		limitStore:      redisengine.NewLimits(client, cfg.RedisPrefix, accountLimits(cfg)),
		deliverer: func(ctx context.Context, hub *push.Hub, observe session.DeliveryObserver) (session.Deliverer, error) {
			delivery = redisengine.NewDelivery(client, store, lease.ID(), hub, 2*cfg.RedisTimeout, observe, log)
			return delivery, delivery.Subscribe(ctx)
		},
		loops: []func(context.Context){
			lease.Run, func(ctx context.Context) { delivery.Run(ctx) },
			func(ctx context.Context) { epoch.Run(ctx, cfg.PingInterval) },
			addresses.Run,
		},
		close: func(ctx context.Context) error {
			return errors.Join(lease.Release(ctx), client.Close())
		},
	}, nil
}
