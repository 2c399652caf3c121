package redisengine

import (
	"context"
	_ "embed"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/duetchat/duet/match"
	"github.com/duetchat/duet/moderation"
	"github.com/duetchat/duet/session"
)

// queueTTL is how long the queue's keys outlive the last write to them: the queue renews them
// all on every write, so they only lapse once every node has been gone that long.
const queueTTL = 24 * time.Hour

//go:embed queue.lua
var queueLua string

// queueScript is every queue operation, chosen by its first argument; queue.lua documents the
// keys it keeps. Its matchstart checks a MATCH for bans as FindBan does.
var queueScript = redis.NewScript(banLib + queueLua)

// Queue is the match.Queue of nodes that share a Redis or a Redis Cluster. Each method is one
// call of one Lua script on keys in one hash slot, so it is atomic across nodes, and the script
// pairs by the same rule and bars as match.MemoryQueue. Since is kept to the millisecond.
type Queue struct {
	client redis.UniversalClient
	rule   match.Rule
	keys   keyspace
	qkeys  []string // the script's KEYS, all under {q}, in the order queue.lua names them
}

var _ match.Queue = (*Queue)(nil)

// StartingQueue is the Queue of nodes that share one Redis server (or a Sentinel's master),
// where a script may reach any key: it is a session.StartingQueue, which checks a MATCH (the
// account, its bans, the pause, its live sessions), pairs, and creates the pair's session in
// one call of the script. On a Redis Cluster the queue, each account, each session and the
// bans hash to slots of their own, which no one script may span, so there the queue is a Queue
// and the checks and the session's creation are steps of their own (session.Service).
type StartingQueue struct{ *Queue }

var _ session.StartingQueue = StartingQueue{}

// NewQueue returns the queue kept in Redis under prefix, pairing by rule: a StartingQueue, or
// on a Redis Cluster a *Queue.
func NewQueue(client redis.UniversalClient, prefix string, rule match.Rule) match.Queue {
	k := keyspace{prefix}
	q := &Queue{client: client, rule: rule, keys: k, qkeys: []string{
		k.queue("wait"), k.queue("plain"), k.queue("tags"), k.queue("waiter"),
		k.queue("bars"), k.queue("barof"), k.queue("barexp"),
	}}
	if isCluster(client) {
		return q
	}
	return StartingQueue{q}
}

// MatchStart implements session.StartingQueue.
func (q StartingQueue) MatchStart(ctx context.Context, ask session.MatchAsk) (match.Pair, session.Session, bool, error) {
	const op = "matchstart"
	head, tail := q.keys.accountAround()
	sessionHead, sessionTail := q.keys.sessionAround()
	banHead := func(kind moderation.Kind) string { return q.keys.banTarget(moderation.Target{Kind: kind}) }
	w := match.Waiter{AccountID: ask.AccountID, Interests: ask.Interests, Since: ask.Now}
	args := append([]any{
		ask.Now.UnixMilli(), ask.Session.ID, SessionTTL.Milliseconds(), head, tail, accountLiveSuffix, sessionHead, sessionTail,
		banHead(moderation.KindAccount), banHead(moderation.KindAddress), banHead(moderation.KindNetwork), ask.MaxSessions,
	}, queueWaiterArgs(w)...)
	keys := append(slices.Clip(q.qkeys), q.keys.session(ask.Session.ID), q.keys.live(), q.keys.settings(), q.keys.bans())
	reply, err := q.runKeys(ctx, keys, op, args...)
	if err != nil {
		return match.Pair{}, session.Session{}, false, err
	}
	fields, _ := reply.([]any)
	status, _ := sliceAt(fields, 0).(string)
	switch status {
	case "noaccount":
		return match.Pair{}, session.Session{}, false, session.ErrNoAccount
	case "banned":
		data, _ := sliceAt(fields, 1).(string)
		ban, err := decodeBan(data)
		if err != nil {
			return match.Pair{}, session.Session{}, false, err
		}
		return match.Pair{}, session.Session{}, false, ban.Error()
	case "paused":
		return match.Pair{}, session.Session{}, false, session.ErrMatchingPaused
	case "full":
		return match.Pair{}, session.Session{}, false, session.TooManyChats(ask.MaxSessions)
	case "idtaken":
		return match.Pair{}, session.Session{}, false, fmt.Errorf("redisengine: %s: %w", op, errIDTaken)
	case "queued":
		return match.Pair{}, session.Session{}, false, nil
	}
	partner, ok := queueWaiter(sliceAt(fields, 1))
	mine := make([]string, 5) // w's nickname, then the clients: w's address and network, the partner's
	for i := range mine {
		s, isString := sliceAt(fields, 2+i).(string)
		ok = ok && isString
		mine[i] = s
	}
	if status != "paired" || len(fields) != 7 || !ok {
		return match.Pair{}, session.Session{}, false, fmt.Errorf("redisengine: %s: malformed reply %v", op, reply)
	}
	w.Nickname, w.Client = mine[0], mine[1]
	pair := queuePair(w, partner)
	sess := ask.Session
	sess.Members = [2]session.Member{
		{ID: w.AccountID, Nickname: w.Nickname, Client: moderation.Client{Addr: mine[1], Network: mine[2]}},
		{ID: partner.AccountID, Nickname: partner.Nickname, Client: moderation.Client{Addr: mine[3], Network: mine[4]}},
	}
	sess.CommonInterests = pair.Common
	if sess.CommonInterests == nil {
		sess.CommonInterests = []string{}
	}
	sess.StartedAt = ask.Now
	return pair, sess, true, nil
}

