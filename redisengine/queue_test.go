package redisengine_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/duetchat/duet"
	"github.com/duetchat/duet/match"
	"github.com/duetchat/duet/match/matchtest"
	"github.com/duetchat/duet/moderation"
	"github.com/duetchat/duet/redisengine"
	"github.com/duetchat/duet/redisengine/redistest"
	"github.com/duetchat/duet/session"
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
			// A script may span the queue's, the accounts' and the session's keys on one
			// server, and never on a cluster, whose slots no script spans.
			if _, starting := redisengine.NewQueue(client, "q:", queueRule).(session.StartingQueue); starting != (d.name == "Server") {
				t.Errorf("on a %s, NewQueue is a StartingQueue: %v", d.name, starting)
			}
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
	queues := make([]match.Queue, nodes)
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

// matchNode is a node of one Redis server: its store, its moderation, and its queue, which
// starts sessions.
type matchNode struct {
	store      *redisengine.Store
	moderation *redisengine.Moderation
	queue      session.StartingQueue
}

// newMatchNode returns a node on client, under prefix.
func newMatchNode(tb testing.TB, client redis.UniversalClient, prefix string, rule match.Rule) matchNode {
	tb.Helper()
	store := redisengine.NewStore(client, redisengine.StoreOptions{
		Prefix: prefix, HistorySize: 10, BacklogSize: 10, Retention: time.Hour, AccountTTL: time.Hour,
	})
	q, ok := redisengine.NewQueue(client, prefix, rule).(session.StartingQueue)
	if !ok {
		tb.Fatal("the queue of one server is no StartingQueue")
	}
	return matchNode{store, redisengine.NewModeration(client, prefix, 10), q}
}

// createAccounts creates accounts first to last on node n, from clients of their own.
func (n matchNode) createAccounts(tb testing.TB, first, last int64) {
	tb.Helper()
	var g sync.WaitGroup
	var failed atomic.Value
	for worker := range int64(16) {
		g.Go(func() {
			for id := first + worker; id <= last; id += 16 {
				a := session.Account{
					ID: id, Nickname: fmt.Sprint("n", id), CreatedAt: time.Now(), LastSeen: time.Now(),
					Client: moderation.Client{Addr: fmt.Sprint("addr", id), Network: fmt.Sprint("net", id%3)},
				}
				if err := n.store.CreateAccount(context.Background(), a); err != nil {
					failed.Store(err)
				}
			}
		})
	}
	g.Wait()
	if err, ok := failed.Load().(error); ok {
		tb.Fatal(err)
	}
}

