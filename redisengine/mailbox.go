package redisengine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/duetchat/duet/session"
)

// backlogScript keeps pushes at the end of an existing account's backlog, of which it keeps the
// newest backlog-size, and which expires with the account. Given a node, it first stops routing
// the account's pushes to that node, unless another node has claimed the account since.
// It returns "released" and the account's live sessions if it stopped routing, so that they
// stop too, and "kept" if it did not.
// KEYS: account, backlog, live. ARGV: node or "", backlog size, pushes.
var backlogScript = redis.NewScript(`
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 then return {'kept'} end
local reply = {'kept'}
if ARGV[1] ~= '' then
	local route = redis.call('HMGET', KEYS[1], 'node', 'routed')
	if route[1] == ARGV[1] and route[2] == '1' then
		redis.call('HSET', KEYS[1], 'routed', '0')
		reply = redis.call('SMEMBERS', KEYS[3])
		table.insert(reply, 1, 'released')
	end
end
if #ARGV > 2 then
	redis.call('RPUSH', KEYS[2], unpack(ARGV, 3))
	redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
	if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
end
return reply`)

// AppendBacklog implements session.Store.
func (s *Store) AppendBacklog(ctx context.Context, accountID int64, ps ...session.Push) error {
	if _, err := s.keepBacklog(ctx, accountID, "", ps); err != nil {
		return fmt.Errorf("redisengine: append backlog: %w", err)
	}
	return nil
}

// Release implements session.Store.
func (s *Store) Release(ctx context.Context, accountID, node int64, pending []session.Push) (bool, error) {
	from := strconv.FormatInt(node, 10)
	reply, err := s.keepBacklog(ctx, accountID, from, pending)
	released := err == nil && reply[0] == "released"
	if released {
		err = s.routeSessions(ctx, accountID, reply[1:], "", from)
	}
	if err != nil {
		return false, fmt.Errorf("redisengine: release: %w", err)
	}
	return released, nil
}

// keepBacklog runs backlogScript. Only the newest backlog-size pushes would stay, so only they
// are sent.
func (s *Store) keepBacklog(ctx context.Context, accountID int64, node string, ps []session.Push) ([]string, error) {
	ps = ps[max(0, len(ps)-s.backlogSize):]
	args := make([]any, 0, 2+len(ps))
	args = append(args, node, s.backlogSize)
	for _, p := range ps {
		b, err := json.Marshal(p)
		if err != nil {
			return nil, err
		}
		args = append(args, b)
	}
	keys := []string{s.keys.account(accountID), s.keys.accountBacklog(accountID), s.keys.accountLive(accountID)}
	return backlogScript.Run(ctx, s.rdb, keys, args...).StringSlice()
}

// claimScript routes an existing account's pushes to a node, keeps the account alive, and
// returns and empties its backlog, with its live sessions, which are routed next.
// KEYS: account, live, backlog. ARGV: node, TTL ms.
var claimScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {{}, {}} end
redis.call('HSET', KEYS[1], 'node', ARGV[1], 'routed', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
local backlog = redis.call('LRANGE', KEYS[3], 0, -1)
redis.call('DEL', KEYS[3])
return {backlog, redis.call('SMEMBERS', KEYS[2])}`)

// Claim implements session.Store.
func (s *Store) Claim(ctx context.Context, accountID, node int64) ([]session.Push, error) {
	reply, err := claimScript.Run(ctx, s.rdb, []string{s.keys.account(accountID), s.keys.accountLive(accountID), s.keys.accountBacklog(accountID)},
		node, s.accountTTL).Slice()
	if err != nil {
		return nil, fmt.Errorf("redisengine: claim: %w", err)
	}
	backlog, live := textList(reply[0]), textList(reply[1])
	if err := s.routeSessions(ctx, accountID, live, strconv.FormatInt(node, 10), ""); err != nil {
		return nil, fmt.Errorf("redisengine: claim: %w", err)
	}
	if len(backlog) == 0 {
		return nil, nil
	}
	ps := make([]session.Push, len(backlog))
	for i, b := range backlog {
		if err := json.Unmarshal([]byte(b), &ps[i]); err != nil {
			return nil, fmt.Errorf("redisengine: claim: malformed push: %w", err)
		}
	}
	return ps, nil
}

// takeBacklogScript returns and empties the backlog of an account routed to the given node.
// KEYS: account, backlog. ARGV: node.
var takeBacklogScript = redis.NewScript(`
local route = redis.call('HMGET', KEYS[1], 'node', 'routed')
if route[1] ~= ARGV[1] or route[2] ~= '1' then return {} end
local backlog = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
return backlog`)

// takeBacklogs returns and empties the backlogs of those of the accounts that are routed to
// this store's node, in a pipeline per seenBatch accounts.
func (s *Store) takeBacklogs(ctx context.Context, accounts []int64) (map[int64][]session.Push, error) {
	kept := make(map[int64][]session.Push)
	for batch := range slices.Chunk(accounts, seenBatch) {
		taken := make([]*redis.Cmd, len(batch))
		err := s.pipelined(ctx, takeBacklogScript, func(p redis.Pipeliner) {
			for i, id := range batch {
				taken[i] = takeBacklogScript.EvalSha(ctx, p, []string{s.keys.account(id), s.keys.accountBacklog(id)}, s.node)
			}
		})
		if err != nil {
			return kept, fmt.Errorf("redisengine: take backlogs: %w", err)
		}
		for i, id := range batch {
			backlog, err := taken[i].StringSlice()
			if err != nil {
				return kept, fmt.Errorf("redisengine: take backlogs: %w", err)
			}
			for _, b := range backlog {
				var p session.Push
				if err := json.Unmarshal([]byte(b), &p); err != nil {
					return kept, fmt.Errorf("redisengine: take backlogs: malformed push: %w", err)
				}
				kept[id] = append(kept[id], p)
			}
		}
	}
	return kept, nil
}
