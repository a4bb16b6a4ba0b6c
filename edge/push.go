package edge

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/streamcdn/streamcdn/internal/httpx"
	"github.com/streamcdn/streamcdn/internal/pace"
	"github.com/streamcdn/streamcdn/internal/pushapi"
)

// Modes say how the edge answers GET and HEAD for a title (the first
// segment of the path).
const (
	// ModePull fetches on a miss; the pinned area is not used.
	ModePull = "pull"
	// ModePush serves only pushed objects: a miss is 404, or a redirect
	// to Config.MissRedirect (as an Open Connect appliance that lacks a
	// title sends its client elsewhere).
	ModePush = "push"
	// ModeHybrid serves pushed objects from the pinned area and pulls
	// everything else.
	ModeHybrid = "hybrid"
)

func validMode(m string) bool { return m == ModePull || m == ModePush || m == ModeHybrid }

// modeOf is the mode for the title of a request path.
func (s *Server) modeOf(path string) string {
	title, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if m, ok := s.cfg.TitleModes[title]; ok {
		return m
	}
	return s.cfg.Mode
}

// servePinned answers a GET or HEAD from the pinned area when the title's
// mode allows; it reports whether it answered.
func (s *Server) servePinned(w *recorder, r *http.Request) bool {
	mode := s.modeOf(r.URL.Path)
	if mode == ModePull {
		return false
	}
	if s.pins != nil && s.servePinnedObject(w, r) {
		return true
	}
	if mode != ModePush {
		return false
	}
	w.cache = "miss"
	if s.cfg.MissRedirect != "" {
		s.writeCacheStatus(w, "fwd=miss; detail=not-pushed-redirect")
		http.Redirect(w, r, strings.TrimSuffix(s.cfg.MissRedirect, "/")+r.URL.RequestURI(), http.StatusFound)
		return true
	}
	s.writeCacheStatus(w, "fwd=miss; detail=not-pushed")
	http.Error(w, "not pushed to this edge", http.StatusNotFound)
	return true
}

// servePinnedObject answers r from the pinned area if it holds r's
// object intact; it reports whether it answered. An object found damaged
// (its header, block table or a block fails its checksum) is unpinned
// and, if found before the header went out, answered as a miss; after,
// the connection is cut: never wrong bytes.
func (s *Server) servePinnedObject(w *recorder, r *http.Request) bool {
	key := primaryKey(r)
	of, err := s.pins.open(key)
	if err != nil {
		if errors.Is(err, errCorrupt) {
			s.dropPinned(key, nil, err)
		} else if !errors.Is(err, fs.ErrNotExist) {
			s.log.Error("pinned object unreadable", "key", key, "err", err)
		}
		return false
	}
	defer of.Close()
	rd := of.reader()
	defer rd.Close()
	size := of.hdr.Size
	if _, err := rd.Seek(firstByte(r, size), io.SeekStart); err == nil && size > 0 {
		var b [1]byte
		if _, err := rd.Read(b[:]); err != nil {
			s.dropPinned(key, of, err)
			return false
		}
	}
	w.cache = "pinned"
	h := w.Header()
	for k, vs := range of.hdr.Header {
		h[k] = vs
	}
	h.Del("Content-Length")
	h.Set("Age", "0")
	s.addVia(h)
	s.writeCacheStatus(w, "hit; detail=pinned")
	_, err = httpx.Serve(w, r, httpx.Content{Body: rd, Size: size, ContentType: h.Get("Content-Type"),
		Validators: httpx.Validators{ETag: h.Get("ETag"), LastModified: headerTime(h, "Last-Modified")}})
	if errors.Is(err, errCorrupt) {
		s.dropPinned(key, of, err)
		panic(http.ErrAbortHandler) // the client sees the truncation
	}
	return true
}

// dropPinned unpins a damaged object (of: the file found damaged, nil
// when it could not be opened as an object file).
func (s *Server) dropPinned(key string, of *objectFile, err error) {
	if of != nil {
		s.pins.drop(key, of)
	} else {
		s.pins.remove(func(k string) bool { return k == key })
	}
	s.metrics.corrupt.Inc()
	s.log.Error("dropped a damaged pinned object", "key", key, "err", err)
}

// keepHeaders is what of an upload's (or a fill's upstream answer's)
// header is stored with the object.
func keepHeaders(from http.Header) http.Header {
	h := http.Header{}
	for _, k := range pushapi.StoredHeaders {
		if vs := from.Values(k); len(vs) > 0 {
			h[k] = append([]string(nil), vs...)
		}
	}
	return h
}

// pushTarget checks the url parameter of a push: an absolute path (with
// an optional query), the key of the object.
func pushTarget(raw string) (string, error) {
	if !strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "//") || strings.ContainsAny(raw, "\x00#\r\n") {
		return "", fmt.Errorf("url %q: want an absolute path such as /title/v1/1.m4s", raw)
	}
	for _, seg := range strings.Split(strings.SplitN(raw, "?", 2)[0], "/") {
		if seg == ".." || seg == "." {
			return "", fmt.Errorf("url %q: dot segments are not allowed", raw)
		}
	}
	return raw, nil
}

