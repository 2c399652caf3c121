package redisengine

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/duetchat/duet"
	"github.com/duetchat/duet/session"
)

// Epoch is the session.Epoch of the nodes that share a Redis: a key made once by whichever node
// asks first, and made anew, under a new name, when Redis lost it (emptied, or restarted without
// persistence). Every node reads it at start and again every check interval, never per request,
// so after Redis lost its state the nodes name the new epoch within one interval.
type Epoch struct {
	client  redis.UniversalClient
	key     string
	log     *slog.Logger
	current atomic.Pointer[string]
}

var _ session.Epoch = (*Epoch)(nil)

// epochScript returns the epoch, making it from ARGV[1] if there is none.
// KEYS: epoch. ARGV: a fresh epoch name.
var epochScript = redis.NewScript(`
local e = redis.call('GET', KEYS[1])
if e then return e end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]`)

// OpenEpoch reads (or makes) the epoch of the nodes under prefix.
func OpenEpoch(ctx context.Context, client redis.UniversalClient, prefix string, log *slog.Logger) (*Epoch, error) {
	e := &Epoch{client: client, key: keyspace{prefix}.epoch(), log: log}
	if err := e.check(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// Current implements session.Epoch.
func (e *Epoch) Current() string { return *e.current.Load() }

// Run checks the epoch every interval until ctx ends.
func (e *Epoch) Run(ctx context.Context, every time.Duration) {
	duet.Every(ctx, every, func() {
		if err := e.check(ctx); err != nil && ctx.Err() == nil {
			e.log.Warn("checking the epoch", "err", err)
		}
	})
}

// check reads the epoch, making a new one if Redis has lost it.
func (e *Epoch) check(ctx context.Context) error {
	name, err := epochScript.Run(ctx, e.client, []string{e.key}, session.NewEpochName()).Text()
	if err != nil {
		return fmt.Errorf("redisengine: epoch: %w", err)
	}
	if old := e.current.Swap(&name); old != nil && *old != name {
		e.log.Warn("Redis lost the service's state: a new epoch begins", "epoch", name, "was", *old)
	}
	return nil
}
