package edge

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/streamcdn/streamcdn/internal/atomicfile"
)

// diskMagic starts every object file; the version is in it.
const diskMagic = "SCDNOBJ1"

// diskHeader is the JSON metadata before the body in an object file.
type diskHeader struct {
	Key       string      `json:"key"`
	Status    int         `json:"status"`
	Header    http.Header `json:"header"`
	ReqTime   time.Time   `json:"req_time"`
	RespTime  time.Time   `json:"resp_time"`
	VaryNames []string    `json:"vary_names,omitempty"`
	Sliced    int64       `json:"sliced,omitempty"`
	Size      int64       `json:"size"`
	SHA256    string      `json:"sha256"`
}

// disk is the disk tier: one file per object under dir, named by the
// SHA-256 of its key, LRU-evicted within a byte budget. Its index is
// rebuilt from the files' headers on open.
type disk struct {
	dir      string
	mu       sync.Mutex
	lru      *simplelru.LRU[string, int64] // key -> file size
	bytes    int64
	capacity int64
}

// errCorrupt means an object file failed its checks; it has been removed.
var errCorrupt = errors.New("corrupt object file")

func openDisk(dir string, capacity int64) (*disk, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	d := &disk{dir: dir, capacity: capacity}
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
		hdr, err := readDiskHeader(path)
		fi, serr := e.Info()
		if err != nil || serr != nil || filepath.Base(path) != fileName(hdr.Key) {
			return os.Remove(path)
		}
		files = append(files, found{hdr.Key, fi.Size(), fi.ModTime()})
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
	d.evict()
	return d, nil
}

func fileName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func (d *disk) path(key string) string {
	name := fileName(key)
	return filepath.Join(d.dir, name[:2], name)
}

// put writes o through atomicfile, so that a crash leaves either the old
// file or the new one.
func (d *disk) put(o *object) error {
	sum := sha256.Sum256(o.body)
	hdr, err := json.Marshal(diskHeader{
		Key: o.key, Status: o.status, Header: o.header, ReqTime: o.reqTime, RespTime: o.respTime,
		VaryNames: o.varyNames, Sliced: o.sliced, Size: int64(len(o.body)), SHA256: hex.EncodeToString(sum[:]),
	})
	if err != nil {
		return err
	}
	path := d.path(o.key)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := atomicfile.Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	w := bufio.NewWriterSize(f, 64<<10)
	w.Write(diskPrefix(len(hdr)))
	w.Write(hdr)
	w.Write(o.body)
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Commit(); err != nil {
		return err
	}
	size := int64(len(diskMagic) + 4 + len(hdr) + len(o.body))
	d.mu.Lock()
	defer d.mu.Unlock()
	if old, ok := d.lru.Peek(o.key); ok {
		d.bytes -= old
	}
	d.lru.Add(o.key, size)
	d.bytes += size
	d.evict()
	return nil
}

// diskPrefix is what precedes an object file's header: the magic and the
// header's length.
func diskPrefix(headerLen int) []byte {
	return binary.BigEndian.AppendUint32([]byte(diskMagic), uint32(headerLen))
}

// evict removes least recently used files until under budget. d.mu held.
func (d *disk) evict() {
	for d.bytes > d.capacity {
		key, size, ok := d.lru.RemoveOldest()
		if !ok {
			return
		}
		d.bytes -= size
		os.Remove(d.path(key))
	}
}

// get reads and verifies the object for key. A file that fails its
// checks is removed and errCorrupt returned; a missing one is fs.ErrNotExist.
func (d *disk) get(key string) (*object, error) {
	d.mu.Lock()
	_, ok := d.lru.Get(key)
	d.mu.Unlock()
	if !ok {
		return nil, fs.ErrNotExist
	}
	o, err := readObjectFile(d.path(key), key)
	if err != nil {
		d.remove(key)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	return o, nil
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

func readDiskHeader(path string) (diskHeader, error) {
	f, err := os.Open(path)
	if err != nil {
		return diskHeader{}, err
	}
	defer f.Close()
	hdr, _, err := decodeHeader(bufio.NewReader(f))
	return hdr, err
}

func decodeHeader(r io.Reader) (diskHeader, int, error) {
	var pre [len(diskMagic) + 4]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return diskHeader{}, 0, fmt.Errorf("short file: %w", err)
	}
	if string(pre[:len(diskMagic)]) != diskMagic {
		return diskHeader{}, 0, errors.New("bad magic")
	}
	n := binary.BigEndian.Uint32(pre[len(diskMagic):])
	if n > 1<<20 {
		return diskHeader{}, 0, errors.New("header too large")
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return diskHeader{}, 0, fmt.Errorf("short header: %w", err)
	}
	var h diskHeader
	if err := json.Unmarshal(buf, &h); err != nil {
		return diskHeader{}, 0, err
	}
	return h, len(pre) + int(n), nil
}

func readObjectFile(path, key string) (*object, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	h, off, err := decodeHeader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	body := data[off:]
	sum := sha256.Sum256(body)
	switch {
	case h.Key != key:
		return nil, errors.New("key mismatch")
	case int64(len(body)) != h.Size:
		return nil, fmt.Errorf("body is %d bytes, header says %d", len(body), h.Size)
	case hex.EncodeToString(sum[:]) != h.SHA256:
		return nil, errors.New("checksum mismatch")
	}
	o := &object{key: h.Key, status: h.Status, header: h.Header, body: body, reqTime: h.ReqTime, respTime: h.RespTime,
		varyNames: h.VaryNames, sliced: h.Sliced}
	return o.prepared(), nil
}
