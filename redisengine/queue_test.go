package redisengine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/duetchat/duet/match"
	"github.com/duetchat/duet/match/matchtest"
	"github.com/duetchat/duet/redisengine"
	"github.com/duetchat/duet/redisengine/redistest"
)

var queueRule = match.Rule{InterestWait: 10 * time.Second, PartnerCooldown: time.Minute, CooldownQueue: 10}

func TestQueue(t *testing.T) {
	// Each deployment the queue must work on returns a function that connects a new client,
	// as a separate node would.
	deployments := []struct {
		name  string
		start func(t *testing.T) func(t *testing.T) redis.UniversalClient
	}{
		{"Server", func(t *testing.T) func(t *testing.T) redis.UniversalClient {
			srv := redistest.Start(t)
			return func(t *testing.T) redis.UniversalClient {
				return queueClient(t, srv.URL())
			}
		}},
		{"Cluster", func(t *testing.T) func(t *testing.T) redis.UniversalClient {
			c := redistest.StartCluster(t)
			return func(t *testing.T) redis.UniversalClient {
				return queueClient(t, c.URL())
			}
		}},
	}
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			connect := d.start(t)
			client := connect(t)
			t.Run("Contract", func(t *testing.T) {
				matchtest.Run(t, func(t *testing.T, rule match.Rule) match.Queue {
					return redisengine.NewQueue(client, t.Name()+":", rule)
				})
			})
			t.Run("Nodes", func(t *testing.T) { queueNodes(t, connect) })
		})
	}
}

// queueClient returns a node's client of the Redis at url.
func queueClient(tb testing.TB, url string) redis.UniversalClient {
	tb.Helper()
	client, err := redisengine.Open(url, 5*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { client.Close() })
	return client
}

