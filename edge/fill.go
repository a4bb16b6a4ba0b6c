package edge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"sync"
	"time"
)

// fill is one upstream fetch that any number of requests wait on. The
// goroutine that runs it owns it; waiters read its state under mu and
// sleep on cond until bytes arrive or it ends.
type fill struct {
	key   string
	gen   uint64        // the purge generation when it started
	owner *http.Request // a copy of the request that started it, as a GET: the upstream request
	by    *http.Request // the request that started it; only it may use a non-shareable answer

	mu     sync.Mutex
	cond   *sync.Cond
	ready  bool // status and header are set, or err
	done   bool // the body is complete, or err
	err    error
	status int
	header http.Header
	size   int64 // Content-Length, -1 if unknown
	// The body so far: n bytes, in buf or, when sp is set, spooled to a
	// file. grant is what buf holds of the in-flight budget.
	n     int64
	buf   []byte
	sp    *spool
	grant int64
	// holds counts the fill's run and the requests that started or
	// joined it and have not yet finished with it; the last to let go
	// closes the spool's read side.
	holds int
	// shareable: the response may go to other waiters than the owner.
	// storing: the response may be stored, and will be if it arrives whole.
	shareable, storing bool
	// obj is set instead of a body when the fill produced a stored object
	// without streaming it: a 304 refreshing a stale one.
	obj *object
	// pass, when set, says why nothing was buffered and each waiter
	// fetches the object for itself: "too-big" (above MaxObjectBytes and
	// not storable) or "unbounded" (not storable, size unknown).
	pass string
	// interims are the informational (1xx) responses upstream sent before
	// the final one, for the request that started the fill to pass on.
	interims []interim
	// rng and meta are set for a slice fill: the upstream Range and the
	// sliced object the slice belongs to.
	rng  string
	meta *object
}

func newFill(key string, r *http.Request, gen uint64) *fill {
	owner := r.Clone(context.Background())
	owner.Method = http.MethodGet // a HEAD miss is filled (and stored) by a GET
	f := &fill{key: key, gen: gen, owner: owner, by: r, size: -1, holds: 1}
	f.cond = sync.NewCond(&f.mu)
	return f
}

// setHeader publishes the response head to the waiters.
func (f *fill) setHeader(status int, h http.Header, size int64, shareable bool) {
	f.mu.Lock()
	f.status, f.header, f.size, f.shareable, f.ready = status, h, size, shareable, true
	if f.grant > 0 { // the in-flight budget holds the body: room for it at once
		f.buf = make([]byte, 0, f.grant)
	}
	f.mu.Unlock()
	f.cond.Broadcast()
}

// append adds p to the body: to the spool, if there is one, then to
// what the readers see.
func (f *fill) append(p []byte) error {
	if f.sp != nil {
		if err := f.sp.write(p); err != nil {
			return err
		}
	}
	f.mu.Lock()
	if f.sp == nil {
		f.buf = append(f.buf, p...)
	}
	f.n += int64(len(p))
	f.mu.Unlock()
	f.cond.Broadcast()
	return nil
}

// finish ends the fill with err (nil for a complete body) and lets go of
// the fill's own hold on its spool.
func (f *fill) finish(err error) {
	f.mu.Lock()
	if !f.done {
		f.err, f.done, f.ready = err, true, true
		f.release()
	}
	f.mu.Unlock()
	f.cond.Broadcast()
}

// hold is taken by a request that starts f (under fillsMu), and let go
// with unhold when it is done reading.
func (f *fill) hold() {
	f.mu.Lock()
	f.holds++
	f.mu.Unlock()
}

// join takes a hold on f for a request that joins it (under fillsMu),
// unless f has ended: a request must not join a fill that ended, whose
// answer may already be stale and whose spool may be closed. Checking
// and holding at once, it cannot join one that ends in between.
func (f *fill) join() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return false
	}
	f.holds++
	return true
}

func (f *fill) unhold() {
	f.mu.Lock()
	f.release()
	f.mu.Unlock()
}

// release drops one hold; the last closes the spool's read side. f.mu
// held.
func (f *fill) release() {
	if f.holds--; f.holds == 0 && f.sp != nil {
		f.sp.rd.Close()
	}
}

// validated reports whether f ended with its response stored: a new
// object, or a 304 that refreshed the stale one.
func (f *fill) validated() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.done && f.err == nil && f.rng == "" && (f.obj != nil || f.storing)
}

// interim is one informational response: 102 Processing, 103 Early
// Hints.
type interim struct {
	code   int
	header http.Header
}

