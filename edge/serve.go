package edge

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/streamcdn/streamcdn/internal/httpx"
)

// fetch answers r through the fill for key, starting one if none is in
// flight; stale is the stored object being revalidated, or nil.
func (s *Server) fetch(w *recorder, r *http.Request, key string, stale *object) {
	f, joined := s.startFill(key, r, stale)
	f.waitHeader()
	f.mu.Lock()
	failed, obj, pass := f.err != nil && f.status == 0, f.obj, f.pass
	usable, status := f.shareable || f.by == r, f.status
	f.mu.Unlock()
	switch {
	case failed:
		s.serveUpstreamError(w, r, stale, 0, f.err)
	case obj != nil && obj.sliced > 0 && stale == nil:
		s.serveObject(w, r, obj, "miss", "fwd=miss; stored")
	case obj != nil:
		s.serveObject(w, r, obj, "revalidated", "fwd=stale; fwd-status=304; stored")
	case pass != "":
		s.forward(w, r, "fwd=miss; detail="+pass, false)
	case !usable:
		s.forward(w, r, "fwd=miss; detail=not-shareable", false)
	case status >= 500 && stale != nil && s.staleIfError(stale, r):
		s.serveUpstreamError(w, r, stale, status, nil)
	default:
		s.serveFill(w, r, f, stale != nil, joined)
	}
}

// staleIfError reports whether stale may answer r when upstream fails:
// within the response's stale-if-error window or the request's max-stale.
func (s *Server) staleIfError(stale *object, r *http.Request) bool {
	over := ageOf(stale, s.now()) - stale.policy.lifetime
	rp := parseRequestPolicy(r)
	if stale.policy.mustRevalidate && rp.maxStale == 0 {
		return false
	}
	return over <= stale.policy.sie || rp.maxStale < 0 || over <= rp.maxStale
}

// serveUpstreamError answers when upstream failed (err) or answered 5xx
// (status): the stale object if allowed, else 504.
func (s *Server) serveUpstreamError(w *recorder, r *http.Request, stale *object, status int, err error) {
	if stale != nil && s.staleIfError(stale, r) {
		fwd := "504"
		if status > 0 {
			fwd = fmt.Sprint(status)
		}
		s.serveObject(w, r, stale, "stale", "fwd=stale; fwd-status="+fwd+"; detail=stale-if-error")
		return
	}
	w.cache = "error"
	s.writeCacheStatus(w, "fwd=miss; detail=upstream-error")
	if err != nil {
		s.log.Warn("upstream failed", "path", r.URL.Path, "err", err)
	}
	http.Error(w, "upstream unavailable", http.StatusGatewayTimeout)
}

// serveFill streams a fill in progress to w. If the fill fails after the
// header went out, the connection is aborted so the client sees the
// truncation.
func (s *Server) serveFill(w *recorder, r *http.Request, f *fill, revalidating, joined bool) {
	w.cache = "miss"
	h := w.Header()
	for k, vs := range f.header {
		h[k] = vs
	}
	s.addVia(h)
	status := "fwd=miss"
	if revalidating {
		status = fmt.Sprintf("fwd=stale; fwd-status=%d", f.status)
	}
	if f.storing {
		status += "; stored"
	}
	if joined {
		status += "; collapsed"
	}
	s.writeCacheStatus(w, status)
	rc := http.NewResponseController(w)
	body := f.reader(func() { rc.Flush() })
	var err error
	if f.status == http.StatusOK && f.size >= 0 {
		h.Del("Content-Length")
		_, err = httpx.Serve(w, r, httpx.Content{
			Body: body, Size: f.size, ContentType: f.header.Get("Content-Type"),
			Validators: httpx.Validators{ETag: f.header.Get("Etag"), LastModified: headerTime(f.header, "Last-Modified")},
		})
	} else {
		w.WriteHeader(f.status)
		if r.Method != http.MethodHead {
			_, err = io.Copy(w, body)
		}
	}
	if err != nil {
		f.mu.Lock()
		upstreamFailed := f.err != nil
		f.mu.Unlock()
		if upstreamFailed {
			panic(http.ErrAbortHandler) // reset: never a short response that looks whole
		}
	}
}

// forward sends r upstream as it is (method, target, headers, body) and
// copies the answer back. After a successful unsafe method it invalidates
// the stored responses for the URL and its Location and Content-Location
// (RFC 9111 §4.4).
func (s *Server) forward(w *recorder, r *http.Request, cacheStatus string, invalidate bool) {
	if w.cache == "" {
		w.cache = "bypass"
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, s.upstreamURL(r), r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if r.ContentLength == 0 {
		req.Body = nil
	}
	req.ContentLength = r.ContentLength
	req.Header = endToEnd(r.Header)
	s.addVia(req.Header)
	res, err := s.client.Do(req)
	if err != nil {
		s.metrics.upstreamRequests.WithLabelValues("error").Inc()
		w.cache = "error"
		s.writeCacheStatus(w, cacheStatus+"; detail=upstream-error")
		http.Error(w, "upstream unavailable", http.StatusBadGateway)
		return
	}
	defer res.Body.Close()
	s.metrics.upstreamRequests.WithLabelValues(codeClass(res.StatusCode)).Inc()
	if invalidate && res.StatusCode < 400 {
		s.invalidate(r, res.Header)
	}
	h := w.Header()
	for k, vs := range endToEnd(res.Header) {
		h[k] = vs
	}
	s.addVia(h)
	s.writeCacheStatus(w, cacheStatus)
	w.WriteHeader(res.StatusCode)
	if _, err := io.Copy(w, res.Body); err != nil && !errors.Is(err, r.Context().Err()) {
		panic(http.ErrAbortHandler)
	}
}

// invalidate drops what is stored for r's target and the targets its
// response names in Location and Content-Location, if on the same host.
func (s *Server) invalidate(r *http.Request, h http.Header) {
	targets := []string{primaryKey(r)}
	for _, f := range []string{"Location", "Content-Location"} {
		if u, err := r.URL.Parse(h.Get(f)); err == nil && h.Get(f) != "" && (u.Host == "" || u.Host == r.Host) {
			targets = append(targets, u.RequestURI())
		}
	}
	for _, t := range targets {
		s.purge(func(key string) bool { return key == t || strings.HasPrefix(key, t+"\x00") })
	}
}

// purge removes every stored object whose key matches, from both tiers,
// and returns how many it removed.
func (s *Server) purge(match func(key string) bool) int {
	n := 0
	for _, k := range s.mem.keys() {
		if match(k) && s.mem.remove(k) {
			n++
		}
	}
	if s.disk != nil {
		for _, k := range s.disk.keys() {
			if match(k) && s.disk.remove(k) {
				n++
			}
		}
	}
	s.metrics.purged.Add(float64(n))
	return n
}