// queueNodes has several nodes, each with its own client, pair hundreds of accounts at once,
// while every node also pairs the waiters whose interest window closed: nobody is paired
// twice or with itself, and at most one account is left waiting.
func queueNodes(t *testing.T, connect func(t *testing.T) redis.UniversalClient) {
	const nodes, accounts = 4, 400
	ctx := context.Background()
	t0 := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	late := t0.Add(queueRule.InterestWait)
	queues := make([]*redisengine.Queue, nodes)
	for i := range queues {
		queues[i] = redisengine.NewQueue(connect(t), t.Name()+":", queueRule)
	}
	var (
		mu     sync.Mutex
		paired = make(map[int64]int64)
	)
	record := func(pairs ...match.Pair) {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range pairs {
			a, b := p.A.AccountID, p.B.AccountID
			if a == b {
				t.Errorf("%d paired with itself", a)
			}
			for _, id := range []int64{a, b} {
				if other, dup := paired[id]; dup {
					t.Errorf("%d paired twice: with %d, then in %d-%d", id, other, a, b)
				}
			}
			paired[a], paired[b] = b, a
		}
	}
	interests := [][]string{nil, {"go"}, {"rust"}, {"go", "chess"}}
	var matching, waiting sync.WaitGroup
	for id := int64(1); id <= accounts; id++ {
		matching.Go(func() {
			q := queues[id%nodes]
			w := match.Waiter{AccountID: id, Nickname: fmt.Sprint("n", id), Interests: interests[id%4], Since: t0}
			p, ok, err := q.Match(ctx, w, t0)
			if err != nil {
				t.Error(err)
			}
			if ok {
				record(p)
			}
		})
	}
	done := make(chan struct{})
	for _, q := range queues {
		waiting.Go(func() {
			for {
				pairs, err := q.MatchWaiting(ctx, late)
				if err != nil {
					t.Error(err)
					return
				}
				record(pairs...)
				select {
				case <-done:
					return
				default:
				}
			}
		})
	}
	matching.Wait()
	close(done)
	waiting.Wait()
	pairs, err := queues[0].MatchWaiting(ctx, late)
	if err != nil {
		t.Fatal(err)
	}
	record(pairs...)
	left, err := queues[0].Waiting(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(paired)+len(left) != accounts || len(left) > 1 {
		t.Errorf("%d paired + %d waiting, want all %d paired but at most one", len(paired), len(left), accounts)
	}
}

// TestQueueLikeMemory drives the Redis queue and the memory queue through the same random
// history, under a random rule, and wants the same answers from both: the script applies
// match.Rule and the bars exactly as the memory queue does.
func TestQueueLikeMemory(t *testing.T) {
	client := queueClient(t, redistest.Start(t).URL())
	ctx := context.Background()
	for seed := range uint64(16) {
		t.Run(fmt.Sprint("Seed", seed), func(t *testing.T) {
			t.Parallel()
			rnd := rand.New(rand.NewPCG(seed, seed))
			// Cooldowns with odd milliseconds, so that the shrunk ones are rounded.
			rule := match.Rule{
				InterestWait:    queueRule.InterestWait,
				PartnerCooldown: time.Duration(rnd.IntN(20_000)) * time.Millisecond,
				CooldownQueue:   rnd.IntN(7),
				DistinctClients: seed%2 == 1,
			}
			t.Logf("rule %+v", rule)
			queues := []match.Queue{match.NewMemoryQueue(rule), redisengine.NewQueue(client, t.Name()+":", rule)}
			tagSet := []string{"go", "rust", "c++", "日本語", "a:b"}
			clients := []string{"", "home", "office", "café ☕"}
			now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
			var paired []match.Pair // every pair made so far
			account := func() int64 { return 1 + rnd.Int64N(12) }
			couple := func() (int64, int64) {
				if len(paired) == 0 || rnd.IntN(4) == 0 {
					return account(), account()
				}
				p := paired[rnd.IntN(len(paired))]
				return p.A.AccountID, p.B.AccountID
			}
			for step := range 1000 {
				// Time moves in quarter seconds: no two waiters arrive together, so both queues
				// order them alike, and waits often end exactly as a window or a cooldown does.
				now = now.Add(time.Duration(1+rnd.IntN(8)) * 250 * time.Millisecond)
				var (
					desc string
					call func(q match.Queue) (string, []match.Pair, error)
				)
				switch r := rnd.IntN(100); {
				case r < 45:
					id := account()
					var interests []string
					for _, tag := range tagSet {
						if rnd.IntN(4) == 0 {
							interests = append(interests, tag)
						}
					}
					w := match.Waiter{
						AccountID: id, Nickname: fmt.Sprintf("Zoë ✨ %d", id), Interests: interests, Since: now,
						Client: clients[rnd.IntN(len(clients))],
					}
					desc = fmt.Sprintf("Match(%+v)", w)
					call = func(q match.Queue) (string, []match.Pair, error) {
						p, ok, err := q.Match(ctx, w, now)
						if !ok {
							return "queued", nil, err
						}
						return queueString(p), []match.Pair{p}, err
					}
				case r < 60:
					desc = "MatchWaiting"
					call = func(q match.Queue) (string, []match.Pair, error) {
						pairs, err := q.MatchWaiting(ctx, now)
						return queueString(pairs), pairs, err
					}
				case r < 68 && len(paired) > 0:
					w := paired[rnd.IntN(len(paired))].B
					desc = fmt.Sprintf("Requeue(%+v)", w)
					call = func(q match.Queue) (string, []match.Pair, error) { return "", nil, q.Requeue(ctx, w) }
				case r < 78:
					id := account()
					desc = fmt.Sprintf("Cancel(%d)", id)
					call = func(q match.Queue) (string, []match.Pair, error) {
						ok, err := q.Cancel(ctx, id)
						return fmt.Sprint(ok), nil, err
					}
				case r < 92:
					a, b := couple()
					at := now.Add(-time.Duration(rnd.IntN(8)) * 250 * time.Millisecond)
					desc = fmt.Sprintf("Release(%d, %d, %v)", a, b, at)
					call = func(q match.Queue) (string, []match.Pair, error) { return "", nil, q.Release(ctx, a, b, at) }
				case r < 96:
					a, b := couple()
					desc = fmt.Sprintf("Block(%d, %d)", a, b)
					call = func(q match.Queue) (string, []match.Pair, error) { return "", nil, q.Block(ctx, a, b) }
				default:
					id := account()
					desc = fmt.Sprintf("Forget(%d)", id)
					call = func(q match.Queue) (string, []match.Pair, error) { return "", nil, q.Forget(ctx, id) }
				}
				var (
					answers [2]string
					pairs   []match.Pair
				)
				for i, q := range queues {
					answer, p, err := call(q)
					if err != nil {
						t.Fatalf("step %d: %s: %v", step, desc, err)
					}
					waiting, err := q.Waiting(ctx)
					if err != nil {
						t.Fatalf("step %d: Waiting: %v", step, err)
					}
					answers[i], pairs = answer+", queue "+queueString(waiting), p
				}
				if want, got := answers[0], answers[1]; got != want {
					t.Fatalf("step %d: %s:\nredis  %s\nmemory %s", step, desc, got, want)
				}
				paired = append(paired, pairs...)
			}
		})
	}
}

// queueString prints pairs and waiters with times as Unix ms, so that the answers of the two
// queues compare as text.
func queueString(v any) string {
	switch v := v.(type) {
	case match.Waiter:
		return fmt.Sprintf("{%d %q %q %d %q}", v.AccountID, v.Nickname, v.Interests, v.Since.UnixMilli(), v.Client)
	case match.Pair:
		return fmt.Sprintf("{%s %s %q}", queueString(v.A), queueString(v.B), v.Common)
	case []match.Waiter:
		var b strings.Builder
		for _, w := range v {
			b.WriteString(queueString(w))
		}
		return b.String()
	case []match.Pair:
		var b strings.Builder
		for _, p := range v {
			b.WriteString(queueString(p))
		}
		return b.String()
	}
	return fmt.Sprint(v)
}

// TestQueueKeys checks what an operator of Redis would notice: every queue key expires, bars
// that lapsed are swept even when their pair never meets again, and a forgotten account
// leaves nothing behind.
func TestQueueKeys(t *testing.T) {
	client := queueClient(t, redistest.Start(t).URL())
	ctx := context.Background()
	q := redisengine.NewQueue(client, "keys:", queueRule)
	t0 := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	const accounts = 100
	for id := int64(1); id <= accounts; id++ {
		w := match.Waiter{AccountID: id, Nickname: "n", Interests: []string{"go"}, Since: t0}
		if _, ok, err := q.Match(ctx, w, t0); err != nil || ok != (id%2 == 0) {
			t.Fatalf("Match(%d) = %v, %v, want paired %v", id, ok, err, id%2 == 0)
		}
		if id%2 == 0 {
			if err := q.Release(ctx, id-1, id, t0); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := q.Block(ctx, 1, 3); err != nil {
		t.Fatal(err)
	}
	if _, _, err := q.Match(ctx, match.Waiter{AccountID: 1, Since: t0}, t0); err != nil {
		t.Fatal(err)
	}

	keys, err := client.Keys(ctx, "keys:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatal("no queue keys")
	}
	for _, k := range keys {
		if ttl := client.PTTL(ctx, k).Val(); ttl <= 0 || ttl > 24*time.Hour {
			t.Errorf("key %s expires in %v, want within a day", k, ttl)
		}
	}

	if _, err := q.MatchWaiting(ctx, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := q.Forget(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if keys, _ := client.Keys(ctx, "keys:*").Result(); len(keys) != 0 {
		t.Errorf("keys left after the bars lapsed and the last account was forgotten: %v", keys)
	}
}

// TestQueueWaiterFromBeforeClients: a waiter queued by a node that kept no client address, as
// nodes did before distinct_clients, is read as coming from an unknown client and still pairs.
func TestQueueWaiterFromBeforeClients(t *testing.T) {
	client := queueClient(t, redistest.Start(t).URL())
	ctx := context.Background()
	t0 := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	// What the earlier script wrote for a waiter: its Since in wait and plain, and the record
	// {nickname, {interests}} in waiter.
	old := redis.NewScript(`
		redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
		redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
		redis.call('HSET', KEYS[3], ARGV[1], cmsgpack.pack({ARGV[3], {}}))
		return 0
	`)
	keys := []string{"old:{q}:wait", "old:{q}:plain", "old:{q}:waiter"}
	if err := old.Run(ctx, client, keys, 1, t0.UnixMilli(), "Ann").Err(); err != nil {
		t.Fatal(err)
	}
	q := redisengine.NewQueue(client, "old:", match.Rule{DistinctClients: true})
	waiting, err := q.Waiting(ctx)
	if err != nil || len(waiting) != 1 || waiting[0].Nickname != "Ann" || waiting[0].Client != "" {
		t.Fatalf("Waiting = %v, %v, want Ann from an unknown client", waiting, err)
	}
	p, ok, err := q.Match(ctx, match.Waiter{AccountID: 2, Nickname: "Bob", Since: t0, Client: "home"}, t0)
	if err != nil || !ok || p.B.AccountID != 1 {
		t.Fatalf("Match(Bob) = %v, %v, %v, want paired with Ann", p, ok, err)
	}
}

// BenchmarkQueueMatch reports how many pairs per second the queue makes on one Redis, with
// requests from many goroutines at once.
func BenchmarkQueueMatch(b *testing.B) {
	distinct := queueRule
	distinct.DistinctClients = true
	for _, bc := range []struct {
		name      string
		rule      match.Rule
		interests [][]string
		clients   int // how many client addresses the accounts share; 0: unknown
	}{
		{"NoInterests", queueRule, [][]string{nil}, 0},
		{"Interests", queueRule, [][]string{{"go"}, {"rust"}, {"music", "go"}, {"chess"}}, 0},
		{"DistinctClients", distinct, [][]string{nil}, 4},
	} {
		b.Run(bc.name, func(b *testing.B) {
			client := queueClient(b, redistest.Start(b).URL())
			q := redisengine.NewQueue(client, "bench:", bc.rule)
			ctx := context.Background()
			now := time.Now()
			var ids, pairs atomic.Int64
			scriptTime := serverScriptTime(b, client)
			b.SetParallelism(16) // many connections, as on a busy node
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					id := ids.Add(1)
					w := match.Waiter{AccountID: id, Nickname: "n", Interests: bc.interests[id%int64(len(bc.interests))], Since: now}
					if bc.clients > 0 {
						w.Client = fmt.Sprint("client", id%int64(bc.clients))
					}
					_, ok, err := q.Match(ctx, w, now)
					if err != nil {
						b.Error(err)
						return
					}
					if ok {
						pairs.Add(1)
					}
				}
			})
			b.ReportMetric(float64(pairs.Load())/b.Elapsed().Seconds(), "pairs/s")
			b.ReportMetric(float64(scriptTime().Nanoseconds())/float64(b.N), "redis-ns/op")
		})
	}
}

// serverScriptTime returns a function that reports how long Redis has spent running scripts
// since the call, by its own count: unlike the wall clock, it hardly moves with the load of the
// machine the benchmark shares.
func serverScriptTime(tb testing.TB, client redis.UniversalClient) func() time.Duration {
	tb.Helper()
	total := func() time.Duration {
		info, err := client.Info(context.Background(), "commandstats").Result()
		if err != nil {
			tb.Fatal(err)
		}
		var us int64
		for line := range strings.Lines(info) {
			name, stats, ok := strings.Cut(strings.TrimSpace(line), ":")
			if name != "cmdstat_evalsha" && name != "cmdstat_eval" || !ok {
				continue
			}
			for field := range strings.SplitSeq(stats, ",") {
				if v, ok := strings.CutPrefix(field, "usec="); ok {
					n, err := strconv.ParseInt(v, 10, 64)
					if err != nil {
						tb.Fatalf("commandstats %s: %v", line, err)
					}
					us += n
				}
			}
		}
		return time.Duration(us) * time.Microsecond
	}
	start := total()
	return func() time.Duration { return total() - start }
}
