package serve

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streamcdn/streamcdn/internal/testutil"
)

// TestServeAllShutdown: a client that holds a connection open without
// ever sending a request (a dial a transport raced and did not use) does
// not make a graceful shutdown fail; it is closed after the grace period.
func TestServeAllShutdown(t *testing.T) {
	t.Parallel()
	l, err := Listen("test", "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- All(ctx, slog.New(slog.DiscardHandler), l) }()
	idle, err := net.Dial("tcp", l.Ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	res, err := http.Get("http://" + l.Ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve.All after cancel: %v", err)
		}
	case <-time.After(2 * ShutdownGrace):
		t.Fatal("serve.All did not return")
	}
	// The held connection was closed by the server.
	idle.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := idle.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("held connection: read %v, want EOF", err)
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
	l, err := Listen("edge", "127.0.0.1:0", http.NotFoundHandler())
	if err != nil {
		t.Fatal(err)
	}
	l.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	var logs testutil.SyncBuffer
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- All(ctx, slog.New(slog.NewTextHandler(&logs, nil)), l) }()
	c, err := net.Dial("tcp", l.Ln.Addr().String())
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

func TestAdminToken(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	os.WriteFile(file, []byte("  s3cret\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	t.Setenv("STREAMCDN_ADMIN_TOKEN", "from-env")
	if got, err := AdminToken(file); err != nil || got != "s3cret" {
		t.Errorf("AdminToken(file) = %q, %v", got, err)
	}
	if got, err := AdminToken(""); err != nil || got != "from-env" {
		t.Errorf("AdminToken(\"\") = %q, %v, want the environment's", got, err)
	}
	for _, bad := range []string{empty, filepath.Join(dir, "missing")} {
		if _, err := AdminToken(bad); err == nil {
			t.Errorf("AdminToken(%s): no error", bad)
		}
	}
}
