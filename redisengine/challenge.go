package redisengine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/duetchat/duet/challenge"
)

// Challenges keeps what the nodes share of proof-of-work challenges: the challenges whose
// proofs were accepted (challenge.Ledger) and the tally of new-account requests
// (challenge.Tallies). Neither is asked on the message path.
type Challenges struct {
	client redis.UniversalClient
	keys   keyspace
	window time.Duration // of a tally
}

var (
	_ challenge.Ledger  = (*Challenges)(nil)
	_ challenge.Tallies = (*Challenges)(nil)
)

// NewChallenges returns the shared state of challenges under prefix, tallied by windows of the
// given length.
func NewChallenges(client redis.UniversalClient, prefix string, window time.Duration) *Challenges {
	return &Challenges{client: client, keys: keyspace{prefix}, window: window}
}

// Spend implements challenge.Ledger with SET NX, which one node wins.
func (c *Challenges) Spend(ctx context.Context, hash string, until time.Time) (bool, error) {
	err := c.client.SetArgs(ctx, c.keys.spent(hash), 1, redis.SetArgs{Mode: "NX", ExpireAt: until}).Err()
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("redisengine: spending a challenge: %w", err)
	}
	return true, nil
}

// Add implements challenge.Tallies. A window's tally lives three windows, long enough to be
// read as the previous one.
func (c *Challenges) Add(ctx context.Context, w, n int64) (int64, int64, error) {
	var cur *redis.IntCmd
	var prev *redis.StringCmd
	_, err := c.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		cur = p.IncrBy(ctx, c.keys.tally(w), n)
		p.PExpire(ctx, c.keys.tally(w), 3*c.window)
		prev = p.Get(ctx, c.keys.tally(w-1))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, 0, fmt.Errorf("redisengine: tallying new accounts: %w", err)
	}
	before, err := prev.Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, 0, fmt.Errorf("redisengine: tallying new accounts: %w", err)
	}
	return cur.Val(), before, nil
}
