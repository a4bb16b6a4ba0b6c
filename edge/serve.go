package edge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/streamcdn/streamcdn/internal/httpx"
)

// fetch answers r through the fill for key, starting one if none is in
// flight; stale is the stored object being revalidated, or nil. recent
// says whether r may instead be answered from a revalidation that ended
// after r looked stale up (see startRevalidation).
func (s *Server) fetch(w *recorder, r *http.Request, key string, stale *object, recent bool) {
	if stale != nil && recent {
		f, joined := s.startRevalidation(key, r, stale)
		if f == nil {
			s.serveCachedOnce(w, r, false)
			return
		}
		s.answer(w, r, key, f, joined, stale, true)
		return
	}
	s.fetchVaried(w, r, key, stale, true)
}

// fetchVaried is fetch; retry says whether a request that joined a fill
// whose response varies on fields where it differs from the fill's
// request may fetch its own variant (once).
func (s *Server) fetchVaried(w *recorder, r *http.Request, key string, stale *object, retry bool) {
	f, joined := s.startFill(key, r, stale)
	s.answer(w, r, key, f, joined, stale, retry)
}

// answer serves r from fill f for key, which it joined or started, and
// lets go of it.
func (s *Server) answer(w *recorder, r *http.Request, key string, f *fill, joined bool, stale *object, retry bool) {
	defer f.unhold()
	var send func(interim)
	if !joined && f.by == r && r.ProtoAtLeast(1, 1) {
		send = func(it interim) { sendInterim(w, it) }
	}
	f.waitHeader(send)
	f.mu.Lock()
	failed, obj, pass := f.err != nil && f.status == 0, f.obj, f.pass
	usable, status, header := f.shareable || f.by == r, f.status, f.header
	f.mu.Unlock()
	if joined && !failed && !sameVariant(header, f.owner, r) {
		// The response varies (Vary) on a field in which this request
		// differs from the one that started the fill: it is another
		// variant, under its own key.
		names, star := parseVary(header)
		if !retry || star {
			s.forward(w, r, "fwd=miss; detail=vary", false)
			return
		}
		s.fetchVaried(w, r, primaryKey(r)+"\x00"+varyKey(r, names), nil, false)
		return
	}
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
	case status >= 500 && stale != nil && s.staleIfError(stale, r, false):
		s.serveUpstreamError(w, r, stale, status, nil)
	default:
		s.serveFill(w, r, f, stale, joined)
	}
}

// sendInterim passes an informational response from upstream on to the
// client (RFC 9110 §15.2): 102 and 103 with their fields, which are then
// taken out of the final response's header again. 100 and 101 are not
// upstream's to send a GET's client.
func sendInterim(w *recorder, it interim) {
	if it.code == http.StatusContinue || it.code == http.StatusSwitchingProtocols || it.code < 100 || it.code > 199 {
		return
	}
	h := w.Header()
	for k, vs := range it.header {
		h[k] = vs
	}
	w.ResponseWriter.WriteHeader(it.code) // not through the recorder: not the final status
	for k := range it.header {
		delete(h, k)
	}
}

// sameVariant reports whether a response with header h, to request a,
// is also the response to b: equal values of every field it varies on.
func sameVariant(h http.Header, a, b *http.Request) bool {
	names, star := parseVary(h)
	if star {
		return a == b
	}
	return len(names) == 0 || varyKey(a, names) == varyKey(b, names)
}

// staleIfError reports whether stale may answer r when upstream fails:
// within the response's stale-if-error window or the request's
// max-stale; and, when upstream could not be reached or failed before
// answering (disconnected, RFC 9111 §4.2.4), for StaleIfDisconnected
// unless the response says must-revalidate, proxy-revalidate, s-maxage
// or no-cache, or bounds it with its own stale-if-error.
func (s *Server) staleIfError(stale *object, r *http.Request, disconnected bool) bool {
	over := ageOf(stale, s.now()) - stale.policy.lifetime
	rp := parseRequestPolicy(r)
	if stale.policy.mustRevalidate && rp.maxStale == 0 {
		return false
	}
	if over <= stale.policy.sie || rp.maxStale < 0 || over <= rp.maxStale {
		return true
	}
	return disconnected && !stale.policy.mustRevalidate && !stale.policy.noCache && stale.policy.sie == 0 &&
		over <= s.cfg.StaleIfDisconnected
}

