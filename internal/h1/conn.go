package h1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/sys/unix"
)

// h2Preface opens every HTTP/2 connection (RFC 9113 §3.4).
const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// maxDrain is how much of a request body the handler left unread is
// read and dropped to keep the connection; more, and it is closed (as
// net/http does).
const maxDrain = 256 << 10

// bufSize is the read buffer, and the size under which a response's
// header and body bytes are gathered before one write.
const bufSize = 4096

// conn is one client connection.
type conn struct {
	srv    *Server
	rwc    net.Conn
	sr     sockReader // the socket's reader, when rwc is one
	lr     limitReader
	br     *bufio.Reader
	remote string

	header http.Header // the response's, cleared for each (a handler must not keep it)
	wbuf   []byte      // header and small body bytes not yet written
	iov    [3][]byte   // what one write sends: wbuf and up to two slices
	bufs   net.Buffers // over iov; a field, so that a write allocates nothing
	werr   error       // the first write error: the connection is done

	// The response's send timeout, kept by write (see
	// response.SetSendTimeout): 0 for none.
	raw         syscall.RawConn    // nil: not a socket, no send timeout
	writeFn     func(uintptr) bool // c.writeSome, made once
	iovecs      [3]unix.Iovec      // for writev: as many as iov
	rawErr      error              // writeSome's
	sendTimeout time.Duration
	sendChunk   int // bytes a deadline covers
	sent        int // bytes written under the current deadline
	// staleDeadline: a send timeout's deadline is still on the
	// connection from an earlier response; the next write clears it
	// unless that response's handler set a timeout or deadline of its own.
	staleDeadline bool
	// fileLowat: the connection has been given Config.FileLowat.
	fileLowat bool

	// readDeadline is the read deadline set last (Unix ns; 0: none), by
	// setReadDeadline, which every change goes through.
	readDeadline atomic.Int64

	mu     sync.Mutex
	active bool // a request is being read or served
	closed bool
}

// limitReader is io.LimitedReader that can be re-armed per request.
type limitReader struct {
	r io.Reader
	n int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// closeIfIdle closes the connection if it is waiting for a request.
func (c *conn) closeIfIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.active && !c.closed {
		c.closed = true
		c.rwc.Close()
	}
}

// setActive marks the connection as serving a request; false if the
// server is shutting down and it should close instead.
func (c *conn) setActive(active bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || (active && c.srv.isClosing()) {
		return false
	}
	if active != c.active {
		c.active = active
		if active {
			c.srv.active.Add(1)
		} else {
			c.srv.active.Add(-1)
		}
	}
	return true
}

func (c *conn) serve() {
	handed := false
	defer func() {
		c.mu.Lock()
		c.closed = true
		if c.active {
			c.active = false
			c.srv.active.Add(-1)
		}
		c.mu.Unlock()
		if !handed {
			c.rwc.Close()
		}
		c.srv.forget(c)
	}()
	cfg := &c.srv.cfg
	ctx := context.WithValue(context.Background(), http.LocalAddrContextKey, c.rwc.LocalAddr())
	if cfg.ConnContext != nil {
		if ctx = cfg.ConnContext(ctx, c.rwc); ctx == nil {
			panic("h1: ConnContext returned nil")
		}
	}
	if ctx.Done() == nil {
		ctx = neverDone{ctx}
	}
	c.remote = c.rwc.RemoteAddr().String()
	c.lr.r = c.rwc
	c.useSocket()
	c.br = bufio.NewReaderSize(&c.lr, bufSize)
	c.wbuf = make([]byte, 0, bufSize)
	for first := true; ; first = false {
		c.lr.n = int64(cfg.MaxHeaderBytes) + bufSize
		c.armIdle(time.Now(), cfg.IdleTimeout)
		if _, err := c.br.Peek(1); err != nil || !c.setActive(true) {
			return
		}
		if first && c.isH2C() {
			if c.srv.h2 != nil {
				_ = c.setReadDeadline(time.Time{}) // net/http keeps its own
				handed = c.srv.h2.hand(handOver(c.rwc, c.br))
			}
			return
		}
		req, err := c.readRequest()
		if err != nil {
			c.refuse(err)
			return
		}
		c.lr.n = math.MaxInt64
		if req.ContentLength != 0 {
			_ = c.setReadDeadline(time.Time{}) // a body takes as long as it takes
		}
		if code, why := check(req); code != 0 {
			c.reply(code, why)
			return
		}
		if !c.serveRequest(ctx, req) || !c.setActive(false) {
			return
		}
	}
}

