package edge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/streamcdn/streamcdn/internal/accesslog"
	"github.com/streamcdn/streamcdn/internal/httpx"
)

// Config configures a Server.
type Config struct {
	// Upstream is the base URL of the origin or parent edge, e.g.
	// "http://origin:8080". Required.
	Upstream string `json:"upstream"`
	// Name identifies this cache in Cache-Status and Via. If empty,
	// defaults to "streamcdn".
	Name string `json:"name"`
	// Region is reported on /healthz. Optional.
	Region string `json:"region"`
	// MemoryBytes bounds the memory tier. If zero, defaults to 1 GiB.
	MemoryBytes int64 `json:"memory_bytes"`
	// FileBodyBytes is the size from which a body in the memory tier is
	// kept in a memfd rather than on the Go heap, so that hits on it to
	// a crowded internal/h1 server go out by sendfile(2) without being
	// copied (see h1's WantsFile). If zero, defaults to 64 KiB, the
	// least h1 sends by sendfile; negative: every body on the heap. Its
	// bytes count against MemoryBytes all the same; FileBytes reports
	// them, for a process that bounds the Go heap by what is left.
	FileBodyBytes int64 `json:"file_body_bytes"`
	// MaxFileBodies bounds the memfds alive at once: each takes a
	// descriptor and a mapping, which client connections and the Go
	// runtime need too. Past it, bodies stay on the heap. If zero,
	// defaults to half the process's open-file limit or a quarter of
	// vm.max_map_count, whichever is less (fileBodiesLimit).
	MaxFileBodies int64 `json:"max_file_bodies"`
	// DiskDir enables the disk tier there. Empty: no disk tier.
	DiskDir string `json:"disk_dir"`
	// DiskBytes bounds the disk tier. If zero, defaults to 20 GiB.
	DiskBytes int64 `json:"disk_bytes"`
	// MaxObjectBytes is the largest object stored whole; larger ones are
	// cached as slices of SliceBytes. If zero, defaults to 64 MiB.
	MaxObjectBytes int64 `json:"max_object_bytes"`
	// SliceBytes is the size of the slices of large objects. If zero,
	// defaults to 4 MiB.
	SliceBytes int64 `json:"slice_bytes"`
	// MaxUpstream bounds concurrent upstream fetches. If zero, defaults
	// to 256.
	MaxUpstream int `json:"max_upstream"`
	// UpstreamTimeout bounds one upstream fetch, body included. If zero,
	// defaults to 2 minutes.
	UpstreamTimeout time.Duration `json:"upstream_timeout"`
	// SendTimeout is how long a client may take to accept a chunk of a
	// response (256 KiB): one that stops reading for that long is dropped
	// (nginx's send_timeout). If zero, defaults to 60 s; negative: no
	// limit.
	SendTimeout time.Duration `json:"send_timeout"`
	// StaleIfDisconnected is how long past its freshness a stored
	// response may be served when upstream cannot be reached (refused,
	// reset, closed, timed out), unless the response forbids it
	// (must-revalidate, proxy-revalidate, s-maxage, no-cache) or bounds
	// it with stale-if-error. If zero, defaults to an hour; negative:
	// never.
	StaleIfDisconnected time.Duration `json:"stale_if_disconnected"`
	// NoAdmission turns TinyLFU admission off: plain LRU.
	NoAdmission bool `json:"no_admission"`
	// AdminToken is the bearer token of the admin API. Empty: purge and
	// push are refused.
	AdminToken string `json:"-"`
	// PinnedDir enables the pinned area there: pushed objects, kept until
	// unpinned or replaced. Empty: pushes are refused.
	PinnedDir string `json:"pinned_dir"`
	// PinnedBytes bounds the pinned area. If zero, defaults to 20 GiB.
	PinnedBytes int64 `json:"pinned_bytes"`
	// Mode is how titles are served: ModePull, ModePush or ModeHybrid.
	// If empty, defaults to ModeHybrid, which without pushes is a pull
	// cache.
	Mode string `json:"mode"`
	// TitleModes overrides Mode per title, the first path segment.
	TitleModes map[string]string `json:"title_modes"`
	// MissRedirect, in push mode, is the base URL a miss is redirected to
	// (302), e.g. a parent edge. Empty: a miss is 404.
	MissRedirect string `json:"miss_redirect"`

	// AccessLog, if not nil, gets a line per request (cmd's
	// --access-log).
	AccessLog *accesslog.Logger `json:"-"`

	Logger    *slog.Logger          `json:"-"` // nil: discard
	Registry  prometheus.Registerer `json:"-"` // nil: metrics are not exported
	Transport http.RoundTripper     `json:"-"` // nil: a keep-alive transport
	// UpstreamCAs, for the default transport, are the roots that vouch
	// for an https:// upstream. Nil: the system's.
	UpstreamCAs *x509.CertPool   `json:"-"`
	Now         func() time.Time `json:"-"` // nil: time.Now
}

