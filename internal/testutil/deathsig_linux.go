package testutil

import (
	"os/exec"
	"syscall"
)

// DieWithTest has the kernel kill cmd, started later, when the test
// binary dies: a test killed on its timeout runs no cleanup, and a
// server it started would outlive it holding its ports. (The signal
// follows the forking thread, which the Go runtime keeps unless a
// goroutine exits locked to it; tests start commands from goroutines
// that do not lock theirs.)
func DieWithTest(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
