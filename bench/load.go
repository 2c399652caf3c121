package bench

import (
	"context"
	"strconv"
	"sync"
	"time"
)

// progressEvery is how often Options.Progress is called.
const progressEvery = time.Second

// runLoad connects opt.Conns clients to t, pairs them, has every client send messages to its
// partner for opt.Duration, waits up to opt.Drain for the last pushes, and reports. Matching is
// nil for a target without chats. server and redis, each if not nil, tell the processor time
// that t and its Redis spend; then this process's own is told too.
func runLoad(ctx context.Context, opt Options, t target, server, redis CPUMeter) (Messages, *Matching, error) {
	window := 0
	if opt.Rate == 0 {
		window = opt.Window
	}
	sink := newTally(opt.Conns)
	clients, err := connect(ctx, t, opt.Conns, opt.SetupTimeout, sink, window)
	if err != nil {
		return Messages{}, nil, err
	}
	defer closeAll(clients)
	var matching *Matching
	if t.chats {
		if matching, err = setUp(ctx, clients, opt.SetupTimeout, server, redis); err != nil {
			return Messages{}, nil, err
		}
	}

	cpu, err := startPhase(ctx, server, redis)
	if err != nil {
		return Messages{}, nil, err
	}
	start, end := sink.open(opt.Duration)
	stopProgress := reportProgress(opt.Progress, t.name, sink, start)
	var senders sync.WaitGroup
	for _, c := range clients {
		senders.Go(func() { c.send(ctx, opt, start, end) })
	}
	senders.Wait()
	drain(ctx, sink, opt.Drain)
	stopProgress()
	if matching != nil {
		matching.DoubleMatches += countExtraChats(clients)
	}
	serverPerMessage, redisPerMessage, loadPerMessage, err := cpu.per(ctx, sink.delivered.Load())
	if err != nil {
		return Messages{}, nil, err
	}

	m := Messages{
		Target: t.name, Connections: opt.Conns, Rate: opt.Rate, Size: opt.Size, DurationSec: opt.Duration.Seconds(),
		Sent: sink.sent.Load(), Acked: sink.acked.Load(), Delivered: sink.delivered.Load(),
		DeliveredPerSec: float64(sink.inWindow.Load()) / opt.Duration.Seconds(),
		Lost:            sink.lost(), Duplicated: sink.duplicated.Load(), Unexpected: sink.foreign.Load(),
		Disconnects: countDisconnects(clients), ServerCPUPerMessage: serverPerMessage, RedisCPUPerMessage: redisPerMessage,
		LoadCPUPerMessage: loadPerMessage,
	}
	m.Errors, m.ErrorCodes = sink.errorCodes()
	h := sink.latencies()
	m.Latency = Latency{
		P50: millis(h.ValueAtQuantile(50)), P90: millis(h.ValueAtQuantile(90)),
		P99: millis(h.ValueAtQuantile(99)), Max: millis(h.Max()),
	}
	return m, matching, ctx.Err()
}

// phaseCPU holds the readings, at the start of a phase of a run (the set-up's matching, or the
// message load), of the server's meter, its Redis's, and this load generator's, which is read
// when either of the others is, so that what making the load cost is told next to what serving
// it did.
type phaseCPU struct{ server, redis, load cpuSince }

func startPhase(ctx context.Context, server, redis CPUMeter) (phaseCPU, error) {
	var load CPUMeter
	if server != nil || redis != nil {
		load = ownCPU
	}
	var p phaseCPU
	var err error
	if p.server, err = startCPU(ctx, server); err != nil {
		return p, err
	}
	if p.redis, err = startCPU(ctx, redis); err != nil {
		return p, err
	}
	p.load, err = startCPU(ctx, load)
	return p, err
}

// per is the processor time of the server, of its Redis and of this load generator since the
// phase started, per one of n, in microseconds; 0 for a meter not read.
func (p phaseCPU) per(ctx context.Context, n int64) (server, redis, load float64, err error) {
	if server, err = p.server.per(ctx, n); err != nil {
		return 0, 0, 0, err
	}
	if redis, err = p.redis.per(ctx, n); err != nil {
		return 0, 0, 0, err
	}
	load, err = p.load.per(ctx, n)
	return server, redis, load, err
}

// cpuSince is a meter's reading at the start of a phase of a run; a nil meter reads nothing.
type cpuSince struct {
	meter  CPUMeter
	before time.Duration
}