// serveUpstreamError answers when upstream failed (err) or answered 5xx
// (status): the stale object if allowed, else 504 when upstream timed
// out and 502 when it failed otherwise (refused, reset, closed, or sent
// what is not HTTP).
func (s *Server) serveUpstreamError(w *recorder, r *http.Request, stale *object, status int, err error) {
	code := http.StatusBadGateway
	if isTimeout(err) {
		code = http.StatusGatewayTimeout
	}
	if stale != nil && s.staleIfError(stale, r, err != nil) {
		fwd, detail := strconv.Itoa(code), "stale-if-error"
		if status > 0 {
			fwd = strconv.Itoa(status)
		} else if over := ageOf(stale, s.now()) - stale.policy.lifetime; over > stale.policy.sie {
			detail = "stale-if-disconnected"
		}
		s.serveObject(w, r, stale, "stale", "fwd=stale; fwd-status="+fwd+"; detail="+detail)
		return
	}
	w.cache = "error"
	s.writeCacheStatus(w, "fwd=miss; detail=upstream-error")
	if err != nil {
		s.log.Warn("upstream failed", "path", r.URL.Path, "err", err)
	}
	http.Error(w, "upstream unavailable", code)
}

// do sends req upstream. A kept-alive connection may turn out spoiled
// when a request goes out on it: an upstream that sent more than a
// response's Content-Length leaves garbage that net/http reads as the
// next response, and does not retry. So an idempotent request (RFC 9110
// §9.2.2) with no body that fails is sent once more, unless it timed
// out or its client went away (nginx's proxy_next_upstream makes the
// same choice of methods), and any other request, which cannot be sent
// twice, goes on a connection of its own (s.single): a POST or a PUT
// with a body pays a connection setup rather than risk a 502.
func (s *Server) do(req *http.Request) (*http.Response, error) {
	if !idempotent(req.Method) || req.Body != nil {
		return s.single.Do(req)
	}
	res, err := s.client.Do(req)
	if err == nil || req.Context().Err() != nil || isTimeout(err) {
		return res, err
	}
	s.log.Debug("upstream request failed; sending it once more", "method", req.Method, "url", req.URL.String(), "err", err)
	return s.client.Do(req.Clone(req.Context()))
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// serveFill streams a fill in progress to w. It waits for the first body
// byte before the header goes out, so that a fill that fails before any
// byte is answered as an upstream error (or the stale object); if it
// fails after, the connection is aborted so the client sees the
// truncation.
func (s *Server) serveFill(w *recorder, r *http.Request, f *fill, stale *object, joined bool) {
	if err := f.waitFirstByte(); err != nil {
		s.serveUpstreamError(w, r, stale, 0, err)
		return
	}
	size := f.size
	if size < 0 && r.Method == http.MethodHead {
		// A HEAD of a body of unknown length waits for it whole, to
		// answer with its Content-Length.
		if size = f.waitDone(); size < 0 {
			s.serveUpstreamError(w, r, stale, 0, errTruncated)
			return
		}
	}
	w.cache = "miss"
	h := w.Header()
	for k, vs := range f.header {
		h[k] = vs
	}
	s.addVia(h)
	status := "fwd=miss"
	if stale != nil {
		status = fmt.Sprintf("fwd=stale; fwd-status=%d", f.status)
	}
	if f.stored() {
		status += "; stored"
	}
	if joined {
		status += "; collapsed"
	}
	s.writeCacheStatus(w, status)
	rc := http.NewResponseController(w)
	body := f.reader(func() { _ = rc.Flush() })
	var err error
	if f.status == http.StatusOK && size >= 0 {
		h.Del("Content-Length")
		_, err = httpx.Serve(w, r, httpx.Content{
			Body: body, Size: size, ContentType: f.header.Get("Content-Type"),
			Validators: httpx.Validators{ETag: f.header.Get("ETag"), LastModified: headerTime(f.header, "Last-Modified")},
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
		return
	}
	if size < 0 || body.pos >= size {
		// The client has the whole body, so the upstream's has arrived
		// and what is left of the fill is storing it: that is waited
		// for, after the body goes out, so that whatever the client
		// asks next finds what it was just sent stored.
		_ = rc.Flush()
		f.waitDone()
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
	res, err := s.do(req)
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
	s.notePurge(match)
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
