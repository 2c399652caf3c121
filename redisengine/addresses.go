package redisengine

import (
	"context"
	"crypto/rand"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/duetchat/duet"
	"github.com/duetchat/duet/push"
)

// Addresses keeps the limits per client address in Redis, so that they hold for the whole
// service however many nodes an address spreads its connections over. Redis is asked only when
// a connection opens or closes and when an account is created or challenged; never on the
// message path.
//
// Each address (by its keyed hash, never in the clear) has one hash, {prefix}{ad:HASH}:
//
//	c, cs     the connect bucket: tokens, and when they were counted (Unix ms)
//	a, as     the account bucket, likewise
//	p, ps     the bucket of accounts that must solve a challenge first, likewise
//	r, rs     the RECONNECT bucket, likewise
//	q:NAME, qs:NAME  the bucket NAME of the limits of the address's requests (push.Limits), likewise
//	n:NODE    the open connections of the address on one node (a random name per process)
//	e:NODE    until when n:NODE holds (Unix ms) unless the node renews it
//
// A node renews its entries every third of their lifetime, setting its own count again, so that
// a node that dies frees its connections' places within the lifetime, and a close that did not
// reach Redis is mended at the next renewal. The request buckets are not asked on the message
// path: each node shares what it spent of them every few moments (ShareBuckets). The key expires
// once its buckets would be full again and its entries have lapsed.
type Addresses struct {
	client redis.UniversalClient
	keys   keyspace
	limits push.AddressLimits
	node   string        // this process's name in the entries
	life   time.Duration // of an entry that is not renewed
	ttl    time.Duration // of an address's key after its last change
	now    func() time.Time
	log    *slog.Logger

	mu   sync.Mutex     // guards open
	open map[string]int // address → connections open on this node
}

var (
	_ push.AddressLimiter     = (*Addresses)(nil)
	_ push.AddressBucketStore = (*Addresses)(nil)
)

// NewAddresses returns the limits per address kept in client under prefix. A node's count of
// an address's connections lapses life after its last renewal (Run renews it).
func NewAddresses(client redis.UniversalClient, prefix string, limits push.AddressLimits, life time.Duration, now func() time.Time, log *slog.Logger) *Addresses {
	ttl := max(life, refill(limits.Connect), refill(limits.Account), refill(limits.Challenged), refill(limits.Reconnect))
	for _, l := range limits.Requests.Named() {
		ttl = max(ttl, refill(l))
	}
	return &Addresses{
		client: client, keys: keyspace{prefix}, limits: limits, node: rand.Text()[:16], life: life, ttl: ttl,
		now: now, log: log, open: make(map[string]int),
	}
}

// refill is how long an empty bucket of l takes to fill up.
func refill(l duet.Limit) time.Duration {
	if l.Rate <= 0 {
		return 0 // a limit not in use
	}
	return time.Duration(math.Ceil(float64(l.Burst) / l.Rate * float64(time.Second)))
}

func (k keyspace) address(hash string) string { return k.prefix + "{ad:" + hash + "}" }

// bucketLib takes one token from the bucket in fields tf (tokens) and sf (when) of KEYS[1], with
// rate per second and burst, at now (Unix ms); it returns 0, or the ms to wait for a token.
const bucketLib = `
local function take(tf, sf, rate, burst, now)
	local v = redis.call('HMGET', KEYS[1], tf, sf)
	local tokens = burst
	if v[1] then
		tokens = math.min(burst, tonumber(v[1]) + math.max(0, now - tonumber(v[2])) * rate / 1000)
	end
	if tokens < 1 then
		return math.ceil((1 - tokens) * 1000 / rate), tokens
	end
	redis.call('HSET', KEYS[1], tf, tostring(tokens - 1), sf, now)
	return 0, tokens - 1
end
`

