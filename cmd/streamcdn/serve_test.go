package main

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamcdn/streamcdn/internal/testutil"
)

// TestServeAllShutdown: a client that holds a connection open without
// ever sending a request (a dial a transport raced and did not use) does
// not make a graceful shutdown fail; it is closed after the grace period.
func TestServeAllShutdown(t *testing.T) {
	t.Parallel()
	l, err := listen("test", "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- serveAll(ctx, slog.New(slog.DiscardHandler), l) }()
	idle, err := net.Dial("tcp", l.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	res, err := http.Get("http://" + l.ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serveAll after cancel: %v", err)
		}
	case <-time.After(2 * shutdownGrace):
		t.Fatal("serveAll did not return")
	}
	// The held connection was closed by the server.
	idle.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := idle.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("held connection: read %v, want EOF", err)
	}
}

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

// TestServerErrorsLogged: net/http's own messages (here a client that
// leaves mid-handshake) go through the component's logger, with the
// listener's name, not to the process's standard error unformatted.
func TestServerErrorsLogged(t *testing.T) {
	ca := testutil.NewCA(t)
	cert, key := ca.Issue(t, t.TempDir(), "edge", 2, "127.0.0.1")
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	l, err := listen("edge", "127.0.0.1:0", http.NotFoundHandler())
	if err != nil {
		t.Fatal(err)
	}
	l.tls = &tls.Config{Certificates: []tls.Certificate{pair}}
	var logs testutil.SyncBuffer
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- serveAll(ctx, slog.New(slog.NewTextHandler(&logs, nil)), l) }()
	c, err := net.Dial("tcp", l.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("\x16\x03\x01\x00")) // the start of a ClientHello, then gone
	c.Close()
	for i := 0; i < 200 && !strings.Contains(logs.String(), "TLS handshake error"); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if out := logs.String(); !strings.Contains(out, "level=INFO") || !strings.Contains(out, "listener=edge") ||
		!strings.Contains(out, "TLS handshake error") {
		t.Errorf("log: %q, want net/http's handshake error at info with the listener", out)
	}
}
