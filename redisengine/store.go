package redisengine

import (
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/duetchat/duet/moderation"
	"github.com/duetchat/duet/session"
)

// Store is the session.Store of many nodes. What one call changes atomically lives in one slot
// and changes in one Lua script; the few calls that span accounts and sessions are pipelines of
// single-slot commands, ordered so that an interruption leaves nothing a reader trips on.
//
// Ids are JS-safe (at most 2^53-1), so the scripts, whose numbers are doubles, hold them
// exactly; they print them with string.format('%d'), never with Lua's own %.14g.
type Store struct {
	rdb             redis.UniversalClient
	keys            keyspace
	node            int64 // the node this store serves
	publish         bool  // whether scripts may publish (not on a cluster)
	historySize     int
	backlogSize     int
	retention       int64 // ms
	accountTTL      int64 // ms
	reportRetention int64 // ms
}

// StoreOptions sizes a Store. Every duration must be positive.
type StoreOptions struct {
	Prefix      string
	Node        int64         // the node id of the node this store serves
	HistorySize int           // messages kept per session
	BacklogSize int           // pushes kept per away account
	Retention   time.Duration // how long an ended session stays readable
	AccountTTL  time.Duration // backstop expiry of an account's keys after it was last seen
	// ReportRetention is how long a report and its evidence are kept.
	ReportRetention time.Duration
}

var _ session.Store = (*Store)(nil)

// NewStore returns the store kept under o.Prefix by client.
func NewStore(client redis.UniversalClient, o StoreOptions) *Store {
	return &Store{
		rdb: client, keys: keyspace{o.Prefix}, node: o.Node, publish: !isCluster(client), historySize: o.HistorySize, backlogSize: o.BacklogSize,
		retention: o.Retention.Milliseconds(), accountTTL: o.AccountTTL.Milliseconds(), reportRetention: o.ReportRetention.Milliseconds(),
	}
}

// errIDTaken means an account or a session was created with an id already in use.
var errIDTaken = errors.New("redisengine: id already in use")

// refusals are the errors that the session scripts report by a status, their reply's first
// element.
var refusals = map[string]error{
	"nosession": session.ErrNoSession, "notmember": session.ErrNotMember, "ended": session.ErrEnded, "nomessage": session.ErrNoMessage,
}

// storedMessage is a message in a session's msgs list: short names, time in Unix ms. The
// append script writes the id, which only it knows, in front of the encoded messageBody.
type storedMessage struct {
	ID int64 `json:"i"`
	messageBody
}

type messageBody struct {
	Sender    int64  `json:"s,string"` // a string, so that Lua rebuilds the request key exactly
	SentAt    int64  `json:"t"`
	RequestID string `json:"r,omitempty"`
	Content   string `json:"c"`
}

// Ping implements session.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redisengine: ping: %w", err)
	}
	return nil
}