// Server is a caching reverse proxy. It is an http.Handler.
type Server struct {
	cfg      Config
	realTime bool   // cfg.Now is time.Now: the send deadline may use its readings
	via      string // this edge's Via entry
	// fieldLines is what every prepared hit writes after its stored
	// fields: this edge's Via line, then its Cache-Status line up to
	// the hit's status (see servePrepared).
	fieldLines []byte
	upstream   *url.URL
	client     *http.Client
	single     *http.Client // for requests that cannot be sent twice (do): cfg.Transport without keep-alives if it is an *http.Transport, else client
	mem        *memory
	disk       *disk
	log        *slog.Logger
	metrics    *metrics
	sem        chan struct{}

	fillsMu   sync.Mutex
	fills     map[string]*fill
	validated map[string]time.Time // key -> when its last fill ended stored

	varyMu sync.Mutex
	vary   map[string][]string // primary key -> the Vary names last stored for it

	wg sync.WaitGroup // fills and disk writes in flight

	// purgeMu orders purges against stores: a fill that started before
	// a purge (an older generation) never stores what the purge matches.
	purgeMu sync.RWMutex
	gen     uint64     // generation: purges so far
	purges  []purgeRec // the recent purges, oldest first

	inflight atomic.Int64 // bytes of fill bodies held in memory (see grant)

	promoteMu sync.Mutex
	promoting map[string]bool // disk objects being read into memory

	rtts   rttAgg       // client RTT samples since the last report
	egress atomic.Int64 // response body bytes sent

	fileBytes  atomic.Int64 // in memfds not yet collected (memFile)
	fileCount  atomic.Int64 // memfds not yet collected
	collecting atomic.Bool  // collectFiles is running
	// collectAgain: collectFiles was called since its goroutine's
	// current round began.
	collectAgain atomic.Bool
	fileFailed   atomic.Bool // a memfd could not be made: said once

	pins    *pinned // nil: no pinned area
	jobs    fillJobs
	closing context.Context // ends on Close, for fill jobs
	stop    context.CancelFunc
}

// New validates cfg, applies defaults, opens the disk tier (rebuilding its
// index) and returns a Server.
func New(cfg Config) (*Server, error) {
	u, err := url.Parse(cfg.Upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("edge: upstream %q is not an http(s) URL", cfg.Upstream)
	}
	realTime := cfg.Now == nil
	cfg.defaults()
	if !validMode(cfg.Mode) {
		return nil, fmt.Errorf("edge: mode %q: want pull, push or hybrid", cfg.Mode)
	}
	for title, m := range cfg.TitleModes {
		if !validMode(m) || title == "" || strings.Contains(title, "/") {
			return nil, fmt.Errorf("edge: title mode %q=%q: want a title name and pull, push or hybrid", title, m)
		}
	}
	if cfg.MissRedirect != "" {
		if r, err := url.Parse(cfg.MissRedirect); err != nil || (r.Scheme != "http" && r.Scheme != "https") || r.Host == "" {
			return nil, fmt.Errorf("edge: miss redirect %q is not an http(s) URL", cfg.MissRedirect)
		}
	}
	s := &Server{cfg: cfg, realTime: realTime, via: "1.1 " + cfg.Name, upstream: u, log: cfg.Logger.With("component", "edge", "name", cfg.Name),
		sem: make(chan struct{}, cfg.MaxUpstream), fills: map[string]*fill{}, validated: map[string]time.Time{}, promoting: map[string]bool{}, vary: map[string][]string{}}
	s.fieldLines = httpx.AppendFields(nil, http.Header{"Via": {s.via}})
	s.fieldLines = httpx.AppendFields(s.fieldLines, http.Header{"Cache-Status": {s.cacheStatusValue("")}})
	s.fieldLines = s.fieldLines[:len(s.fieldLines)-len("\r\n")]
	s.client = upstreamClient(cfg.Transport)
	s.single = s.client
	if t, ok := cfg.Transport.(*http.Transport); ok {
		t = t.Clone()
		t.DisableKeepAlives = true
		s.single = upstreamClient(t)
	}
	if cfg.DiskDir != "" {
		if s.disk, err = openDisk(cfg.DiskDir, cfg.DiskBytes); err != nil {
			return nil, fmt.Errorf("edge: %w", err)
		}
	}
	if cfg.PinnedDir != "" {
		if s.pins, err = openPinned(cfg.PinnedDir, cfg.PinnedBytes); err != nil {
			return nil, fmt.Errorf("edge: %w", err)
		}
	}
	s.closing, s.stop = context.WithCancel(context.Background())
	s.mem = newMemory(cfg.MemoryBytes, !cfg.NoAdmission, func(*object) { s.metrics.evictions.WithLabelValues("memory").Inc() })
	if s.metrics, err = newMetrics(cfg.Registry, s); err != nil {
		return nil, err
	}
	if s.disk != nil {
		s.disk.guard = s.guard
		s.disk.onEvict = func(n int) { s.metrics.evictions.WithLabelValues("disk").Add(float64(n)) }
		s.disk.reserve = s.diskReserve
	}
	return s, nil
}

