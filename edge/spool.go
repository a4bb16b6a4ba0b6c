package edge

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/streamcdn/streamcdn/internal/atomicfile"
)

// A fill whose body may not be held in memory (its size is unknown, or
// above what the in-flight budget grants it) is spooled: written as an
// object file while it streams, read back by its waiters through a
// descriptor of their own, and, if it may be stored and arrives whole,
// renamed into the disk tier as it is. So the memory a fill holds is its
// copy buffer whatever the body's size and however slow its readers.
type spool struct {
	tmp *atomicfile.File // the object file being written
	w   *objectWriter
	rd  *os.File // the read side: valid after tmp is renamed or removed
	off int64    // where the body starts
}

// newSpool creates the spool of a fill that would store o. With a disk
// tier it is a temporary file beside o's final path there; without one
// it is in the system's temporary directory, unlinked at once.
func (s *Server) newSpool(o *object) (*spool, error) {
	var tmp *atomicfile.File
	var err error
	if s.disk != nil {
		tmp, err = s.disk.create(o.key)
	} else {
		tmp, err = atomicfile.Create(filepath.Join(os.TempDir(), "streamcdn-fill"))
	}
	if err != nil {
		return nil, err
	}
	rd, err := os.Open(tmp.Name())
	if err != nil {
		tmp.Abort()
		return nil, err
	}
	if s.disk == nil {
		os.Remove(tmp.Name()) // the descriptors keep it while they are open
	}
	w, err := newObjectWriter(tmp.File, headerOf(o))
	if err != nil {
		tmp.Abort()
		rd.Close()
		return nil, err
	}
	return &spool{tmp: tmp, w: w, rd: rd, off: w.bodyOffset()}, nil
}

// write appends p to the body and makes it visible to readers.
func (sp *spool) write(p []byte) error {
	if _, err := sp.w.Write(p); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if err := sp.w.flush(); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// readAt reads body bytes at off (below what was written).
func (sp *spool) readAt(p []byte, off int64) (int, error) {
	n, err := sp.rd.ReadAt(p, sp.off+off)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// commit completes the object file and renames it into the disk tier
// under key (unless a purge since gen matches it), after making room.
func (s *Server) commitSpool(sp *spool, key string, gen uint64) error {
	_, size, err := sp.w.finish()
	if err == nil {
		err = s.disk.makeRoom(key, size)
	}
	if err == nil {
		err = s.disk.commit(sp.tmp, key, gen)
	}
	return err
}

// readBody reads the whole spooled body of size bytes.
func (sp *spool) readBody(size int64) ([]byte, error) {
	b := make([]byte, size)
	if _, err := io.ReadFull(io.NewSectionReader(sp.rd, sp.off, size), b); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	return b, nil
}