// createHashScript writes an account's or a session's hash, with its expiry, unless its id is
// taken. KEYS: the hash. ARGV: TTL ms, then the hash's fields and values.
var createHashScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1`)

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

// Lapsed implements session.Store.
func (s *Store) Lapsed(ctx context.Context, cutoff time.Time) ([]int64, error) {
	members, err := s.rdb.ZRangeByScore(ctx, s.keys.presence(), &redis.ZRangeBy{
		Min: "-inf", Max: "(" + strconv.FormatInt(cutoff.UnixMilli(), 10),
	}).Result()
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

// addLiveScript adds a session to an account's live set if the account exists, and returns the
// node its pushes are routed to ("" for none); the set expires with the account.
// KEYS: account, live. ARGV: session id.
var addLiveScript = redis.NewScript(`
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 then return false end
redis.call('SADD', KEYS[2], ARGV[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
local route = redis.call('HMGET', KEYS[1], 'node', 'routed')
if route[2] == '1' then return route[1] end
return ''`)

// CreateSession implements session.Store. The session is written before its members' live sets
// name it, so a live set never names a session yet to be written; and it is named there only
// by a script that finds the member still there. A member deleted meanwhile (or before), or a
// failure to add the session to the live sets, undoes the session.
func (s *Store) CreateSession(ctx context.Context, sess session.Session) error {
	common, err := json.Marshal(sess.CommonInterests)
	if err != nil {
		return fmt.Errorf("redisengine: create session: %w", err)
	}
	a, b := sess.Members[0], sess.Members[1]
	key := s.keys.session(sess.ID)
	created, err := createHashScript.Run(ctx, s.rdb, []string{key}, SessionTTL.Milliseconds(),
		"a", a.ID, "an", a.Nickname, "b", b.ID, "bn", b.Nickname, "common", common,
		"started", sess.StartedAt.UnixMilli(), "last", 0, "va", 0, "vb", 0, "dropped", 0).Int()
	if err != nil {
		return fmt.Errorf("redisengine: create session: %w", err)
	}
	if created == 0 {
		return errIDTaken
	}
	var added [2]*redis.Cmd
	err = s.pipelined(ctx, addLiveScript, func(p redis.Pipeliner) {
		for i, m := range sess.Members {
			added[i] = addLiveScript.EvalSha(ctx, p, []string{s.keys.account(m.ID), s.keys.accountLive(m.ID)}, sess.ID)
		}
	})
	routeA, errA := added[0].Text()
	routeB, errB := added[1].Text()
	switch {
	case errors.Is(errA, redis.Nil) || errors.Is(errB, redis.Nil): // a script found no account
		err = session.ErrNoAccount
	case err != nil:
		err = fmt.Errorf("redisengine: create session: %w", err)
	case errA == nil && errB == nil:
		// Where each member's pushes go, for AppendMessage to send them on its own. Should this
		// fail or race with a member moving, a push may take a wrong turn and be routed again.
		// The index of live sessions is for operators; it is tidied as it is read.
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, key, "ra", routeA, "rb", routeB)
			p.ZAdd(ctx, s.keys.live(), redis.Z{Score: float64(sess.StartedAt.UnixMilli()), Member: sess.ID})
			p.PExpire(ctx, s.keys.live(), SessionTTL)
			return nil
		})
		if err != nil {
			return fmt.Errorf("redisengine: create session: %w", err)
		}
		return nil
	default:
		err = fmt.Errorf("redisengine: create session: %w", errors.Join(errA, errB))
	}
	_, undoErr := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, key)
		for _, m := range sess.Members {
			p.SRem(ctx, s.keys.accountLive(m.ID), sess.ID)
		}
		return nil
	})
	if undoErr != nil {
		return fmt.Errorf("redisengine: create session: undoing it: %w", undoErr)
	}
	return err
}

// Session implements session.Store.
func (s *Store) Session(ctx context.Context, id int64) (session.Session, error) {
	m, err := s.rdb.HGetAll(ctx, s.keys.session(id)).Result()
	if err != nil {
		return session.Session{}, fmt.Errorf("redisengine: session: %w", err)
	}
	if len(m) == 0 {
		return session.Session{}, session.ErrNoSession
	}
	return parseSession(id, m)
}

// liveSetScript returns an account's live set, or nil when the account does not exist.
// KEYS: account, live.
var liveSetScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
return redis.call('SMEMBERS', KEYS[2])`)

// LiveSessions implements session.Store. A live set may still name sessions that ended or
// expired, when whoever ended them was interrupted: they are left out and tidied away.
func (s *Store) LiveSessions(ctx context.Context, accountID int64) ([]session.Session, error) {
	ids, err := liveSetScript.Run(ctx, s.rdb, []string{s.keys.account(accountID), s.keys.accountLive(accountID)}).StringSlice()
	if errors.Is(err, redis.Nil) {
		return nil, session.ErrNoAccount
	}
	if err != nil {
		return nil, fmt.Errorf("redisengine: live sessions: %w", err)
	}
	sessions, gone, err := s.readLive(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("redisengine: live sessions: %w", err)
	}
	if len(gone) > 0 {
		// Tidying only: should it fail, the next reader leaves them out again.
		_ = s.rdb.SRem(ctx, s.keys.accountLive(accountID), gone...).Err()
	}
	return sessions, nil
}

// readLive reads the sessions named by ids, in one round trip to each node, and returns the
// live ones oldest first, and the ids of the others: ended, or expired.
func (s *Store) readLive(ctx context.Context, ids []string) ([]session.Session, []any, error) {
	if len(ids) == 0 {
		return nil, nil, nil
	}
	nums := make([]int64, len(ids))
	for i, id := range ids {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return nil, nil, fmt.Errorf("malformed session id %q", id)
		}
		nums[i] = n
	}
	read := make([]*redis.MapStringStringCmd, len(ids))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, n := range nums {
			read[i] = p.HGetAll(ctx, s.keys.session(n))
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	var live []session.Session
	var gone []any
	for i, n := range nums {
		m := read[i].Val()
		if len(m) == 0 {
			gone = append(gone, n)
			continue
		}
		sess, err := parseSession(n, m)
		if err != nil {
			return nil, nil, err
		}
		if !sess.Live() {
			gone = append(gone, n)
			continue
		}
		live = append(live, sess)
	}
	slices.SortFunc(live, func(a, b session.Session) int {
		return cmp.Or(a.StartedAt.Compare(b.StartedAt), cmp.Compare(a.ID, b.ID))
	})
	return live, gone, nil
}

// endSessionScript ends a live session, once, and gives it the retention to live. It returns
// "ok" when it ended the session, "already" when it had ended before, then the session's fields
// and values.
// KEYS: session, msgs, req. ARGV: ended ms, reason, retention ms.
var endSessionScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {'nosession'} end
local status = 'already'
if redis.call('HSETNX', KEYS[1], 'ended', ARGV[1]) == 1 then
	status = 'ok'
	redis.call('HSET', KEYS[1], 'reason', ARGV[2])
	for _, k in ipairs(KEYS) do redis.call('PEXPIRE', k, ARGV[3]) end
end
local reply = redis.call('HGETALL', KEYS[1])
table.insert(reply, 1, status)
return reply`)

// EndSession implements session.Store. Its members' live sets lose the session after the
// script ended it; should that fail, readers leave the ended session out, so the call that
// ended it still reports true and its caller tells the members.
func (s *Store) EndSession(ctx context.Context, id int64, reason string, at time.Time) (session.Session, bool, error) {
	reply, err := endSessionScript.Run(ctx, s.rdb, []string{s.keys.session(id), s.keys.sessionMsgs(id), s.keys.sessionReqs(id)},
		at.UnixMilli(), reason, s.retention).StringSlice()
	if err != nil {
		return session.Session{}, false, fmt.Errorf("redisengine: end session: %w", err)
	}
	if reply[0] == "nosession" {
		return session.Session{}, false, session.ErrNoSession
	}
	m := make(map[string]string, len(reply)/2)
	for i := 1; i+1 < len(reply); i += 2 {
		m[reply[i]] = reply[i+1]
	}
	sess, err := parseSession(id, m)
	if err != nil {
		return session.Session{}, false, fmt.Errorf("redisengine: end session: %w", err)
	}
	if reply[0] != "ok" {
		return sess, false, nil
	}
	_, _ = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, mem := range sess.Members {
			p.SRem(ctx, s.keys.accountLive(mem.ID), id)
		}
		p.ZRem(ctx, s.keys.live(), id)
		return nil
	})
	return sess, true, nil
}

// AllLive implements session.Store. Sessions that ended or expired without leaving the index
// are dropped from it as they are met.
func (s *Store) AllLive(ctx context.Context, limit int) ([]session.Session, int, error) {
	if limit <= 0 {
		n, err := s.rdb.ZCard(ctx, s.keys.live()).Result()
		if err != nil {
			return nil, 0, fmt.Errorf("redisengine: counting live sessions: %w", err)
		}
		return nil, int(n), nil
	}
	var ids *redis.StringSliceCmd
	var count *redis.IntCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		ids = p.ZRevRange(ctx, s.keys.live(), 0, int64(limit-1))
		count = p.ZCard(ctx, s.keys.live())
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("redisengine: all live sessions: %w", err)
	}
	sessions, gone, err := s.readLive(ctx, ids.Val())
	if err != nil {
		return nil, 0, fmt.Errorf("redisengine: all live sessions: %w", err)
	}
	if len(gone) > 0 {
		_ = s.rdb.ZRem(ctx, s.keys.live(), gone...).Err()
	}
	slices.Reverse(sessions) // newest first
	return sessions, int(count.Val()) - len(gone), nil
}

// appendMessageScript stores a message in a live session of its sender, deduplicated on the
// sender's request key, with an id above the session's last, and keeps the newest history-size
// messages, forgetting the request keys of those that fall out. It returns "ok", the partner
// and the id; "dup", the partner and the first message; or a refusal.
// It also reports the node the partner's connection is on, if that is another node, and on a
// server where it may (not a cluster, whose scripts are bound to their slot) publishes the
// message's push there itself, replying "1" if a node took it.
// KEYS: session, msgs, req. ARGV: sender, proposed id, messageBody JSON, request key or "",
// history size, session TTL ms, this node, "1" to publish, channel prefix, the PUSH_DIALOGUE
// body after its msgId.
var appendMessageScript = redis.NewScript(`
local s = redis.call('HMGET', KEYS[1], 'a', 'b', 'ended', 'last', 'ra', 'rb')
if not s[1] then return {'nosession'} end
local partner
if s[1] == ARGV[1] then partner = s[2]
elseif s[2] == ARGV[1] then partner = s[1]
else return {'notmember'} end
if s[3] then return {'ended'} end
if ARGV[4] ~= '' then
	local first = redis.call('HGET', KEYS[3], ARGV[4])
	if first then
		local prefix = '{"i":' .. first .. ','
		for _, m in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
			if string.sub(m, 1, #prefix) == prefix then return {'dup', partner, m} end
		end
	end
end
local id = string.format('%d', math.max(tonumber(ARGV[2]), tonumber(s[4]) + 1))
local over = redis.call('RPUSH', KEYS[2], '{"i":' .. id .. ',' .. string.sub(ARGV[3], 2)) - tonumber(ARGV[5])
if over > 0 then
	local dropped
	for _, old in ipairs(redis.call('LPOP', KEYS[2], over)) do
		local m = cjson.decode(old)
		if m.r then redis.call('HDEL', KEYS[3], m.s .. ':' .. m.r) end
		dropped = m.i
	end
	redis.call('HSET', KEYS[1], 'last', id, 'dropped', string.format('%d', dropped))
else
	redis.call('HSET', KEYS[1], 'last', id)
end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[3], ARGV[4], id) end
for _, k in ipairs(KEYS) do redis.call('PEXPIRE', k, ARGV[6]) end
local route = s[6]
if partner == s[1] then route = s[5] end
if not route or route == ARGV[7] then route = '' end
if ARGV[8] == '1' and route ~= '' then
	local envelope = '{"to":' .. partner .. ',"push":{"cmd":"PUSH_DIALOGUE","body":{"msgId":' .. id .. ARGV[10] .. '}}'
	if redis.call('SPUBLISH', ARGV[9] .. route .. '}:push', envelope) > 0 then
		return {'ok', partner, id, '1', route}
	end
end
return {'ok', partner, id, '0', route}`)

// AppendMessage implements session.Store. It also sends the message's push on to the partner's
// node when that is another one: in the same round trip, or on a Redis Cluster in a second.
func (s *Store) AppendMessage(ctx context.Context, m session.Message) (session.Appended, error) {
	body, err := json.Marshal(messageBody{Sender: m.SenderID, SentAt: m.SentAt.UnixMilli(), RequestID: m.RequestID, Content: m.Content})
	if err != nil {
		return session.Appended{}, fmt.Errorf("redisengine: append message: %w", err)
	}
	var request string
	if m.RequestID != "" {
		request = strconv.FormatInt(m.SenderID, 10) + ":" + m.RequestID
	}
	id := m.SessionID
	publish, pushTail := "0", ""
	if s.publish {
		unnumbered := m
		unnumbered.ID = 0
		if tail, ok := strings.CutPrefix(string(session.DialoguePush(unnumbered).Body), `{"msgId":0`); ok {
			publish, pushTail = "1", tail
		}
	}
	reply, err := appendMessageScript.Run(ctx, s.rdb, []string{s.keys.session(id), s.keys.sessionMsgs(id), s.keys.sessionReqs(id)},
		m.SenderID, m.ID, body, request, s.historySize, SessionTTL.Milliseconds(),
		s.node, publish, s.keys.channelPrefix(), pushTail).StringSlice()
	if err != nil {
		return session.Appended{}, fmt.Errorf("redisengine: append message: %w", err)
	}
	if refusal, ok := refusals[reply[0]]; ok {
		return session.Appended{}, refusal
	}
	partner, err := strconv.ParseInt(reply[1], 10, 64)
	if err != nil {
		return session.Appended{}, fmt.Errorf("redisengine: append message: malformed partner %q", reply[1])
	}
	if reply[0] == "dup" {
		first, err := decodeMessage(id, reply[2])
		if err != nil {
			return session.Appended{}, fmt.Errorf("redisengine: append message: %w", err)
		}
		return session.Appended{Message: first, Partner: partner, Duplicate: true}, nil
	}
	if m.ID, err = strconv.ParseInt(reply[2], 10, 64); err != nil {
		return session.Appended{}, fmt.Errorf("redisengine: append message: malformed id %q", reply[2])
	}
	delivered := reply[3] == "1"
	if route := reply[4]; !delivered && !s.publish && route != "" {
		// Best effort: should it fail, the service delivers the push by the account's route.
		delivered = s.publishDialogue(ctx, route, partner, m)
	}
	return session.Appended{Message: m, Partner: partner, Delivered: delivered}, nil
}

// publishDialogue publishes m's push for the partner to the node with id route, and reports
// whether a node took it.
func (s *Store) publishDialogue(ctx context.Context, route string, partner int64, m session.Message) bool {
	node, err := strconv.ParseInt(route, 10, 64)
	if err != nil {
		return false
	}
	p := session.DialoguePush(m)
	b, err := json.Marshal(envelope{To: partner, Push: &p})
	if err != nil {
		return false
	}
	n, err := s.rdb.SPublish(ctx, s.keys.channel(node), b).Result()
	return err == nil && n > 0
}

// Messages implements session.Store.
func (s *Store) Messages(ctx context.Context, sessionID, afterMsgID int64) ([]session.Message, bool, error) {
	var meta *redis.SliceCmd
	var list *redis.StringSliceCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		meta = p.HMGet(ctx, s.keys.session(sessionID), "dropped")
		list = p.LRange(ctx, s.keys.sessionMsgs(sessionID), 0, -1)
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("redisengine: messages: %w", err)
	}
	v, ok := meta.Val()[0].(string)
	if !ok {
		return nil, false, session.ErrNoSession
	}
	dropped, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, false, fmt.Errorf("redisengine: messages: session %d: malformed dropped %q", sessionID, v)
	}
	var msgs []session.Message
	for _, raw := range list.Val() {
		m, err := decodeMessage(sessionID, raw)
		if err != nil {
			return nil, false, fmt.Errorf("redisengine: messages: %w", err)
		}
		if m.ID > afterMsgID {
			msgs = append(msgs, m)
		}
	}
	return msgs, afterMsgID >= dropped, nil
}

// markViewedScript moves a member's read watermark forward. It returns "moved" or "kept" and
// the partner, or a refusal.
// KEYS: session. ARGV: reader, msgId.
var markViewedScript = redis.NewScript(`
local s = redis.call('HMGET', KEYS[1], 'a', 'b', 'ended', 'last', 'va', 'vb')
if not s[1] then return {'nosession'} end
local mark, partner, viewed
if s[1] == ARGV[1] then mark, partner, viewed = 'va', s[2], s[5]
elseif s[2] == ARGV[1] then mark, partner, viewed = 'vb', s[1], s[6]
else return {'notmember'} end
if s[3] then return {'ended'} end
local id = tonumber(ARGV[2])
if id > tonumber(s[4]) then return {'nomessage'} end
if id <= tonumber(viewed) then return {'kept', partner} end
redis.call('HSET', KEYS[1], mark, ARGV[2])
return {'moved', partner}`)

// MarkViewed implements session.Store.
func (s *Store) MarkViewed(ctx context.Context, sessionID, reader, msgID int64) (int64, bool, error) {
	reply, err := markViewedScript.Run(ctx, s.rdb, []string{s.keys.session(sessionID)}, reader, msgID).StringSlice()
	if err != nil {
		return 0, false, fmt.Errorf("redisengine: mark viewed: %w", err)
	}
	if refusal, ok := refusals[reply[0]]; ok {
		return 0, false, refusal
	}
	partner, err := strconv.ParseInt(reply[1], 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("redisengine: mark viewed: malformed partner %q", reply[1])
	}
	return partner, reply[0] == "moved", nil
}

// backlogScript keeps pushes at the end of an existing account's backlog, of which it keeps the
// newest backlog-size, and which expires with the account. Given a node, it first stops routing
// the account's pushes to that node, unless another node has claimed the account since.
// It returns the account's live sessions if it stopped routing, so that they stop too.
// KEYS: account, backlog, live. ARGV: node or "", backlog size, pushes.
var backlogScript = redis.NewScript(`
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 then return {} end
local live = {}
if ARGV[1] ~= '' then
	local route = redis.call('HMGET', KEYS[1], 'node', 'routed')
	if route[1] == ARGV[1] and route[2] == '1' then
		redis.call('HSET', KEYS[1], 'routed', '0')
		live = redis.call('SMEMBERS', KEYS[3])
	end
end
if #ARGV > 2 then
	redis.call('RPUSH', KEYS[2], unpack(ARGV, 3))
	redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
	if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
end
return live`)

// AppendBacklog implements session.Store.
func (s *Store) AppendBacklog(ctx context.Context, accountID int64, ps ...session.Push) error {
	if _, err := s.keepBacklog(ctx, accountID, "", ps); err != nil {
		return fmt.Errorf("redisengine: append backlog: %w", err)
	}
	return nil
}

// Release implements session.Store.
func (s *Store) Release(ctx context.Context, accountID, node int64, pending []session.Push) error {
	from := strconv.FormatInt(node, 10)
	live, err := s.keepBacklog(ctx, accountID, from, pending)
	if err == nil {
		err = s.routeSessions(ctx, accountID, live, "", from)
	}
	if err != nil {
		return fmt.Errorf("redisengine: release: %w", err)
	}
	return nil
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

// AddReport implements session.Store. The index of reports by creation time loses the ones
// that expired whenever a report is added.
func (s *Store) AddReport(ctx context.Context, r session.Report) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("redisengine: add report: %w", err)
	}
	created := r.CreatedAt.UnixMilli()
	ttl := time.Duration(s.reportRetention) * time.Millisecond
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, s.keys.report(r.ID), b, ttl)
		p.ZRemRangeByScore(ctx, s.keys.reports(), "-inf", strconv.FormatInt(created-s.reportRetention, 10))
		p.ZAdd(ctx, s.keys.reports(), redis.Z{Score: float64(created), Member: r.ID})
		p.PExpire(ctx, s.keys.reports(), ttl)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redisengine: add report: %w", err)
	}
	return nil
}

// Reports implements session.Store: the index, newest first, then every report in one
// pipeline. Reports that expired since the index was last trimmed are skipped.
func (s *Store) Reports(ctx context.Context) ([]session.Report, error) {
	ids, err := s.rdb.ZRevRange(ctx, s.keys.reports(), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("redisengine: list reports: %w", err)
	}
	cmds := make([]*redis.StringCmd, len(ids))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			n, _ := strconv.ParseInt(id, 10, 64)
			cmds[i] = p.Get(ctx, s.keys.report(n))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redisengine: list reports: %w", err)
	}
	reports := make([]session.Report, 0, len(ids))
	for _, cmd := range cmds {
		data, err := cmd.Bytes()
		if errors.Is(err, redis.Nil) {
			continue
		}
		r, err := decodeReport(data, err)
		if err != nil {
			return nil, err
		}
		reports = append(reports, r)
	}
	return reports, nil
}

// Report implements session.Store.
func (s *Store) Report(ctx context.Context, id int64) (session.Report, error) {
	return decodeReport(s.rdb.Get(ctx, s.keys.report(id)).Bytes())
}

// ResolveReport implements session.Store, as a transaction that fails if another node resolves
// the report at the same time; then it is read again and found resolved.
func (s *Store) ResolveReport(ctx context.Context, id int64, status string, res session.Resolution) (session.Report, error) {
	key := s.keys.report(id)
	var r session.Report
	resolve := func(tx *redis.Tx) error {
		var err error
		if r, err = decodeReport(tx.Get(ctx, key).Bytes()); err != nil {
			return err
		}
		if r.Status != session.ReportOpen {
			return session.ErrResolved
		}
		r.Status, r.Resolution = status, &res
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.SetArgs(ctx, key, b, redis.SetArgs{KeepTTL: true, Mode: "XX"})
			return nil
		})
		return err
	}
	for {
		err := s.rdb.Watch(ctx, resolve, key)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		if err != nil {
			return session.Report{}, err
		}
		return r, nil
	}
}

// decodeReport decodes a stored report, given a GET's outcome.
func decodeReport(data []byte, err error) (session.Report, error) {
	if errors.Is(err, redis.Nil) {
		return session.Report{}, session.ErrNoReport
	}
	if err != nil {
		return session.Report{}, fmt.Errorf("redisengine: read report: %w", err)
	}
	var r session.Report
	if err := json.Unmarshal(data, &r); err != nil {
		return session.Report{}, fmt.Errorf("redisengine: decoding a report: %w", err)
	}
	return r, nil
}

// pipelined sends what queue puts in a pipeline, calls of sc among it, in one round trip to each
// node concerned. A server that has not cached sc (its first use there, or it restarted)
// refuses it with NOSCRIPT without running it; then sc is loaded and the pipeline sent once
// more, which is why the commands that share a pipeline with a script are all idempotent.
func (s *Store) pipelined(ctx context.Context, sc *redis.Script, queue func(p redis.Pipeliner)) error {
	send := func(p redis.Pipeliner) error { queue(p); return nil }
	cmds, err := s.rdb.Pipelined(ctx, send)
	noScript := func(c redis.Cmder) bool { return redis.HasErrorPrefix(c.Err(), "NOSCRIPT") }
	if !slices.ContainsFunc(cmds, noScript) {
		return err
	}
	if err := sc.Load(ctx, s.rdb).Err(); err != nil {
		return err
	}
	_, err = s.rdb.Pipelined(ctx, send)
	return err
}

// decodeMessage decodes a message of session id's msgs list.
func decodeMessage(id int64, raw string) (session.Message, error) {
	var m storedMessage
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return session.Message{}, fmt.Errorf("malformed message: %w", err)
	}
	return session.Message{
		ID: m.ID, SessionID: id, SenderID: m.Sender, Content: m.Content, SentAt: time.UnixMilli(m.SentAt), RequestID: m.RequestID,
	}, nil
}

// parseSession reads session id from its hash.
func parseSession(id int64, m map[string]string) (session.Session, error) {
	f := hashFields{m: m}
	sess := session.Session{
		ID:        id,
		Members:   [2]session.Member{{ID: f.int("a"), Nickname: m["an"]}, {ID: f.int("b"), Nickname: m["bn"]}},
		StartedAt: f.time("started"),
		EndReason: m["reason"],
		LastMsgID: f.int("last"),
	}
	if _, ended := m["ended"]; ended {
		sess.EndedAt = f.time("ended")
	}
	if err := json.Unmarshal([]byte(m["common"]), &sess.CommonInterests); err != nil {
		return session.Session{}, fmt.Errorf("session %d: malformed common interests: %w", id, err)
	}
	if f.err != nil {
		return session.Session{}, fmt.Errorf("session %d: %w", id, f.err)
	}
	return sess, nil
}

// hashFields reads the numbers of a hash, remembering the first that is not one.
type hashFields struct {
	m   map[string]string
	err error
}

func (f *hashFields) int(name string) int64 {
	n, err := strconv.ParseInt(f.m[name], 10, 64)
	if err != nil && f.err == nil {
		f.err = fmt.Errorf("malformed %s %q", name, f.m[name])
	}
	return n
}

// time reads Unix milliseconds.
func (f *hashFields) time(name string) time.Time { return time.UnixMilli(f.int(name)) }

// boolField is how a hash keeps b.
func boolField(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
