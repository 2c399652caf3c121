package redisengine

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/duetchat/duet/moderation"
)

// Moderation is the moderation.Store of many nodes. Every ban key shares the {bans} hash tag, so
// each ban call is one script in one slot, and each key expires when the last ban in it ends.
type Moderation struct {
	rdb       redis.UniversalClient
	keys      keyspace
	auditSize int
}

var _ moderation.Store = (*Moderation)(nil)

// NewModeration returns the bans, audit log (of auditSize entries) and settings kept under prefix by
// client.
func NewModeration(client redis.UniversalClient, prefix string, auditSize int) *Moderation {
	return &Moderation{rdb: client, keys: keyspace{prefix}, auditSize: auditSize}
}

// banLib holds what the ban scripts, and the queue's, which checks a MATCH for bans, share:
// prune(KEYS[1], KEYS[2], now) forgets the ended bans; expire(key) makes a sorted set (and,
// given, a hash) expire with its last-ending member; findBan(bans, targets, now) returns the
// JSON of the ban in force at now (Unix ms) that ends last among those of the targets' sorted
// sets, or false.
const banLib = `
local function prune(bans, ends, now)
  local gone = redis.call('ZRANGEBYSCORE', ends, '-inf', now)
  if #gone > 0 then
    redis.call('HDEL', bans, unpack(gone))
    redis.call('ZREM', ends, unpack(gone))
  end
end
local function expire(zset, hash)
  local last = redis.call('ZRANGE', zset, -1, -1, 'WITHSCORES')
  if #last == 0 then return end
  redis.call('PEXPIREAT', zset, last[2])
  if hash then redis.call('PEXPIREAT', hash, last[2]) end
end
local function findBan(bans, targets, now)
  local best, bestEnd = nil, now
  for _, target in ipairs(targets) do
    local last = redis.call('ZRANGE', target, -1, -1, 'WITHSCORES')
    if #last > 0 and tonumber(last[2]) > bestEnd then best, bestEnd = last[1], tonumber(last[2]) end
  end
  if not best then return false end
  return redis.call('HGET', bans, best)
end
`

// addBanScript stores a ban. KEYS: bans hash, ends zset, the target's zset. ARGV: id, ban JSON,
// until ms, now ms.
var addBanScript = redis.NewScript(banLib + `
prune(KEYS[1], KEYS[2], ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
expire(KEYS[2], KEYS[1])
expire(KEYS[3])
return 1`)

// AddBan implements moderation.Store.
func (b *Moderation) AddBan(ctx context.Context, ban moderation.Ban) error {
	data, err := json.Marshal(ban)
	if err != nil {
		return fmt.Errorf("redisengine: add ban: %w", err)
	}
	keys := []string{b.keys.bans(), b.keys.banEnds(), b.keys.banTarget(ban.Target)}
	if err := addBanScript.Run(ctx, b.rdb, keys, ban.ID, data, ban.Until.UnixMilli(), ban.CreatedAt.UnixMilli()).Err(); err != nil {
		return fmt.Errorf("redisengine: add ban: %w", err)
	}
	return nil
}

// liftBanScript removes a ban in force. KEYS: bans hash, ends zset, the target's zset. ARGV: id,
// now ms. Returns the ban's JSON, or nil if it was not in force.
var liftBanScript = redis.NewScript(`
local ends = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not ends or tonumber(ends) <= tonumber(ARGV[2]) then return false end
local ban = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return ban`)

// LiftBan implements moderation.Store. The ban is read first to learn its target's key.
func (b *Moderation) LiftBan(ctx context.Context, id int64, now time.Time) (moderation.Ban, error) {
	ban, err := b.ban(ctx, id)
	if err != nil {
		return moderation.Ban{}, err
	}
	keys := []string{b.keys.bans(), b.keys.banEnds(), b.keys.banTarget(ban.Target)}
	data, err := liftBanScript.Run(ctx, b.rdb, keys, id, now.UnixMilli()).Text()
	if errors.Is(err, redis.Nil) {
		return moderation.Ban{}, moderation.ErrNoBan
	}
	if err != nil {
		return moderation.Ban{}, fmt.Errorf("redisengine: lift ban: %w", err)
	}
	return decodeBan(data)
}

func (b *Moderation) ban(ctx context.Context, id int64) (moderation.Ban, error) {
	data, err := b.rdb.HGet(ctx, b.keys.bans(), strconv.FormatInt(id, 10)).Result()
	if errors.Is(err, redis.Nil) {
		return moderation.Ban{}, moderation.ErrNoBan
	}
	if err != nil {
		return moderation.Ban{}, fmt.Errorf("redisengine: read ban: %w", err)
	}
	return decodeBan(data)
}

