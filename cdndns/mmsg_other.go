//go:build !linux

package cdndns

import (
	"errors"
	"net"
	"syscall"
	"time"
)

// batchConn reads and writes one datagram at a time: batching is Linux's
// recvmmsg and sendmmsg.
type batchConn struct {
	conn *net.UDPConn
	in   []packet
}

func newBatchConn(conn *net.UDPConn, in []packet) (*batchConn, error) {
	return &batchConn{conn: conn, in: in}, nil
}

// stop makes a read under way, and every later one, return at once.
func (c *batchConn) stop() { c.conn.SetReadDeadline(time.Now()) }

// close closes the socket.
func (c *batchConn) close() error { return c.conn.Close() }

// read reads one datagram into the conn's first packet (its peer's
// address carries its zone); trunc marks one that filled the buffer,
// which may have been cut.
func (c *batchConn) read() (int, error) {
	p := &c.in[0]
	n, peer, err := c.conn.ReadFromUDPAddrPort(p.buf)
	if errors.Is(err, syscall.EINTR) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	p.n, p.trunc, p.peer = n, n == len(p.buf), peer
	return 1, nil
}

// write sends ps, each to its peer, skipping those the system refuses.
func (c *batchConn) write(ps []packet) (failed int, err error) {
	for _, p := range ps {
		if _, werr := c.conn.WriteToUDPAddrPort(p.buf, p.peer); werr != nil {
			failed, err = failed+1, werr
		}
	}
	return failed, err
}