// addInterim records an informational response from upstream.
func (f *fill) addInterim(code int, h textproto.MIMEHeader) error {
	f.mu.Lock()
	if len(f.interims) < 8 { // Go's transport allows 5 before the final one
		f.interims = append(f.interims, interim{code, http.Header(h).Clone()})
	}
	f.mu.Unlock()
	f.cond.Broadcast()
	return nil
}

// waitHeader blocks until the response head is known or the fill failed.
// If send is not nil, it is called, in the caller's goroutine, with each
// informational response upstream sent before that.
func (f *fill) waitHeader(send func(interim)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sent := 0
	for {
		for send != nil && sent < len(f.interims) {
			it := f.interims[sent]
			sent++
			f.mu.Unlock()
			send(it)
			f.mu.Lock()
		}
		if f.ready {
			return
		}
		f.cond.Wait()
	}
}

// waitFirstByte blocks until the body has a byte or the fill ended; it
// returns the fill's error if it failed before any byte.
func (f *fill) waitFirstByte() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.n == 0 && !f.done {
		f.cond.Wait()
	}
	if f.n == 0 && f.err != nil {
		return f.err
	}
	return nil
}

// waitDone blocks until the fill ended and returns the body's size, or
// -1 if it failed.
func (f *fill) waitDone() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	for !f.done {
		f.cond.Wait()
	}
	if f.err != nil {
		return -1
	}
	return f.n
}

// stored reports whether the fill has ended and its response was stored
// (or is being written to disk), for Cache-Status: a fill still running
// may yet fail and store nothing, so it does not say "stored".
func (f *fill) stored() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.done && f.err == nil && f.storing
}

// reader returns a ReadSeeker over the body that blocks until the bytes
// it is asked for have arrived, and fails if the fill fails first. Before
// it blocks it calls flush (if not nil), so that what was written to the
// client so far leaves now rather than when a buffer fills.
// Its user must hold f.
func (f *fill) reader(flush func()) *fillReader {
	f.mu.Lock()
	sp := f.sp
	f.mu.Unlock()
	return &fillReader{f: f, sp: sp, flush: flush}
}

type fillReader struct {
	f       *fill
	sp      *spool // nil: the body is f.buf
	pos     int64
	flush   func()
	flushed bool
}

func (r *fillReader) Read(p []byte) (int, error) {
	f := r.f
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.n <= r.pos && !f.done {
		if r.flush != nil && !r.flushed {
			f.mu.Unlock()
			r.flush()
			f.mu.Lock()
			r.flushed = true
			continue
		}
		f.cond.Wait()
	}
	if f.n > r.pos {
		var n int
		if r.sp != nil {
			// The bytes below f.n are written and stay so: read them
			// without holding the fill.
			avail := f.n - r.pos
			f.mu.Unlock()
			n, err := r.sp.readAt(p[:min(int64(len(p)), avail)], r.pos)
			f.mu.Lock()
			r.pos += int64(n)
			r.flushed = false
			return n, err
		}
		n = copy(p, f.buf[r.pos:])
		r.pos += int64(n)
		r.flushed = false
		return n, nil
	}
	if f.err != nil {
		return 0, f.err
	}
	return 0, io.EOF
}

func (r *fillReader) Seek(offset int64, whence int) (int64, error) {
	if whence != io.SeekStart || offset < 0 {
		return 0, errors.New("fillReader: only absolute seeks")
	}
	r.pos = offset
	return offset, nil
}

// errTruncated is a body that ended before its Content-Length.
var errTruncated = errors.New("upstream body truncated")

// run performs the upstream fetch of f: a conditional GET when stale is
// not nil. It is called in its own goroutine and ends f in every case.
func (s *Server) run(f *fill, stale *object) {
	defer s.wg.Done()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.UpstreamTimeout)
	defer cancel()
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	case <-ctx.Done():
		f.finish(fmt.Errorf("upstream fetch slots busy: %w", ctx.Err()))
		return
	}
	reqTime := s.now()
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{Got1xxResponse: f.addInterim})
	res, err := s.upstreamGET(ctx, f.owner, stale, f.rng)
	if err != nil {
		f.finish(err)
		return
	}
	defer res.Body.Close()
	respTime := s.now()
	if stale != nil && res.StatusCode == http.StatusNotModified {
		o := stale.refresh(res.Header, reqTime, respTime)
		o.gen = f.gen
		if o.onDisk() { // the file gets the new header
			if err := s.disk.rewrite(o, o.gen); err != nil {
				f.finish(fmt.Errorf("refresh %s on disk: %w", o.key, err))
				return
			}
		} else {
			s.store(o, false)
		}
		f.mu.Lock()
		f.obj = o
		f.mu.Unlock()
		f.finish(nil)
		return
	}
	if f.rng != "" {
		s.streamSlice(f, res, reqTime, respTime)
		return
	}
	s.stream(f, res, reqTime, respTime)
}