// Bans implements moderation.Store.
func (b *Moderation) Bans(ctx context.Context, now time.Time) ([]moderation.Ban, error) {
	all, err := b.rdb.HGetAll(ctx, b.keys.bans()).Result()
	if err != nil {
		return nil, fmt.Errorf("redisengine: list bans: %w", err)
	}
	bans := make([]moderation.Ban, 0, len(all))
	for _, data := range all {
		ban, err := decodeBan(data)
		if err != nil {
			return nil, err
		}
		if ban.Active(now) {
			bans = append(bans, ban)
		}
	}
	slices.SortFunc(bans, func(a, b moderation.Ban) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return bans, nil
}

// findBanScript is findBan. KEYS: bans hash, then each target's zset. ARGV: now ms.
var findBanScript = redis.NewScript(banLib + `return findBan(KEYS[1], {unpack(KEYS, 2)}, tonumber(ARGV[1]))`)

// FindBan implements moderation.Store.
func (b *Moderation) FindBan(ctx context.Context, now time.Time, targets []moderation.Target) (moderation.Ban, bool, error) {
	if len(targets) == 0 {
		return moderation.Ban{}, false, nil
	}
	keys := []string{b.keys.bans()}
	for _, t := range targets {
		keys = append(keys, b.keys.banTarget(t))
	}
	data, err := findBanScript.Run(ctx, b.rdb, keys, now.UnixMilli()).Text()
	if errors.Is(err, redis.Nil) {
		return moderation.Ban{}, false, nil
	}
	if err != nil {
		return moderation.Ban{}, false, fmt.Errorf("redisengine: find ban: %w", err)
	}
	ban, err := decodeBan(data)
	return ban, err == nil, err
}

func decodeBan(data string) (moderation.Ban, error) {
	var ban moderation.Ban
	if err := json.Unmarshal([]byte(data), &ban); err != nil {
		return moderation.Ban{}, fmt.Errorf("redisengine: decoding a ban: %w", err)
	}
	return ban, nil
}

// AddressSecret returns the key of client address hashes that the nodes under prefix share:
// made by the first node that asks, and kept without expiry, since every address ban depends
// on it.
func AddressSecret(ctx context.Context, client redis.UniversalClient, prefix string) ([]byte, error) {
	return keptSecret(ctx, client, keyspace{prefix}.secret(), "address secret")
}

// ChallengeSecret returns the key that signs the challenges of the nodes under prefix, kept
// like the address secret.
func ChallengeSecret(ctx context.Context, client redis.UniversalClient, prefix string) ([]byte, error) {
	return keptSecret(ctx, client, keyspace{prefix}.secret()+":challenge", "challenge secret")
}

// keptSecret returns the secret kept in key, making it if it is not there yet.
func keptSecret(ctx context.Context, client redis.UniversalClient, key, what string) ([]byte, error) {
	if err := client.SetNX(ctx, key, rand.Text(), 0).Err(); err != nil {
		return nil, fmt.Errorf("redisengine: making the %s: %w", what, err)
	}
	secret, err := client.Get(ctx, key).Bytes()
	if err != nil {
		return nil, fmt.Errorf("redisengine: reading the %s: %w", what, err)
	}
	return secret, nil
}

// AddAudit implements moderation.Store.
func (b *Moderation) AddAudit(ctx context.Context, e moderation.Entry) error {
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("redisengine: add audit entry: %w", err)
	}
	_, err = b.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.LPush(ctx, b.keys.audit(), data)
		p.LTrim(ctx, b.keys.audit(), 0, int64(b.auditSize-1))
		return nil
	})
	if err != nil {
		return fmt.Errorf("redisengine: add audit entry: %w", err)
	}
	return nil
}

// Audit implements moderation.Store.
func (b *Moderation) Audit(ctx context.Context, limit int) ([]moderation.Entry, error) {
	all, err := b.rdb.LRange(ctx, b.keys.audit(), 0, int64(limit-1)).Result()
	if err != nil {
		return nil, fmt.Errorf("redisengine: read the audit log: %w", err)
	}
	entries := make([]moderation.Entry, len(all))
	for i, data := range all {
		if err := json.Unmarshal([]byte(data), &entries[i]); err != nil {
			return nil, fmt.Errorf("redisengine: decoding an audit entry: %w", err)
		}
	}
	return entries, nil
}

// SetMatchingPaused implements moderation.Store.
func (b *Moderation) SetMatchingPaused(ctx context.Context, paused bool) error {
	if err := b.rdb.HSet(ctx, b.keys.settings(), "paused", boolField(paused)).Err(); err != nil {
		return fmt.Errorf("redisengine: pausing matching: %w", err)
	}
	return nil
}

// MatchingPaused implements moderation.Store.
func (b *Moderation) MatchingPaused(ctx context.Context) (bool, error) {
	v, err := b.rdb.HGet(ctx, b.keys.settings(), "paused").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, fmt.Errorf("redisengine: reading the settings: %w", err)
	}
	return v == "1", nil
}

// SetChallengeMode implements moderation.Store.
func (b *Moderation) SetChallengeMode(ctx context.Context, mode string) error {
	if err := b.rdb.HSet(ctx, b.keys.settings(), "challenge", mode).Err(); err != nil {
		return fmt.Errorf("redisengine: setting the challenge mode: %w", err)
	}
	return nil
}

// ChallengeMode implements moderation.Store.
func (b *Moderation) ChallengeMode(ctx context.Context) (string, error) {
	mode, err := b.rdb.HGet(ctx, b.keys.settings(), "challenge").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("redisengine: reading the settings: %w", err)
	}
	return mode, nil
}

// SetNotice implements moderation.Store: one key, which expires when the notice ends.
func (b *Moderation) SetNotice(ctx context.Context, n moderation.Notice) error {
	data, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("redisengine: set notice: %w", err)
	}
	if err := b.rdb.Set(ctx, b.keys.notice(), data, time.Until(n.Until)).Err(); err != nil {
		return fmt.Errorf("redisengine: set notice: %w", err)
	}
	return nil
}

// CurrentNotice implements moderation.Store.
func (b *Moderation) CurrentNotice(ctx context.Context, now time.Time) (moderation.Notice, bool, error) {
	data, err := b.rdb.Get(ctx, b.keys.notice()).Bytes()
	if errors.Is(err, redis.Nil) {
		return moderation.Notice{}, false, nil
	}
	if err != nil {
		return moderation.Notice{}, false, fmt.Errorf("redisengine: current notice: %w", err)
	}
	var n moderation.Notice
	if err := json.Unmarshal(data, &n); err != nil {
		return moderation.Notice{}, false, fmt.Errorf("redisengine: current notice: %w", err)
	}
	if !now.Before(n.Until) {
		return moderation.Notice{}, false, nil
	}
	return n, true, nil
}
