package redisengine

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/duetchat/duet/session"
)

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
	clientA, errA := json.Marshal(a.Client)
	clientB, errB := json.Marshal(b.Client)
	if err := errors.Join(errA, errB); err != nil {
		return fmt.Errorf("redisengine: create session: %w", err)
	}
	key := s.keys.session(sess.ID)
	created, err := createHashScript.Run(ctx, s.rdb, []string{key}, SessionTTL.Milliseconds(),
		"a", a.ID, "an", a.Nickname, "ac", clientA, "b", b.ID, "bn", b.Nickname, "bc", clientB, "common", common,
		"started", sess.StartedAt.UnixMilli(), "last", 0, "da", 0, "db", 0, "va", 0, "vb", 0, "dropped", 0).Int()
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
// KEYS: session, msgs, requests. ARGV: ended ms, reason, retention ms.
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
// messages, forgetting the request keys of those that fall out: the requests sorted set scores
// each key by its message's id, so those of the messages that fall out are the lowest, and
// leave without reading the messages back. It returns "ok", the partner and the id; "dup", the
// partner and the first message; or a refusal.
// It also reports the node the partner's connection is on, if that is another node, and with
// ARGV[8] = "1" (a server where scripts may publish, not a cluster, whose scripts are bound to
// their slot; and no wait for replicas) publishes the message's push there itself, replying
// "1" if a node took it.
// The keys' expiry is renewed to the session TTL only once it has fallen below ARGV[7] (the
// TTL less sessionTTLSlack), or when the script has just made the key it looks at (a first
// message, the first with a request key), so that a message costs one PTTL rather than three
// PEXPIREs. A duplicate renews it always: a write, so that a WAIT after the script covers the
// first message too (replication keeps the order of writes), not only this connection's past.
// KEYS: session, msgs, requests. ARGV: sender, proposed id, messageBody JSON, request key or "",
// history size, session TTL ms, the TTL below which it is renewed, this node, "1" to publish,
// the node channel's name around the node's id, the message's envelope around its partner and
// its id (dialogueOf).
var appendMessageScript = redis.NewScript(`
local s = redis.call('HMGET', KEYS[1], 'a', 'b', 'ended', 'last', 'ra', 'rb')
if not s[1] then return {'nosession'} end
local partner
if s[1] == ARGV[1] then partner = s[2]
elseif s[2] == ARGV[1] then partner = s[1]
else return {'notmember'} end
if s[3] then return {'ended'} end
if ARGV[4] ~= '' then
	local first = redis.call('ZSCORE', KEYS[3], ARGV[4])
	if first then
		local prefix = '{"i":' .. string.format('%d', tonumber(first)) .. ','
		for _, m in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
			if string.sub(m, 1, #prefix) == prefix then
				for _, k in ipairs(KEYS) do redis.call('PEXPIRE', k, ARGV[6]) end
				return {'dup', partner, m}
			end
		end
	end
end
local id = string.format('%d', math.max(tonumber(ARGV[2]), tonumber(s[4]) + 1))
local length = redis.call('RPUSH', KEYS[2], '{"i":' .. id .. ',' .. string.sub(ARGV[3], 2))
local over = length - tonumber(ARGV[5])
if over > 0 then
	local out = redis.call('LPOP', KEYS[2], over)
	local dropped = string.match(out[#out], '^{"i":(%d+),')
	redis.call('HSET', KEYS[1], 'last', id, 'dropped', dropped)
	redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', dropped)
else
	redis.call('HSET', KEYS[1], 'last', id)
end
local made = KEYS[2]
if ARGV[4] ~= '' then
	redis.call('ZADD', KEYS[3], id, ARGV[4])
	made = KEYS[3]
end
if length == 1 or redis.call('PTTL', made) < tonumber(ARGV[7]) then
	for _, k in ipairs(KEYS) do redis.call('PEXPIRE', k, ARGV[6]) end
end
local route = s[6]
if partner == s[1] then route = s[5] end
if not route or route == ARGV[8] then route = '' end
if ARGV[9] == '1' and route ~= '' then
	local envelope = ARGV[12] .. partner .. ARGV[13] .. id .. ARGV[14]
	if redis.call('SPUBLISH', ARGV[10] .. route .. ARGV[11], envelope) > 0 then
		return {'ok', partner, id, '1', route}
	end
end
return {'ok', partner, id, '0', route}`)

// AppendMessage implements session.Store. It also sends the message's push on to the partner's
// node when that is another one: in the same round trip, or on a Redis Cluster in a second.
//
// With MinReplicas, the message is acknowledged only once that many replicas have it (WAIT,
// in the script's round trip), and its push leaves only then, in a second round trip: a push
// sent before could show the partner a message that a failover then loses. A duplicate is
// waited for too, and sent again (Appended.Redeliver), as its first attempt may have been
// refused before its push left.
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
	dialogue, err := dialogueOf(m)
	if err != nil {
		return session.Appended{}, fmt.Errorf("redisengine: append message: %w", err)
	}
	publishHere := s.publish && s.minReplicas == 0
	channelHead, channelTail := s.keys.channelAround()
	keys := []string{s.keys.session(id), s.keys.sessionMsgs(id), s.keys.sessionReqs(id)}
	args := []any{m.SenderID, m.ID, body, request, s.historySize, SessionTTL.Milliseconds(), (SessionTTL - sessionTTLSlack).Milliseconds(),
		s.node, boolField(publishHere),
		channelHead, channelTail, dialogue.envelope[0], dialogue.envelope[1], dialogue.envelope[2]}
	var reply []string
	if s.minReplicas == 0 {
		reply, err = appendMessageScript.Run(ctx, s.rdb, keys, args...).StringSlice()
	} else {
		reply, err = s.appendReplicated(ctx, keys, args)
	}
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
		return session.Appended{Message: first, Partner: partner, Duplicate: true, Redeliver: s.minReplicas > 0}, nil
	}
	if m.ID, err = strconv.ParseInt(reply[2], 10, 64); err != nil {
		return session.Appended{}, fmt.Errorf("redisengine: append message: malformed id %q", reply[2])
	}
	delivered := reply[3] == "1"
	if route := reply[4]; !delivered && !publishHere && route != "" {
		// Best effort: should it fail, the service delivers the push by the account's route.
		delivered = s.publishDialogue(ctx, route, dialogue.envelope[0]+reply[1]+dialogue.envelope[1]+reply[2]+dialogue.envelope[2])
	}
	if delivered {
		return session.Appended{Message: m, Partner: partner, Delivered: true}, nil
	}
	return session.Appended{Message: m, Partner: partner, Push: dialogue.push(reply[2])}, nil
}

