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
	"hash"
	"hash/crc32"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// An object file (disk tier and pinned area alike) is
//
//	"SCDNOBJ2" | header length (u32) | CRC-32C of the header (u32) | header (JSON, space-padded)
//	| body | CRC-32C of each blockSize block of the body (u32 each)
//
// all integers big-endian. The header names the body's size, its SHA-256
// and the CRC-32C of the block table, so every byte of the file is
// covered: the header by its own CRC, the table by the header, each body
// block by the table. A reader verifies each block before it releases a
// byte of it (blockReader), so a file changed or damaged while the edge
// runs is never served: the read fails and the object is dropped.
//
// CRC-32C, not a cryptographic hash, guards the blocks: it is computed in
// hardware, and what it guards against is damage (a flipped bit, a torn
// or truncated write), not someone who can write the files (and so their
// checksums). The SHA-256 of the whole body is what a push is checked
// against, end to end.
const (
	objMagic = "SCDNOBJ2"
	// v1Magic starts files of the first format (no header CRC, no block
	// table). Pinned objects in it are rewritten as v2 on open; disk-tier
	// ones, a cache, are dropped.
	v1Magic   = "SCDNOBJ1"
	blockSize = 64 << 10
	// prefixLen is the magic, the header length and its CRC.
	prefixLen = len(objMagic) + 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

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
	BlockSize int64       `json:"block_size"`
	TableCRC  uint32      `json:"table_crc"`
}

func blocks(size, bs int64) int64 { return (size + bs - 1) / bs }

// errCorrupt means an object file failed its checks.
var errCorrupt = errors.New("corrupt object file")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errCorrupt, fmt.Sprintf(format, args...))
}

// objectWriter writes an object file to f as its body is written to it:
// the header first with placeholders, the body through a buffer while
// hashing it and checksumming each block, and on finish the block table
// and the final header, in place. Errors of f come back as writeErr, so
// that a caller copying from a reader can tell them from the reader's.
type objectWriter struct {
	f       *os.File
	bw      *bufio.Writer
	hdr     diskHeader
	hdrLen  int
	sha     hash.Hash
	crc     uint32 // of the block being written
	inBlock int64  // bytes of it so far
	table   []byte
	n       int64
}

func newObjectWriter(f *os.File, hdr diskHeader) (*objectWriter, error) {
	w := &objectWriter{f: f, hdr: hdr, sha: sha256.New(), bw: bufio.NewWriterSize(fileWriter{f}, 256<<10)}
	// Placeholders at least as long as any final value; JSON allows the
	// trailing spaces that pad the final header to the same length.
	hdr.Size, hdr.SHA256, hdr.BlockSize, hdr.TableCRC = -1<<62, strings.Repeat("0", sha256.Size*2), blockSize, 1<<32-1
	b, err := json.Marshal(hdr)
	if err != nil {
		return nil, err
	}
	w.hdrLen = len(b)
	w.bw.Write(make([]byte, prefixLen)) // written for real by finish
	if _, err := w.bw.Write(b); err != nil {
		return nil, err
	}
	return w, nil
}

// bodyOffset is where the body starts in the file.
func (w *objectWriter) bodyOffset() int64 { return int64(prefixLen + w.hdrLen) }

func (w *objectWriter) Write(p []byte) (int, error) {
	n, err := w.bw.Write(p)
	w.sha.Write(p[:n])
	for q := p[:n]; len(q) > 0; {
		k := min(int64(len(q)), blockSize-w.inBlock)
		w.crc = crc32.Update(w.crc, castagnoli, q[:k])
		w.inBlock += k
		q = q[k:]
		if w.inBlock == blockSize {
			w.endBlock()
		}
	}
	w.n += int64(n)
	return n, err
}

// flush writes out what is buffered, so that readers of the file (a fill
// spooled to disk) see every byte written so far.
func (w *objectWriter) flush() error { return w.bw.Flush() }

func (w *objectWriter) endBlock() {
	w.table = binary.BigEndian.AppendUint32(w.table, w.crc)
	w.crc, w.inBlock = 0, 0
}