func (cfg *Config) defaults() {
	if cfg.Name == "" {
		cfg.Name = "streamcdn"
	}
	if cfg.MemoryBytes == 0 {
		cfg.MemoryBytes = 1 << 30
	}
	if cfg.FileBodyBytes == 0 {
		cfg.FileBodyBytes = 64 << 10
	}
	if cfg.MaxFileBodies == 0 {
		cfg.MaxFileBodies = fileBodiesLimit()
	}
	if cfg.DiskBytes == 0 {
		cfg.DiskBytes = 20 << 30
	}
	if cfg.PinnedBytes == 0 {
		cfg.PinnedBytes = 20 << 30
	}
	if cfg.Mode == "" {
		cfg.Mode = ModeHybrid
	}
	if cfg.MaxObjectBytes == 0 {
		cfg.MaxObjectBytes = 64 << 20
	}
	if cfg.SliceBytes == 0 {
		cfg.SliceBytes = 4 << 20
	}
	if cfg.MaxUpstream == 0 {
		cfg.MaxUpstream = 256
	}
	if cfg.UpstreamTimeout == 0 {
		cfg.UpstreamTimeout = 2 * time.Minute
	}
	if cfg.SendTimeout == 0 {
		cfg.SendTimeout = 60 * time.Second
	}
	if cfg.StaleIfDisconnected == 0 {
		cfg.StaleIfDisconnected = time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Transport == nil {
		t := &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second, DisableCompression: true}
		if cfg.UpstreamCAs != nil {
			t.TLSClientConfig, t.ForceAttemptHTTP2 = &tls.Config{RootCAs: cfg.UpstreamCAs}, true
		}
		cfg.Transport = t
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
}

// Close stops fill jobs and waits for them, fills and disk writes in
// flight.
func (s *Server) Close() error {
	s.stop()
	s.wg.Wait()
	return nil
}

// upstreamClient sends requests upstream through rt and leaves
// redirects to the client to follow.
func upstreamClient(rt http.RoundTripper) *http.Client {
	return &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

func (s *Server) now() time.Time { return s.cfg.Now() }

// diskReserve is what the disk tier leaves free on its filesystem: 1% of
// it and, when the pinned area is on the same
// filesystem, the part of the pinned budget not yet used, so that cached
// copies never take the room pushes were promised.
func (s *Server) diskReserve() int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.cfg.DiskDir, &st); err != nil {
		return 0
	}
	reserve := int64(st.Blocks) * int64(st.Bsize) / 100
	if s.pins != nil && sameFilesystem(s.cfg.DiskDir, s.cfg.PinnedDir) {
		_, used := s.pins.stats()
		reserve += max(s.cfg.PinnedBytes-used, 0)
	}
	return reserve
}

func sameFilesystem(a, b string) bool {
	var sa, sb syscall.Stat_t
	return syscall.Stat(a, &sa) == nil && syscall.Stat(b, &sb) == nil && sa.Dev == sb.Dev
}

func (s *Server) upstreamURL(r *http.Request) string {
	return strings.TrimSuffix(s.upstream.String(), "/") + r.URL.RequestURI()
}

