//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/streamcdn/streamcdn/internal/testutil"
	"golang.org/x/sys/unix"
)

// acceptedLowat returns TCP_NOTSENT_LOWAT of this process's socket
// whose peer is client's local address: the connection the edge,
// running in this process, accepted from client.
func acceptedLowat(t *testing.T, client net.Conn) int {
	t.Helper()
	want := client.LocalAddr().(*net.TCPAddr)
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range fds {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		peer, err := unix.Getpeername(fd)
		if err != nil {
			continue
		}
		if p, ok := peer.(*unix.SockaddrInet4); ok && p.Port == want.Port && net.IP(p.Addr[:]).Equal(want.IP) {
			v, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatalf("no socket in this process has peer %v", want)
	return 0
}

// kernelLowat returns TCP_NOTSENT_LOWAT of a socket accepted on a plain
// net.Listen listener: the kernel's.
func kernelLowat(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return testutil.AcceptedNotSentLowat(t, ln)
}

// TestEdgeNotSentLowat: "streamcdn edge --notsent-lowat" sets each
// client connection's TCP_NOTSENT_LOWAT (default serve.NotSentLowat,
// 64 KiB; off leaves the kernel's), and refuses a value a socket option
// cannot hold.
func TestEdgeNotSentLowat(t *testing.T) {
	kernel := kernelLowat(t)
	if kernel == 64<<10 {
		t.Skip("the kernel's TCP_NOTSENT_LOWAT is the default's: off cannot be told apart")
	}
	for _, tc := range []struct {
		args []string
		want int
	}{
		{nil, 64 << 10},
		{[]string{"--notsent-lowat", "256KiB"}, 256 << 10},
		{[]string{"--notsent-lowat", "off"}, kernel},
	} {
		t.Run(strings.Join(append([]string{"flags"}, tc.args...), " "), func(t *testing.T) {
			args := append([]string{"edge", "--upstream", "http://127.0.0.1:1", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--log-level", "info"}, tc.args...)
			waitLog := runLogged(t, args...)
			addr := regexp.MustCompile(`listen=(\S+)`).FindStringSubmatch(waitLog("edge serving"))[1]
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// The edge has accepted the connection once it answers on it.
			if _, err := io.WriteString(c, "GET /healthz-not-here HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Read(make([]byte, 1)); err != nil {
				t.Fatal(err)
			}
			if got := acceptedLowat(t, c); got != tc.want {
				t.Errorf("TCP_NOTSENT_LOWAT %d, want %d", got, tc.want)
			}
		})
	}
	for _, bad := range []string{"3GiB", "-1", "lots"} {
		if err := run(t.Context(), []string{"edge", "--upstream", "http://127.0.0.1:1", "--notsent-lowat", bad}, io.Discard, io.Discard); err == nil {
			t.Errorf("--notsent-lowat %s: no error", bad)
		}
	}
}

// TestEdgeFileNotSentLowat: "streamcdn edge --file-notsent-lowat" gives
// a client connection its TCP_NOTSENT_LOWAT once a hit goes to it by
// sendfile (a body in a memfd, more than 128 clients connected): the
// size given, 0 (the kernel's) for off, and --notsent-lowat's when it
// is not given. A value a socket option cannot hold is refused.
func TestEdgeFileNotSentLowat(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Content-Type", "video/mp4")
		w.Write(body)
	}))
	defer up.Close()
	for _, tc := range []struct {
		args []string
		want int
	}{
		{nil, 64 << 10},
		{[]string{"--notsent-lowat", "128KiB"}, 128 << 10},
		{[]string{"--file-notsent-lowat", "256KiB"}, 256 << 10},
		{[]string{"--file-notsent-lowat", "off"}, 0},
	} {
		t.Run(strings.Join(append([]string{"flags"}, tc.args...), " "), func(t *testing.T) {
			args := append([]string{"edge", "--upstream", up.URL, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--log-level", "info"}, tc.args...)
			waitLog := runLogged(t, args...)
			addr := regexp.MustCompile(`listen=(\S+)`).FindStringSubmatch(waitLog("edge serving"))[1]
			for range 130 { // crowded: bodies of 64 KiB and more go by sendfile
				idle, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer idle.Close()
			}
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			br := bufio.NewReader(c)
			for _, want := range []string{"miss", "hit"} {
				if _, err := io.WriteString(c, "GET /v/seg.m4s HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
					t.Fatal(err)
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || n != int64(len(body)) || resp.StatusCode != http.StatusOK {
					t.Fatalf("%s: %s, %d bytes, %v", want, resp.Status, n, err)
				}
				if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, want) {
					t.Fatalf("Cache-Status %q, want a %s", cs, want)
				}
			}
			if got := acceptedLowat(t, c); got != tc.want {
				t.Errorf("after a hit: TCP_NOTSENT_LOWAT %d, want %d", got, tc.want)
			}
		})
	}
	for _, bad := range [][]string{
		{"--file-notsent-lowat", "3GiB"},
		{"--file-notsent-lowat", "-1"},
		{"--file-notsent-lowat", "lots"},
		{"--file-notsent-lowat", "off", "--http-server", "net"},
		{"--file-notsent-lowat", "256KiB", "--tls-cert", "c.pem", "--tls-key", "k.pem"},
	} {
		args := append([]string{"edge", "--upstream", "http://127.0.0.1:1", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"}, bad...)
		// Ended already: an edge that took the flags returns at once.
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := run(ctx, args, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "file-notsent-lowat") {
			t.Errorf("%s: error %v, want one naming file-notsent-lowat", strings.Join(bad, " "), err)
		}
	}
}
