// Package metrics measures a node: the Prometheus collectors served at /metrics, and the figures
// the admin API shows for the whole service, which every node posts to a Board so that any node
// can add them up.
package metrics

import (
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/duetchat/duet"
	"github.com/duetchat/duet/challenge"
	"github.com/duetchat/duet/session"
)

// Node measures one node. It is safe for concurrent use.
type Node struct {
	reg          *prometheus.Registry
	messages     prometheus.Counter
	matches      prometheus.Counter
	replies      *prometheus.CounterVec
	matchWait    prometheus.Histogram
	sendToPush   prometheus.Histogram
	engineErrors prometheus.Counter
	pushes       *prometheus.CounterVec
	dropped      prometheus.Counter
	takeovers    *prometheus.CounterVec
	challenges   *prometheus.CounterVec

	mu        sync.Mutex // guards the following fields
	sent      window
	paired    window
	outcomes  [3]window // challenges issued, solved and failed, in challengeOutcomes' order
	waits     []sample  // recent times to match, oldest first
	waitsNext int
	counts    perMinute // messages and matches by minute, for the history
	recorded  Minute    // the minute last recorded in the history
}

// The figures kept for the admin API: counts per second over the last minute, and the last
// times to match over the last five minutes.
const (
	waitsKept = 500
	waitsAge  = 5 * time.Minute
)

type sample struct {
	at   time.Time
	wait time.Duration
}

// latencyBuckets are the histograms' bounds in seconds, from 1 ms to 2 min.
var latencyBuckets = prometheus.ExponentialBucketsRange(0.001, 120, 18)

// New returns a node's metrics, with Go's runtime and process metrics registered too.
func New() *Node {
	n := &Node{
		reg: prometheus.NewRegistry(),
		messages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "duet_messages_total", Help: "DIALOGUE messages accepted on this node.",
		}),
		matches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "duet_matches_total", Help: "Sessions started by this node.",
		}),
		replies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duet_replies_total", Help: "Replies to client requests, by command and reply code.",
		}, []string{"cmd", "code"}),
		matchWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "duet_time_to_match_seconds", Help: "How long accounts waited in the queue before they were matched.",
			Buckets: latencyBuckets,
		}),
		sendToPush: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "duet_send_to_push_seconds",
			Help:    "From a DIALOGUE's arrival to its push being queued on the partner's connection or sent toward the partner's node.",
			Buckets: latencyBuckets,
		}),
		engineErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "duet_engine_errors_total", Help: "Requests that failed because the engine (memory or Redis) failed: code 2.",
		}),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duet_pushes_total",
			Help: "Pushes sent by this node, by where they went: local (a connection here), forwarded (to the node holding the connection), backlog (kept for an account without one).",
		}, []string{"where"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "duet_slow_clients_dropped_total", Help: "Connections closed for being too slow to receive (their send queue full).",
		}),
		takeovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duet_takeovers_total", Help: "Accounts taken over by a new connection on this node, from a connection on this node or on another.",
		}, []string{"from"}),
		challenges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duet_challenges_total", Help: "Proof-of-work challenges at account creation, by outcome: issued, solved (a proof accepted) or failed (a proof refused).",
		}, []string{"outcome"}),
	}
	// Every label value is exported from the start, at 0, so that a rate over it is defined
	// before the first push or takeover.
	for _, where := range []string{session.PushedLocal, session.PushedForwarded, session.PushedBacklog} {
		n.pushes.WithLabelValues(where)
	}
	for _, from := range []string{takeoverSameNode, takeoverOtherNode} {
		n.takeovers.WithLabelValues(from)
	}
	for _, outcome := range challengeOutcomes {
		n.challenges.WithLabelValues(outcome)
	}
	n.reg.MustRegister(n.messages, n.matches, n.replies, n.matchWait, n.sendToPush, n.engineErrors, n.pushes, n.dropped, n.takeovers, n.challenges,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return n
}

// Handler serves the metrics in Prometheus's text format.
func (n *Node) Handler() http.Handler {
	return promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{Registry: n.reg})
}

// Register adds collectors of other parts of the node, such as gauges read from its registries.
func (n *Node) Register(cs ...prometheus.Collector) { n.reg.MustRegister(cs...) }

// Replied counts a reply to a request.
func (n *Node) Replied(cmd string, code duet.Code) {
	n.replies.WithLabelValues(cmd, strconv.Itoa(int(code))).Inc()
	if code == duet.InternalErr {
		n.engineErrors.Inc()
	}
}

// Pushed counts a push by where it went (session.PushedLocal, …).
func (n *Node) Pushed(where string) { n.pushes.WithLabelValues(where).Inc() }

// Dropped counts a connection closed for being too slow to receive.
func (n *Node) Dropped() { n.dropped.Inc() }

// The values of duet_takeovers_total's label from.
const (
	takeoverSameNode  = "same_node"
	takeoverOtherNode = "other_node"
)

