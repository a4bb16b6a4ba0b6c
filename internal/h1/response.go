package h1

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/streamcdn/streamcdn/internal/httpx"
	"golang.org/x/net/http/httpguts"
)

// response is the http.ResponseWriter of one request. Its header goes
// out with the first body bytes (or at the end) in one write; a body of
// unknown length is sent chunked unless the handler finishes within
// bufSize, when it gets a Content-Length. As with net/http, a
// Content-Type the handler did not set is sniffed from the body, and
// Date is added.
//
// Unlike net/http, the header is read when it is written, not when
// WriteHeader is called: a handler that changes it in between changes
// the response.
type response struct {
	c      *conn
	req    *http.Request
	header http.Header
	head   bool

	status     int   // final status; 0 until WriteHeader or Write
	committed  bool  // framing decided, header in c.wbuf or sent
	cl         int64 // Content-Length declared or computed; -1 none
	written    int64 // body bytes accepted
	chunked    bool
	closeAfter bool
	noBody     bool   // the status has no body, or HEAD
	pending    []byte // body bytes held back until the framing is known

	ctx reqContext // req's context
}

func (w *response) Header() http.Header { return w.header }

// WriteHeader sends 1xx informational responses (but 101) at once, and
// records a final status.
func (w *response) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("h1: invalid WriteHeader code %d", code))
	}
	if w.status != 0 {
		return // superfluous, as net/http ignores it
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		if w.req.ProtoAtLeast(1, 1) && w.c.werr == nil {
			b := appendStatus(w.c.wbuf[:0], code)
			b = httpx.AppendFields(b, w.header)
			w.c.wbuf = append(b, "\r\n"...)
			w.c.write()
		}
		return
	}
	w.status = code
}

func (w *response) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.c.werr != nil {
		return 0, w.c.werr
	}
	if !w.committed && bodyAllowed(w.status) && w.cl < 0 && w.header.Get("Content-Length") == "" {
		// The length is not known yet: hold small writes back.
		if len(w.pending)+len(p) <= bufSize {
			if w.pending == nil {
				w.pending = make([]byte, 0, bufSize)
			}
			w.pending = append(w.pending, p...)
			w.written += int64(len(p))
			return len(p), nil
		}
	}
	if !w.committed {
		w.commit(p, false)
	}
	if w.noBody {
		if !bodyAllowed(w.status) {
			return 0, http.ErrBodyNotAllowed
		}
		w.written += int64(len(p))
		return len(p), nil
	}
	if w.cl >= 0 && w.written+int64(len(p)) > w.cl {
		return 0, http.ErrContentLength
	}
	w.send(p)
	if w.c.werr != nil {
		return 0, w.c.werr
	}
	w.written += int64(len(p))
	return len(p), nil
}

// SendFile writes n bytes of f from off as body, by sendfile(2) when the
// response's length is declared and the connection is a socket, else by
// copying them through Write. f's own offset is not moved.
func (w *response) SendFile(f *os.File, off, n int64) (int64, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.c.werr != nil {
		return 0, w.c.werr
	}
	_, typed := w.header["Content-Type"]
	declared := w.cl >= 0 || w.header.Get("Content-Length") != ""
	if !w.committed && (!typed || !declared) {
		// Sniffing or framing wants the body's bytes.
		return io.Copy(writerOnly{w}, io.NewSectionReader(f, off, n))
	}
	if !w.committed {
		w.commit(nil, false)
	}
	if w.noBody || w.chunked {
		return io.Copy(writerOnly{w}, io.NewSectionReader(f, off, n))
	}
	if w.cl >= 0 && w.written+n > w.cl {
		return 0, http.ErrContentLength
	}
	sent, ok := w.c.sendFile(f, off, n)
	if !ok {
		return io.Copy(writerOnly{w}, io.NewSectionReader(f, off, n))
	}
	w.written += sent
	return sent, w.c.werr
}

// sendFileMin is the least a response sends by sendfile(2) when it
// could write the same bytes from memory, and then only when the server
// is crowded. Measured with the edge's bodies in memfds against the
// same edge writing them from memory (`scripts/bench-ab.sh`, 2 cores
// shared with wrk, loopback): at 1,000 connections 100 KiB hits 1.26–
// 1.33× the requests a second at 0.63–0.68× the CPU each, 64 KiB ranges
// of 1 MiB objects 1.14–1.15× at 0.83–0.85×, 1 MiB hits 0.92–0.95× at
// 0.74–0.76× with a lower p99; at 64 connections sendfile (header with
// MSG_MORE) was behind writev from memory for 1 MiB and 100 KiB hits
// (0.84 and 0.93×), so below 4×BusyConns a body is written.
const sendFileMin = 64 << 10

