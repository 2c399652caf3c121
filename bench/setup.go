package bench

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sync/errgroup"
)

// setUp creates an account on every connection, then has them all ask for a partner at once,
// and reports how fast the chats formed. Every connection must end up in one chat with another
// connection of the run, within timeout.
func setUp(ctx context.Context, clients []*client, timeout time.Duration) (*Matching, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("setting up took longer than --setup-timeout %v", timeout))
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range clients {
		g.Go(func() error { return c.createAccount(gctx) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	asked := make([]time.Time, len(clients))
	g, gctx = errgroup.WithContext(ctx)
	for i, c := range clients {
		g.Go(func() error {
			asked[i] = time.Now()
			return c.match(gctx)
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return matching(clients, asked)
}

func (c *client) createAccount(ctx context.Context) error {
	frame := `{"cmd":"CRT_ACCOUNT","nickName":"bench-` + strconv.Itoa(c.index+1) + `"}`
	reply, err := c.request(ctx, "CRT_ACCOUNT", []byte(frame))
	if err != nil {
		return err
	}
	if *reply.Code != 0 {
		return fmt.Errorf("connection %d: CRT_ACCOUNT answered code %d: %s", c.index+1, *reply.Code, reply.Msg)
	}
	c.mu.Lock()
	c.accountID = reply.AccountID
	c.mu.Unlock()
	return nil
}

// match asks for a partner and waits until the client is in a chat: at once (code 0) or when
// a NewSession push says so (code 4).
func (c *client) match(ctx context.Context) error {
	reply, err := c.request(ctx, "MATCH", []byte(`{"cmd":"MATCH"}`))
	if err != nil {
		return err
	}
	if code := *reply.Code; code != 0 && code != 4 {
		return fmt.Errorf("connection %d: MATCH answered code %d: %s", c.index+1, code, reply.Msg)
	}
	select {
	case <-c.matched:
		return nil
	case <-c.done:
		return fmt.Errorf("connection %d: the server closed the connection while it waited for a partner", c.index+1)
	case <-ctx.Done():
		return fmt.Errorf("connection %d: no partner found: %w", c.index+1, context.Cause(ctx))
	}
}

// matching checks that the chats pair the run's connections two by two, each told of one chat
// only, and measures the time from each MATCH to its client learning of its chat.
func matching(clients []*client, asked []time.Time) (*Matching, error) {
	byAccount := make(map[int64]*client, len(clients))
	for _, c := range clients {
		byAccount[c.accountID] = c
	}
	times := hdrhistogram.New(1, latencyMax, 3)
	first, last := asked[0], time.Time{}
	m := &Matching{Pairs: len(clients) / 2}
	for i, c := range clients {
		c.mu.Lock()
		sessionID, partnerID, at, sessions := c.sessionID, c.partnerID, c.matchedAt, c.sessions
		c.mu.Unlock()
		partner := byAccount[partnerID]
		if partner == nil {
			return nil, fmt.Errorf("connection %d was matched with account %d, which is not part of this run; run against nodes no one else uses", i+1, partnerID)
		}
		partner.mu.Lock()
		mutual := partner.sessionID == sessionID && partner.partnerID == c.accountID
		partner.mu.Unlock()
		if sessions > 1 || !mutual {
			m.DoubleMatches++
		}
		_ = times.RecordValue(max(1, at.Sub(asked[i]).Microseconds()))
		if asked[i].Before(first) {
			first = asked[i]
		}
		if at.After(last) {
			last = at
		}
	}
	m.MatchesPerSec = float64(m.Pairs) / last.Sub(first).Seconds()
	m.MatchMillis = MatchLatency{P50: millis(times.ValueAtQuantile(50)), P99: millis(times.ValueAtQuantile(99))}
	return m, nil
}
