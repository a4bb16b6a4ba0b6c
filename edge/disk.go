package edge

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/streamcdn/streamcdn/internal/atomicfile"
)

// disk is the disk tier: one object file per object under dir, named by
// the SHA-256 of its key, LRU-evicted within a byte budget and within
// what the filesystem has free. Its index is rebuilt from the files on
// open.
type disk struct {
	dir      string
	mu       sync.Mutex
	lru      *simplelru.LRU[string, int64] // key -> file size
	bytes    int64
	capacity int64
	// reserve is how many bytes the tier leaves free on its filesystem,
	// for the rest of the machine and the pinned area's unused budget.
	reserve func() int64
	// guard inserts a written object into the index unless a purge
	// newer than gen matches key (see Server.guard); nil: always.
	guard   func(key string, gen uint64, insert func()) bool
	onEvict func(n int)
	// free reports the bytes available on the tier's filesystem.
	free func() (int64, error)
}

// errTooLarge is an object that the tier could not hold even empty.
var errTooLarge = errors.New("object larger than the disk tier's budget")

func openDisk(dir string, capacity int64) (*disk, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	d := &disk{dir: dir, capacity: capacity, reserve: func() int64 { return 0 }, free: func() (int64, error) { return statfsFree(dir) }}
	d.lru, _ = simplelru.NewLRU[string, int64](math.MaxInt32, nil)
	type found struct {
		key   string
		size  int64
		mtime time.Time
	}
	var files []found
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		if strings.Contains(e.Name(), ".tmp") { // an interrupted write
			return os.Remove(path)
		}
		of, err := openObjectFile(path)
		if err != nil {
			if errors.Is(err, errCorrupt) { // or of the first format: a cache may lose it
				return os.Remove(path)
			}
			return err
		}
		key := of.hdr.Key
		fi, serr := of.f.Stat()
		of.Close()
		if serr != nil {
			return serr
		}
		if filepath.Base(path) != fileName(key) {
			return os.Remove(path)
		}
		files = append(files, found{key, fi.Size(), fi.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan disk tier %s: %w", dir, err)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].mtime.Before(files[j].mtime) })
	for _, f := range files {
		d.lru.Add(f.key, f.size)
		d.bytes += f.size
	}
	d.mu.Lock()
	d.evictTo(d.capacity)
	d.mu.Unlock()
	return d, nil
}

func statfsFree(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

func fileName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func (d *disk) path(key string) string {
	name := fileName(key)
	return filepath.Join(d.dir, name[:2], name)
}

// create opens a temporary file for key's object beside its final path.
func (d *disk) create(key string) (*atomicfile.File, error) {
	path := d.path(key)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	return atomicfile.Create(path)
}

// put writes o with body, the object generation gen, as an object file
// (temp file, fsync, rename), so that a crash leaves the old file or the
// new one. Space is made first: within the budget and on the filesystem.
func (d *disk) put(o *object, body []byte, gen uint64) error {
	size := int64(prefixLen+4096+len(body)) + 4*blocks(int64(len(body)), blockSize) // the header's size is a guess
	if err := d.makeRoom(o.key, size); err != nil {
		return err
	}
	err := d.write(o, body, gen)
	if errors.Is(err, syscall.ENOSPC) { // the filesystem filled up under us: make room and try once more
		d.mu.Lock()
		d.evictTo(d.bytes - max(2*size, d.bytes/16))
		d.mu.Unlock()
		err = d.write(o, body, gen)
	}
	return err
}

func (d *disk) write(o *object, body []byte, gen uint64) error {
	f, err := d.create(o.key)
	if err != nil {
		return err
	}
	defer f.Abort()
	w, err := newObjectWriter(f.File, headerOf(o))
	if err == nil {
		_, err = w.Write(body)
	}
	if err == nil {
		_, _, err = w.finish()
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", d.path(o.key), err)
	}
	return d.commit(f, o.key, gen)
}

// rewrite gives key's file o's header (a 304 refreshed it), copying the
// body from the current file block by block, verified.
func (d *disk) rewrite(o *object, gen uint64) error {
	old, err := d.open(o.key)
	if err != nil {
		return err
	}
	defer old.Close()
	f, err := d.create(o.key)
	if err != nil {
		return err
	}
	defer f.Abort()
	w, err := newObjectWriter(f.File, headerOf(o))
	if err != nil {
		return err
	}
	rd := old.reader()
	defer rd.Close()
	if _, err := io.Copy(w, rd); err != nil {
		return err
	}
	if _, _, err := w.finish(); err != nil {
		return err
	}
	return d.commit(f, o.key, gen)
}

// commit renames a complete object file into place and indexes it,
// unless a purge since gen matches its key.
func (d *disk) commit(f *atomicfile.File, key string, gen uint64) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := f.Commit(); err != nil {
		return err
	}
	insert := func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if old, ok := d.lru.Peek(key); ok {
			d.bytes -= old
		}
		d.lru.Add(key, fi.Size())
		d.bytes += fi.Size()
		d.evictTo(d.capacity)
	}
	if d.guard == nil {
		insert()
	} else if !d.guard(key, gen, insert) {
		d.remove(key)
	}
	return nil
}

// makeRoom evicts until size more bytes fit in the budget and the
// filesystem keeps its reserve free. An object that cannot fit even in
// an empty tier is refused before anything is evicted.
func (d *disk) makeRoom(key string, size int64) error {
	if size > d.capacity {
		return fmt.Errorf("%w: %d bytes, budget %d", errTooLarge, size, d.capacity)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	old, _ := d.lru.Peek(key)
	d.evictTo(d.capacity - size + old)
	for d.lru.Len() > 0 {
		free, err := d.free()
		if err != nil || free-size >= d.reserve() {
			return nil
		}
		d.evictTo(d.bytes - max(size, d.bytes/64))
	}
	return nil
}

// evictTo removes least recently used files until at most target bytes
// are stored. d.mu held.
func (d *disk) evictTo(target int64) {
	n := 0
	for d.bytes > max(target, 0) {
		key, size, ok := d.lru.RemoveOldest()
		if !ok {
			break
		}
		d.bytes -= size
		os.Remove(d.path(key))
		n++
	}
	if n > 0 && d.onEvict != nil {
		d.onEvict(n)
	}
}

// open opens the object file for key and checks its header and block
// table. A file that fails the checks is removed and errCorrupt
// returned; a missing one leaves the index (fs.ErrNotExist). Any other
// error (out of descriptors, permissions) says nothing about the file,
// which is kept.
func (d *disk) open(key string) (*objectFile, error) {
	d.mu.Lock()
	_, ok := d.lru.Get(key)
	d.mu.Unlock()
	if !ok {
		return nil, fs.ErrNotExist
	}
	of, err := openObjectFile(d.path(key))
	if err == nil && of.hdr.Key != key {
		of.Close()
		err = corrupt("key %q, want %q", of.hdr.Key, key)
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		d.forget(key)
	case errors.Is(err, errCorrupt):
		d.remove(key)
	}
	return of, err
}

// forget drops key from the index, leaving any file.
func (d *disk) forget(key string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if size, ok := d.lru.Peek(key); ok {
		d.lru.Remove(key)
		d.bytes -= size
	}
}

func (d *disk) remove(key string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	size, ok := d.lru.Peek(key)
	if ok {
		d.lru.Remove(key)
		d.bytes -= size
	}
	os.Remove(d.path(key))
	return ok
}

func (d *disk) keys() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lru.Keys()
}

func (d *disk) stats() (objects int, bytes int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lru.Len(), d.bytes
}

// headerOf is the file header of a stored object (its size and
// checksums are the writer's to fill).
func headerOf(o *object) diskHeader {
	return diskHeader{Key: o.key, Status: o.status, Header: o.header, ReqTime: o.reqTime, RespTime: o.respTime,
		VaryNames: o.varyNames, Sliced: o.sliced}
}
