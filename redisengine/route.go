package redisengine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/duetchat/duet/session"
)

// routeScript returns the node an existing account's pushes are routed to or, while none is
// (or only a node found gone is), keeps the push at the end of its backlog (as backlogScript
// does) and returns -1. It returns -2 for an account that does not exist.
// KEYS: account, backlog. ARGV: backlog size, push, the node found gone or "".
var routeScript = redis.NewScript(`
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 then return -2 end
local route = redis.call('HMGET', KEYS[1], 'node', 'routed')
if route[2] == '1' and route[1] ~= ARGV[3] then return tonumber(route[1]) end
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[1]), -1)
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
return -1`)

// keptInBacklog is what routeOrKeep returns instead of a node for an account that is away.
const keptInBacklog = -1

// noNode stands for no node where one may be given.
const noNode = -1

// routeOrKeep returns the node the account's pushes go to and true or, while it is away or
// routed only to the node gone (or noNode), keeps p in its backlog and returns
// keptInBacklog and false. Pushes for an account that is gone are dropped.
func (s *Store) routeOrKeep(ctx context.Context, accountID int64, p session.Push, gone int64) (int64, bool, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return 0, false, err
	}
	var goneNode string
	if gone != noNode {
		goneNode = strconv.FormatInt(gone, 10)
	}
	node, err := routeScript.Run(ctx, s.rdb, []string{s.keys.account(accountID), s.keys.accountBacklog(accountID)}, s.backlogSize, b, goneNode).Int64()
	if err != nil {
		return 0, false, fmt.Errorf("redisengine: route: %w", err)
	}
	return node, node >= 0, nil
}

// route returns the node the account's pushes go to, and false while it has none.
func (s *Store) route(ctx context.Context, accountID int64) (int64, bool, error) {
	vals, err := s.rdb.HMGet(ctx, s.keys.account(accountID), "node", "routed").Result()
	if err != nil {
		return 0, false, fmt.Errorf("redisengine: route: %w", err)
	}
	if routed, _ := vals[1].(string); routed != "1" {
		return 0, false, nil
	}
	node, _ := vals[0].(string)
	id, err := strconv.ParseInt(node, 10, 64)
	if err != nil {
		return 0, false, errors.New("redisengine: route: malformed node id " + strconv.Quote(node))
	}
	return id, true, nil
}

// setRouteScript sets where a member's pushes in an existing session go ("" for nowhere), or, given
// the route expected, only if it still is that.
// KEYS: session. ARGV: member, route, expected route or "" for any.
var setRouteScript = redis.NewScript(`
local s = redis.call('HMGET', KEYS[1], 'a', 'b', 'ra', 'rb')
local i
if s[1] == ARGV[1] then i = 1 elseif s[2] == ARGV[1] then i = 2 else return 0 end
if ARGV[3] ~= '' and s[2 + i] ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], i == 1 and 'ra' or 'rb', ARGV[2])
return 1`)

// routeSessions records in each of the member's sessions where its pushes go, so that
// AppendMessage can send a message on without asking the account; given the route expected,
// only where it still is that. Each session is its own slot, so they are set in a pipeline.
func (s *Store) routeSessions(ctx context.Context, member int64, sessionIDs []string, route, expected string) error {
	if len(sessionIDs) == 0 {
		return nil
	}
	return s.pipelined(ctx, setRouteScript, func(p redis.Pipeliner) {
		for _, id := range sessionIDs {
			n, err := strconv.ParseInt(id, 10, 64)
			if err != nil {
				continue // not a session id: nothing to route
			}
			setRouteScript.EvalSha(ctx, p, []string{s.keys.session(n)}, member, route, expected)
		}
	})
}

// textList reads a list of strings nested in a script's reply.
func textList(v any) []string {
	items, _ := v.([]any)
	list := make([]string, 0, len(items))
	for _, item := range items {
		if s, ok := item.(string); ok {
			list = append(list, s)
		}
	}
	return list
}