// TakenOver counts an account taken over from a connection on this node or on another.
func (n *Node) TakenOver(fromAnotherNode bool) {
	from := takeoverSameNode
	if fromAnotherNode {
		from = takeoverOtherNode
	}
	n.takeovers.WithLabelValues(from).Inc()
}

// Sent counts a message accepted at now that took d from its arrival to its push.
func (n *Node) Sent(now time.Time, d time.Duration) {
	n.messages.Inc()
	n.sendToPush.Observe(d.Seconds())
	n.mu.Lock()
	n.sent.add(now)
	n.counts.at(now).messages++
	n.mu.Unlock()
}

// Matched counts a session started at now whose members waited the given times (0 for the one
// whose MATCH found a partner at once).
func (n *Node) Matched(now time.Time, waits ...time.Duration) {
	n.matches.Inc()
	n.mu.Lock()
	defer n.mu.Unlock()
	n.paired.add(now)
	n.counts.at(now).matches++
	for _, w := range waits {
		n.matchWait.Observe(w.Seconds())
		s := sample{now, w}
		if len(n.waits) < waitsKept {
			n.waits = append(n.waits, s)
		} else {
			n.waits[n.waitsNext] = s
			n.waitsNext = (n.waitsNext + 1) % waitsKept
		}
	}
}

// challengeOutcomes are the outcomes of challenges counted, in the order of Node.outcomes.
var challengeOutcomes = [3]string{challenge.Issued, challenge.Solved, challenge.Failed}

// Challenged counts a challenge of the given outcome at now; it implements challenge.Observer.
func (n *Node) Challenged(now time.Time, outcome string) {
	i := slices.Index(challengeOutcomes[:], outcome)
	n.challenges.WithLabelValues(outcome).Inc()
	n.mu.Lock()
	defer n.mu.Unlock()
	n.outcomes[i].add(now)
	counts := n.counts.at(now)
	counts.challenges[i]++
}

// Challenges counts challenges by outcome.
type Challenges struct {
	Issued int `json:"issued"`
	Solved int `json:"solved"`
	Failed int `json:"failed"`
}

func challengesOf(c [3]int) Challenges { return Challenges{Issued: c[0], Solved: c[1], Failed: c[2]} }

// Add returns the sum of c and d.
func (c Challenges) Add(d Challenges) Challenges {
	return Challenges{Issued: c.Issued + d.Issued, Solved: c.Solved + d.Solved, Failed: c.Failed + d.Failed}
}

// Stats are one node's figures, as it posts them to the Board.
type Stats struct {
	Node              int64     `json:"node"`
	Version           string    `json:"version"`
	StartedAt         time.Time `json:"startedAt"`
	PostedAt          time.Time `json:"postedAt"`
	Connections       int       `json:"connections"`
	Accounts          int       `json:"accounts"` // accounts connected to this node
	MessagesPerMinute int       `json:"messagesPerMinute"`
	MatchesPerMinute  int       `json:"matchesPerMinute"`
	// ChallengesPerMinute are the challenges of the last minute, by outcome.
	ChallengesPerMinute Challenges `json:"challengesPerMinute"`
	// MatchWaitsMs are the recent times to match, in ms, that the service's percentiles are
	// taken from.
	MatchWaitsMs []int64 `json:"matchWaitsMs"`
}

// Snapshot returns the node's figures at now, with its connections and the accounts they hold
// as counted by their registries.
func (n *Node) Snapshot(now time.Time, connections, accounts int) Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	st := Stats{
		PostedAt: now, Connections: connections, Accounts: accounts,
		MessagesPerMinute: n.sent.total(now), MatchesPerMinute: n.paired.total(now), MatchWaitsMs: []int64{},
		ChallengesPerMinute: challengesOf([3]int{n.outcomes[0].total(now), n.outcomes[1].total(now), n.outcomes[2].total(now)}),
	}
	for _, s := range n.waits {
		if now.Sub(s.at) < waitsAge {
			st.MatchWaitsMs = append(st.MatchWaitsMs, s.wait.Milliseconds())
		}
	}
	return st
}

// Percentile returns the p-th percentile (0 < p ≤ 100) of samples by the nearest-rank method,
// or 0 without samples. It sorts samples.
func Percentile(samples []int64, p float64) int64 {
	if len(samples) == 0 {
		return 0
	}
	slices.Sort(samples)
	rank := int(float64(len(samples))*p/100+0.999999) - 1
	return samples[min(max(rank, 0), len(samples)-1)]
}

// window counts events per second over the last minute.
type window struct {
	counts [60]int
	secs   [60]int64 // the Unix second each count belongs to
}

func (w *window) add(now time.Time) {
	sec := now.Unix()
	i := sec % 60
	if w.secs[i] != sec {
		w.secs[i], w.counts[i] = sec, 0
	}
	w.counts[i]++
}

func (w *window) total(now time.Time) int {
	sec, sum := now.Unix(), 0
	for i, s := range w.secs {
		if sec-s < 60 {
			sum += w.counts[i]
		}
	}
	return sum
}