func (s *Server) addVia(h http.Header) { h["Via"] = append(h["Via"], s.via) }

// ServeHTTP answers GET and HEAD from the cache and forwards the rest.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// One reading of the clock serves the request's freshness checks, its
	// send deadline, its RTT sample and its log line.
	now := s.now()
	rec := &recorder{Recorder: httpx.Recorder{ResponseWriter: w, SendTimeout: s.cfg.SendTimeout}, at: now}
	start := now
	if !s.realTime {
		start = time.Now()
	}
	rec.StartAt(start)
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case !normalise(r.URL):
		// "*" (OPTIONS * is the server's, not the origin's) or a target
		// that is not a path: nothing to cache or forward.
		rec.cache = "bypass"
		http.Error(rec, "request target must be an absolute path", http.StatusBadRequest)
	case get && s.servePinned(rec, r):
	case !get:
		s.forward(rec, r, "fwd=method", unsafe(r.Method))
	default:
		s.serveCached(rec, r)
	}
	s.metrics.observe(rec)
	s.egress.Add(rec.Bytes)
	s.sampleRTT(r, now)
	if s.cfg.AccessLog != nil {
		s.logAccess(rec, r, start)
	}
}

// logAccess writes r's access log line: the Cache-Status, and the
// upstream's status when it answered (a miss, a revalidation, a bypass).
func (s *Server) logAccess(rec *recorder, r *http.Request, start time.Time) {
	cs := rec.Header().Get("Cache-Status")
	if rec.cacheStatus != "" { // a prepared hit's
		cs = s.cacheStatusValue(rec.cacheStatus)
	}
	upstream := ""
	if _, after, ok := strings.Cut(cs, "fwd-status="); ok {
		upstream, _, _ = strings.Cut(after, ";")
	} else if rec.cache == "miss" || rec.cache == "bypass" {
		upstream = strconv.Itoa(rec.Status())
	}
	s.cfg.AccessLog.Log(accesslog.Entry{Time: start, Request: r, Status: rec.Status(), Bytes: rec.Bytes,
		Cache: cs, Upstream: upstream, Duration: time.Since(start)})
}

// unsafe reports whether a method may change the resource (RFC 9110
// §9.2.1): only a success of one of those invalidates (RFC 9111 §4.4).
// OPTIONS (a browser's CORS preflight) and TRACE are safe.
func unsafe(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}

