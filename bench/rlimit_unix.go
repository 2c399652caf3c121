//go:build unix

package bench

import (
	"fmt"
	"syscall"
)

// spareFiles are the files a run needs besides its connections: the binary's own, DNS, logs.
const spareFiles = 64

// checkFileLimit reports clearly, before opening anything, when this process may not open
// connections files. Go has raised the soft limit to the hard one at start, so only the hard
// limit (`ulimit -Hn`, or LimitNOFILE in systemd) can give more.
func checkFileLimit(connections int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("reading the open-file limit: %w", err)
	}
	if need := uint64(connections + spareFiles); lim.Cur < need {
		return fmt.Errorf("%d connections need about %d open files, but this process may open %d; raise the hard limit (ulimit -Hn) and run again",
			connections, need, lim.Cur)
	}
	return nil
}