// TestQueueMatchStart: on one server, a MATCH that pairs creates the session in the same one
// round trip, a session just like one CreateSession writes, in both members' live sessions; a
// partner whose account is gone is passed over, and an asker whose account is gone is refused.
func TestQueueMatchStart(t *testing.T) {
	srv := redistest.Start(t)
	// A client without the autopipeliner, so that each call it makes is one round trip.
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { client.Close() })
	var trips atomic.Int64
	client.AddHook(countTrips{&trips})
	ctx := context.Background()
	n := newMatchNode(t, client, "ms:", queueRule)
	n.createAccounts(t, 1, 4)
	t0 := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	ann := session.MatchAsk{AccountID: 1, Interests: []string{"go", "chess"}, Now: t0, MaxSessions: 1, Session: session.Session{ID: 100}}
	if _, _, ok, err := n.queue.MatchStart(ctx, ann); ok || err != nil {
		t.Fatalf("MatchStart(n1) = %v, %v, want queued", ok, err)
	}

	now := t0.Add(time.Second)
	bob := session.MatchAsk{AccountID: 2, Interests: []string{"chess", "go"}, Now: now, MaxSessions: 1, Session: session.Session{ID: 101}}
	before := trips.Load()
	pair, sess, ok, err := n.queue.MatchStart(ctx, bob)
	if !ok || err != nil {
		t.Fatalf("MatchStart(n2) = %v, %v, want paired", ok, err)
	}
	if got := trips.Load() - before; got != 1 {
		t.Errorf("MatchStart that pairs took %d round trips, want 1", got)
	}
	wantA := match.Waiter{AccountID: 2, Nickname: "n2", Interests: []string{"chess", "go"}, Since: now, Client: "addr2"}
	wantB := match.Waiter{AccountID: 1, Nickname: "n1", Interests: []string{"go", "chess"}, Since: t0, Client: "addr1"}
	if fmt.Sprint(pair.A) != fmt.Sprint(wantA) || fmt.Sprint(pair.B) != fmt.Sprint(wantB) || !slices.Equal(pair.Common, []string{"chess", "go"}) {
		t.Errorf("pair %+v, want n2 then n1, each with its account's nickname and client, sharing chess and go", pair)
	}
	want := session.Session{
		ID: 101, StartedAt: now, CommonInterests: []string{"chess", "go"},
		Members: [2]session.Member{
			{ID: 2, Nickname: "n2", Client: moderation.Client{Addr: "addr2", Network: "net2"}},
			{ID: 1, Nickname: "n1", Client: moderation.Client{Addr: "addr1", Network: "net1"}},
		},
	}
	if fmt.Sprint(sess) != fmt.Sprint(want) {
		t.Errorf("MatchStart's session\n%+v, want\n%+v", sess, want)
	}
	stored, err := n.store.Session(ctx, 101)
	if err != nil || fmt.Sprint(stored) != fmt.Sprint(want) {
		t.Errorf("stored session = %+v, %v, want\n%+v", stored, err, want)
	}
	for _, id := range []int64{1, 2} {
		live, err := n.store.LiveSessions(ctx, id)
		if err != nil || len(live) != 1 || live[0].ID != 101 {
			t.Errorf("LiveSessions(%d) = %v, %v, want session 101", id, live, err)
		}
	}
	if _, count, err := n.store.AllLive(ctx, 0); err != nil || count != 1 {
		t.Errorf("AllLive counts %d, %v, want 1", count, err)
	}

	// n3 queues, and its account goes; n4 is not paired with it, and waits alone.
	if _, _, ok, err := n.queue.MatchStart(ctx, session.MatchAsk{AccountID: 3, Now: now, MaxSessions: 1, Session: session.Session{ID: 102}}); ok || err != nil {
		t.Fatalf("MatchStart(n3) = %v, %v, want queued", ok, err)
	}
	if _, _, err := n.store.DeleteAccount(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if _, _, ok, err := n.queue.MatchStart(ctx, session.MatchAsk{AccountID: 4, Now: now, MaxSessions: 1, Session: session.Session{ID: 103}}); ok || err != nil {
		t.Fatalf("MatchStart(n4) = %v, %v, want queued, n3 being gone", ok, err)
	}
	// An asker whose account is gone is refused, and does not wait.
	if _, _, ok, err := n.queue.MatchStart(ctx, session.MatchAsk{AccountID: 5, Now: now, MaxSessions: 1, Session: session.Session{ID: 104}}); ok || !errors.Is(err, session.ErrNoAccount) {
		t.Errorf("MatchStart(no account) = %v, %v, want ErrNoAccount", ok, err)
	}
	waiting, err := n.queue.Waiting(ctx)
	if err != nil || len(waiting) != 1 || waiting[0].AccountID != 4 {
		t.Errorf("Waiting = %v, %v, want Dee alone", waiting, err)
	}
	if _, err := n.store.Session(ctx, 103); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("Session(103) = %v, want none: Dee was not paired", err)
	}
}

