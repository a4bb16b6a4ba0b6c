package edge

import (
	"bufio"
	"bytes"
	"crypto/sha256"
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

// verifyPinnedFile reads a whole object file and checks its body.
func verifyPinnedFile(path string) (pinEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return pinEntry{}, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 256<<10)
	h, off, err := decodeHeader(br)
	if err != nil {
		return pinEntry{}, err
	}
	sum := sha256.New()
	n, err := io.Copy(sum, br)
	if err != nil {
		return pinEntry{}, err
	}
	if n != h.Size || hex.EncodeToString(sum.Sum(nil)) != h.SHA256 {
		return pinEntry{}, errors.New("checksum mismatch")
	}
	fi, err := f.Stat()
	if err != nil {
		return pinEntry{}, err
	}
	return pinEntry{PinnedObject: PinnedObject{URL: h.Key, Size: h.Size, SHA256: h.SHA256, ETag: h.Header.Get("Etag"),
		PushedAt: h.RespTime}, fileSize: int64(off) + n, file: fi, hdr: h, off: int64(off)}, nil
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

// writePinned writes the object file to f while hashing the body: size
// bytes, or up to limit when size is -1 (unknown). The header holds the
// size and checksum, which may be known only at the end: it is written
// first with placeholders and padding, then rewritten in place.
func writePinned(f *os.File, key string, header http.Header, size, limit int64, wantSHA string, r io.Reader, now time.Time) (pinEntry, error) {
	mkHeader := func(size int64, sha string) ([]byte, error) {
		return json.Marshal(diskHeader{Key: key, Status: http.StatusOK, Header: header, ReqTime: now, RespTime: now,
			Size: size, SHA256: sha})
	}
	// Placeholders at least as long as any final value; JSON allows the
	// trailing spaces that pad the final header to the same length.
	hdr, err := mkHeader(-1<<62, strings.Repeat("0", sha256.Size*2))
	if err != nil {
		return pinEntry{}, pushFailed("io", http.StatusInternalServerError, "%w", err)
	}
	pre := diskPrefix(len(hdr))
	sum := sha256.New()
	bw := bufio.NewWriterSize(fileWriter{f}, 256<<10)
	bw.Write(pre)
	bw.Write(hdr)
	max := size
	if size < 0 {
		max = limit
	}
	n, err := io.Copy(io.MultiWriter(bw, sum), io.LimitReader(r, max+1))
	if err == nil {
		err = bw.Flush()
	}
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
	got := hex.EncodeToString(sum.Sum(nil))
	if wantSHA != "" && got != wantSHA {
		return pinEntry{}, pushFailed("checksum", http.StatusBadRequest, "body's SHA-256 is %s, expected %s", got, wantSHA)
	}
	final, err := mkHeader(n, got)
	if err == nil && len(final) > len(hdr) {
		err = errors.New("header grew")
	}
	if err == nil {
		final = append(final, bytes.Repeat([]byte(" "), len(hdr)-len(final))...)
		_, err = f.WriteAt(final, int64(len(pre)))
	}
	if err != nil {
		return pinEntry{}, pushFailed("io", http.StatusInternalServerError, "%w", err)
	}
	dh := diskHeader{Key: key, Status: http.StatusOK, Header: header, ReqTime: now, RespTime: now, Size: n, SHA256: got}
	return pinEntry{PinnedObject: PinnedObject{URL: key, Size: n, SHA256: got, ETag: header.Get("Etag"), PushedAt: now},
		fileSize: int64(len(pre)+len(hdr)) + n, hdr: dh, off: int64(len(pre) + len(hdr))}, nil
}

func errOrEOF(err error) error {
	if err == nil {
		return io.ErrUnexpectedEOF
	}
	return err
}

// writeErr marks errors of the destination file, to tell them from the
// pusher's: a read error is an interrupted upload, a write error ours.
type writeErr struct{ error }

type fileWriter struct{ f *os.File }

func (w fileWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		err = writeErr{err}
	}
	return n, err
}

// open returns the stored object for key with its body, read from one
// open file: the version it gets stays whole even if replaced meanwhile.
// The header comes from the index when the file opened is the one the
// index describes, else (replaced between the two) from the file itself.
// The caller closes it.
func (p *pinned) open(key string) (*pinnedFile, error) {
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
	h, off := e.hdr, e.off
	if fi, err := f.Stat(); err != nil || !os.SameFile(fi, e.file) {
		var n int
		h, n, err = decodeHeader(f)
		if err == nil && h.Key != key {
			err = errors.New("key mismatch")
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%w: %v", errCorrupt, err)
		}
		off = int64(n)
	}
	return &pinnedFile{f: f, hdr: h, body: io.NewSectionReader(f, off, h.Size)}, nil
}

type pinnedFile struct {
	f    *os.File
	hdr  diskHeader
	body *io.SectionReader
}

func (pf *pinnedFile) Close() error { return pf.f.Close() }

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
