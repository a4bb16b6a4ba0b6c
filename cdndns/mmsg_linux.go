//go:build linux

package cdndns

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batchConn reads and writes datagrams a batch per system call
// (recvmmsg, sendmmsg) on a socket taken out of Go's network poller.
//
// A server thread that waits in recvmmsg itself, as C name servers do,
// costs less than the poller: waiting there, a goroutine is woken by an
// epoll event, and the scheduler runs and polls twice before it reads
// again, a few per cent more CPU per query at 150k queries/s. So the socket
// is a blocking one of our own, its reads ordinary system calls (the
// runtime lends the goroutine's P to others while one waits); writes,
// which rarely wait, are raw non-blocking calls first.
//
// It reads into the packets it was made with, whose message headers are
// set up once; a read resets only what the kernel wrote into the headers
// the last read used. The calls' closures are made once too, so a batch
// allocates nothing.
type batchConn struct {
	f        *os.File // the socket, blocking; closing waits for calls under way
	rc       syscall.RawConn
	in       []packet
	rh, wh   []mmsghdr
	riov     []unix.Iovec
	wio      []unix.Iovec
	rname    []unix.RawSockaddrInet6
	wname    []unix.RawSockaddrInet6
	used     int // headers the last read filled
	recv     func(fd uintptr) bool
	send     func(fd uintptr) bool
	from, to int           // the headers a write's call sends
	n        int           // the call's result
	errno    syscall.Errno // the call's error
}

// mmsghdr is struct mmsghdr; Go pads it to Msghdr's alignment as C does.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// newBatchConn takes conn's socket over: it keeps a duplicate of the
// descriptor, in blocking mode, and closes conn, which takes the socket
// out of the network poller.
func newBatchConn(conn *net.UDPConn, in []packet) (*batchConn, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("dns udp: %w", err)
	}
	fd := -1
	if cerr := rc.Control(func(s uintptr) { fd, err = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("dns udp: duplicating the socket: %w", err)
	}
	_ = conn.Close()
	if err := unix.SetNonblock(fd, false); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("dns udp: %w", err)
	}
	f := os.NewFile(uintptr(fd), "udp "+conn.LocalAddr().String())
	if rc, err = f.SyscallConn(); err != nil {
		f.Close()
		return nil, fmt.Errorf("dns udp: %w", err)
	}
	n := len(in)
	c := &batchConn{
		f: f, rc: rc, in: in,
		rh: make([]mmsghdr, n), wh: make([]mmsghdr, n),
		riov: make([]unix.Iovec, n), wio: make([]unix.Iovec, n),
		rname: make([]unix.RawSockaddrInet6, n), wname: make([]unix.RawSockaddrInet6, n),
		used: n,
	}
	for i := range in {
		c.riov[i].Base = &in[i].buf[0]
		c.riov[i].SetLen(len(in[i].buf))
		c.rh[i].hdr.Name = (*byte)(unsafe.Pointer(&c.rname[i]))
		c.rh[i].hdr.Iov = &c.riov[i]
		c.rh[i].hdr.SetIovlen(1)
		c.wh[i].hdr.Name = (*byte)(unsafe.Pointer(&c.wname[i]))
		c.wh[i].hdr.Iov = &c.wio[i]
		c.wh[i].hdr.SetIovlen(1)
	}
	c.recv = c.recvmmsg
	c.send = c.sendmmsg
	return c, nil
}

// recvmmsg is the read's system call, run by the RawConn: it waits for
// the first datagram and takes those behind it that are waiting too.
func (c *batchConn) recvmmsg(fd uintptr) bool {
	r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&c.rh[0])), uintptr(len(c.rh)), unix.MSG_WAITFORONE, 0, 0)
	c.n, c.errno = int(r), e
	return true
}

// sendmmsg is the write's system call, headers c.from to c.to: a raw
// call that does not wait, then, if the send buffer is full, one that
// does.
func (c *batchConn) sendmmsg(fd uintptr) bool {
	h, n := uintptr(unsafe.Pointer(&c.wh[c.from])), uintptr(c.to-c.from)
	r, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, h, n, unix.MSG_DONTWAIT, 0, 0)
	if e == unix.EAGAIN {
		r, _, e = unix.Syscall6(unix.SYS_SENDMMSG, fd, h, n, 0, 0, 0)
	}
	c.n, c.errno = int(r), e
	return true
}

