//go:build !race

package h1

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// readFD is read(2) of fd into p (not empty), as a raw system call (see
// sockReader).
func readFD(fd uintptr, p []byte) (int, syscall.Errno) {
	n, _, errno := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(n), errno
}
