package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"
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