// read fills the conn's packets with the datagrams waiting, waiting for
// one, and returns how many. A packet's n is its length; trunc marks one
// longer than its buffer. It returns 0 and no error when interrupted
// (a signal, or stop).
func (c *batchConn) read() (int, error) {
	for i := range c.used {
		c.rh[i].hdr.Namelen = unix.SizeofSockaddrInet6
		c.rh[i].hdr.Flags = 0
	}
	c.used = len(c.rh)
	if err := c.rc.Read(c.recv); err != nil {
		return 0, err
	}
	switch c.errno {
	case 0:
	case unix.EINTR, unix.EAGAIN:
		return 0, nil
	default:
		return 0, c.errno
	}
	n := c.n
	c.used = n
	for i := range n {
		p, h := &c.in[i], &c.rh[i]
		p.n = int(h.n)
		p.trunc = h.hdr.Flags&unix.MSG_TRUNC != 0
		p.peer, p.scope = sockaddrPort(&c.rname[i], h.hdr.Namelen)
	}
	return n, nil
}

// stop makes a read under way, and every later one, return at once: it
// shuts the socket down for reading. It may run concurrently with read.
func (c *batchConn) stop() {
	_ = c.rc.Control(func(fd uintptr) { _ = unix.Shutdown(int(fd), unix.SHUT_RD) })
}

// close closes the socket once the calls under way return.
func (c *batchConn) close() error { return c.f.Close() }

// write sends ps, each to its peer. A datagram the system refuses (an
// unreachable peer, say) is skipped; the count of those is returned with
// the last such error.
func (c *batchConn) write(ps []packet) (failed int, err error) {
	for i := range ps {
		c.wio[i].Base = unsafe.SliceData(ps[i].buf)
		c.wio[i].SetLen(len(ps[i].buf))
		c.wh[i].hdr.Namelen = putSockaddr(&c.wname[i], ps[i].peer, ps[i].scope)
	}
	for sent := 0; sent < len(ps); {
		c.from, c.to = sent, len(ps)
		if werr := c.rc.Write(c.send); werr != nil {
			return failed + len(ps) - sent, werr
		}
		switch c.errno {
		case unix.EINTR:
		case 0:
			sent += c.n
		default:
			// The first datagram failed: skip it, send the rest.
			failed, err = failed+1, c.errno
			sent++
		}
	}
	return failed, err
}

// sockaddrPort decodes a sockaddr_in or sockaddr_in6: the address and
// port, and an IPv6 address's scope (interface index).
func sockaddrPort(sa *unix.RawSockaddrInet6, n uint32) (netip.AddrPort, uint32) {
	b := unsafe.Slice((*byte)(unsafe.Pointer(sa)), unix.SizeofSockaddrInet6)[:n]
	switch {
	case sa.Family == unix.AF_INET && n >= unix.SizeofSockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), binary.BigEndian.Uint16(b[2:4])), 0
	case sa.Family == unix.AF_INET6 && n >= unix.SizeofSockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), binary.BigEndian.Uint16(b[2:4])), sa.Scope_id
	}
	return netip.AddrPort{}, 0
}

// putSockaddr encodes ap into sa, as sockaddr_in for an IPv4 address and
// sockaddr_in6 otherwise, and returns its length.
func putSockaddr(sa *unix.RawSockaddrInet6, ap netip.AddrPort, scope uint32) uint32 {
	b := unsafe.Slice((*byte)(unsafe.Pointer(sa)), unix.SizeofSockaddrInet6)
	clear(b)
	binary.BigEndian.PutUint16(b[2:4], ap.Port())
	if a := ap.Addr(); a.Is4() {
		sa.Family = unix.AF_INET
		a4 := a.As4()
		copy(b[4:8], a4[:])
		return unix.SizeofSockaddrInet4
	}
	sa.Family = unix.AF_INET6
	sa.Addr, sa.Scope_id = ap.Addr().As16(), scope
	return unix.SizeofSockaddrInet6
}
