package h1

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestSockReaderLikeConn: a socket read by raw read(2) calls gives what
// the connection's own Read gives: the bytes, a wait for them, io.EOF,
// the deadline's timeout, the closed connection's error and a reset.
func TestSockReaderLikeConn(t *testing.T) {
	tests := []struct {
		name  string
		buf   int
		setup func(t *testing.T, peer, local net.Conn)
		want  string // the outcome: bytes read, then the error's class
	}{
		{"data", 64, func(t *testing.T, peer, _ net.Conn) { t.Helper(); write(t, peer, "hello") }, "hello"},
		{"less than sent", 4, func(t *testing.T, peer, _ net.Conn) { t.Helper(); write(t, peer, "0123456789") }, "0123"},
		{"empty buffer", 0, func(t *testing.T, peer, _ net.Conn) { t.Helper(); write(t, peer, "hello") }, ""},
		{"waits for data", 64, func(t *testing.T, peer, _ net.Conn) {
			t.Helper()
			done := make(chan struct{})
			t.Cleanup(func() { <-done })
			go func() {
				defer close(done)
				time.Sleep(20 * time.Millisecond)
				_, _ = peer.Write([]byte("late"))
			}()
		}, "late"},
		{"peer closed", 64, func(_ *testing.T, peer, _ net.Conn) { peer.Close() }, " EOF"},
		{"data then peer closed", 64, func(t *testing.T, peer, _ net.Conn) {
			t.Helper()
			write(t, peer, "bye")
			peer.Close()
		}, "bye"},
		{"deadline passed", 64, func(_ *testing.T, _, local net.Conn) {
			_ = local.SetReadDeadline(time.Now().Add(-time.Second))
		}, " timeout"},
		{"deadline while waiting", 64, func(_ *testing.T, _, local net.Conn) {
			_ = local.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		}, " timeout"},
		{"closed here", 64, func(_ *testing.T, _, local net.Conn) { local.Close() }, " closed"},
		{"reset by peer", 64, func(t *testing.T, peer, _ net.Conn) {
			t.Helper()
			if err := peer.(*net.TCPConn).SetLinger(0); err != nil {
				t.Fatal(err)
			}
			peer.Close() // linger 0: a reset
		}, " reset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			read := func(viaRaw bool) string {
				peer, local := tcpPair(t)
				tt.setup(t, peer, local)
				var r io.Reader = local
				if viaRaw {
					raw, err := local.(syscall.Conn).SyscallConn()
					if err != nil {
						t.Fatal(err)
					}
					var sr sockReader
					sr.init(raw)
					r = &sr
				}
				buf := make([]byte, tt.buf)
				n, err := r.Read(buf)
				return string(buf[:n]) + outcome(err)
			}
			if got := read(false); got != tt.want {
				t.Fatalf("the connection's Read: %q, want %q", got, tt.want)
			}
			if got := read(true); got != tt.want {
				t.Errorf("sockReader: %q, want %q (as the connection's Read)", got, tt.want)
			}
		})
	}
}

func write(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if _, err := c.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

// outcome names the class of a read error as the server tells them
// apart (conn.refuse, reqContext.watch): "" for none.
func outcome(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return ""
	case errors.Is(err, io.EOF):
		return " EOF"
	case errors.Is(err, os.ErrDeadlineExceeded) && errors.As(err, &ne) && ne.Timeout():
		return " timeout"
	case errors.Is(err, net.ErrClosed):
		return " closed"
	case errors.Is(err, syscall.ECONNRESET):
		return " reset"
	}
	return " " + err.Error()
}
