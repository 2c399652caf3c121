-- The waiting queue of redisengine.Queue. ARGV[1] names the operation, so that each operation
-- is one atomic script call; ARGV[2] is the lifetime (ms) that every write renews on every key,
-- so that nothing outlives the nodes by more than that; ARGV[3] to ARGV[6] are the match.Rule:
-- InterestWait (ms), PartnerCooldown (ms), CooldownQueue, and DistinctClients (1 or 0). The
-- operation's own arguments follow. All KEYS share the {q} hash tag:
--
--   wait    zset  account id → Since (Unix ms): the queue, longest waiter first
--   plain   zset  the same for the waiters without interests, who never insist
--   tags    zset  "<length>:<interest><id>" at score 0 for each interest of each waiter, so
--                 that a lexical range lists the waiters naming one interest
--   waiter  hash  account id → cmsgpack {nickname, {interests}, client}
--   bars    hash  "a:b" (a < b) → "p" while partnered, "b" if blocked, or else the Unix ms at
--                 which a and b parted
--   barof   zset  "a:b" and "b:a" at score 0 for each bar, so that a lexical range lists the
--                 bars of one account
--   barexp  zset  "a:b" → when the whole PartnerCooldown since they parted is over, for the
--                 bars that lapse, so that lapsed ones can be swept
--
-- Replies carry each waiter as {id, since, nickname, {interests}, client}.
--
-- The operation matchstart also checks the MATCH and creates the session of the pair it makes,
-- and so touches keys outside {q}: the session's hash, the index of live sessions, the settings
-- and the bans, which follow the queue's in KEYS, and the asker's bans, both members' account
-- hash and live set, and the sessions of the asker's live set, which it names itself, as it
-- learns who the partner is and what to read only as it runs. A script may do so on one server
-- (or a Sentinel's master), never on a Redis Cluster, where the queue, every account, every
-- session and the bans hash to slots of their own: there, the checks and the session's
-- creation are steps of their own.

local wait, plain, tags, waiters, bars, barof, barexp = unpack(KEYS, 1, 7)
local interestWait, partnerCooldown, cooldownQueue = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local distinctClients = ARGV[6] == '1'
-- The operation's own arguments start here.
local arg0 = 7

local function tagPrefix(tag)
	return #tag .. ':' .. tag
end

local function pairKey(a, b)
	if a < b then
		return a .. ':' .. b
	end
	return b .. ':' .. a
end

-- cooldown is match.Rule.Cooldown in ms: how long two who parted are kept apart with others
-- waiting besides them. Lua's numbers are IEEE doubles, as the Go side's are, so the two agree
-- to the millisecond.
local function cooldown(others)
	if others >= cooldownQueue then
		return partnerCooldown
	end
	return math.floor(partnerCooldown * others / cooldownQueue)
end

-- bar records why a and b may not meet: v is "p" (partnered), "b" (blocked) or the Unix ms at
-- which they parted, as a string.
local function bar(a, b, v)
	local k = pairKey(a, b)
	redis.call('HSET', bars, k, v)
	if v == 'p' or v == 'b' then
		redis.call('ZREM', barexp, k)
	else
		redis.call('ZADD', barexp, tonumber(v) + cooldown(cooldownQueue), k)
	end
	redis.call('ZADD', barof, 0, a .. ':' .. b, 0, b .. ':' .. a)
end

local function unbar(a, b)
	local k = pairKey(a, b)
	redis.call('HDEL', bars, k)
	redis.call('ZREM', barexp, k)
	redis.call('ZREM', barof, a .. ':' .. b, b .. ':' .. a)
end

-- allowed reports whether the bars let a and b meet at now, with others waiting besides them.
-- Like the memory queue, it drops a bar that has lapsed for good as it meets it.
local function allowed(a, b, now, others)
	local v = redis.call('HGET', bars, pairKey(a, b))
	if not v then
		return true
	end
	if v == 'p' or v == 'b' then
		return false
	end
	local parted = tonumber(v)
	if now < parted + cooldown(cooldownQueue) then
		return now >= parted + cooldown(others)
	end
	unbar(a, b)
	return true
end

-- sweep drops up to n of the bars that lapsed without their pair meeting again. Match sweeps
-- a few, so sweeping keeps pace with pairing, and MatchWaiting, which every node calls
-- often, many, so lapsed bars cannot pile up.
local function sweep(now, n)
	for _, k in ipairs(redis.call('ZRANGEBYSCORE', barexp, '-inf', now, 'LIMIT', 0, n)) do
		local a, b = string.match(k, '^(.-):(.*)$')
		unbar(a, b)
	end
end

local function load(id)
	local packed = redis.call('HGET', waiters, id)
	if not packed then
		return nil
	end
	local w = cmsgpack.unpack(packed)
	-- A waiter queued by a version that kept no client has none.
	local client = w[3] or ''
	return {id = id, since = tonumber(redis.call('ZSCORE', wait, id)), nick = w[1], tags = w[2], client = client}
end

-- argWaiter reads a waiter from ARGV[i] on: id, since (Unix ms), nickname, client, interests.
local function argWaiter(i)
	local w = {id = ARGV[i], since = tonumber(ARGV[i + 1]), nick = ARGV[i + 2], client = ARGV[i + 3], tags = {}}
	for j = i + 4, #ARGV do
		w.tags[#w.tags + 1] = ARGV[j]
	end
	return w
end

local function reply(w)
	return {w.id, w.since, w.nick, w.tags, w.client}
end

local function enqueue(w)
	redis.call('ZADD', wait, w.since, w.id)
	redis.call('HSET', waiters, w.id, cmsgpack.pack({w.nick, w.tags, w.client}))
	if #w.tags == 0 then
		redis.call('ZADD', plain, w.since, w.id)
	end
	for _, t in ipairs(w.tags) do
		redis.call('ZADD', tags, 0, tagPrefix(t) .. w.id)
	end
end

local function dequeue(w)
	redis.call('ZREM', wait, w.id)
	redis.call('ZREM', plain, w.id)
	redis.call('HDEL', waiters, w.id)
	for _, t in ipairs(w.tags) do
		redis.call('ZREM', tags, tagPrefix(t) .. w.id)
	end
end

-- sameClient is match.Rule's DistinctClients test: whether w and the waiter c come from one
-- client. An unknown (empty) client is nobody's.
local function sameClient(w, c)
	if not distinctClients or w.client == '' then
		return false
	end
	return cmsgpack.unpack(redis.call('HGET', waiters, c))[3] == w.client
end

-- suits reports whether w and the waiter c may be paired at now, with others waiting besides
-- them, checking what match.Rule.Pick checks in the order it does.
local function suits(w, c, now, others)
	return c ~= w.id and not sameClient(w, c) and allowed(w.id, c, now, others)
end

-- first returns the longest waiter of zset key with a score in [min, max] that suits w, and its
-- rank in the queue.
local function first(key, min, max, w, now, others)
	local offset = 0
	while true do
		local ids = redis.call('ZRANGEBYSCORE', key, min, max, 'LIMIT', offset, 16)
		for _, c in ipairs(ids) do
			if suits(w, c, now, others) then
				return c, redis.call('ZRANK', wait, c)
			end
		end
		if #ids < 16 then
			return nil
		end
		offset = offset + 16
	end
end

-- pick is match.Rule.Pick over the queue, with indexes instead of a walk through all of it. It
-- returns the id of w's partner, or nil. The longest waiter sharing an interest wins; failing
-- that, the longest waiter where neither side still insists. A waiter insists while it has
-- interests and waited less than InterestWait, that is since after cutoff = now - InterestWait;
-- so the waiters that do not insist are those in plain and those in wait up to cutoff. Others is
-- how many wait besides w and its partner-to-be, for the cooldown.
local function pick(w, now, cutoff, others)
	local best, bestRank
	for _, t in ipairs(w.tags) do
		local p = tagPrefix(t)
		for _, m in ipairs(redis.call('ZRANGEBYLEX', tags, '[' .. p, '(' .. p .. '\255')) do
			local c = string.sub(m, #p + 1)
			local r = redis.call('ZRANK', wait, c)
			if (not best or r < bestRank) and suits(w, c, now, others) then
				best, bestRank = c, r
			end
		end
	end
	if best or (#w.tags > 0 and w.since > cutoff) then
		return best
	end
	local waited, waitedRank = first(wait, '-inf', cutoff, w, now, others)
	local free, freeRank = first(plain, '-inf', '+inf', w, now, others)
	if free and (not waited or freeRank < waitedRank) then
		return free
	end
	return waited
end

-- take takes c, the partner pick chose for w, out of the queue and records the two as
-- partnered.
local function take(w, c)
	local partner = load(c)
	dequeue(partner)
	bar(w.id, c, 'p')
	return partner
end

local ops = {}

-- match: now, waiter. Replies {partner}, or {} if w waits.
function ops.match()
	local now = tonumber(ARGV[arg0])
	local w = argWaiter(arg0 + 1)
	if redis.call('ZSCORE', wait, w.id) then
		return {}
	end
	sweep(now, 4)
	-- Others: the queue and w, less the two to be paired.
	local others = redis.call('ZCARD', wait) - 1
	local c = pick(w, now, now - interestWait, others)
	if not c then
		enqueue(w)
		return {}
	end
	return {reply(take(w, c))}
end

-- clientJSON is a member's client in a session hash, as Go encodes a moderation.Client.
local function clientJSON(addr, network)
	return '{"addr":' .. cjson.encode(addr or '') .. ',"network":' .. cjson.encode(network or '') .. '}'
end

-- commonJSON is the JSON list of the interests a and b share, in a's order, as match.Common
-- finds them. cjson would encode an empty list as an object.
local function commonJSON(a, b)
	local theirs, common = {}, {}
	for _, t in ipairs(b) do
		theirs[t] = true
	end
	for _, t in ipairs(a) do
		if theirs[t] then
			common[#common + 1] = cjson.encode(t)
		end
	end
	return '[' .. table.concat(common, ',') .. ']'
end

-- matchstart: now, session id, session TTL (ms), the head and the tail of an account's key
-- around its id, the suffix of its live set's key, the head and the tail of a session's key
-- around its id, the heads of the keys of an account's, an address's and a network's bans
-- before their value, the most live sessions an account may be in, then the waiter, whose
-- nickname and client the account gives. KEYS, after the queue's: the session's hash, the index
-- of live sessions, the settings, the bans.
--
-- It checks the MATCH as session.Service.Match does, in its order: the account exists; no ban
-- is in force on it, its client address or network (findBan, of the ban functions that the Go
-- side puts before this file); matching is not paused; the account is in fewer live sessions
-- than allowed (the sessions of its live set that ended or expired are tidied away as they are
-- met). It is then match, and when it pairs w with c it also creates their session as
-- redisengine.Store.CreateSession does, members w then c, started at now: the hash (with the
-- node each member's pushes go to), both live sets (expiring with their account) and the
-- index. A partner whose account is gone is taken out of the queue and passed over. Replies
-- {'noaccount'}, {'banned', the ban's JSON}, {'paused'}, {'full'}, {'idtaken'}, {'queued'}
-- (w waits, or already did), or {'paired', partner, w's nickname, w's client address, w's
-- client network, c's client address, c's client network}.
function ops.matchstart()
	local now = tonumber(ARGV[arg0])
	local sid, ttl = ARGV[arg0 + 1], ARGV[arg0 + 2]
	local head, tail, liveSuffix = ARGV[arg0 + 3], ARGV[arg0 + 4], ARGV[arg0 + 5]
	local sessionHead, sessionTail = ARGV[arg0 + 6], ARGV[arg0 + 7]
	local banAccount, banAddress, banNetwork = ARGV[arg0 + 8], ARGV[arg0 + 9], ARGV[arg0 + 10]
	local maxSessions = tonumber(ARGV[arg0 + 11])
	local w = argWaiter(arg0 + 12)
	local session, liveIndex, settings, banned = KEYS[8], KEYS[9], KEYS[10], KEYS[11]
	-- member returns what the session keeps of account id: {created, client address, client
	-- network, node, routed, nickname}; created is false when the account is gone.
	local function member(id)
		return redis.call('HMGET', head .. id .. tail, 'created', 'ca', 'cn', 'node', 'routed', 'nick')
	end
	local mine = member(w.id)
	if not mine[1] then
		return {'noaccount'}
	end
	w.nick, w.client = mine[6], mine[2] or ''
	local targets = {banAccount .. w.id}
	if w.client ~= '' then
		targets[2], targets[3] = banAddress .. w.client, banNetwork .. (mine[3] or '')
	end
	local ban = findBan(banned, targets, now)
	if ban then
		return {'banned', ban}
	end
	if redis.call('HGET', settings, 'paused') == '1' then
		return {'paused'}
	end
	local myLive = head .. w.id .. tail .. liveSuffix
	local live = 0
	for _, id in ipairs(redis.call('SMEMBERS', myLive)) do
		local s = redis.call('HMGET', sessionHead .. id .. sessionTail, 'a', 'ended')
		if s[1] and not s[2] then
			live = live + 1
		else
			redis.call('SREM', myLive, id)
		end
	end
	if live >= maxSessions then
		return {'full'}
	end
	if redis.call('EXISTS', session) == 1 then
		return {'idtaken'}
	end
	if redis.call('ZSCORE', wait, w.id) then
		return {'queued'}
	end
	sweep(now, 4)
	local c, theirs
	while true do
		-- Others: the queue and w, less the two to be paired.
		c = pick(w, now, now - interestWait, redis.call('ZCARD', wait) - 1)
		if not c then
			enqueue(w)
			return {'queued'}
		end
		theirs = member(c)
		if theirs[1] then
			break
		end
		dequeue(load(c))
	end
	local partner = take(w, c)
	local function route(m)
		if m[5] == '1' then
			return m[4]
		end
		return ''
	end
	redis.call('HSET', session, 'a', w.id, 'an', w.nick, 'ac', clientJSON(mine[2], mine[3]),
		'b', c, 'bn', partner.nick, 'bc', clientJSON(theirs[2], theirs[3]), 'common', commonJSON(w.tags, partner.tags),
		'started', ARGV[arg0], 'last', 0, 'da', 0, 'db', 0, 'va', 0, 'vb', 0, 'dropped', 0,
		'ra', route(mine), 'rb', route(theirs))
	redis.call('PEXPIRE', session, ttl)
	for _, id in ipairs({w.id, c}) do
		local set = head .. id .. tail .. liveSuffix
		redis.call('SADD', set, sid)
		local left = redis.call('PTTL', head .. id .. tail)
		if left > 0 then
			redis.call('PEXPIRE', set, left)
		end
	end
	redis.call('ZADD', liveIndex, ARGV[arg0], sid)
	redis.call('PEXPIRE', liveIndex, ttl)
	return {'paired', reply(partner), w.nick, mine[2] or '', mine[3] or '', theirs[2] or '', theirs[3] or ''}
end

-- hopeful returns the set of waiters that might pair at all: those that do not insist, and
-- those that share an interest with another waiter. The rest cannot take part in any pair, so
-- a long queue of waiters holding out for rare interests costs little to pass over.
local function hopeful(cutoff)
	local set = {}
	for _, id in ipairs(redis.call('ZRANGEBYSCORE', wait, '-inf', cutoff)) do
		set[id] = true
	end
	for _, id in ipairs(redis.call('ZRANGE', plain, 0, -1)) do
		set[id] = true
	end
	local last, lastID
	for _, m in ipairs(redis.call('ZRANGE', tags, 0, -1)) do
		local n = string.match(m, '^%d+')
		local p = string.sub(m, 1, #n + 1 + tonumber(n))
		local id = string.sub(m, #p + 1)
		if p == last then
			set[id], set[lastID] = true, true
		end
		last, lastID = p, id
	end
	return set
end

-- matchwaiting: now. Replies with the pairs, two waiters each. Like the memory queue, it offers
-- each waiter, longest first, the waiters queued behind it; pick may offer the whole queue,
-- since the rule is symmetric and so the waiters left ahead have already been found not to
-- suit. For that, the others waiting are counted once, as the call finds the queue, and not
-- again as pairs leave it.
function ops.matchwaiting()
	local now = tonumber(ARGV[arg0])
	local cutoff = now - interestWait
	sweep(now, 1000)
	local others = redis.call('ZCARD', wait) - 2
	local set = hopeful(cutoff)
	local out = {}
	for _, id in ipairs(redis.call('ZRANGE', wait, 0, -1)) do
		local w = set[id] and load(id)
		if w then
			local c = pick(w, now, cutoff, others)
			if c then
				dequeue(w)
				out[#out + 1] = reply(w)
				out[#out + 1] = reply(take(w, c))
			end
		end
	end
	return out
end

-- requeue: waiter.
function ops.requeue()
	local w = argWaiter(arg0)
	if not redis.call('ZSCORE', wait, w.id) then
		enqueue(w)
	end
	return 0
end

-- cancel: id. Replies 1 if it was waiting, else 0.
function ops.cancel()
	local w = load(ARGV[arg0])
	if not w then
		return 0
	end
	dequeue(w)
	return 1
end

-- release: a, b, when they parted (Unix ms).
function ops.release()
	local a, b = ARGV[arg0], ARGV[arg0 + 1]
	if redis.call('HGET', bars, pairKey(a, b)) ~= 'b' then
		bar(a, b, ARGV[arg0 + 2])
	end
	return 0
end

-- block: a, b.
function ops.block()
	bar(ARGV[arg0], ARGV[arg0 + 1], 'b')
	return 0
end

-- forget: id.
function ops.forget()
	local id = ARGV[arg0]
	local w = load(id)
	if w then
		dequeue(w)
	end
	for _, m in ipairs(redis.call('ZRANGEBYLEX', barof, '[' .. id .. ':', '(' .. id .. ';')) do
		unbar(id, string.sub(m, #id + 2))
	end
	return 0
end

-- waiting: replies with the queue, longest waiter first.
function ops.waiting()
	local out = {}
	for _, id in ipairs(redis.call('ZRANGE', wait, 0, -1)) do
		out[#out + 1] = reply(load(id))
	end
	return out
end

local op = ops[ARGV[1]]
if not op then
	return redis.error_reply('unknown queue operation ' .. tostring(ARGV[1]))
end
local out = op()
if ARGV[1] ~= 'waiting' then
	for _, k in ipairs({wait, plain, tags, waiters, bars, barof, barexp}) do
		redis.call('PEXPIRE', k, ARGV[2])
	end
end
return out
