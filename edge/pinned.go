package edge

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/streamcdn/streamcdn/internal/atomicfile"
)

// pinned is the pinned area: pushed objects, one file each under dir in
// the disk tier's format, within a byte budget of their own. Pull traffic
// never evicts them; they leave when unpinned or replaced by a newer push.
//
// A push is written to a temporary file, checked (length and SHA-256),
// fsynced and renamed over the object's file, so a reader sees the old
// version or the new one whole: a reader holds its open file, and uses
// the header the index keeps only if the file it opened is the one the
// index describes.
type pinned struct {
	dir      string
	capacity int64

	// commitMu orders commits and unpins: the budget check, the rename
	// and the index update of one push happen together. mu guards the
	// index only, briefly, so that no fsync ever holds up a reader.
	commitMu sync.Mutex
	mu       sync.RWMutex
	index    map[string]pinEntry
	bytes    int64 // file bytes of the indexed objects
}

// pinEntry is an indexed object and what serving it needs: its file's
// identity, header and body offset.
type pinEntry struct {
	PinnedObject
	fileSize int64
	file     os.FileInfo
	hdr      diskHeader
	off      int64
	table    []byte
}

// pushError is a failed push: the reason is the metric label, status the
// HTTP answer.
type pushError struct {
	reason string // checksum, interrupted, budget, upstream, io
	status int
	err    error
}

func (e *pushError) Error() string { return e.reason + ": " + e.err.Error() }
func (e *pushError) Unwrap() error { return e.err }

func pushFailed(reason string, status int, format string, args ...any) error {
	return &pushError{reason: reason, status: status, err: fmt.Errorf(format, args...)}
}

// openPinned opens (creating) the pinned area in dir, verifies every
// object file against its checksum, removes the ones that fail and any
// temporary file an interrupted push left, and indexes the rest.
func openPinned(dir string, capacity int64) (*pinned, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("pinned area: %w", err)
	}
	p := &pinned{dir: dir, capacity: capacity, index: map[string]pinEntry{}}
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		if strings.Contains(e.Name(), ".tmp") {
			return os.Remove(path)
		}
		po, err := verifyPinnedFile(path)
		if err != nil || filepath.Base(path) != fileName(po.URL) {
			return os.Remove(path)
		}
		p.index[po.URL] = po
		p.bytes += po.fileSize
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan pinned area %s: %w", dir, err)
	}
	return p, nil
}

// verifyPinnedFile checks a whole object file: its header, block table,
// every block and the body's SHA-256. A file of the first format that
// passes its own check is rewritten in this one, so that an upgrade
// loses no pushed object.
func verifyPinnedFile(path string) (pinEntry, error) {
	of, err := openObjectFile(path)
	if err != nil && isV1(path) {
		if err := upgradeV1(path); err != nil {
			return pinEntry{}, err
		}
		of, err = openObjectFile(path)
	}
	if err != nil {
		return pinEntry{}, err
	}
	defer of.Close()
	sum := sha256.New()
	rd := of.reader()
	defer rd.Close()
	if _, err := io.Copy(sum, rd); err != nil {
		return pinEntry{}, err
	}
	if hex.EncodeToString(sum.Sum(nil)) != of.hdr.SHA256 {
		return pinEntry{}, corrupt("SHA-256 mismatch")
	}
	fi, err := of.f.Stat()
	if err != nil {
		return pinEntry{}, err
	}
	return entryOf(of, fi), nil
}

func entryOf(of *objectFile, fi os.FileInfo) pinEntry {
	h := of.hdr
	return pinEntry{PinnedObject: PinnedObject{URL: h.Key, Size: h.Size, SHA256: h.SHA256, ETag: h.Header.Get("ETag"),
		PushedAt: h.RespTime}, fileSize: fi.Size(), file: fi, hdr: h, off: of.off, table: of.table}
}

func isV1(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [len(v1Magic)]byte
	_, err = io.ReadFull(f, magic[:])
	return err == nil && string(magic[:]) == v1Magic
}