// TestQueueMatchStartChecks: the one script of a MATCH refuses what session.Service refuses
// without it, with the same errors and in its order: a ban on the account, its address or its
// network; a pause; an account already in its most chats. A refused MATCH waits for nothing.
func TestQueueMatchStartChecks(t *testing.T) {
	srv := redistest.Start(t)
	client := queueClient(t, srv.URL())
	ctx := context.Background()
	n := newMatchNode(t, client, "checks:", queueRule)
	n.createAccounts(t, 1, 6)
	now := time.Now().Truncate(time.Millisecond) // bans expire from Redis by its clock
	var sessionIDs atomic.Int64
	ask := func(id int64, maxSessions int) (bool, error) {
		_, _, ok, err := n.queue.MatchStart(ctx, session.MatchAsk{AccountID: id, Now: now, MaxSessions: maxSessions, Session: session.Session{ID: 100 + sessionIDs.Add(1)}})
		return ok, err
	}
	code := func(err error) duet.Code {
		var e *duet.Error
		if !errors.As(err, &e) {
			return -1
		}
		return e.Code
	}
	ban := func(id int64, target moderation.Target, until time.Time) moderation.Ban {
		b := moderation.Ban{ID: id, Target: target, Reason: "spam", By: "op", CreatedAt: now.Add(-time.Hour), Until: until}
		if err := n.moderation.AddBan(ctx, b); err != nil {
			t.Fatal(err)
		}
		return b
	}

	// Account 1: a ban on its account that has ended, and one on its network that ends later than
	// one on its address; the one that ends last is the refusal.
	ban(1, moderation.AccountTarget(1), now.Add(-time.Minute))
	ban(2, moderation.Target{Kind: moderation.KindAddress, Value: "addr1"}, now.Add(time.Hour))
	last := ban(3, moderation.Target{Kind: moderation.KindNetwork, Value: "net1"}, now.Add(2*time.Hour))
	if _, err := ask(1, 1); fmt.Sprint(err) != fmt.Sprint(last.Error()) {
		t.Errorf("MATCH with bans on its address and network = %v, want the network's: %v", err, last.Error())
	}
	// Account 4 is on account 1's network (createAccounts gives account id network "net" id%3).
	if _, err := ask(4, 1); fmt.Sprint(err) != fmt.Sprint(last.Error()) {
		t.Errorf("MATCH from a banned network = %v, want %v", err, last.Error())
	}
	accountBan := ban(4, moderation.AccountTarget(2), now.Add(time.Hour))
	if err := n.moderation.SetMatchingPaused(ctx, true); err != nil {
		t.Fatal(err)
	}
	if _, err := ask(2, 1); fmt.Sprint(err) != fmt.Sprint(accountBan.Error()) {
		t.Errorf("MATCH of a banned account while paused = %v, want the ban first: %v", err, accountBan.Error())
	}
	if _, err := ask(3, 1); !errors.Is(err, session.ErrMatchingPaused) {
		t.Errorf("MATCH while paused = %v, want ErrMatchingPaused", err)
	}
	if err := n.moderation.SetMatchingPaused(ctx, false); err != nil {
		t.Fatal(err)
	}

	// Accounts 3 and 5 chat; 3 may be in one chat at a time, then in two.
	if ok, err := ask(3, 1); ok || err != nil {
		t.Fatalf("MATCH(3) = %v, %v, want queued", ok, err)
	}
	if ok, err := ask(5, 1); !ok || err != nil {
		t.Fatalf("MATCH(5) = %v, %v, want paired with 3", ok, err)
	}
	if _, err := ask(3, 1); code(err) != duet.LimitReached || err.Error() != session.TooManyChats(1).Error() {
		t.Errorf("MATCH of an account in its one chat = %v, want %v", err, session.TooManyChats(1))
	}
	if ok, err := ask(3, 2); ok || err != nil {
		t.Errorf("MATCH of an account in one of two chats = %v, %v, want queued", ok, err)
	}
	if _, err := n.queue.Cancel(ctx, 3); err != nil {
		t.Fatal(err)
	}
	// Once the chat ends, it no longer counts, and leaves the live set.
	live, err := n.store.LiveSessions(ctx, 3)
	if err != nil || len(live) != 1 {
		t.Fatalf("LiveSessions(3) = %v, %v, want the chat with 5", live, err)
	}
	if _, _, err := n.store.EndSession(ctx, live[0].ID, "left", now); err != nil {
		t.Fatal(err)
	}
	if ok, err := ask(3, 1); ok || err != nil {
		t.Errorf("MATCH after the chat ended = %v, %v, want queued", ok, err)
	}
	if members, err := client.SMembers(ctx, "checks:{a:3}:live").Result(); err != nil || len(members) != 0 {
		t.Errorf("account 3's live set = %v, %v, want the ended chat tidied away", members, err)
	}
	waiting, err := n.queue.Waiting(ctx)
	if err != nil || len(waiting) != 1 || waiting[0].AccountID != 3 {
		t.Errorf("Waiting = %v, %v, want 3 alone: no refused MATCH waits", waiting, err)
	}
}

