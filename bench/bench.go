// Package bench measures a Duet deployment the way its operators would: it opens many client
// connections over the wire protocol, creates accounts, matches them into chats and has each
// chat exchange messages, then reports delivered messages per second, send-to-push latency,
// matching speed, reply codes other than 0, and lost or duplicated messages. It can also hold
// idle chats to weigh the server's memory per connection, and run the same load against a
// minimal relay of its own (Relay) to show the ceiling of the machine.
//
// bench is a client of the protocol document (docs/protocol.md) only: it imports nothing of the
// server, so it measures any deployment it can reach.
package bench

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Options describe one run.
type Options struct {
	// URLs are the WebSocket endpoints of the nodes under test; connections are spread over
	// them in turn.
	URLs []string
	// Conns is how many client connections chat: Conns/2 chats. Even, at least 2.
	Conns int
	// Rate is the total of messages per second sent over all chats; 0 sends as fast as the
	// server acknowledges, with Window messages in flight per connection.
	Rate   float64
	Window int
	// Duration is how long messages are sent; Drain is how long to wait after that for the
	// pushes still on their way before counting a message as lost.
	Duration time.Duration
	Drain    time.Duration
	// Size is the length of each message's content, in bytes.
	Size int
	// SetupTimeout bounds connecting, creating the accounts and matching them.
	SetupTimeout time.Duration

	// Idle, when not 0, replaces the message load: Idle connections are matched and held
	// silent (answering heartbeats) for Hold.
	Idle int
	Hold time.Duration
	// Server, when set, reads the server's figures: its memory before and after holding idle
	// connections, its processor time per message under a message load.
	Server ServerStats
	// Redis, when set, reads the processor time of the Redis the server keeps its state in, so
	// that a message's cost is told whole: the node's and Redis's.
	Redis CPUMeter

	// Baseline runs the same message load against a Relay started for the run, after the load
	// against URLs, and reports Duet's throughput as a share of the relay's.
	Baseline bool

	// Progress, when set, is called about once a second while messages are sent.
	Progress func(Progress)
}

// The limits of Options that are not a matter of taste.
const (
	// minSize is the shortest content that carries a message's sender, sequence number and
	// send time, which is how its push is recognised and timed.
	minSize = 40
	// maxWindow bounds the messages in flight per connection, well under what the server's
	// default send queue (1 MiB) holds, so that a fast sender is never dropped as a slow reader.
	maxWindow = 128
)

// Validate reports the first option that cannot work, naming its flag.
func (o Options) Validate() error {
	if len(o.URLs) == 0 {
		return errors.New("--url: at least one is needed")
	}
	for _, u := range o.URLs {
		parsed, err := url.Parse(u)
		if err != nil || (parsed.Scheme != "ws" && parsed.Scheme != "wss") || parsed.Host == "" {
			return fmt.Errorf("--url: %q is not a ws:// or wss:// URL", u)
		}
	}
	switch {
	case o.SetupTimeout <= 0:
		return fmt.Errorf("--setup-timeout: must be positive, got %v", o.SetupTimeout)
	case o.Idle < 0 || o.Idle%2 != 0:
		return fmt.Errorf("--idle: must be an even number of connections, got %d", o.Idle)
	case o.Idle > 0 && o.Hold <= 0:
		return fmt.Errorf("--hold: must be positive, got %v", o.Hold)
	case o.Idle > 0 && o.Baseline:
		return errors.New("--baseline compares message loads; it does not go with --idle")
	case o.Idle > 0:
		return nil
	case o.Conns < 2 || o.Conns%2 != 0:
		return fmt.Errorf("--conns: must be an even number, at least 2, got %d", o.Conns)
	case o.Rate < 0:
		return fmt.Errorf("--rate: must be 0 (as fast as possible) or positive, got %v", o.Rate)
	case o.Rate == 0 && (o.Window < 1 || o.Window > maxWindow):
		return fmt.Errorf("--window: must be 1 to %d, got %d", maxWindow, o.Window)
	case o.Duration <= 0:
		return fmt.Errorf("--duration: must be positive, got %v", o.Duration)
	case o.Drain < 0:
		return fmt.Errorf("--drain: must not be negative, got %v", o.Drain)
	case o.Size < minSize:
		return fmt.Errorf("--size: must be at least %d bytes, to carry each message's sender, number and send time; got %d", minSize, o.Size)
	}
	return nil
}

// connections is the most connections this process holds at once: the relay's side too, with
// a baseline.
func (o Options) connections() int {
	switch {
	case o.Idle > 0:
		return o.Idle
	case o.Baseline:
		return 2 * o.Conns
	}
	return o.Conns
}

// Run carries out the run that opt describes and reports what it measured. It returns an
// error when the run could not be carried out (a node unreachable, connections refused, chats
// not formed in time); what the server did wrong while it ran is in the report.
func Run(ctx context.Context, opt Options) (Report, error) {
	if err := opt.Validate(); err != nil {
		return Report{}, err
	}
	if err := checkFileLimit(opt.connections()); err != nil {
		return Report{}, err
	}
	if opt.Idle > 0 {
		return runIdle(ctx, opt)
	}
	var report Report
	loadReport, matching, err := runLoad(ctx, opt, duetTarget(opt.URLs), opt.Server, opt.Redis)
	if err != nil {
		return Report{}, err
	}
	report.Messages, report.Matching = &loadReport, matching
	if !opt.Baseline {
		return report, nil
	}
	relay, err := StartRelay("127.0.0.1:0")
	if err != nil {
		return Report{}, fmt.Errorf("baseline: %w", err)
	}
	defer relay.Close()
	baseline, _, err := runLoad(ctx, opt, relayTarget(relay.URL()), nil, nil)
	if err != nil {
		return Report{}, fmt.Errorf("baseline: %w", err)
	}
	report.Baseline = &baseline
	if baseline.DeliveredPerSec > 0 {
		report.RatioToBaseline = loadReport.DeliveredPerSec / baseline.DeliveredPerSec
	}
	return report, nil
}

// runIdle matches opt.Idle connections, holds them silent for opt.Hold, and weighs the server
// before and after.
func runIdle(ctx context.Context, opt Options) (Report, error) {
	var before int64
	if opt.Server != nil {
		var err error
		if before, err = opt.Server.ResidentBytes(ctx); err != nil {
			return Report{}, err
		}
	}
	target := duetTarget(opt.URLs)
	clients, err := connect(ctx, target, opt.Idle, opt.SetupTimeout, newTally(opt.Idle), 0)
	if err != nil {
		return Report{}, err
	}
	defer closeAll(clients)
	matching, err := setUp(ctx, clients, opt.SetupTimeout, opt.Server, opt.Redis)
	if err != nil {
		return Report{}, err
	}
	idle := &Idle{Connections: opt.Idle, HoldSec: opt.Hold.Seconds()}
	select {
	case <-time.After(opt.Hold):
	case <-ctx.Done():
		return Report{}, ctx.Err()
	}
	matching.DoubleMatches += countExtraChats(clients)
	if dropped := countDisconnects(clients); dropped > 0 {
		return Report{}, fmt.Errorf("%d of %d idle connections were closed by the server while held", dropped, len(clients))
	}
	if opt.Server != nil {
		after, err := opt.Server.ResidentBytes(ctx)
		if err != nil {
			return Report{}, err
		}
		idle.ServerRSSBefore, idle.ServerRSSAfter = before, after
		idle.BytesPerConnection = float64(after-before) / float64(opt.Idle)
	}
	return Report{Matching: matching, Idle: idle}, nil
}
