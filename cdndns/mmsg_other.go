//go:build !linux

package cdndns

import "net"

// batchConn reads and writes one datagram at a time: batching is Linux's
// recvmmsg and sendmmsg.
type batchConn struct {
	conn *net.UDPConn
}

func newBatchConn(conn *net.UDPConn, n int) (*batchConn, error) {
	return &batchConn{conn: conn}, nil
}

// read reads one datagram into ps[0] (its peer's address carries its
// zone); trunc marks one that filled the buffer, which may have been cut.
func (c *batchConn) read(ps []packet) (int, error) {
	n, peer, err := c.conn.ReadFromUDPAddrPort(ps[0].buf)
	if err != nil {
		return 0, err
	}
	ps[0].n, ps[0].trunc, ps[0].peer = n, n == len(ps[0].buf), peer
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