// upgradeV1 rewrites an object file of the first format (magic, header
// length, JSON header, body) in this one, if its body matches its
// SHA-256; else it fails and the file is left for the caller to drop.
func upgradeV1(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var pre [len(v1Magic) + 4]byte
	if _, err := io.ReadFull(br, pre[:]); err != nil {
		return corrupt("short file")
	}
	n := binary.BigEndian.Uint32(pre[len(v1Magic):])
	if n > 1<<20 {
		return corrupt("header of %d bytes", n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(br, buf); err != nil {
		return corrupt("short header")
	}
	var h diskHeader
	if err := json.Unmarshal(buf, &h); err != nil {
		return corrupt("header: %v", err)
	}
	out, err := atomicfile.Create(path)
	if err != nil {
		return err
	}
	defer out.Abort()
	want := h.SHA256
	w, err := newObjectWriter(out.File, h)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, io.LimitReader(br, h.Size+1)); err != nil {
		return err
	}
	got, _, err := w.finish()
	switch {
	case err != nil:
		return err
	case got.Size != h.Size || got.SHA256 != want:
		return corrupt("SHA-256 mismatch")
	}
	return out.Commit()
}

func (p *pinned) path(key string) string {
	name := fileName(key)
	return filepath.Join(p.dir, name[:2], name)
}

// has reports whether key is pinned.
func (p *pinned) has(key string) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	_, ok := p.index[key]
	return ok
}

// room is how many file bytes key's object may take within the budget.
func (p *pinned) room(key string) int64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.capacity - p.bytes + p.index[key].fileSize
}

// put stores the body of key read from r: exactly size bytes (-1: until
// EOF) whose SHA-256 is wantSHA (hex; empty: not known in advance).
// header is stored as the object's response header. Nothing is visible
// until the whole body is on disk, checked and fsynced; on any failure
// nothing is left behind.
func (p *pinned) put(key string, header http.Header, size int64, wantSHA string, r io.Reader, now time.Time) (pinEntry, error) {
	noRoom := func() error {
		return pushFailed("budget", http.StatusInsufficientStorage, "%d bytes do not fit in the pinned budget of %d", size, p.capacity)
	}
	room := p.room(key)
	if size > room {
		return pinEntry{}, noRoom()
	}
	path := p.path(key)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return pinEntry{}, pushFailed("io", http.StatusInternalServerError, "%w", err)
	}
	f, err := atomicfile.Create(path)
	if err != nil {
		return pinEntry{}, pushFailed("io", http.StatusInternalServerError, "%w", err)
	}
	defer f.Abort()
	e, err := writePinned(f.File, key, header, size, room, wantSHA, r, now)
	if err != nil {
		return pinEntry{}, err
	}
	if err := f.Sync(); err != nil { // before the lock: Commit's own fsync is then quick
		return pinEntry{}, pushFailed("io", http.StatusInternalServerError, "fsync: %w", err)
	}
	p.commitMu.Lock()
	defer p.commitMu.Unlock()
	if e.fileSize > p.room(key) { // another push took the room meanwhile
		return pinEntry{}, noRoom()
	}
	if err := f.Commit(); err != nil {
		return pinEntry{}, pushFailed("io", http.StatusInternalServerError, "%w", err)
	}
	if e.file, err = os.Stat(path); err != nil {
		return pinEntry{}, pushFailed("io", http.StatusInternalServerError, "%w", err)
	}
	p.mu.Lock()
	p.bytes += e.fileSize - p.index[key].fileSize
	p.index[key] = e
	p.mu.Unlock()
	return e, nil
}

