package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sync/errgroup"
)

// setUp creates an account on every connection, then has them all ask for a partner at once,
// and reports how fast the chats formed, and, with meters, what each chat cost the server, its
// Redis and this load generator. Every connection must end up in one chat with another
// connection of the run, within timeout. Requests answered with code 2 or 6 are sent again, and
// counted.
func setUp(ctx context.Context, clients []*client, timeout time.Duration, server, redis CPUMeter) (*Matching, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("setting up took longer than --setup-timeout %v", timeout))
	defer cancel()
	var retries atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range clients {
		g.Go(func() error { return c.createAccount(gctx, &retries) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	cpu, err := startPhase(ctx, server, redis)
	if err != nil {
		return nil, err
	}
	asked := make([]time.Time, len(clients))
	g, gctx = errgroup.WithContext(ctx)
	for i, c := range clients {
		g.Go(func() error {
			asked[i] = time.Now()
			return c.match(gctx, &retries)
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	m, err := matching(clients, asked)
	if err != nil {
		return nil, err
	}
	m.Retries = retries.Load()
	if m.ServerCPUPerMatch, m.RedisCPUPerMatch, m.LoadCPUPerMatch, err = cpu.per(ctx, int64(m.Pairs)); err != nil {
		return nil, err
	}
	return m, nil
}

// Codes after which a request is sent again, as the protocol allows: the server failed (2), or
// asked for a pause (6).
const (
	codeInternal    = 2
	codeRateLimited = 6
	retryPause      = 50 * time.Millisecond
)

// requestSetUp sends a set-up request until it gets a reply other than 2 or 6, counting the
// retries, or ctx ends.
func (c *client) requestSetUp(ctx context.Context, cmd string, frame []byte, retries *atomic.Int64) (inbound, error) {
	for {
		reply, err := c.request(ctx, cmd, frame)
		if err != nil || (*reply.Code != codeInternal && *reply.Code != codeRateLimited) {
			return reply, err
		}
		retries.Add(1)
		pause := max(retryPause, time.Duration(reply.RetryAfter)*time.Millisecond)
		if !sleepUntil(ctx, time.Now().Add(pause)) {
			return inbound{}, fmt.Errorf("connection %d: %s answered code %d (%s) until: %w", c.index+1, cmd, *reply.Code, reply.Msg, context.Cause(ctx))
		}
	}
}

func (c *client) createAccount(ctx context.Context, retries *atomic.Int64) error {
	frame := `{"cmd":"CRT_ACCOUNT","nickName":"bench-` + strconv.Itoa(c.index+1) + `"}`
	reply, err := c.requestSetUp(ctx, "CRT_ACCOUNT", []byte(frame), retries)
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
func (c *client) match(ctx context.Context, retries *atomic.Int64) error {
	reply, err := c.requestSetUp(ctx, "MATCH", []byte(`{"cmd":"MATCH"}`), retries)
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

// matching checks that the chats pair the run's connections two by two, and measures the time
// from each MATCH to its client learning of its chat. Chats told of later are counted by
// countExtraChats at the end of the run.
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
		sessionID, partnerID, at := c.sessionID, c.partnerID, c.matchedAt
		c.mu.Unlock()
		partner := byAccount[partnerID]
		if partner == nil {
			return nil, fmt.Errorf("connection %d was matched with account %d, which is not part of this run; run against nodes no one else uses", i+1, partnerID)
		}
		partner.mu.Lock()
		mutual := partner.sessionID == sessionID && partner.partnerID == c.accountID
		partner.mu.Unlock()
		if !mutual {
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

// countExtraChats counts the connections told of more than the one chat their MATCH formed: a
// second NewSession may come at any time, so this is counted when the run ends.
func countExtraChats(clients []*client) int {
	n := 0
	for _, c := range clients {
		c.mu.Lock()
		if c.sessions > 1 {
			n++
		}
		c.mu.Unlock()
	}
	return n
}