// streamSlice reads one slice's 206 and stores it.
func (s *Server) streamSlice(f *fill, res *http.Response, reqTime, respTime time.Time) {
	h := endToEnd(res.Header)
	f.setHeader(res.StatusCode, h, res.ContentLength, true)
	body, err := io.ReadAll(io.LimitReader(res.Body, s.cfg.SliceBytes+1))
	if err == nil {
		s.metrics.upstreamBytes.Add(float64(len(body)))
		err = s.storeSlice(f, res, h, body, reqTime, respTime)
	}
	f.mu.Lock()
	f.buf, f.n = body, int64(len(body))
	f.mu.Unlock()
	f.finish(err)
}

// readBody reads the upstream body into f (its buffer or spool), at
// most MaxObjectBytes, and returns its length.
func (s *Server) readBody(f *fill, body io.Reader) (int64, error) {
	buf := make([]byte, 256<<10)
	var total int64
	for {
		n, err := body.Read(buf)
		if n > 0 {
			total += int64(n)
			if total > s.cfg.MaxObjectBytes {
				return total, fmt.Errorf("object of unknown size exceeds %d bytes", s.cfg.MaxObjectBytes)
			}
			if err := f.append(buf[:n]); err != nil {
				s.log.Error("spool a fill", "key", f.key, "err", err)
				return total, err
			}
			s.metrics.upstreamBytes.Add(float64(n))
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, fmt.Errorf("upstream body: %w", err)
		}
	}
}

// stream copies the upstream body into f and stores the object if it may
// be stored and arrived whole.
func (s *Server) stream(f *fill, res *http.Response, reqTime, respTime time.Time) {
	h := endToEnd(res.Header)
	size := res.ContentLength
	canStore := storable(f.owner, res.StatusCode, h)
	// A response that may not be stored and whose size is unknown could
	// be of any size: each waiter fetches it for itself (one extra
	// upstream request, for what is rare in video: chunked non-cacheable
	// answers). A storable one of unknown size is spooled up to
	// MaxObjectBytes and fails its clients beyond that.
	if size < 0 && !canStore {
		f.passThrough(res.StatusCode, h, size, "unbounded")
		return
	}
	if size > s.cfg.MaxObjectBytes {
		// Too large to store whole: cache it as slices if it may be
		// stored, else every waiter fetches it for itself.
		f.mu.Lock()
		if canStore && res.StatusCode == http.StatusOK {
			f.obj = s.storeSliceMeta(f.key, f.gen, h, size, reqTime, respTime)
		} else {
			f.pass = "too-big"
		}
		f.mu.Unlock()
		f.setHeader(res.StatusCode, h, size, canStore)
		f.finish(nil)
		return
	}
	// The object it would store: its key holds the varied request
	// fields the response names, which were unknown when the fill
	// started. The header is a copy: requests streaming this fill read
	// f.header while Content-Length is set below.
	o := &object{key: f.key, status: res.StatusCode, header: h.Clone(), reqTime: reqTime, respTime: respTime, gen: f.gen}
	if o.varyNames, _ = parseVary(h); len(o.varyNames) > 0 {
		o.key = primaryKey(f.owner) + "\x00" + varyKey(f.owner, o.varyNames)
	}
	// Without a disk tier, an object too large for the memory tier will
	// not be stored: each waiter fetches it for itself, streamed through
	// a copy buffer, rather than spooling what nobody keeps.
	if s.disk == nil && size > s.cfg.MemoryBytes/8 {
		f.passThrough(res.StatusCode, h, size, "too-big")
		return
	}
	// The body is held in memory if the in-flight budget grants its
	// size, else spooled to a file.
	if !s.grant(f, size) {
		sp, err := s.newSpool(o)
		if err != nil {
			s.log.Error("spool a fill", "key", f.key, "err", err)
			f.finish(fmt.Errorf("spool: %w", err))
			return
		}
		f.sp = sp
	}
	defer s.ungrant(f)
	f.mu.Lock()
	f.storing = canStore
	f.mu.Unlock()
	// What a request with Authorization got is its own unless the
	// response may be stored (public, s-maxage, must-revalidate).
	f.setHeader(res.StatusCode, h, size, canStore || (shareableAnyway(h) && f.owner.Header.Get("Authorization") == ""))
	total, err := s.readBody(f, res.Body)
	if err == nil && size >= 0 && total != size {
		err = errTruncated
	}
	if err != nil {
		s.abortSpool(f)
		f.finish(err)
		return
	}
	if !canStore {
		s.abortSpool(f)
		f.finish(nil)
		return
	}
	o.size = total
	if h.Get("Content-Length") == "" && f.sp == nil {
		o.header.Set("Content-Length", strconv.FormatInt(total, 10))
	}
	if f.sp == nil {
		f.mu.Lock()
		o.body = f.buf
		f.mu.Unlock()
		s.store(o.prepared(), true)
		f.finish(nil)
		return
	}
	f.finish(s.storeSpooled(f, o.prepared()))
}