// appendReplicated runs the append script and WAIT in one pipeline, on one connection to the
// master that holds the session, and returns the script's reply if at least MinReplicas
// replicas acknowledged it within ReplicaTimeout. A refusal changed nothing and waits for none.
func (s *Store) appendReplicated(ctx context.Context, keys []string, args []any) ([]string, error) {
	master, err := s.masterOf(ctx, keys[0])
	if err != nil {
		return nil, err
	}
	var appended *redis.Cmd
	var wait *redis.Cmd
	err = pipelinedOn(ctx, master, appendMessageScript, func(p redis.Pipeliner) {
		appended = appendMessageScript.EvalSha(ctx, p, keys, args...)
		wait = p.Do(ctx, "wait", s.minReplicas, s.replicaTimeout.Milliseconds())
	})
	if err != nil {
		return nil, err
	}
	reply, err := appended.StringSlice()
	if err != nil {
		return nil, err
	}
	acked, err := wait.Int()
	if err != nil {
		return nil, err
	}
	if _, refused := refusals[reply[0]]; !refused && acked < s.minReplicas {
		return nil, fmt.Errorf("%d of the %d replicas wanted (redis_min_replicas) acknowledged the message within %v", acked, s.minReplicas, s.replicaTimeout)
	}
	return reply, nil
}

// publishDialogue publishes a message's envelope to the node with id route, and reports whether
// a node took it.
func (s *Store) publishDialogue(ctx context.Context, route, envelope string) bool {
	node, err := strconv.ParseInt(route, 10, 64)
	if err != nil {
		return false
	}
	n, err := s.rdb.SPublish(ctx, s.keys.channel(node), envelope).Result()
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

// acknowledgeScript moves a member's delivered watermark forward and, with ARGV[3] = "1", its
// read watermark too. It returns "ok", the partner, and "1" or "0" for whether each of the
// delivered and the read watermark moved; or a refusal. Sessions written before delivered
// watermarks existed have none: 0.
// KEYS: session. ARGV: reader, msgId, "1" when viewed.
var acknowledgeScript = redis.NewScript(`
local s = redis.call('HMGET', KEYS[1], 'a', 'b', 'ended', 'last')
if not s[1] then return {'nosession'} end
local side, partner
if s[1] == ARGV[1] then side, partner = 'a', s[2]
elseif s[2] == ARGV[1] then side, partner = 'b', s[1]
else return {'notmember'} end
if s[3] then return {'ended'} end
local id = tonumber(ARGV[2])
if id > tonumber(s[4]) then return {'nomessage'} end
local moved = {'ok', partner, '0', '0'}
local marks = {'d' .. side}
if ARGV[3] == '1' then table.insert(marks, 'v' .. side) end
for i, mark in ipairs(marks) do
	if id > tonumber(redis.call('HGET', KEYS[1], mark) or '0') then
		redis.call('HSET', KEYS[1], mark, ARGV[2])
		moved[2 + i] = '1'
	end
end
return moved`)

// Acknowledge implements session.Store.
func (s *Store) Acknowledge(ctx context.Context, sessionID, reader, msgID int64, viewed bool) (session.Receipt, error) {
	reply, err := acknowledgeScript.Run(ctx, s.rdb, []string{s.keys.session(sessionID)}, reader, msgID, boolField(viewed)).StringSlice()
	if err != nil {
		return session.Receipt{}, fmt.Errorf("redisengine: acknowledge: %w", err)
	}
	if refusal, ok := refusals[reply[0]]; ok {
		return session.Receipt{}, refusal
	}
	partner, err := strconv.ParseInt(reply[1], 10, 64)
	if err != nil {
		return session.Receipt{}, fmt.Errorf("redisengine: acknowledge: malformed partner %q", reply[1])
	}
	return session.Receipt{Partner: partner, Delivered: reply[2] == "1", Viewed: reply[3] == "1"}, nil
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
		Delivered: [2]int64{f.optionalInt("da"), f.optionalInt("db")},
		Viewed:    [2]int64{f.int("va"), f.int("vb")},
	}
	if _, ended := m["ended"]; ended {
		sess.EndedAt = f.time("ended")
	}
	if err := json.Unmarshal([]byte(m["common"]), &sess.CommonInterests); err != nil {
		return session.Session{}, fmt.Errorf("session %d: malformed common interests: %w", id, err)
	}
	for i, field := range []string{"ac", "bc"} {
		if c, ok := m[field]; ok { // sessions made by older versions have none
			if err := json.Unmarshal([]byte(c), &sess.Members[i].Client); err != nil {
				return session.Session{}, fmt.Errorf("session %d: malformed %s: %w", id, field, err)
			}
		}
	}
	if f.err != nil {
		return session.Session{}, fmt.Errorf("session %d: %w", id, f.err)
	}
	return sess, nil
}
