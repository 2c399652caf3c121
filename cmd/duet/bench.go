package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/duetchat/duet/bench"
	"github.com/duetchat/duet/redisengine"
)

const benchUsage = `Usage: duet bench [flags]

Measures Duet nodes over the wire protocol: opens --conns connections (spread over the --url
nodes), creates accounts, matches them into chats, then sends --size-byte messages in every chat
for --duration, at --rate messages per second in total or as fast as the server answers. Reports
delivered messages/s, send-to-push latency, matches/s and time to match, reply codes other than
0, and lost or duplicated messages. With --idle N, holds N matched silent connections instead and
reports the server's memory per connection (with --pid). --pid also adds the server's processor
time per chat formed and per message delivered, and --redis-url that of its Redis, read from
INFO cpu; either adds this load generator's own.
With --baseline, runs the same load against a minimal relay built in, for this machine's
ceiling.

Run the server with rate limits off for the load generator, e.g. --rate-limit-exempt 127.0.0.0/8,
and the proof-of-work challenge not on: in auto, the default, requests from exempt addresses do not
count towards the rate that starts it.

Flags:
`

// urlList is a flag that may be given several times.
type urlList []string

func (u *urlList) String() string { return strings.Join(*u, ",") }

func (u *urlList) Set(v string) error {
	*u = append(*u, v)
	return nil
}

// runBench is `duet bench`: it returns when the run is over, or when ctx ends.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opt, redisURL, asJSON, err := parseBenchFlags(args, stderr)
	if err != nil {
		return err
	}
	if redisURL != "" {
		client, err := redisengine.Open(redisURL, benchRedisTimeout)
		if err != nil {
			return fmt.Errorf("bench: --redis-url %s: %w", redisengine.Redacted(redisURL), err)
		}
		defer client.Close()
		opt.Redis = redisCPU{client}
	}
	progress := newProgressLine(stderr)
	opt.Progress = progress.show
	report, err := bench.Run(ctx, opt)
	progress.end()
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	return report.WriteText(stdout)
}

// benchRedisTimeout bounds each read of the Redis's processor time.
const benchRedisTimeout = 5 * time.Second

// redisCPU reads the processor time of the Redis a node keeps its state in.
type redisCPU struct{ client redis.UniversalClient }

func (r redisCPU) CPUTime(ctx context.Context) (time.Duration, error) {
	t, err := redisengine.CPUTime(ctx, r.client)
	if err != nil {
		return 0, fmt.Errorf("--redis-url: %w", err)
	}
	return t, nil
}

func parseBenchFlags(args []string, stderr io.Writer) (opt bench.Options, redisURL string, asJSON bool, err error) {
	fs := flag.NewFlagSet("duet bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, benchUsage)
		fs.PrintDefaults()
	}
	var (
		urls urlList
		pid  int
	)
	fs.Var(&urls, "url", "WebSocket URL of a node; repeat for several nodes (default ws://localhost:8080/ws)")
	fs.IntVar(&opt.Conns, "conns", 100, "client connections, an even number; they chat in pairs")
	fs.Float64Var(&opt.Rate, "rate", 0, "messages per second over all connections; 0: as fast as the server answers")
	fs.IntVar(&opt.Window, "window", 16, "with --rate 0: messages each connection may have unacknowledged")
	fs.DurationVar(&opt.Duration, "duration", 10*time.Second, "how long messages are sent")
	fs.DurationVar(&opt.Drain, "drain", 5*time.Second, "how long to wait after sending for the last pushes before a message counts as lost")
	fs.IntVar(&opt.Size, "size", 100, "bytes of each message's content")
	fs.DurationVar(&opt.SetupTimeout, "setup-timeout", time.Minute, "bound on connecting, creating accounts and matching")
	fs.IntVar(&opt.Idle, "idle", 0, "hold this many matched, silent connections instead of sending messages")
	fs.DurationVar(&opt.Hold, "hold", 10*time.Second, "with --idle: how long the connections are held before the server is weighed")
	fs.IntVar(&pid, "pid", 0, "process id of the server, when it runs on this machine, to read its memory (--idle) and processor time per chat and per message from /proc")
	fs.BoolVar(&opt.Baseline, "baseline", false, "also run the same load against a minimal relay built in, and compare")
	fs.StringVar(&redisURL, "redis-url", "", "Redis of the nodes, in the forms of duet serve's redis_url, to read its processor time per chat and per message from INFO cpu")
	fs.BoolVar(&asJSON, "json", false, "print the report as one JSON object")
	if err := fs.Parse(args); err != nil {
		return bench.Options{}, "", false, err
	}
	if fs.NArg() > 0 {
		return bench.Options{}, "", false, fmt.Errorf("bench: unexpected argument %q", fs.Arg(0))
	}
	switch {
	case pid < 0:
		return bench.Options{}, "", false, fmt.Errorf("bench: --pid: must be a process id, got %d", pid)
	case pid > 0:
		opt.Server = bench.ProcStatus{PID: pid}
	}
	opt.URLs = urls
	if len(opt.URLs) == 0 {
		opt.URLs = []string{"ws://localhost:8080/ws"}
	}
	if err := opt.Validate(); err != nil {
		return bench.Options{}, "", false, fmt.Errorf("bench: %w", err)
	}
	return opt, redisURL, asJSON, nil
}

// progressLine shows the live progress of a run: on a terminal, one line rewritten in place;
// elsewhere, a line a second.
type progressLine struct {
	w        io.Writer
	terminal bool
	shown    bool
}

func newProgressLine(w io.Writer) *progressLine {
	f, ok := w.(*os.File)
	if !ok {
		return &progressLine{w: w}
	}
	info, err := f.Stat()
	return &progressLine{w: w, terminal: err == nil && info.Mode()&os.ModeCharDevice != 0}
}

func (p *progressLine) show(pr bench.Progress) {
	p.shown = true
	if p.terminal {
		fmt.Fprintf(p.w, "\r%s\x1b[K", pr)
		return
	}
	fmt.Fprintln(p.w, pr)
}

// end finishes the line on a terminal, so what follows starts on a line of its own.
func (p *progressLine) end() {
	if p.terminal && p.shown {
		fmt.Fprintln(p.w)
	}
}
