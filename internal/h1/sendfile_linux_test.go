package h1

import (
	"io"
	"net"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestFileLowat: the first body a connection sends by sendfile(2) gives
// its socket Config.FileLowat as TCP_NOTSENT_LOWAT (0: left as it was;
// negative: 0, which the kernel reads as its sysctl's value), and later
// ones leave the socket alone.
func TestFileLowat(t *testing.T) {
	f := openBody(t, []byte("0123456789"))
	const before = 64 << 10
	tests := []struct {
		name      string
		fileLowat int
		want      int
	}{
		{"unset", 0, before},
		{"a size", 256 << 10, 256 << 10},
		{"the kernel's", -1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := tcpPair(t)
			setLowat(t, server, before)
			srv := New(Config{FileLowat: tt.fileLowat})
			srv.open.Store(1000)
			c := &conn{srv: srv, rwc: server}
			c.useSocket()
			for i := range 2 {
				if n, ok := c.sendFile(f, 0, 10); !ok || n != 10 || c.werr != nil {
					t.Fatalf("sendFile %d = %d, %v (err %v), want 10, true", i, n, ok, c.werr)
				}
				if _, err := io.ReadFull(client, make([]byte, 10)); err != nil {
					t.Fatal(err)
				}
				if got := lowat(t, server); got != tt.want {
					t.Fatalf("after sendFile %d: TCP_NOTSENT_LOWAT %d, want %d", i, got, tt.want)
				}
				// Once given, the value is not given again.
				setLowat(t, server, before)
				tt.want = before
			}
		})
	}
}

func setLowat(t *testing.T, c net.Conn, n int) {
	t.Helper()
	control(t, c, func(fd uintptr) error {
		return unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, n)
	})
}

func lowat(t *testing.T, c net.Conn) (n int) {
	t.Helper()
	control(t, c, func(fd uintptr) (err error) {
		n, err = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT)
		return err
	})
	return n
}

func control(t *testing.T, c net.Conn, f func(fd uintptr) error) {
	t.Helper()
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = f(fd) }); err != nil || ferr != nil {
		t.Fatal(err, ferr)
	}
}
