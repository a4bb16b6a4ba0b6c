package edge

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// memFile is a stored body kept in a sealed memfd rather than on the Go
// heap, so that a hit to a crowded server goes out by sendfile(2), the
// kernel taking the pages as they are instead of copying the body into
// the socket. The same pages are mapped read-only (data) for a writer
// that would rather write them from memory. It is still memory and
// counts against the memory budget like a heap body.
//
// It is never closed or unmapped explicitly: that happens when the last
// object holding it is collected (a cleanup), so a request that holds an
// evicted object can always finish sending it. data must therefore be
// used only while its memFile is reachable: servePrepared, serveStored
// and serveSliced keep it alive until they return (runtime.KeepAlive).
// Server.fileBytes counts the files alive; when evicted ones add up, the
// server asks for a collection (collectFiles).
type memFile struct {
	f    *os.File
	data []byte // the file's pages, mapped read-only and shared
	size int64
}

// newMemFile copies body into a new sealed memfd: no write, grow or
// shrink is possible after.
func newMemFile(body []byte) (*memFile, error) {
	fd, err := unix.MemfdCreate("streamcdn-body", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "memfd:streamcdn-body")
	for p := body; len(p) > 0; {
		n, err := unix.Write(fd, p)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("write a memfd: %w", err)
		}
		p = p[n:]
	}
	seals := unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE | unix.F_SEAL_SEAL
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, fmt.Errorf("seal a memfd: %w", err)
	}
	data, err := unix.Mmap(fd, 0, len(body), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("map a memfd: %w", err)
	}
	return &memFile{f: f, data: data, size: int64(len(body))}, nil
}

// inFile returns o with its body moved into a memfd when the body is at
// least FileBodyBytes, the memory tier would admit it and fewer than
// MaxFileBodies memfds are alive, as a copy: o itself, which others may
// be reading, is not changed. Anything else, or a memfd that cannot be
// made, returns o.
func (s *Server) inFile(o *object) *object {
	if o.body == nil || s.cfg.FileBodyBytes <= 0 || int64(len(o.body)) < s.cfg.FileBodyBytes || !s.mem.admits(o.key, o.cost()) {
		return o
	}
	if s.fileCount.Load() >= s.cfg.MaxFileBodies {
		return o // evicted ones free their places at a collection
	}
	mf, err := newMemFile(o.body)
	if err != nil {
		// Out of descriptors or mappings (vm.max_map_count), say: said
		// once, as it will be said of every large body after.
		level := slog.LevelDebug
		if !s.fileFailed.Swap(true) {
			level = slog.LevelWarn
		}
		s.log.Log(context.Background(), level, "large bodies kept on the heap: no memfd", "key", o.key, "err", err)
		return o
	}
	n := s.fileBytes.Add(mf.size)
	s.fileCount.Add(1)
	runtime.AddCleanup(mf, func(data []byte) { // the file itself closes by its own cleanup
		_ = unix.Munmap(data)
		s.fileBytes.Add(-int64(len(data)))
		s.fileCount.Add(-1)
	}, mf.data)
	if n > s.fileMark() {
		s.collectFiles()
	}
	c := *o
	c.body, c.file, c.size = nil, mf, mf.size
	return &c
}

// fileMark is the bytes in memfds over which the server collects: its
// memory budget and an eighth.
func (s *Server) fileMark() int64 { return s.cfg.MemoryBytes + s.cfg.MemoryBytes/8 }

// collectFiles collects in the background, one goroutine at a time,
// until the memfds alive are back under fileMark, four times at most:
// an evicted object's memfd is released by a cleanup once a collection
// finds it unreachable (it is not Go heap, which the collector paces
// itself by), and one evicted during a collection waits for the next.
// A call while the goroutine runs is not lost: it goes round again.
func (s *Server) collectFiles() {
	s.collectAgain.Store(true)
	if !s.collecting.CompareAndSwap(false, true) {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			for range 4 {
				s.collectAgain.Store(false)
				runtime.GC()
				time.Sleep(10 * time.Millisecond) // for the cleanups, which run after it
				if s.fileBytes.Load() <= s.fileMark() {
					break
				}
			}
			s.collecting.Store(false)
			// A call between the last round's start and the Store above
			// saw collecting set and returned: take it up here.
			if !s.collectAgain.Load() || !s.collecting.CompareAndSwap(false, true) {
				return
			}
		}
	}()
}

// FileBytes is the bytes of the memory tier's bodies kept in memfds,
// not yet released: memory the Go runtime does not count.
func (s *Server) FileBytes() int64 { return s.fileBytes.Load() }

// fileBodiesLimit is MaxFileBodies' default: half the open-file limit
// (which the Go runtime raises to the hard limit at start) or a quarter
// of vm.max_map_count, whichever is less; 4,096 for a limit it cannot
// read.
func fileBodiesLimit() int64 {
	limit := int64(4096)
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err == nil && rl.Cur != unix.RLIM_INFINITY {
		limit = int64(rl.Cur / 2)
	}
	if b, err := os.ReadFile("/proc/sys/vm/max_map_count"); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
			limit = min(limit, n/4)
		}
	}
	return limit
}
