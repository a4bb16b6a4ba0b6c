package testutil

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestDieWithTest re-runs this test binary as a parent that starts a
// long sleep with DieWithTest, prints its PID and exits without any
// cleanup: the sleep must be gone soon after.
func TestDieWithTest(t *testing.T) {
	if os.Getenv("DIE_WITH_TEST_PARENT") == "1" {
		cmd := exec.Command("sleep", "60")
		DieWithTest(cmd)
		if err := cmd.Start(); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(cmd.Process.Pid)
		os.Exit(0) // no cleanup, as a test binary killed on its timeout
	}
	parent := exec.Command(os.Args[0], "-test.run", "^TestDieWithTest$")
	parent.Env = append(os.Environ(), "DIE_WITH_TEST_PARENT=1")
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	parent.Wait()
	pid, err := strconv.Atoi(line[:max(len(line)-1, 0)])
	if err != nil {
		t.Fatalf("the parent printed %q", line)
	}
	for range 200 { // 2 s
		if !alive(pid) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	t.Fatalf("sleep %d outlived its parent by 2 s", pid)
}

// alive reports whether process pid runs: it exists and is not a zombie
// waiting for whoever adopted it to reap it.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command's closing parenthesis.
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] != 'Z'
}
