package deploy

import (
	"os/exec"
	"runtime"
	"syscall"
)

// sysProcAttr puts a component in its own process group (a terminal's
// Ctrl-C reaches only the controller, which stops the components in
// order) and has the kernel kill it if the controller dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// spawner is one goroutine locked to its OS thread for good: the
// parent-death signal fires when the thread that forked a child exits,
// so every child is forked from this thread, which never exits.
var spawner = make(chan func())

func init() {
	go func() {
		runtime.LockOSThread() // never unlocked: the thread lives as long as the process
		for f := range spawner {
			f()
		}
	}()
}

// startLocked starts cmd from the spawner thread.
func startLocked(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	spawner <- func() { errc <- cmd.Start() }
	return <-errc
}
