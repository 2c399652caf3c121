package redisengine

import (
	"context"
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
)

// TestOpen: the same store works through every URL form of redis_url.
func TestOpen(t *testing.T) {
	server := redistest.Start(t)
	cluster := redistest.StartCluster(t)
	sentinel := redistest.StartSentinel(t)
	tests := map[string]string{
		"server":   server.URL(),
		"cluster":  cluster.URL(),
		"sentinel": sentinel.URL(),
	}
	for name, url := range tests {
		t.Run(name, func(t *testing.T) {
			client, err := Open(url, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			ctx := context.Background()
			s := NewStore(client, StoreOptions{Prefix: "open:", HistorySize: 5, BacklogSize: 5, Retention: time.Minute, AccountTTL: time.Minute})
			if cluster := name == "cluster"; s.publish == cluster {
				t.Errorf("store publishes from scripts: %v, want %v", s.publish, !cluster)
			}
			if err := s.Ping(ctx); err != nil {
				t.Fatalf("Ping: %v", err)
			}
			storePair(t, s, 10, 1, 2)
			res, err := s.AppendMessage(ctx, session.Message{ID: 7, SessionID: 10, SenderID: 1, Content: "hi", SentAt: time.Now()})
			if err != nil || res.Partner != 2 || res.Message.ID != 7 {
				t.Fatalf("AppendMessage = %+v, %v, want message 7 for partner 2", res, err)
			}
		})
	}
	for _, bad := range []string{"redis://[::1", "redis://a:1?addr=b:2&bogus=1", "redis://a:1?master_name=m&bogus=1", "mysql://a:1"} {
		if _, err := Open(bad, time.Second); err == nil {
			t.Errorf("Open(%q) succeeded, want an error", bad)
		}
	}
}

// TestOpenPoolSize: a node's pool is sized for many requests at once unless the URL says, with
// small buffers for its connections and the autopipeliner's large ones for pipelines.
func TestOpenPoolSize(t *testing.T) {
	for url, want := range map[string]int{
		"redis://127.0.0.1:1/0":             max(minPoolSize, 10*runtime.GOMAXPROCS(0)),
		"redis://127.0.0.1:1/0?pool_size=7": 7,
	} {
		client, err := Open(url, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		o := client.(pipelinedClient).base.(*redis.Client).Options()
		if o.PoolSize != want {
			t.Errorf("Open(%q) pool size %d, want %d", url, o.PoolSize, want)
		}
		if o.ReadBufferSize != poolBufferSize || o.WriteBufferSize != poolBufferSize || o.PipelineReadBufferSize != 0 {
			t.Errorf("Open(%q) buffers %d, %d and %d for pipelines, want %d, %d and go-redis's default", url,
				o.ReadBufferSize, o.WriteBufferSize, o.PipelineReadBufferSize, poolBufferSize, poolBufferSize)
		}
		client.Close()
	}
}

// countPipelines is a hook that counts the pipelines a client sends, holding the first until
// released.
type countPipelines struct {
	pipelines atomic.Int64
	release   chan struct{}
}

func (*countPipelines) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (*countPipelines) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (h *countPipelines) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.pipelines.Add(1) == 1 {
			<-h.release
		}
		return next(ctx, cmds)
	}
}

// TestOpenPipelinesConcurrentCommands: commands that many connections issue while the node
// waits for Redis go together, each with its own reply.
func TestOpenPipelinesConcurrentCommands(t *testing.T) {
	client := openClient(t, redistest.Start(t).URL())
	hold := &countPipelines{release: make(chan struct{})}
	client.AddHook(hold)
	ctx := context.Background()
	first := make(chan error)
	go func() { first <- client.Set(ctx, "first", "1", 0).Err() }()
	for hold.pipelines.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	const concurrent = 100
	var wg, started sync.WaitGroup
	started.Add(concurrent)
	for i := range concurrent {
		wg.Go(func() {
			started.Done()
			if n, err := client.IncrBy(ctx, "n:"+strconv.Itoa(i), int64(i)).Result(); err != nil || n != int64(i) {
				t.Errorf("INCRBY n:%d %d = %d, %v", i, i, n, err)
			}
		})
	}
	started.Wait()
	time.Sleep(200 * time.Millisecond) // each started goroutine queues its command behind the held pipeline
	close(hold.release)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if n := hold.pipelines.Load(); n > 10 {
		t.Errorf("%d commands took %d round trips, want them batched", concurrent+1, n)
	}
}

// TestRedacted: no form of redis_url shows its passwords in logs or errors.
func TestRedacted(t *testing.T) {
	tests := map[string]string{
		"redis://user:s3cretpw@10.0.0.5:6379/0":                     "redis://user:xxxxx@10.0.0.5:6379/0",
		"redis://:s3cretpw@10.0.0.5:6379/0":                         "redis://:xxxxx@10.0.0.5:6379/0",
		"redis://10.0.0.5:6379/0":                                   "redis://10.0.0.5:6379/0",
		"redis://10.0.0.8:26379?master_name=duet&password=s3cretpw": "redis://10.0.0.8:26379?master_name=duet&password=xxxxx",
		"redis://a:1?sentinel_password=s3cretpw&addr=b:2":           "redis://a:1?addr=b%3A2&sentinel_password=xxxxx",
		"redis://user:s3cretpw@[::1":                                "(a URL that does not parse)",
	}
	for raw, want := range tests {
		if got := Redacted(raw); got != want {
			t.Errorf("Redacted(%q) = %q, want %q", raw, got, want)
		}
	}
	if _, err := Open("redis://user:s3cretpw@[::1", time.Second); err == nil || strings.Contains(err.Error(), "s3cretpw") {
		t.Errorf("Open of a bad URL: error %v, want one without the password", err)
	}
}
