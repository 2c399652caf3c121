//go:build !linux

package redistest

import "os/exec"

// dieWithParent is a no-op where the kernel cannot kill a child with its parent; there a test
// process that dies without cleaning up may leave its servers running.
func dieWithParent(*exec.Cmd) {}
