-- The waiting queue of redisengine.Queue. ARGV[1] names the operation, so that each operation
-- is one atomic script call; ARGV[2] is the lifetime (ms) that every write renews on every key,
-- so that nothing outlives the nodes by more than that. All KEYS share the {q} hash tag:
--
--   wait    zset  account id → Since (Unix ms): the queue, longest waiter first
--   plain   zset  the same for the waiters without interests, who never insist
--   tags    zset  "<length>:<interest><id>" at score 0 for each interest of each waiter, so
--                 that a lexical range lists the waiters naming one interest
--   waiter  hash  account id → cmsgpack {nickname, {interests}}
--   bars    hash  "a:b" (a < b) → "p" while partnered, "b" if blocked, or else the Unix ms
--                 until which a and b may not meet
--   barof   zset  "a:b" and "b:a" at score 0 for each bar, so that a lexical range lists the
--                 bars of one account
--   barexp  zset  "a:b" → until, for the bars that lapse, so that lapsed ones can be swept
--
-- Replies carry each waiter as {id, since, nickname, {interests}}.

local wait, plain, tags, waiters, bars, barof, barexp = unpack(KEYS)

local function tagPrefix(tag)
	return #tag .. ':' .. tag
end

local function pairKey(a, b)
	if a < b then
		return a .. ':' .. b
	end
	return b .. ':' .. a
end

local function bar(a, b, v)
	local k = pairKey(a, b)
	redis.call('HSET', bars, k, v)
	if v == 'p' or v == 'b' then
		redis.call('ZREM', barexp, k)
	else
		redis.call('ZADD', barexp, v, k)
	end
	redis.call('ZADD', barof, 0, a .. ':' .. b, 0, b .. ':' .. a)
end

local function unbar(a, b)
	local k = pairKey(a, b)
	redis.call('HDEL', bars, k)
	redis.call('ZREM', barexp, k)
	redis.call('ZREM', barof, a .. ':' .. b, b .. ':' .. a)
end

-- allowed reports whether a and b may meet at now, dropping a lapsed bar as it meets it, as
-- the memory queue does.
local function allowed(a, b, now)
	local v = redis.call('HGET', bars, pairKey(a, b))
	if not v then
		return true
	end
	if v == 'p' or v == 'b' or now < tonumber(v) then
		return false
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
	return {id = id, since = tonumber(redis.call('ZSCORE', wait, id)), nick = w[1], tags = w[2]}
end

local function argWaiter(i)
	local w = {id = ARGV[i], since = tonumber(ARGV[i + 1]), nick = ARGV[i + 2], tags = {}}
	for j = i + 3, #ARGV do
		w.tags[#w.tags + 1] = ARGV[j]
	end
	return w
end

local function reply(w)
	return {w.id, w.since, w.nick, w.tags}
end

local function enqueue(w)
	redis.call('ZADD', wait, w.since, w.id)
	redis.call('HSET', waiters, w.id, cmsgpack.pack({w.nick, w.tags}))
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

-- first returns the longest waiter of zset key with a score in [min, max] other than w that
-- may meet w, and its rank in the queue.
local function first(key, min, max, w, now)
	local offset = 0
	while true do
		local ids = redis.call('ZRANGEBYSCORE', key, min, max, 'LIMIT', offset, 16)
		for _, c in ipairs(ids) do
			if c ~= w.id and allowed(w.id, c, now) then
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
-- so the waiters that do not insist are those in plain and those in wait up to cutoff.
local function pick(w, now, cutoff)
	local best, bestRank
	for _, t in ipairs(w.tags) do
		local p = tagPrefix(t)
		for _, m in ipairs(redis.call('ZRANGEBYLEX', tags, '[' .. p, '(' .. p .. '\255')) do
			local c = string.sub(m, #p + 1)
			local r = redis.call('ZRANK', wait, c)
			if c ~= w.id and (not best or r < bestRank) and allowed(w.id, c, now) then
				best, bestRank = c, r
			end
		end
	end
	if best or (#w.tags > 0 and w.since > cutoff) then
		return best
	end
	local waited, waitedRank = first(wait, '-inf', cutoff, w, now)
	local free, freeRank = first(plain, '-inf', '+inf', w, now)
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

-- match: ARGV now, InterestWait (ms), waiter. Replies {partner}, or {} if w waits.
function ops.match()
	local now = tonumber(ARGV[3])
	local w = argWaiter(5)
	if redis.call('ZSCORE', wait, w.id) then
		return {}
	end
	sweep(now, 4)
	local c = pick(w, now, now - tonumber(ARGV[4]))
	if not c then
		enqueue(w)
		return {}
	end
	return {reply(take(w, c))}
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

-- matchwaiting: ARGV now, InterestWait (ms). Replies with the pairs, two waiters each. Like
-- the memory queue, it offers each waiter, longest first, the waiters queued behind it; pick
-- may offer the whole queue, since the rule is symmetric and so the waiters left ahead have
-- already been found not to suit.
function ops.matchwaiting()
	local now = tonumber(ARGV[3])
	local cutoff = now - tonumber(ARGV[4])
	sweep(now, 1000)
	local set = hopeful(cutoff)
	local out = {}
	for _, id in ipairs(redis.call('ZRANGE', wait, 0, -1)) do
		local w = set[id] and load(id)
		if w then
			local c = pick(w, now, cutoff)
			if c then
				dequeue(w)
				out[#out + 1] = reply(w)
				out[#out + 1] = reply(take(w, c))
			end
		end
	end
	return out
end

-- requeue: ARGV waiter.
function ops.requeue()
	local w = argWaiter(3)
	if not redis.call('ZSCORE', wait, w.id) then
		enqueue(w)
	end
	return 0
end

-- cancel: ARGV id. Replies 1 if it was waiting, else 0.
function ops.cancel()
	local w = load(ARGV[3])
	if not w then
		return 0
	end
	dequeue(w)
	return 1
end

-- release: ARGV a, b, until (Unix ms).
function ops.release()
	local a, b = ARGV[3], ARGV[4]
	if redis.call('HGET', bars, pairKey(a, b)) ~= 'b' then
		bar(a, b, ARGV[5])
	end
	return 0
end

-- block: ARGV a, b.
function ops.block()
	bar(ARGV[3], ARGV[4], 'b')
	return 0
end

-- forget: ARGV id.
function ops.forget()
	local id = ARGV[3]
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
	for _, k in ipairs(KEYS) do
		redis.call('PEXPIRE', k, ARGV[2])
	end
end
return out
