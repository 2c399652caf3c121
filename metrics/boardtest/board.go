// Package boardtest is the contract every metrics.Board must meet, as a test that each
// engine's tests run against a fresh board.
package boardtest

import (
	"context"
	"testing"
	"time"

	"github.com/duetchat/duet/metrics"
)

// Run checks the posts (Posts) and the history (History) of boards made by newBoard.
func Run(t *testing.T, newBoard func(t *testing.T) metrics.Board) {
	t.Run("Posts", func(t *testing.T) { posts(t, newBoard(t)) })
	t.Run("History", func(t *testing.T) { history(t, newBoard(t)) })
}

// posts posts the figures of two nodes and checks that both are shown, the newest post of each,
// until a node's post is older than its ttl.
func posts(t *testing.T, b metrics.Board) {
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

// history records the minutes of two nodes and checks that the service's minutes add them up,
// that a node's new record of a minute replaces its old one, and that minutes older than the
// history are left out.
func history(t *testing.T, b metrics.Board) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Minute).Add(30 * time.Second)
	minute := func(ago int, conns, waiting, messages int, posted time.Duration) metrics.Minute {
		at := metrics.MinuteOf(now).Add(-time.Duration(ago) * time.Minute)
		return metrics.Minute{At: at, Connections: conns, Waiting: waiting, Sessions: waiting * 2, Messages: messages, Matches: 1, PostedAt: at.Add(posted)}
	}
	record := func(node int64, ms ...metrics.Minute) {
		t.Helper()
		if err := b.Record(ctx, node, ms); err != nil {
			t.Fatal(err)
		}
	}
	record(1, minute(metrics.HistoryMinutes, 50, 9, 9, time.Second)) // too old by now
	record(1, minute(1, 10, 3, 100, 10*time.Second), minute(0, 1, 1, 1, time.Second))
	record(2, minute(1, 20, 4, 200, 20*time.Second))
	record(1, minute(0, 12, 5, 7, 15*time.Second)) // replaces node 1's minute 0
	got, err := b.History(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []metrics.Minute{
		{At: metrics.MinuteOf(now).Add(-time.Minute), Connections: 30, Waiting: 4, Sessions: 8, Messages: 300, Matches: 2},
		{At: metrics.MinuteOf(now), Connections: 12, Waiting: 5, Sessions: 10, Messages: 7, Matches: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("History = %+v, want %d minutes", got, len(want))
	}
	for i, w := range want {
		g := got[i]
		g.PostedAt = time.Time{}
		if !g.At.Equal(w.At) || g.Connections != w.Connections || g.Waiting != w.Waiting || g.Sessions != w.Sessions || g.Messages != w.Messages || g.Matches != w.Matches {
			t.Errorf("History[%d] = %+v, want %+v", i, g, w)
		}
	}
}
