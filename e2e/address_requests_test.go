package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/duetchat/duet/redisengine/redistest"
)

// Limits of these tests: messages of 1,000 characters, and an address's content bucket of one
// such message, refilled at a message a second. The per-account buckets stay at their
// defaults, 6,000 characters each.
var addressContentFlags = []string{
	"--max-content", "1000", "--address-content-burst", "1000", "--address-content-rate", "1000", "--bad-frame-limit", "1000",
}

// TestAddressRequestLimits: accounts cost nothing to make, so an abuser makes five on one
// address and floods from all of them at once. Together they get no more through than the
// address's content bucket (the accounts' own buckets would let 30,000 characters through at
// once); the refusal says the network is over its limit, and someone chatting from another
// address is not touched.
func TestAddressRequestLimits(t *testing.T) {
	t.Parallel()
	s := startServerRaw(t, append(behindProxy, addressContentFlags...)...)
	var bots []*client
	var sessions []int64
	for i := range 5 {
		bot := userFrom(t, s, seedDialect, fmt.Sprint("bot", i), "203.0.113.7")
		victim := userFrom(t, s, seedDialect, fmt.Sprint("victim", i), fmt.Sprint("198.51.100.", i+1))
		sessions = append(sessions, pair(t, bot, victim))
		bots = append(bots, bot)
	}
	accepted, refusal := floodFrom(t, bots, sessions, 3*time.Second)
	if !strings.Contains(refusal.str("msg"), "network") {
		t.Errorf("refused DIALOGUE: %s, want a refusal that names the network", refusal)
	}
	within(t, accepted, 1000+1000*3.0, "five accounts of one address")

	a, b := userFrom(t, s, seedDialect, "Ann", "198.51.100.50"), userFrom(t, s, seedDialect, "Bob", "198.51.100.51")
	sid := pair(t, a, b)
	a.say(sid, strings.Repeat("y", 1000))
}

// TestAddressRequestLimitsAcrossNodes: the same abuser with accounts on two nodes gets no more
// than the address's burst on each node, then its rate over both: the nodes share what the
// address spent every address_share. Without sharing, each node would let its own rate through.
func TestAddressRequestLimitsAcrossNodes(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	nodes := startNodes(t, 2, r.URL(), append(append(behindProxy, addressContentFlags...), "--address-share", "200ms")...)
	var bots []*client
	var sessions []int64
	for i := range 4 {
		node := nodes[i%2]
		bot := userFrom(t, node, seedDialect, fmt.Sprint("bot", i), "203.0.113.7")
		victim := userFrom(t, node, seedDialect, fmt.Sprint("victim", i), fmt.Sprint("198.51.100.", i+1))
		sessions = append(sessions, pair(t, bot, victim))
		bots = append(bots, bot)
	}
	const seconds = 6
	accepted, _ := floodFrom(t, bots, sessions, seconds*time.Second)
	// Each node's own rate would give 2 × (1,000 + 1,000 × 6) = 14,000.
	within(t, accepted, 2*1000+1000*seconds, "four accounts of one address on two nodes")
}

// floodFrom has each of bots send 1,000-character DIALOGUEs in its session, in turn, for d,
// skipping a bot while it is refused. It returns the characters accepted and the last refusal.
func floodFrom(t *testing.T, bots []*client, sessions []int64, d time.Duration) (int, frame) {
	t.Helper()
	long := strings.Repeat("x", 1000)
	accepted, sent := 0, 0
	var refusal frame
	for deadline := time.Now().Add(d); time.Now().Before(deadline); {
		for i, bot := range bots {
			sent++
			r := bot.request("DIALOGUE", map[string]any{
				"requestId": fmt.Sprint("flood ", sent), "senderId": bot.id, "sessionId": sessions[i], "content": long,
			})
			switch r.code() {
			case 0:
				accepted += len(long)
			case 6:
				refusal = r
			default:
				t.Fatalf("DIALOGUE: %s, want code 0 or 6", r)
			}
		}
		// Slow enough that no bot reaches bad_frame_limit refusals in bad_frame_window.
		time.Sleep(300 * time.Millisecond)
	}
	if refusal.raw == "" {
		t.Fatalf("%d characters accepted in %v and nothing refused", accepted, d)
	}
	return accepted, refusal
}

// within fails the test when more characters than allowed were accepted.
func within(t *testing.T, accepted int, allowed float64, who string) {
	t.Helper()
	t.Logf("%s: %d characters accepted, at most %.0f allowed", who, accepted, allowed)
	if float64(accepted) > allowed {
		t.Errorf("%s: %d characters accepted, want at most %.0f (the address's burst, then its rate)", who, accepted, allowed)
	}
}
