package redisengine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/duetchat/duet"
)

// Lease is a node id held in Redis for as long as the node lives, so that no two nodes issue
// the same snowflake ids. It expires by itself if the node dies without releasing it.
type Lease struct {
	client redis.UniversalClient
	key    string
	token  string // proves this node holds the lease
	id     int64
	ttl    time.Duration
	log    *slog.Logger
}

// ErrNoNodeID means every node id is leased by a live node.
var ErrNoNodeID = errors.New("redisengine: every node id is in use")

// renewScript extends the lease if this node still holds it.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`)

// releaseScript gives the lease back if this node still holds it.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0`)

// LeaseNodeID takes a free node id in 0..maxID under prefix, held for ttl and renewed by Run.
func LeaseNodeID(ctx context.Context, client redis.UniversalClient, prefix string, maxID int64, ttl time.Duration, log *slog.Logger) (*Lease, error) {
	var secret [16]byte
	rand.Read(secret[:])
	token := hex.EncodeToString(secret[:])
	// Start at a random id so that nodes starting together rarely contend.
	start, err := rand.Int(rand.Reader, big.NewInt(maxID+1))
	if err != nil {
		return nil, err
	}
	keys := keyspace{prefix}
	for i := range maxID + 1 {
		id := (start.Int64() + i) % (maxID + 1)
		key := keys.node(id)
		ok, err := client.SetNX(ctx, key, token, ttl).Result()
		if err != nil {
			return nil, fmt.Errorf("redisengine: leasing node id %d: %w", id, err)
		}
		if ok {
			return &Lease{client: client, key: key, token: token, id: id, ttl: ttl, log: log}, nil
		}
	}
	return nil, ErrNoNodeID
}

// ID is the leased node id.
func (l *Lease) ID() int64 { return l.id }

// Run renews the lease every third of its lifetime until ctx ends. A lease that lapsed (Redis
// unreachable for longer than its lifetime) is taken again if the id is still free, and logged
// loudly if another node has taken it.
func (l *Lease) Run(ctx context.Context) {
	duet.Every(ctx, l.ttl/3, func() {
		held, err := renewScript.Run(ctx, l.client, []string{l.key}, l.token, l.ttl.Milliseconds()).Int()
		switch {
		case err != nil && ctx.Err() == nil:
			l.log.Warn("renewing the node id lease", "node", l.id, "err", err)
		case err == nil && held == 0:
			l.regain(ctx)
		}
	})
}

// regain takes the lease again after it lapsed, if no other node has taken the id meanwhile.
func (l *Lease) regain(ctx context.Context) {
	ok, err := l.client.SetNX(ctx, l.key, l.token, l.ttl).Result()
	switch {
	case err != nil:
		l.log.Warn("regaining the node id lease", "node", l.id, "err", err)
	case ok:
		l.log.Warn("node id lease had lapsed and was regained", "node", l.id)
	default:
		l.log.Error("node id lease lost to another node: ids may collide; restart this node", "node", l.id)
	}
}

// Release gives the node id back.
func (l *Lease) Release(ctx context.Context) error {
	if err := releaseScript.Run(ctx, l.client, []string{l.key}, l.token).Err(); err != nil {
		return fmt.Errorf("redisengine: releasing node id %d: %w", l.id, err)
	}
	return nil
}

// channel is the sharded pub/sub channel on which node id receives pushes.
func (k keyspace) channel(node int64) string {
	head, tail := k.channelAround()
	return head + strconv.FormatInt(node, 10) + tail
}

func (k keyspace) channelPrefix() string { return k.prefix + "{n:" }

// channelAround is a node's channel name before and after its id, for scripts that learn the
// node from a route.
func (k keyspace) channelAround() (string, string) { return k.channelPrefix(), "}:push" }

// node is the key of node id's lease.
func (k keyspace) node(id int64) string {
	return k.prefix + "{n:" + strconv.FormatInt(id, 10) + "}"
}
