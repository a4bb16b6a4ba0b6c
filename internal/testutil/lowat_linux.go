package testutil

import (
	"net"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// NotSentLowat returns TCP_NOTSENT_LOWAT of c's socket.
func NotSentLowat(t testing.TB, c net.Conn) int {
	t.Helper()
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		v, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT)
	}); err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	return v
}

// AcceptedNotSentLowat returns TCP_NOTSENT_LOWAT of the connection ln
// accepts from a fresh dial. (A dialled socket reads 0, an accepted one
// the listener's setting: on a plain net.Listen listener, the sysctl's
// value.)
func AcceptedNotSentLowat(t testing.TB, ln net.Listener) int {
	t.Helper()
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
	return NotSentLowat(t, ac)
}
