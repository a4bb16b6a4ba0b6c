package edge

import (
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/streamcdn/streamcdn/internal/httpx"
)

// preparedWriter is internal/h1's response writer: it takes a response's
// header fields serialized already (see h1's WritePrepared), so a hit
// writes its stored fields without a header map.
type preparedWriter interface {
	WritePrepared(code int, size int64, fields, more []byte)
}

// hitFields serializes, for the prepared hit path, the header fields a
// 200 or single-range 206 hit on o sends that do not change from one
// hit to the next: the stored fields with what httpx.Serve sets on them
// (httpx.ContentFields), without what each hit writes itself (Age,
// Cache-Status, Content-Length, this edge's Via entry after the stored
// ones). Nil when the slow path must serve o: not a 200; no Date or
// Content-Type to send as stored (the server would add a Date, or sniff
// a type); or a stored Content-Range, which a 200 sends as stored and a
// 206 replaces.
func hitFields(o *object) []byte {
	if o.status != http.StatusOK || len(o.header["Date"]) == 0 || httpx.Field(o.header, "Content-Type") == "" ||
		len(o.header["Content-Range"]) > 0 {
		return nil
	}
	h := make(http.Header, len(o.header)+1)
	for k, vs := range o.header {
		switch k {
		case "Age", "Cache-Status", "Content-Length", "Connection", "Transfer-Encoding":
		default:
			h[k] = vs
		}
	}
	httpx.ContentFields(h, o.content())
	return slices.Clip(httpx.AppendFields(make([]byte, 0, fieldsLen(h)), h))
}

// fieldsLen is the length of h's fields as AppendFields writes them
// (when no value holds CR or LF), so that an object keeps no slack.
func fieldsLen(h http.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(": ") + len(v) + len("\r\n")
		}
	}
	return n
}

// servePrepared answers a hit on o, whose body is in memory, through
// the writer's prepared path when httpx.Decide answers it with a 200 or
// a 206 of one range, and reports whether it did; anything else (304,
// 412, 416, multipart) is left to the slow path. The response is the
// one serveStored writes through the header map, field for field
// (TestPreparedHitMatches).
func (s *Server) servePrepared(w *recorder, pw preparedWriter, r *http.Request, o *object, age time.Duration, cache, status string) bool {
	d := httpx.Decide(r, o.content())
	if d.Status != http.StatusOK && (d.Status != http.StatusPartialContent || d.Ranges != nil) {
		return false
	}
	w.cache, w.cacheStatus = cache, status
	more := append(make([]byte, 0, 128+len(status)), "Age: "...)
	more = strconv.AppendInt(more, int64(age.Seconds()), 10)
	more = append(more, "\r\n"...)
	more = append(more, s.fieldLines...)
	more = append(append(more, status...), "\r\n"...)
	if d.Status == http.StatusPartialContent {
		more = d.Range.AppendContentRange(append(more, "Content-Range: "...), o.bodySize())
		more = append(more, "\r\n"...)
	}
	w.Code = d.Status
	pw.WritePrepared(d.Status, d.Range.Length, o.hitFields, more)
	if r.Method == http.MethodHead {
		return true
	}
	if f := o.file; f != nil {
		if w.WantsFile(d.Range.Length) {
			_, _ = w.SendFile(f.f, d.Range.Start, d.Range.Length)
		} else {
			_, _ = w.Write(f.data[d.Range.Start : d.Range.Start+d.Range.Length])
		}
		runtime.KeepAlive(f) // its mapping is f.data
		return true
	}
	_, _ = w.Write(o.body[d.Range.Start : d.Range.Start+d.Range.Length])
	return true
}
