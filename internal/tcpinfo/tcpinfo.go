// Package tcpinfo reads the kernel's smoothed round-trip time of a TCP
// connection (TCP_INFO on Linux): a passive RTT measurement of a client
// that costs one system call and no packets.
package tcpinfo

import (
	"errors"
	"net"
	"syscall"
	"time"
)

// ErrUnsupported is returned where the platform has no TCP_INFO.
var ErrUnsupported = errors.New("tcpinfo: not supported on this platform")

// RTT returns the smoothed RTT of c, which must be a TCP connection (or
// wrap one and expose SyscallConn).
func RTT(c net.Conn) (time.Duration, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, errors.New("tcpinfo: not a TCP connection")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var rtt time.Duration
	var serr error
	if err := raw.Control(func(fd uintptr) { rtt, serr = rttOf(fd) }); err != nil {
		return 0, err
	}
	return rtt, serr
}