// pushFail reports a failed push: metric, log, HTTP answer.
func (s *Server) pushFail(w http.ResponseWriter, key string, err error) {
	reason, status := "bad-request", http.StatusBadRequest
	var pe *pushError
	if errors.As(err, &pe) {
		reason, status = pe.reason, pe.status
	}
	s.metrics.pushFailures.WithLabelValues(reason).Inc()
	s.log.Warn("push failed", "key", key, "reason", reason, "err", err)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error(), "reason": reason, "url": key})
}

// checkPushable refuses pushes when there is no pinned area or the
// title is in pull mode.
func (s *Server) checkPushable(key string) error {
	if s.pins == nil {
		return pushFailed("disabled", http.StatusServiceUnavailable, "this edge has no pinned area (PinnedDir)")
	}
	if s.modeOf(strings.SplitN(key, "?", 2)[0]) == ModePull {
		return pushFailed("pull-mode", http.StatusConflict, "%s belongs to a title in pull mode", key)
	}
	return nil
}

// handlePushObject stores one pushed object: PUT /push/object?url=/path
// with Content-Length, Content-Digest (sha-256) and the object's
// response header fields (Content-Type, Cache-Control, ETag, ...).
func (s *Server) handlePushObject(w http.ResponseWriter, r *http.Request) {
	key, err := pushTarget(r.URL.Query().Get("url"))
	if err == nil {
		err = s.checkPushable(key)
	}
	var sha string
	if err == nil {
		sha, err = pushapi.ParseContentDigest(r.Header.Get("Content-Digest"))
	}
	if err == nil && r.ContentLength < 0 {
		err = pushFailed("bad-request", http.StatusLengthRequired, "Content-Length is required")
	}
	if err != nil {
		s.pushFail(w, key, err)
		return
	}
	replaced := s.pins.has(key)
	po, err := s.pins.put(key, keepHeaders(r.Header), r.ContentLength, sha, r.Body, s.now())
	if err != nil {
		s.pushFail(w, key, err)
		return
	}
	s.pushed(po)
	w.Header().Set("Content-Type", "application/json")
	if !replaced {
		w.WriteHeader(http.StatusCreated)
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"url": po.URL, "size": po.Size, "sha256": po.SHA256, "replaced": replaced})
}

func (s *Server) pushed(po pinEntry) {
	s.metrics.pushedObjects.Inc()
	s.metrics.pushedBytes.Add(float64(po.Size))
	// The pinned version now answers; a pulled copy would only take room.
	s.mem.remove(po.URL)
}

