package e2e

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill a server if the test process dies without cleaning up.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
