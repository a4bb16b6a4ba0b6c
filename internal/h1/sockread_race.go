//go:build race

package h1

import (
	"errors"
	"syscall"
)

// readFD is read(2) of fd into p (not empty). Built with the race
// detector it is syscall.Read, an ordinary system call, because
// syscall.Read and syscall.Write tell the detector that what a goroutine
// did before writing to a descriptor happened before what another does
// after reading it. A raw read would lose that: a test whose client sets
// a variable, then sends a request whose handler reads the variable,
// would be reported as a race. scripts/test.sh runs this package's tests
// without the detector too, so that the raw read is tested.
func readFD(fd uintptr, p []byte) (int, syscall.Errno) {
	n, err := syscall.Read(int(fd), p)
	if err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			return 0, errno
		}
		return 0, syscall.EIO
	}
	return n, 0
}
