package redistest

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill a server if the test process dies without cleaning up
// (a timeout panic, a kill), so no redis-server outlives the test that started it.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
