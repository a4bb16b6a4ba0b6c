package main

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestAccessLogHangup: "origin --access-log FILE" writes a line per
// request, and after logrotate's rename a SIGHUP makes it write to a new
// FILE.
func TestAccessLogHangup(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	waitLog := runLogged(t, "origin", "--dir", dir, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--access-log", path, "--log-level", "info")
	addr := regexp.MustCompile(`listen=(\S+)`).FindStringSubmatch(waitLog("origin serving"))[1]
	get := func(p string) {
		res, err := http.Get("http://" + addr + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	// lines waits (bounded) for file to hold n lines; the log is flushed
	// every second.
	lines := func(file string, n int) string {
		var b []byte
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if b, _ = os.ReadFile(file); strings.Count(string(b), "\n") == n {
				break
			}
		}
		if strings.Count(string(b), "\n") != n {
			t.Fatalf("%s: %q, want %d lines", file, b, n)
		}
		return string(b)
	}
	get("/before")
	lines(path, 1)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			break
		}
	}
	get("/after")
	if got := lines(path, 1); !strings.Contains(got, `"GET /after HTTP/1.1" 404`) {
		t.Errorf("new file after SIGHUP: %q", got)
	}
	if got := lines(path+".1", 1); !strings.Contains(got, `"GET /before HTTP/1.1" 404`) {
		t.Errorf("rotated file: %q", got)
	}
}