// finish writes the block table and the final header; the file is then
// complete but neither synced nor renamed. It returns the final header
// and the file's size.
func (w *objectWriter) finish() (diskHeader, int64, error) {
	if w.inBlock > 0 {
		w.endBlock()
	}
	w.bw.Write(w.table)
	if err := w.bw.Flush(); err != nil {
		return diskHeader{}, 0, err
	}
	h := w.hdr
	h.Size, h.SHA256, h.BlockSize = w.n, hex.EncodeToString(w.sha.Sum(nil)), blockSize
	h.TableCRC = crc32.Checksum(w.table, castagnoli)
	b, err := json.Marshal(h)
	if err == nil && len(b) > w.hdrLen {
		err = errors.New("object header grew")
	}
	if err != nil {
		return diskHeader{}, 0, err
	}
	b = append(b, bytes.Repeat([]byte(" "), w.hdrLen-len(b))...)
	pre := binary.BigEndian.AppendUint32([]byte(objMagic), uint32(len(b)))
	pre = binary.BigEndian.AppendUint32(pre, crc32.Checksum(b, castagnoli))
	if _, err := w.f.WriteAt(append(pre, b...), 0); err != nil {
		return diskHeader{}, 0, writeErr{err}
	}
	return h, w.bodyOffset() + w.n + int64(len(w.table)), nil
}

// writeErr marks errors of the destination file, to tell them from the
// source's: a read error is an interrupted upload, a write error ours.
type writeErr struct{ error }

func (e writeErr) Unwrap() error { return e.error }

type fileWriter struct{ f *os.File }

func (w fileWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		err = writeErr{err}
	}
	return n, err
}

// objectFile is an open object file whose header and block table have
// been checked against each other and against the file's size.
type objectFile struct {
	f     *os.File
	hdr   diskHeader
	off   int64 // of the body
	table []byte
}

