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
type batchConn struct {
	rc        syscall.RawConn
	rh, wh    []mmsghdr
	riov, wio []unix.Iovec
	rname     []unix.RawSockaddrInet6
	wname     []unix.RawSockaddrInet6
}

// mmsghdr is struct mmsghdr; Go pads it to Msghdr's alignment as C does.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

func newBatchConn(conn *net.UDPConn, n int) (*batchConn, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("dns udp: %w", err)
	}
	return &batchConn{
		rc: rc,
		rh: make([]mmsghdr, n), wh: make([]mmsghdr, n),
		riov: make([]unix.Iovec, n), wio: make([]unix.Iovec, n),
		rname: make([]unix.RawSockaddrInet6, n), wname: make([]unix.RawSockaddrInet6, n),
	}, nil
}

// read fills ps with the datagrams waiting, at least one, and returns
// how many. A packet's n is its length; trunc marks one longer than its
// buffer.
func (c *batchConn) read(ps []packet) (int, error) {
	for i := range ps {
		c.riov[i].Base = &ps[i].buf[0]
		c.riov[i].SetLen(len(ps[i].buf))
		h := &c.rh[i].hdr
		*h = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&c.rname[i])), Namelen: unix.SizeofSockaddrInet6, Iov: &c.riov[i]}
		h.SetIovlen(1)
	}
	var n int
	var errno syscall.Errno
	err := c.rc.Read(func(fd uintptr) bool {
		r, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&c.rh[0])), uintptr(len(ps)), unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EAGAIN {
			return false // wait in the poller
		}
		n, errno = int(r), e
		return true
	})
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, errno
	}
	for i := range ps[:n] {
		h := &c.rh[i]
		ps[i].n = int(h.n)
		ps[i].trunc = h.hdr.Flags&unix.MSG_TRUNC != 0
		ps[i].peer, ps[i].scope = sockaddrPort(&c.rname[i], h.hdr.Namelen)
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
		h := &c.wh[i].hdr
		*h = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&c.wname[i])), Namelen: putSockaddr(&c.wname[i], ps[i].peer, ps[i].scope), Iov: &c.wio[i]}
		h.SetIovlen(1)
	}
	for sent := 0; sent < len(ps); {
		var n int
		var errno syscall.Errno
		werr := c.rc.Write(func(fd uintptr) bool {
			r, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&c.wh[sent])), uintptr(len(ps)-sent), unix.MSG_DONTWAIT, 0, 0)
			if e == unix.EAGAIN {
				return false // the send buffer is full: wait
			}
			n, errno = int(r), e
			return true
		})
		switch {
		case werr != nil:
			return failed + len(ps) - sent, werr
		case errno == unix.EINTR:
		case errno != 0:
			// The first datagram failed: skip it, send the rest.
			failed, err = failed+1, errno
			sent++
		default:
			sent += n
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
