package redisengine

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/duetchat/duet/moderation"
	"github.com/duetchat/duet/session"
)

// CreateAccount implements session.Store. Presence gets the account in the same round trip;
// should the account not be written, the sweep finds it lapsed and DeleteAccount drops it.
func (s *Store) CreateAccount(ctx context.Context, a session.Account) error {
	var created *redis.Cmd
	err := s.pipelined(ctx, createHashScript, func(p redis.Pipeliner) {
		created = createHashScript.EvalSha(ctx, p, []string{s.keys.account(a.ID)}, s.accountTTL,
			"nick", a.Nickname, "tok", hex.EncodeToString(a.TokenHash[:]), "created", a.CreatedAt.UnixMilli(),
			"seen", a.LastSeen.UnixMilli(), "away", boolField(a.Away), "ca", a.Client.Addr, "cn", a.Client.Network)
		p.ZAddNX(ctx, s.keys.presence(), redis.Z{Score: float64(a.LastSeen.UnixMilli()), Member: a.ID})
		p.PExpire(ctx, s.keys.presence(), time.Duration(s.accountTTL)*time.Millisecond)
	})
	if err != nil {
		return fmt.Errorf("redisengine: create account: %w", err)
	}
	if n, _ := created.Int(); n == 0 {
		return errIDTaken
	}
	return nil
}

// Account implements session.Store.
func (s *Store) Account(ctx context.Context, id int64) (session.Account, error) {
	m, err := s.rdb.HGetAll(ctx, s.keys.account(id)).Result()
	if err != nil {
		return session.Account{}, fmt.Errorf("redisengine: account: %w", err)
	}
	if len(m) == 0 {
		return session.Account{}, session.ErrNoAccount
	}
	return parseAccount(id, m)
}

// findBatch is how many accounts one pipeline of FindAccounts reads.
const findBatch = 500

// FindAccounts implements session.Store: it walks presence, which holds every account, and
// reads the accounts findBatch at a time.
func (s *Store) FindAccounts(ctx context.Context, keep func(session.Account) bool, limit int) ([]session.Account, int, error) {
	ids, err := s.rdb.ZRange(ctx, s.keys.presence(), 0, -1).Result()
	if err != nil {
		return nil, 0, fmt.Errorf("redisengine: find accounts: %w", err)
	}
	var found []session.Account
	for batch := range slices.Chunk(ids, findBatch) {
		reads := make([]*redis.MapStringStringCmd, len(batch))
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range batch {
				n, _ := strconv.ParseInt(id, 10, 64)
				reads[i] = p.HGetAll(ctx, s.keys.account(n))
			}
			return nil
		})
		if err != nil {
			return nil, 0, fmt.Errorf("redisengine: find accounts: %w", err)
		}
		for i, r := range reads {
			if len(r.Val()) == 0 {
				continue // expired since presence was read
			}
			id, _ := strconv.ParseInt(batch[i], 10, 64)
			a, err := parseAccount(id, r.Val())
			if err != nil {
				return nil, 0, err
			}
			if keep(a) {
				found = append(found, a)
			}
		}
	}
	return session.LastSeenFirst(found, limit), len(found), nil
}

// parseAccount reads the account hash m of account id.
func parseAccount(id int64, m map[string]string) (session.Account, error) {
	f := hashFields{m: m}
	a := session.Account{
		ID: id, Nickname: m["nick"], CreatedAt: f.time("created"), LastSeen: f.time("seen"), Away: m["away"] == "1",
		Client: moderation.Client{Addr: m["ca"], Network: m["cn"]}, Connected: m["routed"] == "1",
	}
	if a.Connected {
		a.Node = f.int("node")
	}
	tok, err := hex.DecodeString(m["tok"])
	if err != nil || len(tok) != len(a.TokenHash) {
		return session.Account{}, fmt.Errorf("redisengine: account %d: malformed token hash", id)
	}
	copy(a.TokenHash[:], tok)
	if f.err != nil {
		return session.Account{}, fmt.Errorf("redisengine: account %d: %w", id, f.err)
	}
	return a, nil
}