// writePinned writes the object file to f: size bytes of body, or up to
// limit when size is -1 (unknown), checked against wantSHA if given.
func writePinned(f *os.File, key string, header http.Header, size, limit int64, wantSHA string, r io.Reader, now time.Time) (pinEntry, error) {
	w, err := newObjectWriter(f, diskHeader{Key: key, Status: http.StatusOK, Header: header, ReqTime: now, RespTime: now})
	if err != nil {
		return pinEntry{}, pushFailed("io", http.StatusInternalServerError, "%w", err)
	}
	max := size
	if size < 0 {
		max = limit
	}
	n, err := io.Copy(w, io.LimitReader(r, max+1))
	var we writeErr
	switch {
	case errors.As(err, &we):
		return pinEntry{}, pushFailed("io", http.StatusInternalServerError, "%w", we.error)
	case err != nil || n < size:
		return pinEntry{}, pushFailed("interrupted", http.StatusBadRequest,
			"body ended after %d of %d bytes: %v", n, size, errOrEOF(err))
	case n > max && size >= 0:
		return pinEntry{}, pushFailed("interrupted", http.StatusBadRequest, "body is longer than %d bytes", size)
	case n > max:
		return pinEntry{}, pushFailed("budget", http.StatusInsufficientStorage, "body exceeds the %d bytes left in the pinned budget", limit)
	}
	hdr, _, err := w.finish()
	if err != nil {
		return pinEntry{}, pushFailed("io", http.StatusInternalServerError, "%w", err)
	}
	if wantSHA != "" && hdr.SHA256 != wantSHA {
		return pinEntry{}, pushFailed("checksum", http.StatusBadRequest, "body's SHA-256 is %s, expected %s", hdr.SHA256, wantSHA)
	}
	of, err := checkObjectFile(f)
	if err != nil {
		return pinEntry{}, pushFailed("io", http.StatusInternalServerError, "%w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		return pinEntry{}, pushFailed("io", http.StatusInternalServerError, "%w", err)
	}
	return entryOf(of, fi), nil
}

func errOrEOF(err error) error {
	if err == nil {
		return io.ErrUnexpectedEOF
	}
	return err
}

// open returns the stored object for key, read from one open file: the
// version it gets stays whole even if replaced meanwhile. When the file
// opened is the one the index describes (same file, same size), its
// checked header and block table come from the index; else (replaced or
// changed meanwhile) from the file, checked again. Every body block is
// verified as it is read. A file that fails a check is errCorrupt. The
// caller closes it.
func (p *pinned) open(key string) (*objectFile, error) {
	p.mu.RLock()
	e, ok := p.index[key]
	p.mu.RUnlock()
	if !ok {
		return nil, fs.ErrNotExist
	}
	f, err := os.Open(p.path(key))
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err == nil && os.SameFile(fi, e.file) && fi.Size() == e.fileSize {
		return &objectFile{f: f, hdr: e.hdr, off: e.off, table: e.table}, nil
	}
	of, err := checkObjectFile(f)
	if err == nil && of.hdr.Key != key {
		err = corrupt("key %q, want %q", of.hdr.Key, key)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return of, nil
}

// drop unpins key's object if the file at its path is still the one
// that failed a check (not a replacement pushed meanwhile).
func (p *pinned) drop(key string, bad *objectFile) {
	p.commitMu.Lock()
	defer p.commitMu.Unlock()
	fi, err := bad.f.Stat()
	if cur, serr := os.Stat(p.path(key)); err == nil && serr == nil && !os.SameFile(fi, cur) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.index[key]; ok {
		os.Remove(p.path(key))
		delete(p.index, key)
		p.bytes -= e.fileSize
	}
}

// remove unpins every object whose key matches and returns how many.
func (p *pinned) remove(match func(key string) bool) int {
	p.commitMu.Lock()
	defer p.commitMu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for k, po := range p.index {
		if match(k) {
			os.Remove(p.path(k))
			delete(p.index, k)
			p.bytes -= po.fileSize
			n++
		}
	}
	return n
}

// list returns the objects under prefix, by URL.
func (p *pinned) list(prefix string) []PinnedObject {
	p.mu.RLock()
	out := make([]PinnedObject, 0, len(p.index))
	for k, e := range p.index {
		if strings.HasPrefix(k, prefix) {
			out = append(out, e.PinnedObject)
		}
	}
	p.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].URL < out[j].URL })
	return out
}

func (p *pinned) stats() (objects int, bytes int64) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.index), p.bytes
}
