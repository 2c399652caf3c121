package redisengine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/duetchat/duet/session"
)

// Store is the session.Store of many nodes. What one call changes atomically lives in one slot
// and changes in one Lua script; the few calls that span accounts and sessions are pipelines of
// single-slot commands, ordered so that an interruption leaves nothing a reader trips on.
//
// Ids are JS-safe (at most 2^53-1), so the scripts, whose numbers are doubles, hold them
// exactly; they print them with string.format('%d'), never with Lua's own %.14g.
type Store struct {
	rdb         redis.UniversalClient
	keys        keyspace
	node        int64 // the node this store serves
	publish     bool  // whether scripts may publish (not on a cluster)
	historySize int
	backlogSize int
	retention   int64 // ms
	accountTTL  int64 // ms

	minReplicas    int // replicas that must have a message before AppendMessage returns; 0: none
	replicaTimeout time.Duration
}

// StoreOptions sizes a Store. Every duration must be positive.
type StoreOptions struct {
	Prefix      string
	Node        int64         // the node id of the node this store serves
	HistorySize int           // messages kept per session
	BacklogSize int           // pushes kept per away account
	Retention   time.Duration // how long an ended session stays readable
	AccountTTL  time.Duration // backstop expiry of an account's keys after it was last seen

	// MinReplicas replicas must acknowledge a message (WAIT) within ReplicaTimeout, which must
	// then be less than the client's read timeout, before AppendMessage returns it; 0: no wait.
	MinReplicas    int
	ReplicaTimeout time.Duration
}

var _ session.Store = (*Store)(nil)

// NewStore returns the store kept under o.Prefix by client.
func NewStore(client redis.UniversalClient, o StoreOptions) *Store {
	return &Store{
		rdb: client, keys: keyspace{o.Prefix}, node: o.Node, publish: !isCluster(client), historySize: o.HistorySize, backlogSize: o.BacklogSize,
		retention: o.Retention.Milliseconds(), accountTTL: o.AccountTTL.Milliseconds(),
		minReplicas: o.MinReplicas, replicaTimeout: o.ReplicaTimeout,
	}
}

// errIDTaken means an account or a session was created with an id already in use.
var errIDTaken = errors.New("redisengine: id already in use")

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

// pipelined sends what queue puts in a pipeline, calls of sc among it, in one round trip to each
// node concerned. A server that has not cached sc (its first use there, or it restarted)
// refuses it with NOSCRIPT without running it; then sc is loaded and the pipeline sent once
// more, which is why the commands that share a pipeline with a script are all idempotent.
func (s *Store) pipelined(ctx context.Context, sc *redis.Script, queue func(p redis.Pipeliner)) error {
	return pipelinedOn(ctx, s.rdb, sc, queue)
}

// pipelinedOn is pipelined through client c.
func pipelinedOn(ctx context.Context, c redis.Cmdable, sc *redis.Script, queue func(p redis.Pipeliner)) error {
	send := func(p redis.Pipeliner) error { queue(p); return nil }
	cmds, err := c.Pipelined(ctx, send)
	noScript := func(c redis.Cmder) bool { return redis.HasErrorPrefix(c.Err(), "NOSCRIPT") }
	if !slices.ContainsFunc(cmds, noScript) {
		return err
	}
	if err := sc.Load(ctx, c).Err(); err != nil {
		return err
	}
	_, err = c.Pipelined(ctx, send)
	return err
}

// masterOf returns a client of the master that holds key, whose replicas a WAIT sent through it
// counts: the store's client, or on a cluster that of the master of key's shard.
func (s *Store) masterOf(ctx context.Context, key string) (redis.Cmdable, error) {
	if c, ok := unpipelined(s.rdb).(*redis.ClusterClient); ok {
		return c.MasterForKey(ctx, key)
	}
	return s.rdb, nil
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

// optionalInt reads a number that a hash written by an older version may lack: 0 then.
func (f *hashFields) optionalInt(name string) int64 {
	if _, ok := f.m[name]; !ok {
		return 0
	}
	return f.int(name)
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
