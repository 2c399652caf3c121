package redisengine

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/duetchat/duet/redisengine/redistest"
	"github.com/duetchat/duet/session"
	"github.com/duetchat/duet/session/storetest"
)

// storeClient starts a redis-server for the test and returns a node's client of it.
func storeClient(tb testing.TB) redis.UniversalClient {
	return openClient(tb, redistest.Start(tb).URL())
}

// openClient returns a node's client of the Redis at url.
func openClient(tb testing.TB, url string) redis.UniversalClient {
	tb.Helper()
	client, err := Open(url, 5*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { client.Close() })
	return client
}

func TestStore(t *testing.T) {
	client := storeClient(t)
	storetest.Run(t, func(t *testing.T) session.Store { return newContractStore(t, client) })
	storetest.RunReports(t, func(t *testing.T) session.Reports { return NewReports(client, t.Name()+":", storetest.ReportLimits) })
}

func TestStoreCluster(t *testing.T) {
	c := redistest.StartCluster(t)
	client := openClient(t, c.URL())
	storetest.Run(t, func(t *testing.T) session.Store { return newContractStore(t, client) })
	storetest.RunReports(t, func(t *testing.T) session.Reports { return NewReports(client, t.Name()+":", storetest.ReportLimits) })
}

// newContractStore returns a store sized for the contract, under a prefix of the test's own, so
// that tests share a server without seeing each other's keys.
func newContractStore(tb testing.TB, client redis.UniversalClient) *Store {
	return NewStore(client, StoreOptions{
		Prefix: tb.Name() + ":", HistorySize: storetest.HistorySize, BacklogSize: storetest.BacklogSize,
		Retention: storetest.Retention, AccountTTL: time.Hour,
	})
}

// storePair stores a live session id between new accounts a and b.
func storePair(tb testing.TB, s *Store, id, a, b int64) {
	tb.Helper()
	ctx := context.Background()
	for _, acc := range []int64{a, b} {
		if err := s.CreateAccount(ctx, session.Account{ID: acc, CreatedAt: time.Now(), LastSeen: time.Now()}); err != nil {
			tb.Fatal(err)
		}
	}
	sess := session.Session{ID: id, Members: [2]session.Member{{ID: a}, {ID: b}}, StartedAt: time.Now()}
	if err := s.CreateSession(ctx, sess); err != nil {
		tb.Fatal(err)
	}
}

// roundTrips counts what a client sends: a command, or a pipeline of them.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmd)
	}
}

func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmds)
	}
}

// TestStoreAppendMessageRoundTrips: storing a message, a resent one or one that pushes the
// oldest out of the history, costs one round trip once the server has the script.
func TestStoreAppendMessageRoundTrips(t *testing.T) {
	client := storeClient(t)
	var trips roundTrips
	client.AddHook(&trips)
	s := newContractStore(t, client)
	storePair(t, s, 10, 1, 2)
	ctx := context.Background()
	send := func(requestID string) {
		t.Helper()
		trips.n.Store(0)
		if _, err := s.AppendMessage(ctx, session.Message{ID: 1, SessionID: 10, SenderID: 1, Content: "hi", SentAt: time.Now(), RequestID: requestID}); err != nil {
			t.Fatal(err)
		}
		if got := trips.n.Load(); got != 1 {
			t.Errorf("AppendMessage(%q) took %d round trips, want 1", requestID, got)
		}
	}
	// The first call on a fresh server also loads the script: EVALSHA, NOSCRIPT, EVAL.
	if _, err := s.AppendMessage(ctx, session.Message{ID: 1, SessionID: 10, SenderID: 2, Content: "warm up"}); err != nil {
		t.Fatal(err)
	}
	send("r1")
	send("r1")
	for i := range storetest.HistorySize {
		send(fmt.Sprint("more", i))
	}
}

