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
	c.remote = c.rwc.RemoteAddr().String()
	if sc, ok := c.rwc.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn()
		c.writeFn = c.writeSome
	}
	c.lr.r = c.rwc
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
	clear(c.header)
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
// empty) through c.iovecs, which unix.Writev would allocate.
//
// When the server is busy it is a raw system call, which does not tell
// the scheduler: the socket is non-blocking, so it never waits, but
// copying a large body into it can outlast the 20 µs after which the
// runtime's monitor hands a P in a system call to another thread, and
// under load that handoff and the thread that lost its P cost more than
// the copy. `ROWS="1MiB:64 1MiB:1000 100KiB:64 100KiB:1000 100KiB:1"
// BREV=50f53db scripts/bench-ab.sh 507cfcb 4 3` (the commits without and
// with it; 2 cores shared with wrk), per round: 1 MiB hits at 1,000
// connections 7-24% more a second with 9-26% less CPU each, p99 5-31%
// higher; at 64 connections -5%, +12%, -3%; 100 KiB hits at 1, 64 and
// 1,000 connections within 2% (medians). With few connections it stays
// an ordinary system call: raw there was slower in an earlier A/B, which
// was not scripted.
func (c *conn) writev(fd uintptr) (int, error) {
	for i, b := range c.bufs {
		c.iovecs[i].Base = &b[0]
		c.iovecs[i].SetLen(len(b))
	}
	call := unix.Syscall
	if c.srv.busy() {
		call = unix.RawSyscall
	}
	n, _, errno := call(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&c.iovecs[0])), uintptr(len(c.bufs)))
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