// storeSpooled stores the object of a fill whose body was spooled: into
// the disk tier, the file as it is, or without one into memory if it is
// small enough to be admitted there. A failure to store is logged: the
// body the waiters read is complete all the same.
func (s *Server) storeSpooled(f *fill, o *object) error {
	s.noteVary(o)
	if s.disk != nil {
		if err := s.commitSpool(f.sp, o.key, o.gen); err != nil && !errors.Is(err, errTooLarge) {
			s.log.Error("disk write", "key", o.key, "err", err)
		}
		f.sp.tmp.Abort() // if not committed
		return nil
	}
	if o.size <= s.cfg.MemoryBytes/8 {
		body, err := f.sp.readBody(o.size)
		if err != nil {
			s.log.Error("read a spooled fill", "key", o.key, "err", err)
			return nil
		}
		o.body = body
		if h := o.header; h.Get("Content-Length") == "" {
			o.header = h.Clone()
			o.header.Set("Content-Length", strconv.FormatInt(o.size, 10))
		}
		s.store(o, false)
	}
	f.sp.tmp.Abort()
	return nil
}

// abortSpool removes a fill's spool file, if any, that will not be
// stored; its readers keep their descriptor.
func (s *Server) abortSpool(f *fill) {
	if f.sp != nil {
		f.sp.tmp.Abort()
	}
}

// grant reserves size bytes of the in-flight budget for f's body and
// reports whether it may be held in memory: a body of known size, not
// above an eighth of the memory tier, while fills in flight hold less
// than that eighth in all.
func (s *Server) grant(f *fill, size int64) bool {
	limit := s.cfg.MemoryBytes / 8
	if size < 0 || size > limit {
		return false
	}
	if s.inflight.Add(size) > limit {
		s.inflight.Add(-size)
		return false
	}
	f.grant = size
	return true
}

func (s *Server) ungrant(f *fill) {
	s.inflight.Add(-f.grant)
	f.grant = 0
}

// passThrough ends f without a body: each waiter fetches the response
// for itself (why says why, in Cache-Status).
func (f *fill) passThrough(status int, h http.Header, size int64, why string) {
	f.mu.Lock()
	f.pass = why
	f.mu.Unlock()
	f.setHeader(status, h, size, false)
	f.finish(nil)
}

// shareableAnyway: a response that may not be stored may still go to the
// requests that waited for it together, unless it is private to its
// requester.
func shareableAnyway(h http.Header) bool {
	cc := parseDirectives(h.Values("Cache-Control"))
	return !cc.has("private") && !cc.has("no-store") && h.Get("Set-Cookie") == ""
}

// upstreamGET sends the GET for r upstream: r's end-to-end headers without
// its own conditionals and Range (the edge fetches whole objects) and
// without its Cache-Control and Pragma (a fill serves every waiter, so the
// edge's freshness decision, not one client's reload, is what goes up the
// chain), plus the stored validators when revalidating.
func (s *Server) upstreamGET(ctx context.Context, r *http.Request, stale *object, rng string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.upstreamURL(r), nil)
	if err != nil {
		return nil, err
	}
	req.Header = endToEnd(r.Header)
	for _, h := range []string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range", "Range",
		"Cache-Control", "Pragma"} {
		req.Header.Del(h)
	}
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	if stale != nil {
		if etag := stale.header.Get("ETag"); etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		if lm := stale.header.Get("Last-Modified"); lm != "" {
			req.Header.Set("If-Modified-Since", lm)
		}
	}
	s.addVia(req.Header)
	start := s.now()
	res, err := s.do(req)
	s.metrics.upstreamLatency.Observe(s.now().Sub(start).Seconds())
	if err != nil {
		s.metrics.upstreamRequests.WithLabelValues("error").Inc()
		return nil, fmt.Errorf("upstream: %w", err)
	}
	s.metrics.upstreamRequests.WithLabelValues(codeClass(res.StatusCode)).Inc()
	return res, nil
}