func startCPU(ctx context.Context, m CPUMeter) (cpuSince, error) {
	if m == nil {
		return cpuSince{}, nil
	}
	before, err := m.CPUTime(ctx)
	return cpuSince{meter: m, before: before}, err
}

// per is the processor time spent since the start per one of n (messages delivered, chats
// formed), in microseconds; 0 without a meter or when n is 0.
func (c cpuSince) per(ctx context.Context, n int64) (float64, error) {
	if c.meter == nil || n == 0 {
		return 0, nil
	}
	after, err := c.meter.CPUTime(ctx)
	if err != nil {
		return 0, err
	}
	return float64((after - c.before).Microseconds()) / float64(n), nil
}

// millis turns microseconds into milliseconds.
func millis(us int64) float64 { return float64(us) / 1000 }

// send sends the client's messages until the end of the sending window: at its share of
// opt.Rate, or else whenever fewer than opt.Window are unacknowledged.
func (c *client) send(ctx context.Context, opt Options, start, end time.Time) {
	if opt.Rate == 0 {
		c.sendByWindow(ctx, opt.Size, end)
		return
	}
	interval := time.Duration(float64(opt.Conns) / opt.Rate * float64(time.Second))
	// Spread the connections' sends over the interval rather than all at its start.
	next := start.Add(interval * time.Duration(c.index) / time.Duration(opt.Conns))
	for next.Before(end) && sleepUntil(ctx, next) && c.sendOne(opt.Size) {
		next = next.Add(interval)
	}
}

// sendByWindow sends a message whenever fewer than the window are unanswered, until end.
func (c *client) sendByWindow(ctx context.Context, size int, end time.Time) {
	over := time.NewTimer(time.Until(end))
	defer over.Stop()
	for {
		select {
		case c.inFlight <- struct{}{}:
		case <-over.C:
			return
		case <-ctx.Done():
			return
		case <-c.done:
			return
		}
		if !time.Now().Before(end) || !c.sendOne(size) {
			return
		}
	}
}

// sendOne sends the client's next message to its chat, and reports whether the connection
// still takes frames.
func (c *client) sendOne(size int) bool {
	seq := c.out.next()
	c.mu.Lock()
	sessionID := c.sessionID
	c.mu.Unlock()
	err := c.write(func(b []byte) []byte {
		b = append(b, `{"cmd":"DIALOGUE","requestId":"`...)
		b = strconv.AppendInt(b, seq, 10)
		b = append(b, `","sessionId":`...)
		b = strconv.AppendInt(b, sessionID, 10)
		b = append(b, `,"content":"`...)
		b = c.sink.content(b, c.index, seq, size)
		return append(b, `"}`...)
	})
	if err != nil {
		return false
	}
	c.sink.sent.Add(1)
	if c.acksAtWrite {
		c.out.acknowledge(seq)
		c.sink.acked.Add(1)
	}
	return true
}

// sleepUntil waits until t, and reports false if ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// drainPoll is how often drain checks whether every acknowledged message has arrived.
const drainPoll = 10 * time.Millisecond

// drain waits until every sent message is acknowledged and every acknowledged one delivered,
// or for at most d.
func drain(ctx context.Context, sink *tally, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		sent, acked := sink.sent.Load(), sink.acked.Load()
		refused, _ := sink.errorCodes()
		if acked+refused >= sent && sink.delivered.Load() >= acked {
			return
		}
		sleepUntil(ctx, time.Now().Add(drainPoll))
	}
}

// reportProgress calls progress every progressEvery with the counts since the last call,
// until the returned stop is called.
func reportProgress(progress func(Progress), name string, sink *tally, start time.Time) (stop func()) {
	if progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(progressEvery)
		defer tick.Stop()
		last, lastSent, lastDelivered := start, int64(0), int64(0)
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				sent, delivered := sink.sent.Load(), sink.delivered.Load()
				secs := now.Sub(last).Seconds()
				errors, _ := sink.errorCodes()
				progress(Progress{
					Target: name, Elapsed: now.Sub(start),
					SentPerSec: float64(sent-lastSent) / secs, DeliveredPerSec: float64(delivered-lastDelivered) / secs,
					Delivered: delivered, Errors: errors, Duplicated: sink.duplicated.Load(),
				})
				last, lastSent, lastDelivered = now, sent, delivered
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}
