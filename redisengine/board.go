package redisengine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/duetchat/duet/metrics"
)

// Board is the metrics.Board of many nodes: one hash of posts, field node id, each post
// carrying the time after which it is stale. The hash lives as long as posts keep coming.
type Board struct {
	rdb  redis.UniversalClient
	keys keyspace
}

var _ metrics.Board = (*Board)(nil)

// NewBoard returns the board kept under prefix by client.
func NewBoard(client redis.UniversalClient, prefix string) *Board {
	return &Board{rdb: client, keys: keyspace{prefix}}
}

type boardPost struct {
	Stats metrics.Stats `json:"stats"`
	Until int64         `json:"until"` // Unix ms
}

// Post implements metrics.Board.
func (b *Board) Post(ctx context.Context, s metrics.Stats, ttl time.Duration) error {
	data, err := json.Marshal(boardPost{s, s.PostedAt.Add(ttl).UnixMilli()})
	if err != nil {
		return err
	}
	_, err = b.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, b.keys.board(), strconv.FormatInt(s.Node, 10), data)
		p.PExpire(ctx, b.keys.board(), ttl)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redisengine: posting node stats: %w", err)
	}
	return nil
}

// Nodes implements metrics.Board. Stale posts are removed as they are met.
func (b *Board) Nodes(ctx context.Context, now time.Time) ([]metrics.Stats, error) {
	all, err := b.rdb.HGetAll(ctx, b.keys.board()).Result()
	if err != nil {
		return nil, fmt.Errorf("redisengine: reading node stats: %w", err)
	}
	var nodes []metrics.Stats
	var stale []string
	for field, data := range all {
		var p boardPost
		if err := json.Unmarshal([]byte(data), &p); err != nil {
			return nil, fmt.Errorf("redisengine: decoding node stats: %w", err)
		}
		if now.UnixMilli() >= p.Until {
			stale = append(stale, field)
			continue
		}
		nodes = append(nodes, p.Stats)
	}
	if len(stale) > 0 {
		_ = b.rdb.HDel(ctx, b.keys.board(), stale...).Err() // tidying only
	}
	slices.SortFunc(nodes, func(a, b metrics.Stats) int { return int(a.Node - b.Node) })
	return nodes, nil
}

// historyTTL is how long a minute of the history is kept after it began: the history's span,
// and a minute to spare for clocks that differ a little between nodes.
const historyTTL = (metrics.HistoryMinutes + 1) * time.Minute

// Record implements metrics.Board: each minute is a hash of its own, field node id, that
// expires once the minute is out of the history.
func (b *Board) Record(ctx context.Context, node int64, minutes []metrics.Minute) error {
	_, err := b.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, m := range minutes {
			data, err := json.Marshal(m)
			if err != nil {
				return err
			}
			key := b.keys.historyMinute(m.At)
			p.HSet(ctx, key, strconv.FormatInt(node, 10), data)
			p.PExpireAt(ctx, key, m.At.Add(historyTTL))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redisengine: recording the history: %w", err)
	}
	return nil
}

// History implements metrics.Board.
func (b *Board) History(ctx context.Context, now time.Time) ([]metrics.Minute, error) {
	var reads []*redis.MapStringStringCmd
	_, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for at := metrics.HistoryStart(now); !at.After(now); at = at.Add(time.Minute) {
			reads = append(reads, p.HGetAll(ctx, b.keys.historyMinute(at)))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redisengine: reading the history: %w", err)
	}
	var records []metrics.Minute
	for _, r := range reads {
		for _, data := range r.Val() {
			var m metrics.Minute
			if err := json.Unmarshal([]byte(data), &m); err != nil {
				return nil, fmt.Errorf("redisengine: decoding the history: %w", err)
			}
			records = append(records, m)
		}
	}
	return metrics.AddUp(records), nil
}
