//go:build linux

package serve

import (
	"net"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestNotSentLowat: a connection accepted on a Listen listener has
// TCP_NOTSENT_LOWAT set to NotSentLowat (the kernel's default is no
// limit).
func TestNotSentLowat(t *testing.T) {
	l, err := Listen("test", "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Ln.Close()
	c, err := net.Dial("tcp", l.Ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ac, err := l.Ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	rc, err := ac.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var got int
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		got, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT)
	}); err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	if got != NotSentLowat {
		t.Errorf("accepted connection: TCP_NOTSENT_LOWAT %d, want %d", got, NotSentLowat)
	}
}