// normalise rewrites u's path to its one canonical form, so that
// aliases of a path make one cache key, one title for the mode lookup
// and one upstream request: empty and dot segments removed ("//",
// "/./", "/a/../"), an escaped slash ("%2F") taken as a slash, and
// escapes written one way. A trailing slash is kept. It reports false
// for a target that is not an absolute path.
func normalise(u *url.URL) bool {
	p := u.Path
	if !strings.HasPrefix(p, "/") {
		return false
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	if clean != p || u.RawPath != "" {
		u.Path, u.RawPath = clean, ""
	}
	return true
}

// primaryKey is the request target: the edge serves one upstream.
func primaryKey(r *http.Request) string { return r.URL.RequestURI() }

// fullKey is the primary key and, if the last stored response for it
// varied, the request's values of the varied fields.
func (s *Server) fullKey(r *http.Request) string {
	p := primaryKey(r)
	s.varyMu.Lock()
	names := s.vary[p]
	s.varyMu.Unlock()
	if len(names) == 0 {
		return p
	}
	return p + "\x00" + varyKey(r, names)
}

// purgeRec is a purge that fills started before it must respect.
type purgeRec struct {
	gen   uint64
	at    time.Time
	match func(key string) bool
}

// generation returns the current purge generation, to be recorded when
// a fill starts or an object is read from disk.
func (s *Server) generation() uint64 {
	s.purgeMu.RLock()
	defer s.purgeMu.RUnlock()
	return s.gen
}

// guard runs insert, which puts key's object into a tier, unless a purge
// newer than gen (the object's generation) matches key. It reports
// whether it ran insert.
func (s *Server) guard(key string, gen uint64, insert func()) bool {
	s.purgeMu.RLock()
	defer s.purgeMu.RUnlock()
	for i := len(s.purges) - 1; i >= 0 && s.purges[i].gen > gen; i-- {
		if s.purges[i].match(key) {
			return false
		}
	}
	insert()
	return true
}

// notePurge starts a new generation for a purge matching match, and
// stops fills in flight for matching keys from being joined.
func (s *Server) notePurge(match func(key string) bool) {
	now := time.Now()
	s.purgeMu.Lock()
	s.gen++
	// A fill lives at most UpstreamTimeout; its disk write a little
	// longer. Older records can match nothing still in flight.
	keep := 2*s.cfg.UpstreamTimeout + time.Minute
	i := 0
	for i < len(s.purges) && now.Sub(s.purges[i].at) > keep {
		i++
	}
	s.purges = append(s.purges[i:], purgeRec{gen: s.gen, at: now, match: match})
	s.purgeMu.Unlock()
	s.fillsMu.Lock()
	for k := range s.fills {
		if match(k) {
			delete(s.fills, k)
		}
	}
	s.fillsMu.Unlock()
}

// promoteMax caps the disk objects promoted to memory (beyond an eighth
// of the memory tier): larger ones are served from their files, where a
// slow client holds one 64 KiB block rather than the object.
const promoteMax = 8 << 20

// lookup finds the stored object for key: memory first, then disk. A
// disk object small enough for memory and admitted there is read whole
// (verified) and promoted, by one request at a time; otherwise it is
// returned with its open file, to be served from it block by block, and
// the caller closes it.
func (s *Server) lookup(key string) (*object, *objectFile) {
	if o, ok := s.mem.get(key); ok {
		return o, nil
	}
	if s.disk == nil {
		return nil, nil
	}
	gen := s.generation()
	of, err := s.disk.open(key)
	if err != nil {
		s.diskError(key, err)
		return nil, nil
	}
	o := of.object()
	o.gen = gen
	if o.sliced == 0 && (o.size > min(s.cfg.MemoryBytes/8, promoteMax) || !s.mem.admits(key, o.costWith(o.size))) {
		return o, of
	}
	if !s.startPromotion(key) { // another request is reading it into memory
		return o, of
	}
	defer s.endPromotion(key)
	body, err := of.readAll()
	of.Close()
	if err != nil {
		s.diskError(key, err)
		return nil, nil
	}
	o.body = body
	s.store(o, false) // promote to memory, through admission
	return o, nil
}

// startPromotion claims the promotion of key's disk object to memory; it
// reports false if another request holds it.
func (s *Server) startPromotion(key string) bool {
	s.promoteMu.Lock()
	defer s.promoteMu.Unlock()
	if s.promoting[key] {
		return false
	}
	s.promoting[key] = true
	return true
}

func (s *Server) endPromotion(key string) {
	s.promoteMu.Lock()
	delete(s.promoting, key)
	s.promoteMu.Unlock()
}

// diskError handles a failure to read key's object from disk: a corrupt
// file is dropped and counted; anything else (out of descriptors, say)
// is a miss this time, and the file stays.
func (s *Server) diskError(key string, err error) {
	switch {
	case errors.Is(err, errCorrupt):
		s.disk.remove(key)
		s.metrics.corrupt.Inc()
		s.log.Warn("dropped a corrupt disk object", "key", key, "err", err)
	case !errors.Is(err, fs.ErrNotExist):
		s.log.Warn("disk object unreadable; served as a miss", "key", key, "err", err)
	}
}

// store keeps o in memory (through admission) and, if toDisk, writes it
// to the disk tier in the background, unless a purge since o's
// generation matches it. It reports whether o was kept.
func (s *Server) store(o *object, toDisk bool) bool {
	s.noteVary(o)
	kept := false
	if (o.body != nil || o.file != nil) && o.hitFields == nil { // before anyone else sees o
		o.hitFields = hitFields(o)
	}
	if o.body != nil || o.file != nil || o.sliced > 0 {
		m := s.inFile(o)
		s.guard(o.key, o.gen, func() { kept = s.mem.put(m) })
	}
	if s.disk != nil && toDisk {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.disk.put(o, o.body, o.gen); err != nil && !errors.Is(err, errTooLarge) {
				s.log.Error("disk write", "key", o.key, "err", err)
			}
		}()
		kept = true
	}
	return kept
}

func (s *Server) noteVary(o *object) {
	p, _, _ := strings.Cut(o.key, "\x00")
	s.varyMu.Lock()
	if len(o.varyNames) > 0 {
		s.vary[p] = o.varyNames
	} else {
		delete(s.vary, p)
	}
	s.varyMu.Unlock()
}

func (s *Server) serveCached(w *recorder, r *http.Request) {
	s.serveCachedOnce(w, r, true)
}

