package match_test

import (
	"testing"

	"github.com/duetchat/duet/match"
	"github.com/duetchat/duet/match/matchtest"
)

func TestMemoryQueue(t *testing.T) {
	matchtest.Run(t, func(_ *testing.T, rule match.Rule) match.Queue { return match.NewMemoryQueue(rule) })
}