// handleUnpin removes pinned objects: DELETE /push/object?url=/path or
// ?prefix=/title/.
func (s *Server) handleUnpin(w http.ResponseWriter, r *http.Request) {
	if s.pins == nil {
		s.pushFail(w, "", pushFailed("disabled", http.StatusServiceUnavailable, "this edge has no pinned area"))
		return
	}
	match, err := targets(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	httpx.WriteJSON(w, map[string]int{"unpinned": s.pins.remove(match)})
}

// The push API's wire types are pushapi's.
type (
	// Holdings is pushapi.Holdings.
	Holdings = pushapi.Holdings
	// PinnedObject is pushapi.PinnedObject.
	PinnedObject = pushapi.PinnedObject
	// FillRequest is pushapi.FillRequest.
	FillRequest = pushapi.FillRequest
	// FillObject is pushapi.FillObject.
	FillObject = pushapi.FillObject
	// FillStatus is pushapi.FillStatus.
	FillStatus = pushapi.FillStatus
	// FillFailure is pushapi.FillFailure.
	FillFailure = pushapi.FillFailure
)

func (s *Server) handleHoldings(w http.ResponseWriter, r *http.Request) {
	h := Holdings{Name: s.cfg.Name, Mode: s.cfg.Mode, TitleModes: s.cfg.TitleModes, Objects: []PinnedObject{}}
	if s.pins != nil {
		prefix := r.URL.Query().Get("prefix")
		if prefix == "" {
			prefix = "/"
		}
		h.BudgetBytes = s.pins.capacity
		_, h.PinnedBytes = s.pins.stats()
		h.Objects = s.pins.list(prefix)
	}
	httpx.WriteJSON(w, h)
}

// maxFillBody bounds a fill list: 200,000 objects of long paths.
const maxFillBody = 64 << 20

// ParseFillRequest decodes and checks a fill list strictly.
func ParseFillRequest(r io.Reader) (*FillRequest, error) {
	dec := json.NewDecoder(io.LimitReader(r, maxFillBody))
	dec.DisallowUnknownFields()
	var fr FillRequest
	if err := dec.Decode(&fr); err != nil {
		return nil, fmt.Errorf("fill list: %w", err)
	}
	if len(fr.Objects) == 0 {
		return nil, errors.New("fill list: no objects")
	}
	if fr.RateBPS < 0 || fr.RateBPS > 1e13 {
		return nil, fmt.Errorf("fill list: rate_bps %v out of range", fr.RateBPS)
	}
	if fr.Concurrency < 0 || fr.Concurrency > 256 {
		return nil, fmt.Errorf("fill list: concurrency %d: want 0 to 256", fr.Concurrency)
	}
	if fr.Concurrency == 0 {
		fr.Concurrency = 4
	}
	for i, o := range fr.Objects {
		if _, err := pushTarget(o.URL); err != nil {
			return nil, fmt.Errorf("fill list: objects[%d]: %w", i, err)
		}
		if o.SHA256 != "" {
			if b, err := hex.DecodeString(o.SHA256); err != nil || len(b) != 32 {
				return nil, fmt.Errorf("fill list: objects[%d]: sha256 %q is not 64 hex digits", i, o.SHA256)
			}
			fr.Objects[i].SHA256 = strings.ToLower(o.SHA256)
		}
	}
	return &fr, nil
}

// fillJobs keeps the fill jobs of this process, the last maxJobs.
type fillJobs struct {
	mu   sync.Mutex
	next int
	jobs map[string]*fillJob
	ids  []string
}

const maxJobs = 64

type fillJob struct {
	mu     sync.Mutex
	status FillStatus
}

func (j *fillJob) snapshot() FillStatus {
	j.mu.Lock()
	defer j.mu.Unlock()
	st := j.status
	st.Failures = append([]FillFailure{}, st.Failures...)
	if st.State == "running" {
		st.Seconds = time.Since(st.Started).Seconds()
	}
	return st
}

func (s *Server) handleFill(w http.ResponseWriter, r *http.Request) {
	fr, err := ParseFillRequest(r.Body)
	if err != nil {
		s.pushFail(w, "", err)
		return
	}
	for _, o := range fr.Objects {
		if err := s.checkPushable(o.URL); err != nil {
			s.pushFail(w, o.URL, err)
			return
		}
	}
	s.jobs.mu.Lock()
	s.jobs.next++
	id := strconv.Itoa(s.jobs.next)
	job := &fillJob{status: FillStatus{ID: id, State: "running", Total: len(fr.Objects), Failures: []FillFailure{}, Started: time.Now()}}
	if s.jobs.jobs == nil {
		s.jobs.jobs = map[string]*fillJob{}
	}
	s.jobs.jobs[id] = job
	if s.jobs.ids = append(s.jobs.ids, id); len(s.jobs.ids) > maxJobs {
		delete(s.jobs.jobs, s.jobs.ids[0])
		s.jobs.ids = s.jobs.ids[1:]
	}
	s.jobs.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.runFill(s.closing, job, fr)
	}()
	w.Header().Set("Location", "/push/fill/"+id)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(map[string]string{"id": id, "status": "/push/fill/" + id})
}

func (s *Server) handleFillStatus(w http.ResponseWriter, r *http.Request) {
	s.jobs.mu.Lock()
	job := s.jobs.jobs[r.PathValue("id")]
	s.jobs.mu.Unlock()
	if job == nil {
		http.Error(w, "no such fill job", http.StatusNotFound)
		return
	}
	httpx.WriteJSON(w, job.snapshot())
}

// runFill fetches each object of fr from upstream, paced, and pins it.
func (s *Server) runFill(ctx context.Context, job *fillJob, fr *FillRequest) {
	lim := pace.New(fr.RateBPS)
	work := make(chan FillObject)
	var wg sync.WaitGroup
	for range fr.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range work {
				n, err := s.fillOne(ctx, o, lim)
				job.mu.Lock()
				job.status.Done++
				job.status.Bytes += n
				if err != nil {
					reason := "upstream"
					var pe *pushError
					if errors.As(err, &pe) {
						reason = pe.reason
					}
					s.metrics.pushFailures.WithLabelValues(reason).Inc()
					job.status.Failures = append(job.status.Failures, FillFailure{URL: o.URL, Reason: reason, Error: err.Error()})
				}
				job.mu.Unlock()
			}
		}()
	}
	for _, o := range fr.Objects {
		if ctx.Err() != nil {
			break
		}
		work <- o
	}
	close(work)
	wg.Wait()
	job.mu.Lock()
	job.status.State = "done"
	job.status.Seconds = time.Since(job.status.Started).Seconds()
	job.mu.Unlock()
}

// fillOne fetches one object from upstream and pins it.
func (s *Server) fillOne(ctx context.Context, o FillObject, lim *pace.Limiter) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.UpstreamTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.URL, nil)
	if err != nil {
		return 0, err
	}
	res, err := s.upstreamGET(ctx, req, nil, "")
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 0, pushFailed("upstream", http.StatusBadGateway, "answered %s", res.Status)
	}
	body := &countingReader{r: pace.Reader(ctx, res.Body, lim)}
	po, err := s.pins.put(o.URL, keepHeaders(res.Header), res.ContentLength, o.SHA256, body, s.now())
	s.metrics.upstreamBytes.Add(float64(body.n))
	if err != nil {
		return body.n, err
	}
	s.pushed(po)
	return po.Size, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
