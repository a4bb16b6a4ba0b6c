package cdndns

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// TCP limits (RFC 7766 §6.2): one connection answers at most
// tcpMaxQueries queries, then closes cleanly; it is closed when idle for
// Options.TCPIdleTimeout.
const (
	tcpMaxQueries = 65536
	// tcpDrain bounds how long a closing connection waits for the
	// client's queries still in flight, which it reads and drops, so
	// that the close is a FIN after the answers, not a reset that
	// discards them.
	tcpDrain = 2 * time.Second
)

// ServeTCP answers DNS over TCP on ln (RFC 7766) until ctx ends: any
// query, through the path UDP's general queries take (accept rules,
// TSIG with the well-known key, ServeDNS), pipelined queries answered in
// order. It holds at most Options.MaxTCPConns connections: at the cap a
// new one makes room by closing the connection idle longest, so a new
// client is answered promptly however many idle ones are open. Only a
// message counts as activity: empty frames do not keep a connection
// open past Options.TCPIdleTimeout. Accept errors (out of descriptors) close the
// idlest connection and back off. It takes ln over and closes it; it
// returns nil when ctx ended it.
func (s *Server) ServeTCP(ctx context.Context, ln net.Listener) error {
	t := &tcpServer{s: s, conns: map[*tcpConn]struct{}{}}
	stop := context.AfterFunc(ctx, func() { ln.Close(); t.closeAll() })
	defer stop()
	defer t.wg.Wait()
	defer ln.Close()
	backoff := 5 * time.Millisecond
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Out of descriptors (EMFILE, ENFILE) or a transient
			// failure: free a descriptor if there is an idle
			// connection, and back off rather than spin.
			t.closeIdlest()
			s.log.Debug("tcp accept", "err", err)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return nil
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		t.serve(c)
	}
}

type tcpServer struct {
	s     *Server
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[*tcpConn]struct{}
}

type tcpConn struct {
	net.Conn
	active time.Time // the last message read or answer written (tcpServer.mu)
	busy   bool      // a query is being answered (tcpServer.mu)
}

// serve admits c, closing the idlest connection when at the cap.
func (t *tcpServer) serve(c net.Conn) {
	tc := &tcpConn{Conn: c, active: time.Now()}
	t.mu.Lock()
	full := len(t.conns) >= t.s.opts.MaxTCPConns
	t.mu.Unlock()
	if full && !t.closeIdlest() {
		c.Close() // every connection is answering a query: none to give way
		return
	}
	t.mu.Lock()
	t.conns[tc] = struct{}{}
	t.mu.Unlock()
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		t.loop(tc)
		t.mu.Lock()
		delete(t.conns, tc)
		t.mu.Unlock()
		tc.Close()
	}()
}

// closeIdlest closes the connection idle longest that is not answering
// a query, and reports whether there was one.
func (t *tcpServer) closeIdlest() bool {
	t.mu.Lock()
	var idlest *tcpConn
	for c := range t.conns {
		if !c.busy && (idlest == nil || c.active.Before(idlest.active)) {
			idlest = c
		}
	}
	if idlest != nil {
		delete(t.conns, idlest)
	}
	t.mu.Unlock()
	if idlest == nil {
		return false
	}
	idlest.Close() // its loop ends on the read error
	return true
}

func (t *tcpServer) closeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for c := range t.conns {
		c.Close()
	}
}

func (t *tcpServer) mark(c *tcpConn, busy bool) {
	t.mu.Lock()
	c.busy, c.active = busy, time.Now()
	t.mu.Unlock()
}

// loop answers c's queries in order until it is idle for tcpIdle, sends
// something that is not DNS, closes, or reaches tcpMaxQueries.
func (t *tcpServer) loop(c *tcpConn) {
	var lenBuf [2]byte
	buf := make([]byte, 0, 512)
	idle := t.s.opts.TCPIdleTimeout
	deadline := time.Now().Add(idle)
	for n := 0; n < tcpMaxQueries; {
		c.SetReadDeadline(deadline)
		if _, err := io.ReadFull(c, lenBuf[:]); err != nil {
			return
		}
		size := int(binary.BigEndian.Uint16(lenBuf[:]))
		if size == 0 {
			continue // an empty frame: not a query, and not activity
		}
		msg := make([]byte, size)
		if _, err := io.ReadFull(c, msg); err != nil {
			return
		}
		n++
		t.mark(c, true)
		out := t.s.general(msg, false, c.RemoteAddr(), buf[:0])
		if len(out) > 0xFFFF {
			return // no TCP message can carry it
		}
		if len(out) > 0 {
			var frame [2]byte
			binary.BigEndian.PutUint16(frame[:], uint16(len(out)))
			c.SetWriteDeadline(time.Now().Add(idle))
			bufs := net.Buffers{frame[:], out} // one writev
			if _, err := bufs.WriteTo(c.Conn); err != nil {
				return
			}
		}
		t.mark(c, false)
		deadline = time.Now().Add(idle)
	}
	closeCleanly(c.Conn)
}

// closeCleanly ends a connection whose client may still be sending: it
// shuts the write side (a FIN after the answers written), then reads and
// drops what comes for at most tcpDrain, so that the close does not reset
// the connection and discard answers the client has not read yet.
func closeCleanly(c net.Conn) {
	if tc, ok := c.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
	}
	c.SetReadDeadline(time.Now().Add(tcpDrain))
	_, _ = io.Copy(io.Discard, c)
}

// defaultTCPConns is the connection cap when Options.MaxTCPConns is zero:
// three quarters of the descriptors the process may open, less a reserve
// for everything else, and at least 16.
func defaultTCPConns() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<20 {
		return 65536
	}
	return max(16, (int(rl.Cur)-64)*3/4)
}

// accept is miekg/dns's admission rules for both transports, except
// that a message with an unknown opcode goes to ServeDNS, which answers
// NOTIMP with the header alone (miekg/dns's server would copy the query's
// flags).
func accept(h dns.Header) dns.MsgAcceptAction {
	if a := dns.DefaultMsgAcceptFunc(h); a != dns.MsgRejectNotImplemented {
		return a
	}
	return dns.MsgAccept
}
