package session

import (
	"fmt"
	"strings"
	"testing"
)

// TestEvidenceBound: a report keeps the newest messages within both limits, and always the last.
func TestEvidenceBound(t *testing.T) {
	history := make([]Message, 10)
	for i := range history {
		history[i] = Message{ID: int64(i + 1), Content: strings.Repeat("x", 100)}
	}
	for _, tt := range []struct {
		name   string
		limits EvidenceLimits
		want   string
	}{
		{"by count", EvidenceLimits{Messages: 3, Bytes: 10_000}, "[8 9 10]"},
		{"by bytes", EvidenceLimits{Messages: 100, Bytes: 250}, "[9 10]"},
		{"exactly", EvidenceLimits{Messages: 100, Bytes: 300}, "[8 9 10]"},
		{"the last one, however long", EvidenceLimits{Messages: 100, Bytes: 10}, "[10]"},
		{"all", EvidenceLimits{Messages: 100, Bytes: 10_000}, "[1 2 3 4 5 6 7 8 9 10]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var ids []int64
			for _, m := range tt.limits.bound(history) {
				ids = append(ids, m.ID)
			}
			if got := fmt.Sprint(ids); got != tt.want {
				t.Errorf("bound = %s, want %s", got, tt.want)
			}
		})
	}
	if got := (EvidenceLimits{Messages: 5, Bytes: 5}).bound(nil); len(got) != 0 {
		t.Errorf("bound(nil) = %v, want none", got)
	}
}
