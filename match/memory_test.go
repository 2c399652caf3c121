package match_test

import (
	"testing"

	"github.com/duetchat/duet/match"
	"github.com/duetchat/duet/match/matchtest"
)

func TestMemoryQueue(t *testing.T) {
	matchtest.Run(t, func(*testing.T) match.Queue {
		return match.NewMemoryQueue(match.Rule{InterestWait: matchtest.InterestWait})
	})
}
