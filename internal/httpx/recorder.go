package httpx

import (
	"io"
	"net/http"
	"os"
	"time"
)

// Recorder is an http.ResponseWriter that notes the status code and the
// body bytes written, for metrics and logs. It keeps net/http's sendfile
// path for file bodies by implementing io.ReaderFrom.
//
// With SendTimeout set, a client must take each sendChunk of the body
// within it (nginx's send_timeout is the same between two writes): the
// connection's write deadline is set when the response starts (for a
// response that is only a header) and moved on at its first body write
// and before each further sendChunk, so a client that stops reading is
// dropped after SendTimeout however large the body, one that reads
// slowly but steadily is not, and neither is one whose response took
// the handler long to begin (a slow disk or upstream is not the
// client's delay). A response under sendChunk costs two deadline
// changes. A writer that keeps the send timeout itself (internal/h1's
// SetSendTimeout) is given it instead, and the body in one write.
type Recorder struct {
	http.ResponseWriter
	Code        int
	Bytes       int64
	SendTimeout time.Duration

	dl     deadliner // nil: not supported, or no SendTimeout
	unsent int       // bytes written under the current deadline
}

// sendChunk is how much of a body one write deadline covers.
const sendChunk = 256 << 10

// deadliner is what net/http's response writer (and a wrapper that
// passes it on) has to set the connection's write deadline.
type deadliner interface{ SetWriteDeadline(time.Time) error }

// sendTimeouter is a response writer that keeps the send timeout itself
// (internal/h1's): a body then goes to it in one Write, not one per
// sendChunk (see h1's SetSendTimeout).
type sendTimeouter interface {
	SetSendTimeout(timeout time.Duration, chunk int) bool
}

// Start sets the first write deadline, for a response that may be only
// a header (net/http writes it after the handler returns), or hands the
// send timeout to a writer that keeps it itself.
func (r *Recorder) Start() { r.StartAt(time.Now()) }

// StartAt is Start for a caller that has just read the clock: now.
func (r *Recorder) StartAt(now time.Time) {
	if r.SendTimeout <= 0 {
		return
	}
	for w := r.ResponseWriter; w != nil; {
		if st, ok := w.(sendTimeouter); ok && st.SetSendTimeout(r.SendTimeout, sendChunk) {
			return
		}
		if d, ok := w.(deadliner); ok {
			r.dl = d
			break
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		w = u.Unwrap()
	}
	r.extendFrom(now)
	r.unsent = sendChunk // the first body write moves the deadline on
}

// extend moves the write deadline to SendTimeout from now.
func (r *Recorder) extend() { r.extendFrom(time.Now()) }

func (r *Recorder) extendFrom(now time.Time) {
	if r.dl != nil && r.dl.SetWriteDeadline(now.Add(r.SendTimeout)) != nil {
		r.dl = nil
	}
	r.unsent = 0
}

// WriteHeader records the first status code written.
func (r *Recorder) WriteHeader(code int) {
	if r.Code == 0 {
		r.Code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *Recorder) Write(b []byte) (int, error) {
	if r.Code == 0 {
		r.Code = http.StatusOK
	}
	if r.dl == nil {
		n, err := r.ResponseWriter.Write(b)
		r.Bytes += int64(n)
		return n, err
	}
	var total int
	for len(b) > 0 {
		if r.unsent >= sendChunk {
			r.extend()
		}
		n, err := r.ResponseWriter.Write(b[:min(len(b), sendChunk-r.unsent)])
		total += n
		r.unsent += n
		r.Bytes += int64(n)
		if err != nil {
			return total, err
		}
		b = b[n:]
	}
	return total, nil
}

// ReadFrom copies src through the underlying writer's ReadFrom.
func (r *Recorder) ReadFrom(src io.Reader) (int64, error) {
	if r.Code == 0 {
		r.Code = http.StatusOK
	}
	if r.dl == nil {
		n, err := io.Copy(r.ResponseWriter.(io.Writer), src)
		r.Bytes += n
		return n, err
	}
	var total int64
	for {
		if r.unsent >= sendChunk {
			r.extend()
		}
		n, err := io.CopyN(r.ResponseWriter.(io.Writer), src, int64(sendChunk-r.unsent))
		total += n
		r.unsent += int(n)
		r.Bytes += n
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// SendFile sends n bytes of f from off through the underlying writer's
// SendFile, sendChunk at a time under the send timeout; if it has none,
// they are copied.
func (r *Recorder) SendFile(f *os.File, off, n int64) (int64, error) {
	fs, ok := r.ResponseWriter.(FileSender)
	if !ok {
		return r.ReadFrom(io.NewSectionReader(f, off, n))
	}
	if r.Code == 0 {
		r.Code = http.StatusOK
	}
	var total int64
	for total < n {
		chunk := n - total
		if r.dl != nil {
			if r.unsent >= sendChunk {
				r.extend()
			}
			chunk = min(chunk, int64(sendChunk-r.unsent))
		}
		m, err := fs.SendFile(f, off+total, chunk)
		total += m
		r.unsent += int(m)
		r.Bytes += m
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// WantsFile asks the underlying writer; false if it sends no files.
func (r *Recorder) WantsFile(n int64) bool {
	fs, ok := r.ResponseWriter.(FileSender)
	return ok && fs.WantsFile(n)
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (r *Recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Status returns the status code sent, 200 if none was written.
func (r *Recorder) Status() int {
	if r.Code == 0 {
		return http.StatusOK
	}
	return r.Code
}
