// Package slowclient is the clients that tests of send timeouts need: one
// with a small receive window, and one that reads a response slowly but
// steadily.
package slowclient

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// Dial connects to addr (host:port) with a receive buffer of rcvbuf
// bytes (0: the system's default): a slow reader's window. The caller
// closes the connection.
func Dial(t testing.TB, addr string, rcvbuf int) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		if rcvbuf == 0 {
			return nil
		}
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf) })
	}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// ReadResponse reads one response from conn within the time given,
// its body chunk bytes at a time with a pause of gap after each, and
// returns how many body bytes it read.
func ReadResponse(conn net.Conn, chunk int, gap, within time.Duration) (int64, error) {
	if err := conn.SetReadDeadline(time.Now().Add(within)); err != nil {
		return 0, err
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	var got int64
	buf := make([]byte, chunk)
	for {
		n, err := io.ReadFull(res.Body, buf)
		got += int64(n)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return got, nil
		}
		if err != nil {
			return got, fmt.Errorf("after %d bytes: %w", got, err)
		}
		time.Sleep(gap)
	}
}