// openScript admits a connection: -1 when the address holds ARGV[3] connections on the live
// nodes, the ms to wait when its connect bucket is empty, else 0, counting it for node ARGV[2].
// ARGV: now, node, connections, rate, burst, entry life ms, key ttl ms.
var openScript = redis.NewScript(bucketLib + `
local now, node = tonumber(ARGV[1]), ARGV[2]
local h = redis.call('HGETALL', KEYS[1])
local f = {}
for i = 1, #h, 2 do f[h[i]] = h[i + 1] end
local open = 0
for name, until_ in pairs(f) do
	if string.sub(name, 1, 2) == 'e:' then
		local count = 'n:' .. string.sub(name, 3)
		if tonumber(until_) < now then
			redis.call('HDEL', KEYS[1], name, count)
		else
			open = open + tonumber(f[count] or '0')
		end
	end
end
if open >= tonumber(ARGV[3]) then
	return -1
end
local wait = take('c', 'cs', tonumber(ARGV[4]), tonumber(ARGV[5]), now)
if wait > 0 then
	return wait
end
redis.call('HINCRBY', KEYS[1], 'n:' .. node, 1)
redis.call('HSET', KEYS[1], 'e:' .. node, now + tonumber(ARGV[6]))
redis.call('PEXPIRE', KEYS[1], ARGV[7])
return 0`)

// takeScript takes a token from the bucket in fields ARGV[5] and ARGV[6]: it returns 0, or the
// ms to wait for one, and the tokens left (as text, since they are fractional). ARGV: now, rate,
// burst, key ttl ms, tokens field, when field.
var takeScript = redis.NewScript(bucketLib + `
local wait, left = take(ARGV[5], ARGV[6], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[1]))
if wait == 0 then
	redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
return {wait, tostring(left)}`)

