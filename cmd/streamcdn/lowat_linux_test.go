//go:build linux

package main

import (
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

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
			return sockLowat(t, uintptr(fd))
		}
	}
	t.Fatalf("no socket in this process has peer %v", want)
	return 0
}

// ownLowat returns TCP_NOTSENT_LOWAT of c's socket.
func ownLowat(t *testing.T, c net.Conn) int {
	t.Helper()
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	if err := rc.Control(func(fd uintptr) { v = sockLowat(t, fd) }); err != nil {
		t.Fatal(err)
	}
	return v
}

// kernelLowat returns TCP_NOTSENT_LOWAT of a socket accepted on a plain
// net.Listen listener: the kernel's. (A dialled socket reads 0, an
// accepted one the sysctl's value.)
func kernelLowat(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ac, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	return ownLowat(t, ac)
}

func sockLowat(t *testing.T, fd uintptr) int {
	t.Helper()
	v, err := unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT)
	if err != nil {
		t.Fatal(err)
	}
	return v
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
