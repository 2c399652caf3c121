package duet

import (
	"context"
	"time"
)

// Every calls f every interval until ctx ends: the periodic work of a node (sweeps, renewals,
// purges) runs in loops of this one shape.
func Every(ctx context.Context, interval time.Duration, f func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}