// useSocket has the connection read and write its socket by raw system
// calls (see sockReader), when rwc is one.
func (c *conn) useSocket() {
	sc, ok := c.rwc.(syscall.Conn)
	if !ok {
		return
	}
	if c.raw, _ = sc.SyscallConn(); c.raw != nil {
		c.writeFn = c.writeSome
		c.sr.init(c.raw)
		c.lr.r = &c.sr
	}
}

// setReadDeadline sets the connection's read deadline. Its callers here
// may drop the error: it shows in the next read.
func (c *conn) setReadDeadline(t time.Time) error {
	var ns int64 // zero time: none
	if !t.IsZero() {
		ns = t.UnixNano()
	}
	c.readDeadline.Store(ns)
	return c.rwc.SetReadDeadline(t)
}

// armIdle sets the read deadline to idle from now, for the wait for the
// next request, unless the one set is already within idleSlack(idle) of
// that: a kept-alive connection then moves its deadline about once a
// second (or once in an eighth of a short idle timeout), not on every
// request, and so the wait ends up to that much early. (A deadline
// change is a runtime timer update; nginx, likewise, leaves a timer
// alone that would move by less than 300 ms.)
func (c *conn) armIdle(now time.Time, idle time.Duration) {
	if d := c.readDeadline.Load(); d != 0 && d > now.Add(idle-idleSlack(idle)).UnixNano() {
		return
	}
	_ = c.setReadDeadline(now.Add(idle))
}

func idleSlack(idle time.Duration) time.Duration { return min(time.Second, idle/8) }

// isH2C reports whether the connection opens with the HTTP/2 preface.
// No HTTP/1 request is a prefix of it, so the wait for more bytes than
// are buffered ends.
func (c *conn) isH2C() bool {
	b, _ := c.br.Peek(min(c.br.Buffered(), len(h2Preface)))
	if !bytes.HasPrefix([]byte(h2Preface), b) {
		return false
	}
	b, err := c.br.Peek(len(h2Preface))
	return err == nil && string(b) == h2Preface
}

// refuse answers a request that could not be read: 431 for a header
// over the limit, 400 for one that is not HTTP/1, nothing when the
// client went away or was too slow.
func (c *conn) refuse(err error) {
	var ne net.Error
	switch {
	case c.lr.n <= 0:
		c.reply(http.StatusRequestHeaderFieldsTooLarge, "")
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.As(err, &ne) && ne.Timeout():
	default:
		c.reply(http.StatusBadRequest, "")
	}
}

// check refuses what net/http's server refuses after parsing.
func check(r *http.Request) (int, string) {
	if r.ProtoMajor != 1 {
		return http.StatusHTTPVersionNotSupported, "unsupported protocol version"
	}
	// http.ReadRequest has moved Host out of the header, keeping the
	// first of several.
	if r.ProtoAtLeast(1, 1) && r.Host == "" {
		return http.StatusBadRequest, "missing required Host header"
	}
	if !httpguts.ValidHostHeader(r.Host) {
		return http.StatusBadRequest, "malformed Host header"
	}
	for k, vs := range r.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return http.StatusBadRequest, "invalid header name"
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return http.StatusBadRequest, "invalid header value"
			}
		}
	}
	return 0, ""
}