// WantsFile reports whether n bytes are better sent by sendfile(2) than
// written from memory: a body of sendFileMin or more to a crowded
// server's socket.
func (w *response) WantsFile(n int64) bool {
	return n >= sendFileMin && w.c.srv.crowded() && w.c.canSendFile()
}

// writerOnly hides every method of a writer but Write, so that io.Copy
// does not come back to SendFile's caller by another way.
type writerOnly struct{ io.Writer }

// send writes body bytes p (framed when chunked) after what is buffered:
// gathered when small, else in one writev with the buffer; or, for a
// body under splitMax when the server is busy, the buffer filled with
// p's first bytes in one write and the rest in a second, as net/http's
// server writes. Measured on loopback (2 cores, scripts/bench-gofloor.sh
// with MODES="writev split" CONNS="64 1000"): with 100 KiB bodies the
// split is ahead at 1,000 connections (0.92 against 0.84× nginx's
// requests/s); with 1 MiB bodies it is behind (1.07 and 1.12× against
// 1.16 and 1.17×) and its p99 at 1,000 connections is 1.55 s against
// 0.84–0.92 s.
func (w *response) send(p []byte) {
	c := w.c
	if len(p) == 0 {
		return
	}
	if w.chunked {
		c.wbuf = strconv.AppendInt(c.wbuf, int64(len(p)), 16)
		c.wbuf = append(c.wbuf, "\r\n"...)
		if len(c.wbuf)+len(p)+2 <= bufSize {
			c.wbuf = append(append(c.wbuf, p...), "\r\n"...)
			return
		}
		c.write(p, crlf)
		return
	}
	if len(c.wbuf)+len(p) <= bufSize {
		c.wbuf = append(c.wbuf, p...)
		return
	}
	if n := bufSize - len(c.wbuf); len(c.wbuf) > 0 && n > 0 && w.cl >= 0 && w.cl < splitMax && c.srv.busy() {
		c.write(p[:n]) // n < len(p): p did not fit
		p = p[n:]
	}
	c.write(p)
}

var crlf = []byte("\r\n")

// splitMax is the body size from which a busy server's response goes
// out in one writev, not split (see send).
const splitMax = 256 << 10

// commit decides the framing and puts the header in c.wbuf; first is
// the first body bytes (for sniffing), final whether the handler is done.
func (w *response) commit(first []byte, final bool) {
	w.committed = true
	h := w.header
	allowed := bodyAllowed(w.status)
	w.noBody = !allowed || w.head
	if len(w.pending) > 0 {
		first = w.pending
	}
	if _, ok := h["Content-Type"]; !ok && allowed && len(first) > 0 && h.Get("Content-Encoding") == "" {
		h["Content-Type"] = []string{http.DetectContentType(first)}
	}
	if w.status == http.StatusNotModified {
		delete(h, "Content-Type")
		delete(h, "Content-Length")
	}
	delete(h, "Transfer-Encoding") // the framing is the server's
	if v := h.Get("Content-Length"); v != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 0 {
			delete(h, "Content-Length")
		} else {
			w.cl = n
		}
	}
	switch {
	case w.cl >= 0 || !allowed:
	case final && (!w.head || w.written > 0):
		w.cl = w.written
		h["Content-Length"] = []string{strconv.FormatInt(w.cl, 10)}
	case final:
	case w.req.ProtoAtLeast(1, 1):
		w.chunked = !w.head
	default:
		w.closeAfter = true // an HTTP/1.0 body of unknown length ends with the connection
	}
	if httpguts.HeaderValuesContainsToken(h["Connection"], "close") || w.c.srv.isClosing() {
		w.closeAfter = true
	}
	b := appendStatus(w.c.wbuf, w.status)
	b = httpx.AppendFields(b, h)
	if _, ok := h["Date"]; !ok {
		b = append(b, "Date: "...)
		b = time.Now().UTC().AppendFormat(b, http.TimeFormat)
		b = append(b, "\r\n"...)
	}
	if w.chunked {
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	_, hasConnection := h["Connection"]
	w.c.wbuf = w.appendEnd(b, hasConnection)
	if p := w.pending; len(p) > 0 {
		w.pending = nil
		if !w.noBody {
			w.send(p)
		}
	}
}

