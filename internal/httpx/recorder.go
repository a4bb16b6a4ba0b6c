package httpx

import (
	"io"
	"net/http"
)

// Recorder is an http.ResponseWriter that notes the status code and the
// body bytes written, for metrics and logs. It keeps net/http's sendfile
// path for file bodies by implementing io.ReaderFrom.
type Recorder struct {
	http.ResponseWriter
	Code  int
	Bytes int64
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
	n, err := r.ResponseWriter.Write(b)
	r.Bytes += int64(n)
	return n, err
}

// ReadFrom copies src through the underlying writer's ReadFrom.
func (r *Recorder) ReadFrom(src io.Reader) (int64, error) {
	if r.Code == 0 {
		r.Code = http.StatusOK
	}
	n, err := io.Copy(r.ResponseWriter.(io.Writer), src)
	r.Bytes += n
	return n, err
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