// deleteAccountScript removes an account and returns "ok" and the sessions it was live in, once.
// KEYS: account, live, backlog.
var deleteAccountScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {'noaccount'} end
local reply = redis.call('SMEMBERS', KEYS[2])
table.insert(reply, 1, 'ok')
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return reply`)

// DeleteAccount implements session.Store. It takes the account out of presence even when the
// account is already gone, which is how presence loses accounts that expired.
func (s *Store) DeleteAccount(ctx context.Context, id int64) ([]session.Session, bool, error) {
	var deleted *redis.Cmd
	err := s.pipelined(ctx, deleteAccountScript, func(p redis.Pipeliner) {
		deleted = deleteAccountScript.EvalSha(ctx, p, []string{s.keys.account(id), s.keys.accountLive(id), s.keys.accountBacklog(id)})
		p.ZRem(ctx, s.keys.presence(), id)
	})
	if err != nil {
		return nil, false, fmt.Errorf("redisengine: delete account: %w", err)
	}
	reply, err := deleted.StringSlice()
	if err != nil {
		return nil, false, fmt.Errorf("redisengine: delete account: %w", err)
	}
	if reply[0] != "ok" {
		return nil, false, nil
	}
	sessions, _, err := s.readLive(ctx, reply[1:])
	if err != nil {
		return nil, true, fmt.Errorf("redisengine: delete account: reading its sessions: %w", err)
	}
	return sessions, true, nil
}

// seenScript moves an account's last sighting forward and keeps its keys alive.
// KEYS: account, live, backlog. ARGV: seen ms, TTL ms.
var seenScript = redis.NewScript(`
local seen = redis.call('HGET', KEYS[1], 'seen')
if not seen then return 0 end
if tonumber(ARGV[1]) > tonumber(seen) then redis.call('HSET', KEYS[1], 'seen', ARGV[1]) end
for _, k in ipairs(KEYS) do redis.call('PEXPIRE', k, ARGV[2]) end
return 1`)

// seenBatch is how many accounts one pipeline of Seen carries.
const seenBatch = 256

// Seen implements session.Store, in a pipeline per seenBatch accounts. Presence, in a slot of
// its own, moves in the same round trips: ZADD XX GT only ever moves an account that is there
// forward.
func (s *Store) Seen(ctx context.Context, seen map[int64]time.Time) error {
	ids := slices.Collect(maps.Keys(seen))
	for batch := range slices.Chunk(ids, seenBatch) {
		err := s.pipelined(ctx, seenScript, func(p redis.Pipeliner) {
			presence := make([]redis.Z, 0, len(batch))
			for _, id := range batch {
				ms := seen[id].UnixMilli()
				seenScript.EvalSha(ctx, p, []string{s.keys.account(id), s.keys.accountLive(id), s.keys.accountBacklog(id)}, ms, s.accountTTL)
				presence = append(presence, redis.Z{Score: float64(ms), Member: id})
			}
			p.ZAddArgs(ctx, s.keys.presence(), redis.ZAddArgs{XX: true, GT: true, Members: presence})
			// The index outlives its accounts by no more than they do, should every node be gone.
			p.PExpire(ctx, s.keys.presence(), time.Duration(s.accountTTL)*time.Millisecond)
		})
		if err != nil {
			return fmt.Errorf("redisengine: seen: %w", err)
		}
	}
	return nil
}

// resumePresenceScript moves the time presence resumed forward, never back, and keeps it for
// as long as an account may live unseen, past which it cannot matter.
// KEYS: resumed. ARGV: Unix ms, TTL ms.
var resumePresenceScript = redis.NewScript(`
local at = redis.call('GET', KEYS[1])
if not at or tonumber(at) < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
return 1`)

// ResumePresence implements session.Store.
func (s *Store) ResumePresence(ctx context.Context, at time.Time) error {
	if err := resumePresenceScript.Run(ctx, s.rdb, []string{s.keys.presenceResumed()}, at.UnixMilli(), s.accountTTL).Err(); err != nil {
		return fmt.Errorf("redisengine: resume presence: %w", err)
	}
	return nil
}

// setAwayScript sets an account's away flag and reports whether it changed.
// KEYS: account. ARGV: "1" or "0".
var setAwayScript = redis.NewScript(`
local away = redis.call('HGET', KEYS[1], 'away')
if not away or away == ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'away', ARGV[1])
return 1`)

// SetAway implements session.Store.
func (s *Store) SetAway(ctx context.Context, id int64, away bool) (bool, error) {
	changed, err := setAwayScript.Run(ctx, s.rdb, []string{s.keys.account(id)}, boolField(away)).Int()
	if err != nil {
		return false, fmt.Errorf("redisengine: set away: %w", err)
	}
	return changed == 1, nil
}

// Lapsed implements session.Store. The time presence resumed is read with the accounts, in
// one round trip to the presence's slot.
func (s *Store) Lapsed(ctx context.Context, cutoff time.Time) ([]int64, error) {
	var resumed *redis.StringCmd
	var lapsed *redis.StringSliceCmd
	// The pipeline's error is that of its first failed command, which may be GET's redis.Nil:
	// each command's own is looked at instead.
	_, _ = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		resumed = p.Get(ctx, s.keys.presenceResumed())
		lapsed = p.ZRangeByScore(ctx, s.keys.presence(), &redis.ZRangeBy{
			Min: "-inf", Max: "(" + strconv.FormatInt(cutoff.UnixMilli(), 10),
		})
		return nil
	})
	ms, err := resumed.Int64()
	switch {
	case err == nil && ms >= cutoff.UnixMilli():
		return nil, nil
	case err != nil && !errors.Is(err, redis.Nil):
		return nil, fmt.Errorf("redisengine: lapsed: %w", err)
	}
	members, err := lapsed.Result()
	if err != nil {
		return nil, fmt.Errorf("redisengine: lapsed: %w", err)
	}
	ids := make([]int64, 0, len(members))
	for _, m := range members {
		id, err := strconv.ParseInt(m, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("redisengine: lapsed: malformed account id %q", m)
		}
		ids = append(ids, id)
	}
	return ids, nil
}
