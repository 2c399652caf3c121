package redisengine

import (
	"context"
	"runtime"
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
		"server":   "redis://" + server.Addr + "/0",
		"cluster":  "redis://" + cluster.Addrs[0] + "?addr=" + cluster.Addrs[1] + "&addr=" + cluster.Addrs[2],
		"sentinel": "redis://" + sentinel.Addr + "?master_name=" + sentinel.MasterName,
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

// TestOpenPoolSize: a node's pool is sized for many requests at once unless the URL says.
func TestOpenPoolSize(t *testing.T) {
	for url, want := range map[string]int{
		"redis://127.0.0.1:1/0":             max(minPoolSize, 10*runtime.GOMAXPROCS(0)),
		"redis://127.0.0.1:1/0?pool_size=7": 7,
	} {
		client, err := Open(url, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if got := client.(*redis.Client).Options().PoolSize; got != want {
			t.Errorf("Open(%q) pool size %d, want %d", url, got, want)
		}
		client.Close()
	}
}
