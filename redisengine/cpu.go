package redisengine

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// CPUTime is the processor time, user and system, that the Redis servers of c have used since
// they started: the one server, or the sum over a Cluster's masters. duet bench reads it before
// and after a load to tell Redis's share of what a message costs.
func CPUTime(ctx context.Context, c redis.UniversalClient) (time.Duration, error) {
	if p, ok := c.(pipelinedClient); ok {
		c = p.base
	}
	cluster, ok := c.(*redis.ClusterClient)
	if !ok {
		return serverCPU(ctx, c)
	}
	var (
		mu    sync.Mutex
		total time.Duration
	)
	err := cluster.ForEachMaster(ctx, func(ctx context.Context, master *redis.Client) error {
		t, err := serverCPU(ctx, master)
		mu.Lock()
		total += t
		mu.Unlock()
		return err
	})
	return total, err
}

// serverCPU reads used_cpu_sys and used_cpu_user from one server's INFO cpu.
func serverCPU(ctx context.Context, c redis.Cmdable) (time.Duration, error) {
	info, err := c.Info(ctx, "cpu").Result()
	if err != nil {
		return 0, fmt.Errorf("redisengine: INFO cpu: %w", err)
	}
	var seconds float64
	found := 0
	lines := bufio.NewScanner(strings.NewReader(info))
	for lines.Scan() {
		name, value, ok := strings.Cut(strings.TrimSpace(lines.Text()), ":")
		if !ok || (name != "used_cpu_sys" && name != "used_cpu_user") {
			continue
		}
		s, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return 0, fmt.Errorf("redisengine: INFO cpu: %s is %q, not a number", name, value)
		}
		seconds += s
		found++
	}
	if found != 2 {
		return 0, fmt.Errorf("redisengine: INFO cpu has no used_cpu_sys and used_cpu_user")
	}
	return time.Duration(seconds * float64(time.Second)), nil
}