// serveCachedOnce is serveCached; recent says whether a client's no-cache
// may yet be met by a revalidation that ended while this request was
// deciding (it looks up the object again, once).
func (s *Server) serveCachedOnce(w *recorder, r *http.Request, recent bool) {
	key := s.fullKey(r)
	rp := parseRequestPolicy(r)
	o, of := s.lookup(key)
	if of != nil {
		defer of.Close()
	}
	if o != nil {
		now := w.at
		if !recent { // after a wait for a revalidation
			now = s.now()
		}
		age := ageOf(o, now)
		switch decide(o, age, now.Sub(o.respTime), rp) {
		case useFresh:
			s.serveStored(w, r, o, of, age, "hit", s.hitStatus(o, age, ""))
			return
		case useStale:
			s.serveStored(w, r, o, of, age, "stale", s.hitStatus(o, age, "; detail=max-stale"))
			return
		case useSWR:
			s.serveStored(w, r, o, of, age, "stale", s.hitStatus(o, age, "; detail=stale-while-revalidate"))
			f, _ := s.startFill(key, r, o) // revalidate in the background, coalesced
			f.unhold()
			return
		}
	}
	if rp.onlyIfCached {
		w.cache = "miss"
		s.writeCacheStatus(w, "fwd=miss; detail=only-if-cached")
		http.Error(w, "not cached (only-if-cached)", http.StatusGatewayTimeout)
		return
	}
	s.fetch(w, r, key, o, recent)
}

func (s *Server) hitStatus(o *object, age time.Duration, detail string) string {
	var b [64]byte
	v := strconv.AppendInt(append(b[:0], "hit; ttl="...), int64((o.policy.lifetime - age).Seconds()), 10)
	return string(append(v, detail...))
}

// serveObject answers r from a stored object: preconditions, Range and
// HEAD through httpx for 200s, the stored status and body otherwise. An
// object whose body is on disk is read from its file.
func (s *Server) serveObject(w *recorder, r *http.Request, o *object, cache, status string) {
	var of *objectFile
	if o.onDisk() && o.size > 0 {
		var err error
		if of, err = s.openDisk(o.key); err != nil {
			s.forward(w, r, "fwd=miss; detail=disk-error", false)
			return
		}
		defer of.Close()
	}
	s.serveStored(w, r, o, of, ageOf(o, s.now()), cache, status)
}

func (s *Server) openDisk(key string) (*objectFile, error) {
	if s.disk == nil {
		return nil, fs.ErrNotExist
	}
	of, err := s.disk.open(key)
	if err != nil {
		s.diskError(key, err)
	}
	return of, err
}

// serveStored serves o, whose body is in memory or, when of is not nil,
// in that file; age is o's current age.
func (s *Server) serveStored(w *recorder, r *http.Request, o *object, of *objectFile, age time.Duration, cache, status string) {
	if o.sliced > 0 {
		s.serveSliced(w, r, o, status)
		w.cache = cache
		return
	}
	if pw, ok := w.ResponseWriter.(preparedWriter); ok && o.hitFields != nil && (o.body != nil || o.file != nil) && of == nil &&
		s.servePrepared(w, pw, r, o, age, cache, status) {
		return
	}
	w.cache = cache
	h := w.Header()
	for k, vs := range o.header {
		h[k] = vs
	}
	h["Age"] = []string{strconv.Itoa(int(age.Seconds()))}
	s.addVia(h)
	s.writeCacheStatus(w, status)
	c := o.content()
	defer runtime.KeepAlive(o) // a memFile's mapping may be c.Data
	if of != nil {
		rd := of.reader()
		defer rd.Close()
		// The first block is checked before the header goes out, so that
		// damage found there is a miss, not a cut response.
		if _, err := rd.Seek(firstByte(r, c.Size), io.SeekStart); err == nil && c.Size > 0 {
			var b [1]byte
			if _, err := rd.Read(b[:]); err != nil {
				s.diskError(o.key, err)
				for k := range h {
					delete(h, k)
				}
				s.forward(w, r, "fwd=miss; detail=disk-error", false)
				return
			}
		}
		c.Body = rd
	}
	if o.status != http.StatusOK {
		w.WriteHeader(o.status)
		if r.Method != http.MethodHead {
			s.copyBody(w, o.key, c)
		}
		return
	}
	delete(h, "Content-Length")
	if _, err := httpx.Serve(w, r, c); errors.Is(err, errCorrupt) {
		s.diskError(o.key, err)
		panic(http.ErrAbortHandler) // never the rest of a damaged body
	}
}

