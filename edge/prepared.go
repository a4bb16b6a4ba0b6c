package edge

import (
	"net/http"
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
// hit to the next: the stored fields as serveStored and httpx.Serve
// leave them (Accept-Ranges set, Content-Type its first value), without
// what each hit writes itself (Age, Cache-Status, Content-Length,
// Content-Range, this edge's Via entry after the stored ones). Nil when
// the slow path must serve o: not a 200; no Date or Content-Type to send
// as stored (the server would add a Date, or sniff a type); or a stored
// Content-Range, which a 200 sends as stored and a 206 replaces.
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
	h["Accept-Ranges"] = []string{"bytes"}
	h["Content-Type"] = h["Content-Type"][:1]
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
// the writer's prepared path, and reports whether it did: a GET or HEAD
// without preconditions, answered whole (200) or with one satisfiable
// range (206). The response is the one serveStored writes through the
// header map, field for field (TestPreparedHitMatches). Anything else
// (preconditions, If-Range, several ranges, an unsatisfiable or invalid
// Range) is left to the slow path.
func (s *Server) servePrepared(w *recorder, pw preparedWriter, r *http.Request, o *object, age time.Duration, cache, status string) bool {
	h := r.Header
	if httpx.Field(h, "If-Match") != "" || httpx.Field(h, "If-None-Match") != "" || httpx.Field(h, "If-Modified-Since") != "" ||
		httpx.Field(h, "If-Unmodified-Since") != "" || httpx.Field(h, "If-Range") != "" {
		return false
	}
	size := int64(len(o.body))
	code, rg := http.StatusOK, httpx.Range{Length: size}
	if v := httpx.Field(h, "Range"); v != "" && r.Method == http.MethodGet {
		one, ok := httpx.ParseOneRange(v, size)
		if !ok {
			return false
		}
		code, rg = http.StatusPartialContent, one
	}
	w.cache, w.cacheStatus = cache, status
	more := append(make([]byte, 0, 128+len(status)), "Age: "...)
	more = strconv.AppendInt(more, int64(age.Seconds()), 10)
	more = append(more, "\r\n"...)
	more = append(more, s.fieldLines...)
	more = append(append(more, status...), "\r\n"...)
	if code == http.StatusPartialContent {
		more = append(more, "Content-Range: bytes "...)
		more = strconv.AppendInt(more, rg.Start, 10)
		more = strconv.AppendInt(append(more, '-'), rg.End(), 10)
		more = strconv.AppendInt(append(more, '/'), size, 10)
		more = append(more, "\r\n"...)
	}
	w.Code = code
	pw.WritePrepared(code, rg.Length, o.hitFields, more)
	if r.Method != http.MethodHead {
		_, _ = w.Write(o.body[rg.Start : rg.Start+rg.Length])
	}
	return true
}
