package redisengine

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/duetchat/duet/push"
)

// Limits keeps what an account has spent of its rate limits while it moves from node to node:
// the node it leaves saves its buckets, the node a RECONNECT brings it to loads them. The key,
// {prefix}{a:ID}:limits, is a hash of bucket name → "tokens,when (Unix ms)" of the buckets that
// were not full, and expires once they all would be again.
type Limits struct {
	client redis.UniversalClient
	keys   keyspace
	ttl    time.Duration
}

var _ push.LimitStore = (*Limits)(nil)

// NewLimits returns the store in client under prefix of the buckets of limits.
func NewLimits(client redis.UniversalClient, prefix string, limits push.Limits) *Limits {
	ttl := max(refill(limits.Dialogue), refill(limits.Content), refill(limits.Match), refill(limits.Leave),
		refill(limits.Typing), refill(limits.Report), refill(limits.Receipt), refill(limits.Resume))
	return &Limits{client: client, keys: keyspace{prefix}, ttl: ttl}
}

func (k keyspace) accountLimits(id int64) string { return k.id("a", id) + ":limits" }

// LoadLimits implements push.LimitStore.
func (l *Limits) LoadLimits(ctx context.Context, accountID int64) (map[string]push.Bucket, error) {
	fields, err := l.client.HGetAll(ctx, l.keys.accountLimits(accountID)).Result()
	if err != nil {
		return nil, err
	}
	buckets := make(map[string]push.Bucket, len(fields))
	for name, v := range fields {
		tokens, at, ok := strings.Cut(v, ",")
		t, err1 := strconv.ParseFloat(tokens, 64)
		ms, err2 := strconv.ParseInt(at, 10, 64)
		if ok && err1 == nil && err2 == nil {
			buckets[name] = push.Bucket{Tokens: t, At: time.UnixMilli(ms)}
		}
	}
	return buckets, nil
}

// SaveLimits implements push.LimitStore. It replaces what was saved: the saving node holds the
// account, and took in the earlier state when it got it.
func (l *Limits) SaveLimits(ctx context.Context, accountID int64, buckets map[string]push.Bucket) error {
	key := l.keys.accountLimits(accountID)
	_, err := l.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, key)
		if len(buckets) == 0 {
			return nil
		}
		fields := make([]any, 0, 2*len(buckets))
		for name, b := range buckets {
			fields = append(fields, name, strconv.FormatFloat(b.Tokens, 'f', 3, 64)+","+strconv.FormatInt(b.At.UnixMilli(), 10))
		}
		p.HSet(ctx, key, fields...)
		p.PExpire(ctx, key, l.ttl)
		return nil
	})
	return err
}
