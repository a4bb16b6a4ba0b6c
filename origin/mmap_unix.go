//go:build unix

package origin

import (
	"fmt"
	"os"
	"syscall"
)

// mapFile maps path read-only into memory: encoded renditions are read
// once, sequentially, and their samples are written out without being
// copied onto the heap. The caller calls release when done with the bytes.
func mapFile(path string) (data []byte, release func(), err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if fi.Size() == 0 {
		return nil, func() {}, nil
	}
	data, err = syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("mmap %s: %w", path, err)
	}
	return data, func() { _ = syscall.Munmap(data) }, nil
}
