package h1

import (
	"errors"
	"io"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// canSendFile reports whether the connection is a socket sendfile(2)
// can write to.
func (c *conn) canSendFile() bool { return c.raw != nil }

// sendFile sends what is buffered, then n bytes of f from off by
// sendfile(2), which leaves f's own offset alone. The buffered bytes
// (the header) go with MSG_MORE, so that they leave in the body's first
// segment, unless the server is crowded: then they leave alone, as
// nginx sends them (writev, then sendfile). `MODES="writev sendfile
// sendfile-alone" CONNS="1 16 64 256 1000" scripts/bench-gofloor.sh 4 2`
// (2 cores shared with wrk, loopback, 100 KiB bodies), median CPU µs a
// request with MSG_MORE, alone, and nginx's static server: 16.5, 24.8,
// 21.5 at 16 connections; 17.2, 16.3, 21.5 at 64; 24.0, 14.2, 16.7 at
// 256; 35.4, 16.2, 15.1 at 1,000 (0.65 and 0.94× nginx's requests a
// second). In the edge at 1,000 connections (a build with the choice
// fixed either way, not kept): 40.3–42.5 µs with MSG_MORE, 22.5–24.5
// alone. Its system calls are raw (see sockReader). It reports false,
// having sent nothing, when the connection is not a socket; else it
// returns the body bytes sent and sets c.werr on failure (the write
// deadline included).
func (c *conn) sendFile(f *os.File, off, n int64) (int64, bool) {
	rc := c.raw
	if rc == nil {
		return 0, false
	}
	fc, err := f.SyscallConn()
	if err != nil {
		c.werr = err
		return 0, true
	}
	head, sent := c.wbuf, int64(0)
	flags := unix.MSG_MORE | unix.MSG_NOSIGNAL
	if c.srv.crowded() {
		flags = unix.MSG_NOSIGNAL
	}
	if lw := c.srv.cfg.FileLowat; lw != 0 && !c.fileLowat {
		c.fileLowat = true
		// 0 is the kernel's value to the socket option.
		_ = rc.Control(func(fd uintptr) {
			_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, max(lw, 0))
		})
	}
	var serr error
	err = rc.Write(func(sfd uintptr) bool {
		for len(head) > 0 {
			m, err := rawSend(sfd, head, flags)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if errors.Is(err, unix.EAGAIN) {
				return false
			}
			if err != nil {
				serr = err
				return true
			}
			head = head[m:]
		}
		for sent < n {
			var m int
			var err error
			if cerr := fc.Control(func(ffd uintptr) {
				o := off + sent
				m, err = rawSendfile(sfd, ffd, &o, min(n-sent, 1<<30))
			}); cerr != nil {
				serr = cerr
				return true
			}
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if errors.Is(err, unix.EAGAIN) {
				return false
			}
			if err != nil {
				serr = err
				return true
			}
			if m == 0 { // the file is shorter than it was said to be
				serr = io.ErrUnexpectedEOF
				return true
			}
			sent += int64(m)
		}
		return true
	})
	c.wbuf = c.wbuf[:0]
	switch {
	case err != nil: // the deadline, or the connection closed
		c.werr = err
	case serr != nil:
		c.werr = &os.SyscallError{Syscall: "sendfile", Err: serr}
	}
	return sent, true
}

// rawSend is send(2) of b with flags, and rawSendfile sendfile(2) of n
// bytes of file descriptor in from *off to out, as raw system calls
// (see sockReader).
func rawSend(fd uintptr, b []byte, flags int) (int, error) {
	n, _, errno := unix.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(flags), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

func rawSendfile(out, in uintptr, off *int64, n int64) (int, error) {
	m, _, errno := unix.RawSyscall6(unix.SYS_SENDFILE, out, in, uintptr(unsafe.Pointer(off)), uintptr(n), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(m), nil
}
