package edge

import (
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/streamcdn/streamcdn/internal/httpx"
)

// Objects larger than MaxObjectBytes (single-file on-demand
// representations run to hundreds of MB) are cached as fixed-size slices,
// as nginx's slice module does: the edge stores a small metadata object
// under the object's key (its header and size, no body) and each slice
// under the key plus "\x00slice=N". A request needs only the slices its
// range covers; each is fetched upstream with a Range request, coalesced
// and stored like any object. Sliced objects answer a single range with
// 206 and anything else with the whole object, streamed slice by slice.

// sliceKey is the key of slice n of the object at primary key p.
func sliceKey(p string, n int64) string { return p + "\x00slice=" + strconv.FormatInt(n, 10) }

// storeSliceMeta stores the metadata object for a large response.
func (s *Server) storeSliceMeta(key string, gen uint64, h http.Header, size int64, reqTime, respTime time.Time) *object {
	o := (&object{key: key, status: http.StatusOK, header: h, reqTime: reqTime, respTime: respTime, sliced: size, gen: gen}).prepared()
	s.store(o, true)
	return o
}

// serveSliced answers r for a sliced object described by meta.
func (s *Server) serveSliced(w *recorder, r *http.Request, meta *object, cacheStatus string) {
	size := meta.sliced
	v := meta.validators()
	h := w.Header()
	for k, vs := range meta.header {
		h[k] = vs
	}
	h.Set("Accept-Ranges", "bytes")
	s.addVia(h)
	s.writeCacheStatus(w, cacheStatus+"; detail=sliced")
	if status := httpx.CheckPreconditions(r, v); status != 0 {
		w.WriteHeader(status)
		return
	}
	rg := httpx.Range{Start: 0, Length: size}
	status := http.StatusOK
	if hdr := r.Header.Get("Range"); hdr != "" && r.Method == http.MethodGet && httpx.RangeApplies(r, v) {
		ranges, err := httpx.ParseRange(hdr, size)
		switch {
		case errors.Is(err, httpx.ErrUnsatisfiable):
			h.Set("Content-Range", fmt.Sprintf("bytes */%d", size))
			http.Error(w, "range not satisfiable", http.StatusRequestedRangeNotSatisfiable)
			return
		case err == nil && len(ranges) == 1:
			rg, status = ranges[0], http.StatusPartialContent
			h.Set("Content-Range", rg.ContentRange(size))
		}
	}
	h.Set("Content-Length", strconv.FormatInt(rg.Length, 10))
	w.cache = "hit"
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	sb := s.cfg.SliceBytes
	for n := rg.Start / sb; n <= rg.End()/sb; n++ {
		data, file, err := s.slice(r, meta, n)
		if err != nil {
			s.log.Warn("slice fetch failed", "key", meta.key, "slice", n, "err", err)
			panic(http.ErrAbortHandler) // the client sees the truncation
		}
		if file != nil {
			data = file.data
		}
		lo, hi := max(rg.Start-n*sb, 0), min(rg.End()+1-n*sb, int64(len(data)))
		if lo >= hi {
			panic(http.ErrAbortHandler)
		}
		if file != nil && w.WantsFile(hi-lo) {
			_, err = w.SendFile(file.f, lo, hi-lo)
		} else {
			_, err = w.Write(data[lo:hi])
		}
		runtime.KeepAlive(file) // its mapping is data
		if err != nil {
			return
		}
	}
}

// slice returns slice n of the sliced object meta, from the cache or
// fetched upstream with a Range request (coalesced): its bytes, or the
// memFile that holds them.
func (s *Server) slice(r *http.Request, meta *object, n int64) ([]byte, *memFile, error) {
	key := sliceKey(meta.key, n)
	o, of := s.lookup(key)
	if of != nil {
		body, err := of.readAll()
		of.Close()
		if err != nil {
			s.diskError(key, err)
			o = nil
		}
		if o != nil {
			o.body = body
		}
	}
	if o != nil && o.header.Get("ETag") == meta.header.Get("ETag") {
		return o.body, o.file, nil
	}
	first := n * s.cfg.SliceBytes
	last := min(first+s.cfg.SliceBytes, meta.sliced) - 1
	f, _ := s.startRangeFill(key, r, fmt.Sprintf("bytes=%d-%d", first, last), meta)
	defer f.unhold()
	f.mu.Lock()
	for !f.done {
		f.cond.Wait()
	}
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, nil, f.err
	}
	if int64(len(f.buf)) != last-first+1 {
		return nil, nil, fmt.Errorf("slice %d: got %d bytes, want %d", n, len(f.buf), last-first+1)
	}
	return f.buf, nil, nil
}

// storeSlice checks a slice's 206 against the object it belongs to and
// stores it: the same ETag (when there is one) and the same total size.
func (s *Server) storeSlice(f *fill, res *http.Response, h http.Header, body []byte, reqTime, respTime time.Time) error {
	meta := f.meta
	if res.StatusCode != http.StatusPartialContent {
		return fmt.Errorf("slice: upstream answered %d to a Range request", res.StatusCode)
	}
	if cr := h.Get("Content-Range"); cr == "" || !sameTotal(cr, meta.sliced) {
		return fmt.Errorf("slice: Content-Range %q does not match an object of %d bytes", cr, meta.sliced)
	}
	if et := meta.header.Get("ETag"); et != "" && h.Get("ETag") != et {
		return errors.New("slice: the object changed upstream (ETag)")
	}
	o := &object{key: f.key, status: http.StatusPartialContent, header: h, body: body, reqTime: reqTime, respTime: respTime, gen: f.gen}
	s.store(o.prepared(), true)
	return nil
}

func sameTotal(contentRange string, size int64) bool {
	_, total, ok := cutLast(contentRange, "/")
	return ok && total == strconv.FormatInt(size, 10)
}

func cutLast(s, sep string) (string, string, bool) {
	for i := len(s) - len(sep); i >= 0; i-- {
		if s[i:i+len(sep)] == sep {
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}
