package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"time"

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
	// deliverer returns how pushes leave this node, given its hub of local connections. It is
	// ready to receive before it returns.
	deliverer func(ctx context.Context, hub *push.Hub) (session.Deliverer, error)
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
		store := session.NewMemoryStore(session.MemoryOptions{
			HistorySize: cfg.HistorySize, BacklogSize: cfg.BacklogSize, Retention: cfg.HistoryRetention, Now: time.Now,
		})
		secret := []byte(cfg.AddressSecret)
		if len(secret) == 0 {
			secret = []byte(rand.Text())
		}
		return &engines{
			Engines: session.Engines{
				Store:      store,
				Reports:    session.NewMemoryReports(cfg.ReportRetention, time.Now),
				Queue:      match.NewMemoryQueue(rule),
				Moderation: moderation.NewMemoryStore(cfg.AuditSize),
				Epoch:      session.FixedEpoch(session.NewEpochName()),
			},
			nodeID: 0, // the only node
			board:  metrics.NewMemoryBoard(),
			secret: secret,
			deliverer: func(_ context.Context, hub *push.Hub) (session.Deliverer, error) {
				return hub, nil
			},
			close: func(context.Context) error { return nil },
		}, nil
	}
}

func openRedis(ctx context.Context, cfg config.Config, rule match.Rule, log *slog.Logger) (*engines, error) {
	client, err := redisengine.Open(cfg.RedisURL, cfg.RedisTimeout)
	if err != nil {
		return nil, err
	}
	lease, err := redisengine.LeaseNodeID(ctx, client, cfg.RedisPrefix, session.MaxNodeID, nodeLeaseTTL, log)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("engine redis at %s: %w", cfg.RedisURL, err)
	}
	log.Info("leased a node id", "node", lease.ID())
	secret := []byte(cfg.AddressSecret)
	if len(secret) == 0 {
		if secret, err = redisengine.AddressSecret(ctx, client, cfg.RedisPrefix); err != nil {
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
	})
	var delivery *redisengine.Delivery
	return &engines{
		Engines: session.Engines{
			Store:      store,
			Reports:    redisengine.NewReports(client, cfg.RedisPrefix, cfg.ReportRetention),
			Queue:      redisengine.NewQueue(client, cfg.RedisPrefix, rule),
			Moderation: redisengine.NewModeration(client, cfg.RedisPrefix, cfg.AuditSize),
			Epoch:      epoch,
		},
		nodeID: lease.ID(),
		board:  redisengine.NewBoard(client, cfg.RedisPrefix),
		secret: secret,
		deliverer: func(ctx context.Context, hub *push.Hub) (session.Deliverer, error) {
			delivery = redisengine.NewDelivery(client, store, lease.ID(), hub, log)
			return delivery, delivery.Subscribe(ctx)
		},
		loops: []func(context.Context){
			lease.Run, func(ctx context.Context) { delivery.Run(ctx) },
			func(ctx context.Context) { epoch.Run(ctx, cfg.PingInterval) },
		},
		close: func(ctx context.Context) error {
			return errors.Join(lease.Release(ctx), client.Close())
		},
	}, nil
}