// sliceAt is list[i], or nil past its end.
func sliceAt(list []any, i int) any {
	if i < len(list) {
		return list[i]
	}
	return nil
}

// Match implements match.Queue.
func (q *Queue) Match(ctx context.Context, w match.Waiter, now time.Time) (match.Pair, bool, error) {
	partner, err := q.waiters(ctx, "match", append([]any{now.UnixMilli()}, queueWaiterArgs(w)...)...)
	if err != nil || len(partner) == 0 {
		return match.Pair{}, false, err
	}
	return queuePair(w, partner[0]), true, nil
}

// MatchWaiting implements match.Queue.
func (q *Queue) MatchWaiting(ctx context.Context, now time.Time) ([]match.Pair, error) {
	ws, err := q.waiters(ctx, "matchwaiting", now.UnixMilli())
	if err != nil {
		return nil, err
	}
	var pairs []match.Pair
	for i := 0; i+1 < len(ws); i += 2 {
		pairs = append(pairs, queuePair(ws[i], ws[i+1]))
	}
	return pairs, nil
}

// Requeue implements match.Queue.
func (q *Queue) Requeue(ctx context.Context, w match.Waiter) error {
	_, err := q.run(ctx, "requeue", queueWaiterArgs(w)...)
	return err
}

// Cancel implements match.Queue.
func (q *Queue) Cancel(ctx context.Context, accountID int64) (bool, error) {
	reply, err := q.run(ctx, "cancel", accountID)
	return reply == int64(1), err
}

// Release implements match.Queue.
func (q *Queue) Release(ctx context.Context, a, b int64, at time.Time) error {
	_, err := q.run(ctx, "release", a, b, at.UnixMilli())
	return err
}

// Block implements match.Queue.
func (q *Queue) Block(ctx context.Context, a, b int64) error {
	_, err := q.run(ctx, "block", a, b)
	return err
}

// Forget implements match.Queue.
func (q *Queue) Forget(ctx context.Context, accountID int64) error {
	_, err := q.run(ctx, "forget", accountID)
	return err
}

// Waiting implements match.Queue.
func (q *Queue) Waiting(ctx context.Context) ([]match.Waiter, error) {
	return q.waiters(ctx, "waiting")
}

// run calls the script for operation op, with the rule.
func (q *Queue) run(ctx context.Context, op string, args ...any) (any, error) {
	return q.runKeys(ctx, q.qkeys, op, args...)
}

// runKeys is run with KEYS keys.
func (q *Queue) runKeys(ctx context.Context, keys []string, op string, args ...any) (any, error) {
	distinct := 0
	if q.rule.DistinctClients {
		distinct = 1
	}
	args = append([]any{
		op, queueTTL.Milliseconds(),
		q.rule.InterestWait.Milliseconds(), q.rule.PartnerCooldown.Milliseconds(), q.rule.CooldownQueue, distinct,
	}, args...)
	reply, err := queueScript.Run(ctx, q.client, keys, args...).Result()
	if err != nil {
		return nil, fmt.Errorf("redisengine: %s: %w", op, err)
	}
	return reply, nil
}

// waiters calls the script for an operation that replies with a list of waiters.
func (q *Queue) waiters(ctx context.Context, op string, args ...any) ([]match.Waiter, error) {
	reply, err := q.run(ctx, op, args...)
	if err != nil {
		return nil, err
	}
	ws, err := queueWaiters(reply)
	if err != nil {
		return nil, fmt.Errorf("redisengine: %s: %w", op, err)
	}
	return ws, nil
}

// queueWaiterArgs is w as the script reads it: id, since (Unix ms), nickname, client, interests.
func queueWaiterArgs(w match.Waiter) []any {
	args := []any{w.AccountID, w.Since.UnixMilli(), w.Nickname, w.Client}
	for _, t := range w.Interests {
		args = append(args, t)
	}
	return args
}

// queueWaiters decodes the script's list of waiters.
func queueWaiters(reply any) ([]match.Waiter, error) {
	list, ok := reply.([]any)
	if !ok {
		return nil, fmt.Errorf("malformed reply %v", reply)
	}
	ws := make([]match.Waiter, len(list))
	for i, item := range list {
		if ws[i], ok = queueWaiter(item); !ok {
			return nil, fmt.Errorf("malformed waiter %v", item)
		}
	}
	return ws, nil
}

// queueWaiter decodes a waiter of the script: {id, since (Unix ms), nickname, {interests}, client}.
func queueWaiter(item any) (match.Waiter, bool) {
	fields, ok := item.([]any)
	if !ok || len(fields) != 5 {
		return match.Waiter{}, false
	}
	id, idOK := fields[0].(string)
	since, sinceOK := fields[1].(int64)
	nick, nickOK := fields[2].(string)
	tags, tagsOK := fields[3].([]any)
	client, clientOK := fields[4].(string)
	accountID, err := strconv.ParseInt(id, 10, 64)
	if !idOK || !sinceOK || !nickOK || !tagsOK || !clientOK || err != nil {
		return match.Waiter{}, false
	}
	w := match.Waiter{AccountID: accountID, Nickname: nick, Since: time.UnixMilli(since), Client: client}
	for _, t := range tags {
		tag, ok := t.(string)
		if !ok {
			return match.Waiter{}, false
		}
		w.Interests = append(w.Interests, tag)
	}
	return w, true
}

// queuePair is the pair of a and b, as match.MemoryQueue makes it.
func queuePair(a, b match.Waiter) match.Pair {
	return match.Pair{A: a, B: b, Common: match.Common(a.Interests, b.Interests)}
}