// countTrips counts what a client sends: a command, or a pipeline of them.
type countTrips struct{ n *atomic.Int64 }

func (c countTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c countTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c countTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmds)
	}
}

// TestQueueMatchStartNodes has two nodes sharing one Redis start sessions for hundreds of
// accounts asking at once: each account ends up in at most one session, with the partner the
// pair names, and at most one account is left waiting.
func TestQueueMatchStartNodes(t *testing.T) {
	const accounts = 600
	srv := redistest.Start(t)
	ctx := context.Background()
	nodes := []matchNode{
		newMatchNode(t, queueClient(t, srv.URL()), "nodes:", queueRule),
		newMatchNode(t, queueClient(t, srv.URL()), "nodes:", queueRule),
	}
	nodes[0].createAccounts(t, 1, accounts)
	t0 := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	var (
		mu      sync.Mutex
		partner = make(map[int64]int64)
		ids     atomic.Int64
		g       sync.WaitGroup
	)
	ids.Store(1000)
	for id := int64(1); id <= accounts; id++ {
		g.Go(func() {
			n := nodes[id%2]
			pair, sess, ok, err := n.queue.MatchStart(ctx, session.MatchAsk{AccountID: id, Now: t0, MaxSessions: 1, Session: session.Session{ID: ids.Add(1)}})
			if err != nil || !ok {
				if err != nil {
					t.Error(err)
				}
				return
			}
			if sess.Members[0].ID != pair.A.AccountID || sess.Members[1].ID != pair.B.AccountID || pair.A.AccountID == pair.B.AccountID {
				t.Errorf("session %+v of pair %+v", sess, pair)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, p := range [][2]int64{{pair.A.AccountID, pair.B.AccountID}, {pair.B.AccountID, pair.A.AccountID}} {
				if other, dup := partner[p[0]]; dup {
					t.Errorf("%d matched twice: with %d and %d", p[0], other, p[1])
				}
				partner[p[0]] = p[1]
			}
		})
	}
	g.Wait()
	waiting, err := nodes[0].queue.Waiting(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(partner)+len(waiting) != accounts || len(waiting) > 1 {
		t.Errorf("%d matched + %d waiting, want all %d matched but at most one", len(partner), len(waiting), accounts)
	}
	for id := int64(1); id <= accounts; id++ {
		live, err := nodes[1].store.LiveSessions(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want, matched := partner[id]
		switch {
		case !matched && len(live) != 0, matched && len(live) != 1:
			t.Errorf("account %d (matched: %v) is in %d sessions", id, matched, len(live))
		case matched:
			if got, _ := live[0].Partner(id); got.ID != want {
				t.Errorf("account %d is in a session with %d, want %d", id, got.ID, want)
			}
		}
	}
	if _, count, err := nodes[1].store.AllLive(ctx, 0); err != nil || count != len(partner)/2 {
		t.Errorf("AllLive counts %d, %v, want %d", count, err, len(partner)/2)
	}
}

// BenchmarkQueueMatchStart compares, on one Redis, a MATCH that is checked, paired and starts
// the session in one script (MatchStart) with the steps a Redis Cluster takes, as
// session.Service does without a StartingQueue: the account read, its bans, the pause and its
// live sessions, then Match, then the members' accounts read and CreateSession.
func BenchmarkQueueMatchStart(b *testing.B) {
	for _, oneScript := range []bool{true, false} {
		name := "InSteps"
		if oneScript {
			name = "OneScript"
		}
		b.Run(name, func(b *testing.B) {
			client := queueClient(b, redistest.Start(b).URL())
			n := newMatchNode(b, client, "bench:", queueRule)
			n.createAccounts(b, 1, int64(b.N))
			ctx := context.Background()
			now := time.Now()
			b.ResetTimer()
			benchPairs(b, client, func(id int64) (bool, error) {
				ask := session.MatchAsk{AccountID: id, Now: now, MaxSessions: 1, Session: session.Session{ID: 1_000_000_000 + id}}
				if oneScript {
					_, _, ok, err := n.queue.MatchStart(ctx, ask)
					return ok, err
				}
				return matchInSteps(ctx, n, ask)
			})
		})
	}
}

// matchInSteps makes the round trips of a MATCH that session.Service makes with a queue that
// cannot check and start sessions: the checks, the pair, the members' accounts read for their
// clients, then the session written.
func matchInSteps(ctx context.Context, n matchNode, ask session.MatchAsk) (bool, error) {
	a, err := n.store.Account(ctx, ask.AccountID)
	if err != nil {
		return false, err
	}
	if _, _, err := n.moderation.FindBan(ctx, ask.Now, moderation.Targets(a.ID, a.Client)); err != nil {
		return false, err
	}
	if _, err := n.moderation.MatchingPaused(ctx); err != nil {
		return false, err
	}
	if _, err := n.store.LiveSessions(ctx, ask.AccountID); err != nil {
		return false, err
	}
	pair, ok, err := n.queue.Match(ctx, match.Waiter{AccountID: a.ID, Nickname: a.Nickname, Since: ask.Now, Client: a.Client.Addr}, ask.Now)
	if err != nil || !ok {
		return false, err
	}
	sess := session.Session{ID: ask.Session.ID, StartedAt: ask.Now, CommonInterests: pair.Common, Members: [2]session.Member{
		{ID: pair.A.AccountID, Nickname: pair.A.Nickname}, {ID: pair.B.AccountID, Nickname: pair.B.Nickname},
	}}
	for i, m := range sess.Members {
		a, err := n.store.Account(ctx, m.ID)
		if err != nil {
			return false, err
		}
		sess.Members[i].Client = a.Client
	}
	return true, n.store.CreateSession(ctx, sess)
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
			benchPairs(b, client, func(id int64) (bool, error) {
				w := match.Waiter{AccountID: id, Nickname: "n", Interests: bc.interests[id%int64(len(bc.interests))], Since: now}
				if bc.clients > 0 {
					w.Client = fmt.Sprint("client", id%int64(bc.clients))
				}
				_, ok, err := q.Match(ctx, w, now)
				return ok, err
			})
		})
	}
}

