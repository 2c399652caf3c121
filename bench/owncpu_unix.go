//go:build unix

package bench

import (
	"context"
	"fmt"
	"syscall"
	"time"
)

// ownCPU reads the processor time of this process, the load generator, so that a run states
// what making the load cost the machine next to what serving it did.
var ownCPU CPUMeter = rusageSelf{}

type rusageSelf struct{}

// CPUTime implements CPUMeter with getrusage(2).
func (rusageSelf) CPUTime(context.Context) (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("reading the load generator's processor time: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
