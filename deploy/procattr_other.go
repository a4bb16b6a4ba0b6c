//go:build !linux

package deploy

import (
	"os/exec"
	"syscall"
)

// sysProcAttr puts a component in its own process group. Without Linux's
// parent-death signal, Down cleans up after a crashed controller.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func startLocked(cmd *exec.Cmd) error { return cmd.Start() }