// benchPairs runs try for new account ids from many goroutines at once, as on a busy node, and
// reports the pairs it made per second and Redis's processor time per try.
func benchPairs(b *testing.B, client redis.UniversalClient, try func(id int64) (paired bool, err error)) {
	var ids, pairs atomic.Int64
	serverTime := serverCPU(b, client)
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ok, err := try(ids.Add(1))
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
	b.ReportMetric(float64(serverTime().Nanoseconds())/float64(b.N), "redis-ns/op")
}

// serverCPU returns a function that reports the processor time Redis has spent since the call,
// by its own count (INFO cpu): its commands, the scripts' and their own, and reading and
// writing its clients' round trips. Unlike the wall clock, it hardly moves with the load of the
// machine the benchmark shares.
func serverCPU(tb testing.TB, client redis.UniversalClient) func() time.Duration {
	tb.Helper()
	total := func() time.Duration {
		info, err := client.Info(context.Background(), "cpu").Result()
		if err != nil {
			tb.Fatal(err)
		}
		var seconds float64
		for line := range strings.Lines(info) {
			name, v, _ := strings.Cut(strings.TrimSpace(line), ":")
			if name != "used_cpu_user" && name != "used_cpu_sys" {
				continue
			}
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				tb.Fatalf("INFO cpu %s: %v", line, err)
			}
			seconds += n
		}
		return time.Duration(seconds * float64(time.Second))
	}
	start := total()
	return func() time.Duration { return total() - start }
}
