package redisengine

import (
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Open connects to the Redis named by rawURL, in the forms go-redis parses:
//
//	redis://[user:pass@]host:port[/db]                       one server (rediss:// for TLS)
//	redis://host1:port1?addr=host2:port2&addr=host3:port3    a Redis Cluster, from its seed nodes
//	redis://sentinel1:port?addr=sentinel2:port&master_name=m  Sentinel, by master name
//
// Query parameters set client options (dial_timeout, read_timeout, pool_size, ...). What the URL
// leaves unset is bounded so that a request fails with an error in bounded time when Redis is
// down or slow: timeout for every dial, read, write and wait for a pooled connection, one retry
// of a failed command and one attempt per dial. The pool holds at least minPoolSize
// connections (per server), as a node has a request in flight for many clients at once.
//
// The client's commands go through go-redis's autopipeliner, which sends the commands that
// many connections issue at the same moment together, in one pipeline per server: one round
// trip, one write and one read on each side for the lot. On a quiet node a command goes alone
// at once; under load the node's processor time per message falls by a quarter and the
// matches per second rise by about 40% (BENCHMARKS.md). The engine issues no blocking commands;
// subscriptions, pipelines and transactions pass through unbatched.
//
// Its errors never quote the URL, which may hold a password; Redacted shows it safely.
func Open(rawURL string, timeout time.Duration) (redis.UniversalClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error quotes the whole URL; its inner error says what is wrong without it.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return nil, fmt.Errorf("redisengine: redis url does not parse: %w", err)
	}
	q := u.Query()
	switch {
	case q.Has("master_name"):
		o, err := redis.ParseFailoverURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("redisengine: sentinel url: %w", err)
		}
		bound(timeout, limits{&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.MaxRetries, &o.DialerRetries, &o.PoolSize, &o.ReadBufferSize, &o.WriteBufferSize})
		return autoPipelined(redis.NewFailoverClient(o))
	case q.Has("addr"):
		o, err := redis.ParseClusterURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("redisengine: cluster url: %w", err)
		}
		bound(timeout, limits{&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.MaxRetries, &o.DialerRetries, &o.PoolSize, &o.ReadBufferSize, &o.WriteBufferSize})
		return autoPipelined(redis.NewClusterClient(o))
	default:
		o, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("redisengine: redis url: %w", err)
		}
		bound(timeout, limits{&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.MaxRetries, &o.DialerRetries, &o.PoolSize, &o.ReadBufferSize, &o.WriteBufferSize})
		return autoPipelined(redis.NewClient(o))
	}
}

// Redacted returns rawURL fit for logs and errors: the password of its user and every query
// parameter named like a password (Sentinel's sentinel_password) read xxxxx. A URL that does not
// parse is not shown at all.
func Redacted(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(a URL that does not parse)"
	}
	if u.RawQuery != "" {
		q := u.Query()
		for name := range q {
			if strings.Contains(strings.ToLower(name), "password") {
				q[name] = []string{"xxxxx"}
			}
		}
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// pipelinedClient is a client whose commands go through its autopipeliner. Closing it closes
// the client, which closes the autopipeliner.
type pipelinedClient struct {
	*redis.AutoPipeliner
	base redis.UniversalClient
}

func (c pipelinedClient) Close() error { return c.base.Close() }

// autoPipelined returns c sending its commands through its autopipeliner.
func autoPipelined[C interface {
	redis.UniversalClient
	AutoPipeline() (*redis.AutoPipeliner, error)
}](c C) (redis.UniversalClient, error) {
	ap, err := c.AutoPipeline()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("redisengine: autopipeline: %w", err)
	}
	return pipelinedClient{ap, c}, nil
}

// isCluster reports whether c is a Redis Cluster's client.
func isCluster(c redis.UniversalClient) bool {
	_, ok := unpipelined(c).(*redis.ClusterClient)
	return ok
}

// unpipelined is the client under c's autopipeliner, if c has one.
func unpipelined(c redis.UniversalClient) redis.UniversalClient {
	if p, ok := c.(pipelinedClient); ok {
		return p.base
	}
	return c
}

// minPoolSize is the smallest connection pool a node gets unless its URL sets pool_size.
// go-redis's own default, 10 per core, made requests wait for a connection under duet bench's
// 100 connections on 2 cores (BENCHMARKS.md): 66 to 69 us of the node's processor time per
// message, against 55 with 100.
const minPoolSize = 100

// poolBufferSize is the read and the write buffer of each connection of the regular pool,
// instead of go-redis's 32 KiB. The pool keeps the connections a burst opened (at least
// minPoolSize), so their buffers outlast it: at 10,000 idle clients they were a third of the
// sampled heap. The autopipeliner, which carries most commands, has its own pool with 128 KiB
// buffers; 4 KiB for the rest cost no processor time per message that could be measured
// (BENCHMARKS.md, "Idle memory, held 40 s").
const poolBufferSize = 4 << 10

// limits are the client options that bound how long a failing request takes, and the pool.
type limits struct {
	dial, read, write, pool *time.Duration
	retries, dialRetries    *int
	poolSize                *int
	readBuffer, writeBuffer *int
}

// bound sets the limits the URL left unset, and the pool's buffers.
func bound(timeout time.Duration, l limits) {
	if *l.poolSize == 0 {
		*l.poolSize = max(minPoolSize, 10*runtime.GOMAXPROCS(0))
	}
	*l.readBuffer, *l.writeBuffer = poolBufferSize, poolBufferSize
	for _, d := range []*time.Duration{l.dial, l.read, l.write, l.pool} {
		if *d == 0 {
			*d = timeout
		}
	}
	for _, n := range []*int{l.retries, l.dialRetries} {
		if *n == 0 {
			*n = 1
		}
	}
}