// openObjectFile opens and checks the object file at path. An error
// opening it (missing, EMFILE, EACCES) is returned as it is: it proves
// nothing about the file. A file that fails a check is errCorrupt.
func openObjectFile(path string) (*objectFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	of, err := checkObjectFile(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return of, nil
}

func checkObjectFile(f *os.File) (*objectFile, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	h, off, err := decodeHeader(io.NewSectionReader(f, 0, fi.Size()))
	if err != nil {
		return nil, err
	}
	if h.BlockSize <= 0 || h.Size < 0 {
		return nil, corrupt("block size %d, size %d", h.BlockSize, h.Size)
	}
	n := blocks(h.Size, h.BlockSize)
	if want := off + h.Size + 4*n; fi.Size() != want {
		return nil, corrupt("file is %d bytes, its header says %d", fi.Size(), want)
	}
	table := make([]byte, 4*n)
	if _, err := f.ReadAt(table, off+h.Size); err != nil {
		return nil, fmt.Errorf("read block table: %w", err)
	}
	if crc32.Checksum(table, castagnoli) != h.TableCRC {
		return nil, corrupt("block table checksum mismatch")
	}
	return &objectFile{f: f, hdr: h, off: off, table: table}, nil
}

func (of *objectFile) Close() error { return of.f.Close() }

// decodeHeader reads a v2 prefix and header from r and returns the
// header and the body's offset.
func decodeHeader(r io.Reader) (diskHeader, int64, error) {
	var pre [prefixLen]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return diskHeader{}, 0, corrupt("short file: %v", err)
	}
	if string(pre[:len(objMagic)]) != objMagic {
		return diskHeader{}, 0, corrupt("bad magic %q", pre[:len(objMagic)])
	}
	n := binary.BigEndian.Uint32(pre[len(objMagic):])
	if n > 1<<20 {
		return diskHeader{}, 0, corrupt("header of %d bytes", n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return diskHeader{}, 0, corrupt("short header: %v", err)
	}
	if crc32.Checksum(buf, castagnoli) != binary.BigEndian.Uint32(pre[len(objMagic)+4:]) {
		return diskHeader{}, 0, corrupt("header checksum mismatch")
	}
	var h diskHeader
	if err := json.Unmarshal(buf, &h); err != nil {
		return diskHeader{}, 0, corrupt("header: %v", err)
	}
	return h, int64(prefixLen) + int64(n), nil
}

var blockPool = sync.Pool{New: func() any { b := make([]byte, blockSize); return &b }}

// reader returns a ReadSeeker over the body that verifies each block
// before it returns any byte of it; a block that fails is errCorrupt.
// It holds one block in memory. Close returns that buffer.
func (of *objectFile) reader() *blockReader { return &blockReader{of: of, blk: -1} }

type blockReader struct {
	of  *objectFile
	pos int64
	buf *[]byte
	blk int64 // the block in buf, -1 for none
	n   int   // its length
}

func (r *blockReader) Read(p []byte) (int, error) {
	h := r.of.hdr
	if r.pos >= h.Size {
		return 0, io.EOF
	}
	b := r.pos / h.BlockSize
	if b != r.blk {
		if err := r.load(b); err != nil {
			return 0, err
		}
	}
	n := copy(p, (*r.buf)[r.pos-b*h.BlockSize:r.n])
	r.pos += int64(n)
	return n, nil
}

// WriteNTo writes the next n bytes of the body to w from the verified
// block buffer itself: a slow client holds that one buffer, not copy
// buffers besides (httpx.NWriterTo).
func (r *blockReader) WriteNTo(w io.Writer, n int64) (int64, error) {
	var total int64
	for total < n {
		h := r.of.hdr
		if r.pos >= h.Size {
			return total, io.ErrUnexpectedEOF
		}
		b := r.pos / h.BlockSize
		if b != r.blk {
			if err := r.load(b); err != nil {
				return total, err
			}
		}
		chunk := (*r.buf)[r.pos-b*h.BlockSize : r.n]
		chunk = chunk[:min(int64(len(chunk)), n-total)]
		k, err := w.Write(chunk)
		r.pos += int64(k)
		total += int64(k)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (r *blockReader) load(b int64) error {
	h := r.of.hdr
	if h.BlockSize != blockSize {
		return corrupt("block size %d", h.BlockSize)
	}
	if r.buf == nil {
		r.buf = blockPool.Get().(*[]byte)
	}
	r.blk = -1
	n := int(min(h.BlockSize, h.Size-b*h.BlockSize))
	if _, err := r.of.f.ReadAt((*r.buf)[:n], r.of.off+b*h.BlockSize); err != nil {
		if errors.Is(err, io.EOF) {
			return corrupt("block %d: file truncated", b)
		}
		return fmt.Errorf("block %d: %w", b, err)
	}
	if crc32.Checksum((*r.buf)[:n], castagnoli) != binary.BigEndian.Uint32(r.of.table[4*b:]) {
		return corrupt("block %d checksum mismatch", b)
	}
	r.blk, r.n = b, n
	return nil
}

func (r *blockReader) Seek(offset int64, whence int) (int64, error) {
	if whence != io.SeekStart || offset < 0 {
		return 0, errors.New("blockReader: only absolute seeks")
	}
	r.pos = offset
	return offset, nil
}

// Close releases the block buffer; the file stays open.
func (r *blockReader) Close() error {
	if r.buf != nil {
		blockPool.Put(r.buf)
		r.buf, r.blk = nil, -1
	}
	return nil
}

// readAll returns the whole verified body.
func (of *objectFile) readAll() ([]byte, error) {
	r := of.reader()
	defer r.Close()
	body := make([]byte, of.hdr.Size)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	return body, nil
}

// object returns the stored response the file holds, without its body.
func (of *objectFile) object() *object {
	h := of.hdr
	o := &object{key: h.Key, status: h.Status, header: h.Header, reqTime: h.ReqTime, respTime: h.RespTime,
		varyNames: h.VaryNames, sliced: h.Sliced, size: h.Size}
	if o.sliced == 0 && o.header.Get("Content-Length") == "" { // a body of unknown length, spooled
		o.header = o.header.Clone()
		o.header.Set("Content-Length", strconv.FormatInt(o.size, 10))
	}
	return o.prepared()
}
