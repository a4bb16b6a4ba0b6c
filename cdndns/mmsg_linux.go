//go:build linux

package cdndns

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batchConn reads and writes datagrams a batch per system call
// (recvmmsg, sendmmsg). The socket is non-blocking, so the calls never
// wait: they are made as raw system calls, which spares the scheduler the
// hand-off it does around a call that may block, and when there is
// nothing to read the goroutine waits in the network poller.
//
// It reads into the packets it was made with, whose message headers are
// set up once; a read resets only what the kernel wrote into the headers
// the last read used. The calls' closures are made once too, so a batch
// allocates nothing.
type batchConn struct {
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

func newBatchConn(conn *net.UDPConn, in []packet) (*batchConn, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("dns udp: %w", err)
	}
	n := len(in)
	c := &batchConn{
		rc: rc, in: in,
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

// recvmmsg is the read's system call, run by the RawConn: false (wait in
// the poller) when nothing is waiting.
func (c *batchConn) recvmmsg(fd uintptr) bool {
	r, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&c.rh[0])), uintptr(len(c.rh)), unix.MSG_DONTWAIT, 0, 0)
	if e == unix.EAGAIN {
		return false
	}
	c.n, c.errno = int(r), e
	return true
}

// sendmmsg is the write's system call, headers c.from to c.to: false (wait
// in the poller) when the send buffer is full.
func (c *batchConn) sendmmsg(fd uintptr) bool {
	r, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&c.wh[c.from])), uintptr(c.to-c.from), unix.MSG_DONTWAIT, 0, 0)
	if e == unix.EAGAIN {
		return false
	}
	c.n, c.errno = int(r), e
	return true
}

// read fills the conn's packets with the datagrams waiting, at least one,
// and returns how many. A packet's n is its length; trunc marks one
// longer than its buffer.
func (c *batchConn) read() (int, error) {
	for i := range c.used {
		c.rh[i].hdr.Namelen = unix.SizeofSockaddrInet6
		c.rh[i].hdr.Flags = 0
	}
	c.used = len(c.rh)
	if err := c.rc.Read(c.recv); err != nil {
		return 0, err
	}
	if c.errno != 0 {
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
