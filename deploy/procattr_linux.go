package deploy

import (
	"os/exec"
	"runtime"
	"sync"
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
// so every child is forked from this thread, which never exits. It is
// started by the first child, so that only a controller has it, not
// every process that links this package.
var spawner struct {
	once sync.Once
	jobs chan func()
}

// startLocked starts cmd from the spawner thread.
func startLocked(cmd *exec.Cmd) error {
	spawner.once.Do(func() {
		spawner.jobs = make(chan func())
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for f := range spawner.jobs {
				f()
			}
		}()
	})
	errc := make(chan error, 1)
	spawner.jobs <- func() { errc <- cmd.Start() }
	return <-errc
}
