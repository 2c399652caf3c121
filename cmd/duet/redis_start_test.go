package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duetchat/duet/redisengine/redistest"
)

// syncBuffer is a node's stderr, written by its goroutines while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// withPassword starts a redis-server with a user duet whose password is s3cretpw.
var withPassword = []string{"--user", "duet", "on", ">s3cretpw", "~*", "&*", "+@all"}

func noEnv(string) string { return "" }

// redisServe runs `duet serve` on the redis engine at url in this process.
func redisServe(ctx context.Context, url string, stderr *syncBuffer, flags ...string) error {
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--engine", "redis", "--redis-url", url}, flags...)
	return run(ctx, args, noEnv, &bytes.Buffer{}, stderr)
}

// TestRedisWrongPasswordNotShown: a refused password fails the start at once, with an error
// that names redis_url and shows neither the password given nor the right one.
func TestRedisWrongPasswordNotShown(t *testing.T) {
	redis := redistest.Start(t, withPassword...)
	for _, url := range []string{
		"redis://duet:wrongpw99@" + redis.Addr + "/0",
		"redis://duet:s3cretpw99@" + redis.Addr + "/0",
	} {
		var stderr syncBuffer
		start := time.Now()
		err := redisServe(context.Background(), url, &stderr, "--redis-wait", "20s")
		if err == nil {
			t.Fatalf("serve with a wrong password started")
		}
		if waited := time.Since(start); waited > 10*time.Second {
			t.Errorf("serve waited %v for a refused password, want it to fail at once", waited)
		}
		shown := err.Error() + stderr.String()
		for _, secret := range []string{"wrongpw99", "s3cretpw"} {
			if strings.Contains(shown, secret) {
				t.Errorf("a password is shown: error %q, log %q", err, stderr.String())
			}
		}
		if !strings.Contains(err.Error(), "redis_url") || !strings.Contains(err.Error(), "WRONGPASS") {
			t.Errorf("error %q, want it to name redis_url and say WRONGPASS", err)
		}
	}
}

// TestRedisNeverUp: with no Redis, the start gives up after redis_wait with an error naming
// redis_url and redis_wait, and no password.
func TestRedisNeverUp(t *testing.T) {
	redis := redistest.Start(t)
	redis.Stop()
	var stderr syncBuffer
	start := time.Now()
	err := redisServe(context.Background(), "redis://duet:s3cretpw@"+redis.Addr+"/0", &stderr, "--redis-wait", "1500ms")
	waited := time.Since(start)
	if err == nil {
		t.Fatal("serve without Redis started")
	}
	if waited < time.Second || waited > 10*time.Second {
		t.Errorf("serve gave up after %v, want about redis_wait (1.5s)", waited)
	}
	if msg := err.Error(); !strings.Contains(msg, "redis_url redis://duet:xxxxx@"+redis.Addr) || !strings.Contains(msg, "redis_wait") {
		t.Errorf("error %q, want it to name redis_url (redacted) and redis_wait", msg)
	}
	if log := stderr.String(); strings.Contains(err.Error()+log, "s3cretpw") {
		t.Errorf("the password is shown: error %q, log %q", err, log)
	}
}

// TestRedisComesUpLater: a node started before its Redis waits for it, logging the wait at
// most every few seconds, and serves once Redis is up.
func TestRedisComesUpLater(t *testing.T) {
	redis := redistest.Start(t, withPassword...)
	redis.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	served := make(chan error, 1)
	go func() {
		served <- redisServe(ctx, "redis://duet:s3cretpw@"+redis.Addr+"/0", &stderr, "--redis-wait", "30s", "--drain-delay", "0s")
	}()
	time.Sleep(2 * time.Second)
	redis.Restart(t)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stderr.String(), "duet is serving") {
		select {
		case err := <-served:
			t.Fatalf("serve ended before Redis came up: %v; log:\n%s", err, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start within 10s of Redis; log:\n%s", stderr.String())
		}
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("serve: %v", err)
	}
	log := stderr.String()
	if n := strings.Count(log, `msg="waiting for Redis"`); n != 1 {
		t.Errorf("%d lines say it waits in 2s, want 1 (one every 5s); log:\n%s", n, log)
	}
	if !strings.Contains(log, "redis_url=redis://duet:xxxxx@"+redis.Addr) || strings.Contains(log, "s3cretpw") {
		t.Errorf("log does not name redis_url redacted, or shows the password:\n%s", log)
	}
}