// copyBody writes the whole body of c.
func (s *Server) copyBody(w io.Writer, key string, c httpx.Content) {
	if c.Body == nil {
		w.Write(c.Data)
		return
	}
	_, _ = c.Body.Seek(0, io.SeekStart)
	if _, err := io.Copy(w, c.Body); errors.Is(err, errCorrupt) {
		s.diskError(key, err)
		panic(http.ErrAbortHandler)
	}
}

// firstByte is the offset of the first body byte a GET for r of a body
// of size bytes sends: its first range's, or 0.
func firstByte(r *http.Request, size int64) int64 {
	if hdr := httpx.Field(r.Header, "Range"); hdr != "" && r.Method == http.MethodGet {
		if rs, err := httpx.ParseRange(hdr, size); err == nil && len(rs) > 0 {
			return rs[0].Start
		}
	}
	return 0
}

func (s *Server) writeCacheStatus(w http.ResponseWriter, status string) {
	w.Header()["Cache-Status"] = []string{s.cacheStatusValue(status)}
}

// cacheStatusValue is this edge's Cache-Status value (RFC 9211) for
// status; a prepared hit writes the same from fieldLines.
func (s *Server) cacheStatusValue(status string) string { return s.cfg.Name + "; " + status }

// startFill returns the fill in flight for key, or starts one; joined
// reports whether it was already running.
func (s *Server) startFill(key string, r *http.Request, stale *object) (f *fill, joined bool) {
	return s.startRangeFill(key, r, "", stale)
}

// startRevalidation is startFill for a request that found stale; but if
// no fill for key is in flight and the last one ended, its response
// stored, less than clientRevalidateFloor ago, it returns nil: the
// request decided to revalidate just before that fill ended and should
// look up what it stored. Deciding this under fillsMu, and joining a
// fill only if it has not ended (fill.join), means a request either
// joins a fill or sees that it ended: a fill that ends while the request
// decides does not make it start another.
func (s *Server) startRevalidation(key string, r *http.Request, stale *object) (f *fill, joined bool) {
	s.fillsMu.Lock()
	defer s.fillsMu.Unlock()
	if f := s.fills[key]; f != nil {
		if f.join() {
			s.metrics.coalesced.Inc()
			return f, true
		}
		if f.validated() {
			return nil, false // it ended just now; noteValidated is yet to run
		}
	}
	if t, ok := s.validated[key]; ok && s.now().Sub(t) < clientRevalidateFloor {
		return nil, false
	}
	return s.startLocked(key, r, "", stale)
}

// startRangeFill is startFill for a slice when rng (an upstream Range) is
// set; meta is then the sliced object, else the stale object or nil.
func (s *Server) startRangeFill(key string, r *http.Request, rng string, meta *object) (f *fill, joined bool) {
	s.fillsMu.Lock()
	defer s.fillsMu.Unlock()
	return s.startLocked(key, r, rng, meta)
}

// startLocked is startRangeFill with fillsMu held. The caller holds the
// fill it returns (see fill.hold) and must unhold it.
func (s *Server) startLocked(key string, r *http.Request, rng string, meta *object) (f *fill, joined bool) {
	stale := meta
	if rng != "" {
		stale = nil
	}
	if f = s.fills[key]; f != nil && f.join() {
		s.metrics.coalesced.Inc()
		return f, true
	}
	f = newFill(key, r, s.generation()) // replaces a finished fill that is not yet removed
	f.hold()
	if rng != "" {
		f.rng, f.meta = rng, meta
	}
	s.fills[key] = f
	s.wg.Add(1)
	go func() {
		s.run(f, stale)
		s.fillsMu.Lock()
		if s.fills[key] == f {
			delete(s.fills, key)
		}
		if f.validated() {
			s.noteValidated(key)
		}
		s.fillsMu.Unlock()
	}()
	return f, false
}

// noteValidated records that a fill for key ended with its response
// stored, and forgets the records older than clientRevalidateFloor once
// there are many. fillsMu is held.
func (s *Server) noteValidated(key string) {
	now := s.now()
	if len(s.validated) >= 1024 {
		for k, t := range s.validated {
			if now.Sub(t) >= clientRevalidateFloor {
				delete(s.validated, k)
			}
		}
	}
	s.validated[key] = now
}
