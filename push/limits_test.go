package push

import (
	"testing"
	"time"

	"github.com/duetchat/duet"
)

// TestLimitersTakeInSavedState: limiters that take in what another node saved hold no more
// tokens than it left, refilled since; a save that spent less changes nothing.
func TestLimitersTakeInSavedState(t *testing.T) {
	now := time.Now()
	limits := Limits{Content: duet.Limit{Rate: 200, Burst: 6000}, Dialogue: duet.Limit{Rate: 5, Burst: 20}, Match: duet.Limit{Rate: 1, Burst: 5}}
	l := newLimiters(limits)
	l[dialogueBucket].AllowN(now, 15) // this node spent 15 of 20 messages
	l.spend(map[string]Bucket{
		"content":  {Tokens: 0, At: now.Add(-time.Second)}, // another node spent the burst a second ago
		"dialogue": {Tokens: 18, At: now},                  // and fewer messages than this one
	}, now)
	for name, c := range map[string]struct {
		got, want float64
	}{
		"content":  {l[contentBucket].TokensAt(now), 200},
		"dialogue": {l[dialogueBucket].TokensAt(now), 5},
		"match":    {l[matchBucket].TokensAt(now), float64(limits.Match.Burst)},
	} {
		if c.got > c.want+1 || c.got < c.want-1 {
			t.Errorf("%s: %.1f tokens, want %.0f", name, c.got, c.want)
		}
	}
	saved := l.state(now)
	if _, ok := saved["match"]; ok || saved["content"].Tokens > 201 {
		t.Errorf("state = %v, want content near 200 and no full bucket", saved)
	}
}