// reply answers a request it refuses, as net/http does: a plain-text
// "code text: detail", then the connection is closed.
func (c *conn) reply(code int, detail string) {
	c.staleDeadline = false
	_ = c.rwc.SetWriteDeadline(time.Now().Add(time.Second))
	body := strconv.Itoa(code) + " " + http.StatusText(code)
	if detail != "" {
		body += ": " + detail
	}
	b := appendStatus(c.wbuf[:0], code)
	if code == http.StatusExpectationFailed {
		body = ""
	} else {
		b = append(b, "Content-Type: text/plain; charset=utf-8\r\n"...)
	}
	b = append(b, "Connection: close\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	c.wbuf = append(append(b, "\r\n\r\n"...), body...)
	c.write()
}

// serveRequest runs the handler for req and finishes its response; it
// reports whether the connection may carry another request.
func (c *conn) serveRequest(ctx context.Context, req *http.Request) (keep bool) {
	if c.header == nil {
		c.header = make(http.Header, 16)
	}
	if len(c.header) > 0 { // clear walks the map's slots even when it is empty
		clear(c.header)
	}
	w := &response{c: c, header: c.header, cl: -1,
		closeAfter: req.Close, head: req.Method == http.MethodHead}
	var watch *conn
	if req.Body == nil || req.Body == http.NoBody {
		watch = c
	}
	w.ctx.init(ctx, watch) // in the response: one allocation for both
	defer w.ctx.end()
	req = req.WithContext(&w.ctx)
	req.RemoteAddr = c.remote
	w.req = req
	if req.Body == nil {
		req.Body = http.NoBody
	}
	body := req.Body
	if ex := req.Header.Get("Expect"); ex != "" {
		if !req.ProtoAtLeast(1, 1) || !httpguts.HeaderValuesContainsToken(req.Header["Expect"], "100-continue") {
			c.reply(http.StatusExpectationFailed, "")
			return false
		}
		if req.ContentLength != 0 {
			req.Body = &expectContinue{r: body, w: w}
		}
	}
	if !c.run(w, req) {
		return false
	}
	w.finish()
	if c.sendTimeout > 0 {
		c.sendTimeout, c.staleDeadline = 0, true
	}
	if c.werr != nil || w.closeAfter {
		return false
	}
	if body == http.NoBody {
		return true
	}
	// Whatever of the body the handler left is read and dropped, if it
	// is small, so that the next request can be read.
	n, err := io.CopyN(io.Discard, body, maxDrain+1)
	// A body the handler closed was read to its end by Close.
	return n <= maxDrain && (errors.Is(err, io.EOF) || errors.Is(err, http.ErrBodyReadAfterClose))
}

// run calls the handler; false if it panicked (http.ErrAbortHandler
// aborts the response on purpose; anything else is logged).
func (c *conn) run(w *response, req *http.Request) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			ok = false
			if v != http.ErrAbortHandler {
				buf := make([]byte, 64<<10)
				buf = buf[:runtime.Stack(buf, false)]
				c.srv.cfg.Log.Error("handler panicked", "remote", c.remote, "path", req.URL.Path, "panic", v, "stack", string(buf))
			}
		}
	}()
	c.srv.cfg.Handler.ServeHTTP(w, req)
	return true
}

// write sends what is buffered then b, in one write (writev when more
// than one slice).
func (c *conn) write(b ...[]byte) {
	if c.werr != nil {
		return
	}
	c.bufs = append(c.iov[:0], c.wbuf)
	for _, p := range b {
		if len(p) > 0 {
			c.bufs = append(c.bufs, p)
		}
	}
	if len(c.wbuf) == 0 {
		c.bufs = c.bufs[1:]
	}
	if c.staleDeadline && len(c.bufs) > 0 {
		c.staleDeadline = false
		if c.werr = c.rwc.SetWriteDeadline(time.Time{}); c.werr != nil {
			return
		}
	}
	switch {
	case len(c.bufs) == 0:
	case c.sendTimeout > 0:
		c.werr = c.writeTimed()
	case len(c.bufs) == 1:
		_, c.werr = c.rwc.Write(c.bufs[0])
	default:
		_, c.werr = c.bufs.WriteTo(c.rwc)
	}
	c.wbuf = c.wbuf[:0]
}

// writeTimed writes c.bufs as net.Buffers.WriteTo does, in one loop of
// writev calls that waits in the poller whenever the socket is full,
// and moves the write deadline to sendTimeout from now before its first
// call and then whenever sendChunk more bytes have gone since the last
// move. So a body goes out in one write however large, as fast as the
// client takes it, and a client that stops taking it is dropped within
// sendTimeout.
func (c *conn) writeTimed() error {
	c.rawErr = nil
	if err := c.raw.Write(c.writeFn); err != nil {
		return err
	}
	return c.rawErr
}

// writeSome is writeTimed's loop, run by RawConn.Write with the
// socket's descriptor: false to wait until the socket takes more. A
// method value made once per connection, so a write allocates nothing.
func (c *conn) writeSome(fd uintptr) bool {
	for len(c.bufs) > 0 {
		if c.sent >= c.sendChunk {
			if c.rawErr = c.rwc.SetWriteDeadline(time.Now().Add(c.sendTimeout)); c.rawErr != nil {
				return true
			}
			c.sent = 0
		}
		n, err := c.writev(fd)
		if n > 0 {
			c.sent += n
			c.consume(n)
		}
		switch err {
		case nil:
			if n == 0 { // the socket took nothing and said nothing
				c.rawErr = io.ErrShortWrite
				return true
			}
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		default:
			c.rawErr = os.NewSyscallError("writev", err)
			return true
		}
	}
	return true
}

