// Package boardtest is the contract every metrics.Board must meet, as a test that each
// engine's tests run against a fresh board.
package boardtest

import (
	"context"
	"testing"
	"time"

	"github.com/duetchat/duet/metrics"
)

// Run posts the figures of two nodes and checks that both are shown, the newest post of each,
// until a node's post is older than its ttl.
func Run(t *testing.T, b metrics.Board) {
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	post := func(node int64, at time.Time, conns int, ttl time.Duration) {
		t.Helper()
		s := metrics.Stats{Node: node, PostedAt: at, Connections: conns, MatchWaitsMs: []int64{5, 7}}
		if err := b.Post(ctx, s, ttl); err != nil {
			t.Fatal(err)
		}
	}
	post(2, now, 1, time.Hour)
	post(1, now, 1, time.Minute)
	post(1, now.Add(time.Second), 5, time.Minute) // a newer post replaces the older
	nodes, err := b.Nodes(ctx, now.Add(2*time.Second))
	if err != nil || len(nodes) != 2 || nodes[0].Node != 1 || nodes[0].Connections != 5 || nodes[1].Node != 2 || len(nodes[1].MatchWaitsMs) != 2 {
		t.Fatalf("Nodes = %+v, %v; want node 1 with 5 connections, then node 2", nodes, err)
	}
	nodes, err = b.Nodes(ctx, now.Add(2*time.Minute))
	if err != nil || len(nodes) != 1 || nodes[0].Node != 2 {
		t.Errorf("Nodes once node 1's post is stale = %+v, %v; want node 2 only", nodes, err)
	}
}