// appendEnd ends the header in b: the Connection field the framing
// needs, unless the handler set one, then the empty line.
func (w *response) appendEnd(b []byte, hasConnection bool) []byte {
	switch {
	case w.closeAfter:
		if !hasConnection {
			b = append(b, "Connection: close\r\n"...)
		}
	case !w.req.ProtoAtLeast(1, 1):
		b = append(b, "Connection: keep-alive\r\n"...)
	}
	return append(b, "\r\n"...)
}

// WritePrepared starts a response whose header fields the caller has
// serialized already: the status code, then fields and more as they
// are (whole "Name: value\r\n" lines, with valid names and no CR or LF
// in values: the caller's promise, not checked), then Content-Length:
// size and the Connection field the framing needs. Nothing else is
// added (no Date: the fields must carry one) and the header map is not
// read. The body, of exactly size bytes, follows by Write. It is for a
// handler that answers many requests with the same fields (a cache's
// stored response): they are written per request without a map.
// Called after the response has started, it does nothing.
func (w *response) WritePrepared(code int, size int64, fields, more []byte) {
	if w.status != 0 || w.committed || code < 200 || size < 0 {
		return
	}
	w.status, w.committed, w.cl = code, true, size
	w.noBody = !bodyAllowed(code) || w.head
	if w.c.srv.isClosing() {
		w.closeAfter = true
	}
	b := appendStatus(w.c.wbuf, code)
	b = append(append(b, fields...), more...)
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, size, 10)
	b = append(b, "\r\n"...)
	w.c.wbuf = w.appendEnd(b, false)
}

// finish completes the response after the handler returned.
func (w *response) finish() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if !w.committed {
		w.commit(nil, true)
	}
	if w.chunked {
		w.c.wbuf = append(w.c.wbuf, "0\r\n\r\n"...)
	}
	w.c.write()
	if w.cl >= 0 && !w.noBody && w.written < w.cl {
		w.closeAfter = true // short: the client must not read the next response as its rest
	}
}

// Flush sends what is buffered, the header first; a body of unknown
// length is chunked from then on.
func (w *response) Flush() { _ = w.FlushError() }

// FlushError is Flush, for http.ResponseController.
func (w *response) FlushError() error {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(nil, false)
	}
	w.c.write()
	return w.c.werr
}

// SetWriteDeadline sets the connection's write deadline, for
// http.ResponseController and send timeouts; it ends a send timeout set
// by SetSendTimeout.
func (w *response) SetWriteDeadline(t time.Time) error {
	w.c.sendTimeout, w.c.staleDeadline = 0, false
	return w.c.rwc.SetWriteDeadline(t)
}

// SetSendTimeout has the server keep the write deadline for the rest of
// the response: timeout from its first write, then moved on by timeout
// each time chunk more bytes have gone out, in the middle of a write
// too. Unlike a deadline the handler moves between writes of chunk
// bytes, it lets a large body go out in one write: one loop of writev
// calls, no handler round trip and no deadline change per chunk. (Its
// effect on latency under load is not established: scripts/bench-edge.sh
// runs before and after it differ by less than runs of one build.) It
// reports false, leaving the deadline to the caller, when the
// connection is not a socket.
func (w *response) SetSendTimeout(timeout time.Duration, chunk int) bool {
	c := w.c
	if c.raw == nil || timeout <= 0 || chunk <= 0 {
		return false
	}
	// sent starts at chunk, so that the first write moves the deadline:
	// the time the handler took before it is not the client's.
	c.sendTimeout, c.sendChunk, c.sent = timeout, chunk, chunk
	c.staleDeadline = false // the first write moves the deadline
	return true
}

// SetReadDeadline sets the connection's read deadline, for
// http.ResponseController.
func (w *response) SetReadDeadline(t time.Time) error { return w.c.setReadDeadline(t) }

// bodyAllowed reports whether a response with status may have a body
// (RFC 9110 §6.4.1).
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

func appendStatus(b []byte, code int) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	if t := http.StatusText(code); t != "" {
		b = append(b, t...)
	} else {
		b = append(b, "status code "...)
		b = strconv.AppendInt(b, int64(code), 10)
	}
	return append(b, "\r\n"...)
}