// TestStoreJSSafeIDs: ids near 2^53-1, the largest JS-safe one, come through the scripts
// exactly, though Lua prints such numbers as 9.007199254741e+15 unless told otherwise.
func TestStoreJSSafeIDs(t *testing.T) {
	client := storeClient(t)
	const top = 1<<53 - 1
	const sess, a, b, base = top, top - 1, top - 2, top - 20
	s := newContractStore(t, client)
	storePair(t, s, sess, a, b)
	ctx := context.Background()
	send := func(id, sender int64, requestID string) session.Appended {
		t.Helper()
		res, err := s.AppendMessage(ctx, session.Message{ID: id, SessionID: sess, SenderID: sender, Content: "x", RequestID: requestID})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if got := send(base, a, "r"); got.Message.ID != base || got.Partner != b {
		t.Fatalf("first append = %+v, want id %d for partner %d", got, int64(base), int64(b))
	}
	if got := send(1, b, ""); got.Message.ID != base+1 {
		t.Fatalf("second append = %+v, want id %d", got, int64(base+1))
	}
	if got := send(1, a, "r"); !got.Duplicate || got.Message.ID != base || got.Message.SenderID != a {
		t.Fatalf("resend = %+v, want the first message", got)
	}
	for range storetest.HistorySize {
		send(1, b, "")
	}
	if msgs, complete, err := s.Messages(ctx, sess, base); err != nil || complete || msgs[0].ID != base+2 {
		t.Errorf("Messages(after %d) = %v, %v, %v, want from %d, incomplete", int64(base), msgs, complete, err, int64(base+2))
	}
	if _, complete, err := s.Messages(ctx, sess, base+1); err != nil || !complete {
		t.Errorf("Messages(after %d) complete = %v, %v, want complete", int64(base+1), complete, err)
	}
	if n, err := client.ZCard(ctx, s.keys.sessionReqs(sess)).Result(); err != nil || n != 0 {
		t.Errorf("%d request keys, %v, want none: they leave with their messages", n, err)
	}
	if got := send(1, a, "r"); got.Duplicate {
		t.Errorf("resend of a requestId that left the history = %+v, want a new message", got)
	}
	if r, err := s.Acknowledge(ctx, sess, b, base+7, true); err != nil || !r.Viewed || !r.Delivered {
		t.Errorf("Acknowledge(%d) = %+v, %v, want both moved", int64(base+7), r, err)
	}
	if got, err := s.Session(ctx, sess); err != nil || got.Delivered[1] != base+7 || got.Viewed[1] != base+7 {
		t.Errorf("watermarks after Acknowledge(%d) = %v, %v, %v, want exactly it", int64(base+7), got.Delivered, got.Viewed, err)
	}
}

// TestStoreRequestKeys: requestIds of any characters dedupe a resend and leave with their
// messages.
func TestStoreRequestKeys(t *testing.T) {
	client := storeClient(t)
	s := newContractStore(t, client)
	storePair(t, s, 10, 1, 2)
	ctx := context.Background()
	send := func(sender int64, requestID string) session.Appended {
		t.Helper()
		res, err := s.AppendMessage(ctx, session.Message{ID: 1, SessionID: 10, SenderID: sender, Content: "x", RequestID: requestID, SentAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	ids := []string{`q"uote\back`, "<tag>&amp;", "é✓\\u00e9", "a:b", "1:r"}
	first := map[string]int64{}
	for _, r := range ids {
		first[r] = send(1, r).Message.ID
	}
	for _, r := range ids {
		if got := send(1, r); !got.Duplicate || got.Message.ID != first[r] || got.Message.RequestID != r {
			t.Errorf("resend of %q = %+v, want message %d again", r, got, first[r])
		}
		if got := send(2, r); got.Duplicate {
			t.Errorf("the partner's %q = %+v, want a message of its own", r, got)
		}
	}
	for range storetest.HistorySize {
		send(2, "")
	}
	if keys, err := client.ZRange(ctx, s.keys.sessionReqs(10), 0, -1).Result(); err != nil || len(keys) != 0 {
		t.Errorf("request keys %q, %v, want none once their messages left", keys, err)
	}
	if got := send(1, ids[0]); got.Duplicate {
		t.Errorf("resend of a requestId that left the history = %+v, want a new message", got)
	}
}

// TestStoreDeleteOnce has many nodes delete one account at once: exactly one of them gets its
// sessions to end.
func TestStoreDeleteOnce(t *testing.T) {
	client := storeClient(t)
	s := newContractStore(t, client)
	storePair(t, s, 10, 1, 2)
	var deleters atomic.Int64
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			sessions, deleted, err := s.DeleteAccount(context.Background(), 1)
			if err != nil {
				t.Error(err)
			}
			if deleted {
				deleters.Add(1)
				if len(sessions) != 1 || sessions[0].ID != 10 {
					t.Errorf("DeleteAccount = %+v, want session 10", sessions)
				}
			}
		})
	}
	wg.Wait()
	if n := deleters.Load(); n != 1 {
		t.Errorf("%d calls deleted the account, want 1", n)
	}
}

// TestStoreStaleLiveSessions: a live set that still names a session that ended or expired, as
// an interrupted EndSession leaves it, shows the live sessions only and is tidied.
func TestStoreStaleLiveSessions(t *testing.T) {
	client := storeClient(t)
	s := newContractStore(t, client)
	storePair(t, s, 10, 1, 2)
	ctx := context.Background()
	if err := s.CreateSession(ctx, session.Session{ID: 11, Members: [2]session.Member{{ID: 1}, {ID: 2}}, StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := endSessionScript.Run(ctx, client, []string{s.keys.session(11), s.keys.sessionMsgs(11), s.keys.sessionReqs(11)}, 1, "left", 60_000).Err(); err != nil {
		t.Fatal(err) // ended without leaving the live sets
	}
	if err := client.SAdd(ctx, s.keys.accountLive(1), 12).Err(); err != nil {
		t.Fatal(err) // a session that expired
	}
	live, err := s.LiveSessions(ctx, 1)
	if err != nil || len(live) != 1 || live[0].ID != 10 {
		t.Fatalf("LiveSessions = %+v, %v, want just 10", live, err)
	}
	if ids, _ := client.SMembers(ctx, s.keys.accountLive(1)).Result(); len(ids) != 1 || ids[0] != "10" {
		t.Errorf("live set after reading = %v, want [10]", ids)
	}
	sessions, deleted, err := s.DeleteAccount(ctx, 2)
	if err != nil || !deleted || len(sessions) != 1 || sessions[0].ID != 10 {
		t.Errorf("DeleteAccount = %+v, %v, %v, want just 10", sessions, deleted, err)
	}
}

// TestStoreKeysExpire: every key expires, an ended session's within the retention.
func TestStoreKeysExpire(t *testing.T) {
	client := storeClient(t)
	const retention = time.Minute
	s := NewStore(client, StoreOptions{Prefix: "keys:", HistorySize: 5, BacklogSize: 3, Retention: retention, AccountTTL: time.Hour})
	reports := NewReports(client, "keys:", session.ReportLimits{Retention: time.Hour, MaxReports: 10})
	storePair(t, s, 10, 1, 2)
	ctx := context.Background()
	for _, step := range []struct {
		name string
		do   func() error
	}{
		{"message", func() error {
			_, err := s.AppendMessage(ctx, session.Message{ID: 1, SessionID: 10, SenderID: 1, Content: "x", RequestID: "r"})
			return err
		}},
		{"seen", func() error { return s.Seen(ctx, map[int64]time.Time{1: time.Now()}) }},
		{"backlog", func() error { return s.AppendBacklog(ctx, 2, session.Push{Cmd: "PUSH_SIGNAL", Body: []byte("{}")}) }},
		{"account", func() error {
			return s.CreateAccount(ctx, session.Account{ID: 3, CreatedAt: time.Now(), LastSeen: time.Now()})
		}},
		{"session", func() error {
			return s.CreateSession(ctx, session.Session{ID: 11, Members: [2]session.Member{{ID: 1}, {ID: 3}}, StartedAt: time.Now()})
		}},
		{"message in it", func() error {
			_, err := s.AppendMessage(ctx, session.Message{ID: 2, SessionID: 11, SenderID: 3, Content: "y", RequestID: "r"})
			return err
		}},
		{"its end", func() error {
			_, _, err := s.EndSession(ctx, 11, session.ReasonLeft, time.Now())
			return err
		}},
		{"report", func() error {
			_, err := reports.FileReport(ctx, session.Report{ID: 20, SessionID: 11, Reporter: 1, Reported: 3, Category: "spam", CreatedAt: time.Now()}, nil)
			return err
		}},
	} {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
	}
	keys, err := client.Keys(ctx, "keys:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	// 3 accounts, the live sets of 1 and 2 (3's emptied), 2's backlog, 3 keys of each session,
	// presence, the index of live sessions, and the open reports' index, the reports, their
	// members, their index by session and the evidence.
	if len(keys) != 19 {
		t.Errorf("%d keys, want 19: %v", len(keys), keys)
	}
	for _, k := range keys {
		ttl, err := client.PTTL(ctx, k).Result()
		switch {
		case err != nil:
			t.Fatal(err)
		case strings.Contains(k, "{s:11}"):
			if ttl <= 0 || ttl > retention {
				t.Errorf("ended session's %s expires in %v, want within the retention %v", k, ttl, retention)
			}
		case ttl <= 0:
			t.Errorf("%s expires in %v, want a TTL", k, ttl)
		}
	}
}

// TestStoreRenewsExpiry: a message renews the expiry of its session's keys once it has fallen
// sessionTTLSlack below SessionTTL, and gives keys it makes one at once.
func TestStoreRenewsExpiry(t *testing.T) {
	client := storeClient(t)
	s := newContractStore(t, client)
	storePair(t, s, 10, 1, 2)
	ctx := context.Background()
	keys := []string{s.keys.session(10), s.keys.sessionMsgs(10), s.keys.sessionReqs(10)}
	send := func(requestID string) {
		t.Helper()
		if _, err := s.AppendMessage(ctx, session.Message{ID: 1, SessionID: 10, SenderID: 1, Content: "x", RequestID: requestID}); err != nil {
			t.Fatal(err)
		}
	}
	expiries := func() []time.Duration {
		var ttls []time.Duration
		for _, k := range keys {
			ttls = append(ttls, client.PTTL(ctx, k).Val())
		}
		return ttls
	}
	send("") // makes msgs, but not yet requests
	send("r1")
	for _, ttl := range expiries() {
		if ttl < SessionTTL-time.Minute {
			t.Fatalf("expiries %v after the first messages, want %v", expiries(), SessionTTL)
		}
	}
	for _, k := range keys {
		client.PExpire(ctx, k, SessionTTL-sessionTTLSlack+time.Minute)
	}
	send("r2")
	for _, ttl := range expiries() {
		if ttl > SessionTTL-sessionTTLSlack+time.Minute {
			t.Fatalf("expiries %v, want them left until they fall below %v", expiries(), SessionTTL-sessionTTLSlack)
		}
	}
	for _, k := range keys {
		client.PExpire(ctx, k, SessionTTL-sessionTTLSlack-time.Minute)
	}
	send("r3")
	for _, ttl := range expiries() {
		if ttl < SessionTTL-time.Minute {
			t.Fatalf("expiries %v once below %v, want them renewed to %v", expiries(), SessionTTL-sessionTTLSlack, SessionTTL)
		}
	}
}

// BenchmarkStoreAppendMessage stores messages in many sessions at once, as a node's
// connections do, each session's history full so that every message pushes out the oldest.
func BenchmarkStoreAppendMessage(b *testing.B) {
	client := storeClient(b)
	const history, parallelism = 200, 8 // history_size's default
	s := NewStore(client, StoreOptions{Prefix: "bench:", HistorySize: history, BacklogSize: 100, Retention: time.Minute, AccountTTL: time.Hour})
	ctx := context.Background()
	message := func(sess int64, i int) session.Message {
		return session.Message{
			ID: int64(i), SessionID: sess, SenderID: 2 * sess, SentAt: time.Now(), RequestID: strconv.Itoa(i),
			Content: "a message of an ordinary length, give or take",
		}
	}
	sessions := int64(parallelism * runtime.GOMAXPROCS(0))
	for sess := range sessions {
		for _, a := range []int64{2 * sess, 2*sess + 1} {
			if err := s.CreateAccount(ctx, session.Account{ID: a, CreatedAt: time.Now(), LastSeen: time.Now()}); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.CreateSession(ctx, session.Session{ID: sess, Members: [2]session.Member{{ID: 2 * sess}, {ID: 2*sess + 1}}, StartedAt: time.Now()}); err != nil {
			b.Fatal(err)
		}
		for i := range history {
			if _, err := s.AppendMessage(ctx, message(sess, i)); err != nil {
				b.Fatal(err)
			}
		}
	}
	var next atomic.Int64
	b.SetParallelism(parallelism)
	redisBefore, err := CPUTime(ctx, client)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		sess := next.Add(1) - 1
		for i := history; pb.Next(); i++ {
			if _, err := s.AppendMessage(ctx, message(sess, i)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	// Redis's processor time per message, which the append script's work decides: it moves
	// much less with the machine's load than the time per message does.
	redisAfter, err := CPUTime(ctx, client)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64((redisAfter-redisBefore).Microseconds())/float64(b.N), "redis-µs/op")
}

// TestStoreWaitsForReplicas: with MinReplicas, a message is returned as stored only once a
// replica has it, in one round trip; without the replica it is refused, and sent again with
// the same request it is the first one, to be delivered again.
func TestStoreWaitsForReplicas(t *testing.T) {
	master := redistest.Start(t)
	client := openClient(t, master.URL())
	var trips roundTrips
	client.AddHook(&trips)
	s := NewStore(client, StoreOptions{
		Prefix: t.Name() + ":", HistorySize: storetest.HistorySize, BacklogSize: storetest.BacklogSize,
		Retention: storetest.Retention, AccountTTL: time.Hour, MinReplicas: 1, ReplicaTimeout: time.Second,
	})
	storePair(t, s, 10, 1, 2)
	ctx := context.Background()
	msg := session.Message{ID: 1, SessionID: 10, SenderID: 1, Content: "hi", SentAt: time.Now(), RequestID: "r1"}

	if _, err := s.AppendMessage(ctx, msg); err == nil || !strings.Contains(err.Error(), "0 of the 1 replicas") {
		t.Fatalf("AppendMessage without a replica: %v, want an error saying no replica has it", err)
	}

	replica := redistest.StartReplica(t, master)
	first, err := s.AppendMessage(ctx, msg)
	if err != nil || !first.Duplicate || !first.Redeliver || first.Message.Content != "hi" {
		t.Fatalf("AppendMessage sent again with a replica = %+v, %v; want the first message, to deliver again", first, err)
	}
	trips.n.Store(0)
	msg.RequestID, msg.Content = "r2", "there"
	second, err := s.AppendMessage(ctx, msg)
	if err != nil || second.Duplicate || second.Message.ID <= first.Message.ID {
		t.Fatalf("AppendMessage with a replica = %+v, %v; want a new message", second, err)
	}
	if got := trips.n.Load(); got != 1 {
		t.Errorf("AppendMessage with a replica took %d round trips, want 1 (the script and WAIT together)", got)
	}
	stored, err := replica.Command("LRANGE", s.keys.sessionMsgs(10), "0", "-1")
	if err != nil || !strings.Contains(stored, `"c":"hi"`) || !strings.Contains(stored, `"c":"there"`) {
		t.Errorf("the replica holds %q (%v) once AppendMessage returned, want both messages", stored, err)
	}
}

// TestStoreWaitsForReplicasCluster: on a cluster the wait is for the replicas of the session's
// shard; a shard without replicas refuses the message.
func TestStoreWaitsForReplicasCluster(t *testing.T) {
	client := openClient(t, redistest.StartCluster(t).URL())
	s := NewStore(client, StoreOptions{
		Prefix: t.Name() + ":", HistorySize: storetest.HistorySize, BacklogSize: storetest.BacklogSize,
		Retention: storetest.Retention, AccountTTL: time.Hour, MinReplicas: 1, ReplicaTimeout: time.Second,
	})
	storePair(t, s, 10, 1, 2)
	_, err := s.AppendMessage(context.Background(), session.Message{ID: 1, SessionID: 10, SenderID: 1, Content: "hi", SentAt: time.Now(), RequestID: "r1"})
	if err == nil || !strings.Contains(err.Error(), "0 of the 1 replicas") {
		t.Fatalf("AppendMessage on a shard without replicas: %v, want an error saying no replica has it", err)
	}
}

// onServerAndCluster runs test on a client of one Redis server, then of a Redis Cluster.
func onServerAndCluster(t *testing.T, test func(t *testing.T, client redis.UniversalClient)) {
	for name, url := range map[string]func(t *testing.T) string{
		"server":  func(t *testing.T) string { return redistest.Start(t).URL() },
		"cluster": func(t *testing.T) string { return redistest.StartCluster(t).URL() },
	} {
		t.Run(name, func(t *testing.T) { test(t, openClient(t, url(t))) })
	}
}