// shareScript takes what a node spent from the request buckets of an address and returns what
// each holds now, in the order given; a bucket owes at most its burst. ARGV: now, key ttl ms,
// then for each bucket its name, the tokens spent, its rate and its burst.
var shareScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local left = {}
for i = 3, #ARGV, 4 do
	local tf, sf = 'q:' .. ARGV[i], 'qs:' .. ARGV[i]
	local spent, rate, burst = tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
	local v = redis.call('HMGET', KEYS[1], tf, sf)
	local tokens = burst
	if v[1] then
		tokens = math.min(burst, tonumber(v[1]) + math.max(0, now - tonumber(v[2])) * rate / 1000)
	end
	tokens = math.max(-burst, tokens - spent)
	redis.call('HSET', KEYS[1], tf, tostring(tokens), sf, now)
	left[#left + 1] = tostring(tokens)
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return left`)

// closeScript gives back a connection of node ARGV[1].
var closeScript = redis.NewScript(`
if redis.call('HINCRBY', KEYS[1], 'n:' .. ARGV[1], -1) <= 0 then
	redis.call('HDEL', KEYS[1], 'n:' .. ARGV[1], 'e:' .. ARGV[1])
end
return 0`)

// unchecked is the refusal when Redis did not answer: the client may try again in a moment.
func unchecked(what string) error {
	return &duet.Error{Code: duet.InternalErr, Msg: "the service could not check the limit of " + what + " from your address just now; try again in a moment"}
}

// Open implements push.AddressLimiter.
func (a *Addresses) Open(ctx context.Context, addr string) error {
	// The place is counted here first, so that a renewal running meanwhile over-counts it
	// rather than forgets it.
	a.count(addr, 1)
	wait, err := openScript.Run(ctx, a.client, []string{a.keys.address(addr)}, a.now().UnixMilli(), a.node,
		a.limits.Connections, a.limits.Connect.Rate, a.limits.Connect.Burst, a.life.Milliseconds(), a.ttl.Milliseconds()).Int64()
	switch {
	case err != nil:
		a.count(addr, -1)
		a.log.Warn("checking the connection limits of an address", "err", err)
		return unchecked("connections")
	case wait < 0:
		a.count(addr, -1)
		return a.limits.ConnectionsFull()
	case wait > 0:
		a.count(addr, -1)
		return push.ConnectingTooFast(time.Duration(wait) * time.Millisecond)
	}
	return nil
}

// Close implements push.AddressLimiter. Should Redis not hear of it, the next renewal mends the
// count.
func (a *Addresses) Close(ctx context.Context, addr string) {
	a.count(addr, -1)
	if err := closeScript.Run(ctx, a.client, []string{a.keys.address(addr)}, a.node).Err(); err != nil {
		a.log.Warn("counting a closed connection of an address", "err", err)
	}
}

// CreateAccount implements push.AddressLimiter.
func (a *Addresses) CreateAccount(ctx context.Context, addr string) error {
	wait, _, err := a.take(ctx, addr, a.limits.Account, "a")
	switch {
	case err != nil:
		a.log.Warn("checking the account limit of an address", "err", err)
		return unchecked("new accounts")
	case wait > 0:
		return push.CreatingTooFast(wait)
	}
	return nil
}

// ChallengeAccount implements push.AddressLimiter.
func (a *Addresses) ChallengeAccount(ctx context.Context, addr string) (float64, error) {
	wait, left, err := a.take(ctx, addr, a.limits.Challenged, "p")
	switch {
	case err != nil:
		a.log.Warn("checking the challenged account limit of an address", "err", err)
		return 1, unchecked("new accounts")
	case wait > 0:
		return 1, push.CreatingTooFast(wait)
	}
	return 1 - left/float64(a.limits.Challenged.Burst), nil
}

// Reconnect implements push.AddressLimiter.
func (a *Addresses) Reconnect(ctx context.Context, addr string) error {
	wait, _, err := a.take(ctx, addr, a.limits.Reconnect, "r")
	switch {
	case err != nil:
		a.log.Warn("checking the reconnect limit of an address", "err", err)
		return unchecked("reconnects")
	case wait > 0:
		return push.ReconnectingTooFast(wait)
	}
	return nil
}

// take takes a token from the address's bucket of limit l, kept in field f (and f+"s"): it
// returns 0, or how long to wait for one, and the tokens left.
func (a *Addresses) take(ctx context.Context, addr string, l duet.Limit, f string) (time.Duration, float64, error) {
	reply, err := takeScript.Run(ctx, a.client, []string{a.keys.address(addr)}, a.now().UnixMilli(),
		l.Rate, l.Burst, a.ttl.Milliseconds(), f, f+"s").Slice()
	if err != nil {
		return 0, 0, err
	}
	wait, _ := reply[0].(int64)
	text, _ := reply[1].(string)
	left, err := strconv.ParseFloat(text, 64)
	return time.Duration(wait) * time.Millisecond, left, err
}

// ShareBuckets implements push.AddressBucketStore, in one pipeline.
func (a *Addresses) ShareBuckets(ctx context.Context, spent map[string]map[string]int) (map[string]map[string]push.Bucket, error) {
	limits := a.limits.Requests.Named()
	now := a.now()
	type shared struct {
		names []string
		left  *redis.Cmd
	}
	cmds := make(map[string]*shared, len(spent))
	err := pipelinedOn(ctx, a.client, shareScript, func(p redis.Pipeliner) {
		for addr, buckets := range spent {
			sh := &shared{}
			args := []any{now.UnixMilli(), a.ttl.Milliseconds()}
			for name, n := range buckets {
				if l, ok := limits[name]; ok {
					sh.names = append(sh.names, name)
					args = append(args, name, n, l.Rate, l.Burst)
				}
			}
			sh.left = shareScript.EvalSha(ctx, p, []string{a.keys.address(addr)}, args...)
			cmds[addr] = sh
		}
	})
	if err != nil {
		return nil, err
	}
	left := make(map[string]map[string]push.Bucket, len(cmds))
	for addr, sh := range cmds {
		tokens, err := sh.left.StringSlice()
		if err != nil {
			return nil, err
		}
		left[addr] = make(map[string]push.Bucket, len(tokens))
		for i, t := range tokens {
			if f, err := strconv.ParseFloat(t, 64); err == nil && i < len(sh.names) {
				left[addr][sh.names[i]] = push.Bucket{Tokens: f, At: now}
			}
		}
	}
	return left, nil
}

// count adds delta to this node's connections from addr.
func (a *Addresses) count(addr string, delta int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if n := a.open[addr] + delta; n > 0 {
		a.open[addr] = n
	} else {
		delete(a.open, addr)
	}
}

// Run renews this node's entries every third of their lifetime until ctx ends.
func (a *Addresses) Run(ctx context.Context) {
	duet.Every(ctx, a.life/3, func() {
		if err := a.renew(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("renewing the connection counts of addresses", "err", err)
		}
	})
}

// renew sets this node's count of every address it holds connections from, and extends it.
func (a *Addresses) renew(ctx context.Context) error {
	a.mu.Lock()
	open := make(map[string]int, len(a.open))
	for addr, n := range a.open {
		open[addr] = n
	}
	a.mu.Unlock()
	until := strconv.FormatInt(a.now().Add(a.life).UnixMilli(), 10)
	_, err := a.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for addr, n := range open {
			key := a.keys.address(addr)
			p.HSet(ctx, key, "n:"+a.node, n, "e:"+a.node, until)
			p.PExpire(ctx, key, a.ttl)
		}
		return nil
	})
	return err
}