// writev is writev(2) of c.bufs (at most len(c.iovecs) slices, none
// empty) through c.iovecs, which unix.Writev would allocate, as a raw
// system call (see sockReader).
func (c *conn) writev(fd uintptr) (int, error) {
	for i, b := range c.bufs {
		c.iovecs[i].Base = &b[0]
		c.iovecs[i].SetLen(len(b))
	}
	n, _, errno := unix.RawSyscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&c.iovecs[0])), uintptr(len(c.bufs)))
	c.iovecs = [3]unix.Iovec{} // not to hold the bodies until the next write
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// consume drops the first n bytes written from c.bufs.
func (c *conn) consume(n int) {
	for n > 0 && len(c.bufs) > 0 {
		if n < len(c.bufs[0]) {
			c.bufs[0] = c.bufs[0][n:]
			return
		}
		n -= len(c.bufs[0])
		c.bufs = c.bufs[1:]
	}
}

// expectContinue sends 100 Continue before the first read of the body.
type expectContinue struct {
	r    io.ReadCloser
	w    *response
	sent bool
}

func (e *expectContinue) Read(p []byte) (int, error) {
	if !e.sent {
		e.sent = true
		if !e.w.committed {
			e.w.c.write([]byte("HTTP/1.1 100 Continue\r\n\r\n"))
		}
	}
	return e.r.Read(p)
}

func (e *expectContinue) Close() error { return e.r.Close() }

// sockReader reads a socket by raw read(2) calls through its
// syscall.RawConn, which waits in the poller, honouring the read
// deadline, while there is nothing to read. It is the connection's
// reader when rwc is a socket.
//
// The server's system calls on client sockets (read here, writev in
// conn.writev, sendto and sendfile in conn.sendFile) are raw: made
// without telling the Go scheduler. The sockets are non-blocking, so
// none of them waits: when a socket has nothing to read or no room, the
// call returns EAGAIN and the goroutine parks in the poller. An
// ordinary system call marks its P as in a system call, and the
// runtime's monitor (sysmon), which then wakes every 20 µs, hands a P
// it finds there twice to another thread. Under load a write of a
// 100 KiB body, with the loopback delivery to the reader done within
// the writer's call, often outlasts that, and the monitor never backs
// off: `perf record -g` of the edge serving 100 KiB hits to 64
// connections put 7.1% of its samples in sysmon (5.7% in its
// nanosleep) with ordinary reads and writes, 3.5% with raw writes, 0.2%
// with raw reads too. What raw calls cost is that a P is held while the
// kernel copies, so no other goroutine runs on it meanwhile; the core is
// busy with this goroutine's work either way (a 1 MiB write is the
// longest, some hundreds of µs). Before, only a busy server's writev was
// raw (an A/B of that found raw writes slower with few connections; it
// was not scripted). `scripts/bench-ab.sh` of the edge with all four
// raw against only a busy server's writev (2 cores shared with wrk, 2
// rounds, medians), requests/s and CPU a request: 100 KiB hits at 1, 64
// and 1,000 connections 1.00, 1.15 and 1.11×, at 0.83, 0.85 and 0.89×
// the CPU; 64 KiB ranges 1.14, 1.12, 1.09× at 0.73, 0.88, 0.90×; 1 MiB
// hits 1.04, 1.10, 1.19× at 0.87, 0.85, 0.83×.
type sockReader struct {
	raw syscall.RawConn
	fn  func(uintptr) bool // readSome, made once
	p   []byte             // the buffer of the Read in progress
	n   int
	err error
}

func (r *sockReader) init(raw syscall.RawConn) {
	r.raw = raw
	r.fn = r.readSome
}

func (r *sockReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.p, r.n, r.err = p, 0, nil
	err := r.raw.Read(r.fn)
	r.p = nil // not to hold the caller's buffer
	if err != nil {
		return 0, err
	}
	return r.n, r.err
}

// readSome is one read(2) into r.p: false to wait until the socket has
// something to read.
func (r *sockReader) readSome(fd uintptr) bool {
	for {
		n, errno := readFD(fd, r.p)
		switch errno {
		case 0:
			r.n = n
			if n == 0 {
				r.err = io.EOF
			}
			return true
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		default:
			r.err = os.NewSyscallError("read", errno)
			return true
		}
	}
}
