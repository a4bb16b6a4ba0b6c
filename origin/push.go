package origin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/streamcdn/streamcdn/internal/httpx"
	"github.com/streamcdn/streamcdn/internal/pace"
	"github.com/streamcdn/streamcdn/internal/pushapi"
	"github.com/streamcdn/streamcdn/manifest"
)

// PushConfig configures Push: one title, read from a server that has it,
// pushed into the pinned areas of edges.
type PushConfig struct {
	// MPD is the title's MPD URL, on the origin (or any server with the
	// title). Every object the MPD names must be on the same host.
	MPD string
	// Edges are the edges' admin base URLs, e.g. http://10.0.0.5:9081.
	Edges []string
	// Token is the edges' admin bearer token.
	Token string
	// RateBPS caps the bits per second sent to each edge; 0: no cap.
	RateBPS float64
	// Concurrency is how many objects are in flight at once; 0: 4.
	Concurrency int
	// Window, when set, confines the push to a daily time window: Push
	// waits for it to open and starts no object after it closes.
	Window *Window
	// Fill hands each edge the list of objects it lacks to fetch from its
	// own upstream (at RateBPS) instead of uploading them.
	Fill bool
	// Progress, if set, is called after each object an edge gets, and
	// once per edge at the end.
	Progress func(EdgeProgress)

	Client *http.Client     // nil: a client with a 5-minute timeout per request
	Logger *slog.Logger     // nil: discard
	Now    func() time.Time // nil: time.Now
}

// EdgeProgress is one edge's progress in the push of one title.
type EdgeProgress struct {
	MPD  string `json:"mpd"`
	Edge string `json:"edge"`
	// Objects is the title's object count: segments, init segments or
	// single files, and the MPD.
	Objects int `json:"objects"`
	// Pushed were sent; Skipped the edge already held, same version.
	Pushed  int   `json:"pushed"`
	Skipped int   `json:"skipped"`
	Failed  int   `json:"failed"`
	Bytes   int64 `json:"bytes"`
	// Left were not started because the window closed or Push was
	// cancelled; a rerun sends them.
	Left     int           `json:"left"`
	Failures []PushFailure `json:"failures,omitempty"`
	Seconds  float64       `json:"seconds"`
}

// Done is how many objects are dealt with.
func (p EdgeProgress) Done() int { return p.Pushed + p.Skipped + p.Failed }

// PushFailure is one object an edge did not get.
type PushFailure struct {
	URL   string `json:"url"`
	Error string `json:"error"`
}

// PushReport is the outcome of Push.
type PushReport struct {
	MPD          string         `json:"mpd"`
	Objects      int            `json:"objects"`
	Edges        []EdgeProgress `json:"edges"`
	Seconds      float64        `json:"seconds"`
	WindowClosed bool           `json:"window_closed,omitempty"`
}

// Failed reports whether any edge missed an object.
func (r *PushReport) Failed() bool {
	for _, e := range r.Edges {
		if e.Failed > 0 || e.Left > 0 {
			return true
		}
	}
	return false
}

// pushObject is one resource of the title: its absolute URL and its key,
// the request target the edges serve it under.
type pushObject struct {
	url, key string
}

type pusher struct {
	cfg     PushConfig
	objects []pushObject // the MPD last
	edges   []*edgeState
	log     *slog.Logger
}

type edgeState struct {
	base  string
	held  map[string]pushapi.PinnedObject
	lim   *pace.Limiter
	mu    sync.Mutex
	prog  EdgeProgress
	start time.Time
}

// Push sends every object of the title to every edge that lacks it or
// holds another version: all segments of all representations (init and
// media segments, or the single file with its sidx) and then the MPD, so
// that an edge in push mode shows the title only once it is complete. A
// rerun sends only what is missing: each edge reports what it holds.
func Push(ctx context.Context, cfg PushConfig) (*PushReport, error) {
	return push(ctx, cfg, edgeLimiters(cfg))
}

// edgeLimiters makes each edge's rate limiter, for all the titles of a
// run: a cap holds across titles only if they share it.
func edgeLimiters(cfg PushConfig) map[string]*pace.Limiter {
	lims := map[string]*pace.Limiter{}
	for _, e := range cfg.Edges {
		lims[e] = pace.New(cfg.RateBPS)
	}
	return lims
}

func push(ctx context.Context, cfg PushConfig, lims map[string]*pace.Limiter) (*PushReport, error) {
	if len(cfg.Edges) == 0 {
		return nil, errors.New("push: no edges")
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 5 * time.Minute}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &pusher{cfg: cfg, log: cfg.Logger.With("component", "push")}
	start := time.Now()
	if cfg.Window != nil {
		if err := cfg.Window.Wait(ctx, cfg.Now); err != nil {
			return nil, err
		}
	}
	if err := p.listObjects(ctx); err != nil {
		return nil, err
	}
	prefix := path.Dir(p.objects[len(p.objects)-1].key) + "/"
	for _, e := range cfg.Edges {
		es := &edgeState{base: strings.TrimSuffix(e, "/"), lim: lims[e], start: time.Now()}
		es.prog = EdgeProgress{MPD: cfg.MPD, Edge: es.base, Objects: len(p.objects)}
		held, err := p.holdings(ctx, es.base, prefix)
		if err != nil {
			return nil, err
		}
		es.held = held
		p.edges = append(p.edges, es)
	}
	rep := &PushReport{MPD: cfg.MPD, Objects: len(p.objects)}
	var err error
	if cfg.Fill {
		err = p.fill(ctx)
	} else {
		rep.WindowClosed, err = p.upload(ctx)
	}
	for _, es := range p.edges {
		es.mu.Lock()
		es.prog.Left = es.prog.Objects - es.prog.Done()
		es.prog.Seconds = time.Since(es.start).Seconds()
		prog := es.prog
		es.mu.Unlock()
		if cfg.Progress != nil {
			cfg.Progress(prog)
		}
		rep.Edges = append(rep.Edges, prog)
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, err
}

// listObjects fetches and parses the MPD and lists the title's objects.
func (p *pusher) listObjects(ctx context.Context) error {
	body, _, err := p.get(ctx, p.cfg.MPD, "")
	if err != nil {
		return fmt.Errorf("push: MPD: %w", err)
	}
	m, err := manifest.Parse(body, p.cfg.MPD)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	base, _ := url.Parse(p.cfg.MPD)
	seen := map[string]bool{}
	add := func(s *manifest.Segment) error {
		if s == nil || seen[s.URL] {
			return nil
		}
		seen[s.URL] = true
		u, err := url.Parse(s.URL)
		if err != nil {
			return err
		}
		if u.Host != base.Host || u.Scheme != base.Scheme {
			return fmt.Errorf("push: %s is not on the MPD's server %s", s.URL, base.Host)
		}
		p.objects = append(p.objects, pushObject{url: s.URL, key: u.RequestURI()})
		return nil
	}
	for _, t := range m.Tracks {
		if err := add(t.Init); err != nil {
			return err
		}
		if err := add(t.Index); err != nil {
			return err
		}
		for i := range t.Segments {
			if err := add(&t.Segments[i]); err != nil {
				return err
			}
		}
	}
	if len(p.objects) == 0 {
		return errors.New("push: the MPD names no segments")
	}
	p.objects = append(p.objects, pushObject{url: p.cfg.MPD, key: base.RequestURI()})
	return nil
}

// holdings asks an edge what it holds under prefix.
func (p *pusher) holdings(ctx context.Context, base, prefix string) (map[string]pushapi.PinnedObject, error) {
	var h pushapi.Holdings
	if err := httpx.DoJSON(ctx, p.cfg.Client, http.MethodGet, base+"/push/objects?prefix="+url.QueryEscape(prefix), p.cfg.Token, nil, &h); err != nil {
		return nil, fmt.Errorf("push: edge %s: %w", base, err)
	}
	held := map[string]pushapi.PinnedObject{}
	for _, o := range h.Objects {
		held[o.URL] = o
	}
	return held, nil
}

// upload fetches each object once and PUTs it to the edges that need it.
// It reports whether the window closed before the end.
func (p *pusher) upload(ctx context.Context) (windowClosed bool, err error) {
	media, mpd := p.objects[:len(p.objects)-1], p.objects[len(p.objects)-1]
	work := make(chan pushObject)
	var wg sync.WaitGroup
	for range p.cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range work {
				p.uploadOne(ctx, o, p.edges)
			}
		}()
	}
	for _, o := range media {
		if ctx.Err() != nil {
			break
		}
		if p.cfg.Window != nil && !p.cfg.Window.Contains(p.cfg.Now()) {
			windowClosed = true
			break
		}
		work <- o
	}
	close(work)
	wg.Wait()
	if ctx.Err() != nil || windowClosed {
		return windowClosed, ctx.Err()
	}
	var whole []*edgeState
	for _, es := range p.edges {
		// After a failure the MPD is withheld: the title stays invisible
		// on the edge rather than half there.
		es.mu.Lock()
		broken := es.prog.Failed > 0
		if broken {
			es.prog.Failed++
			es.prog.Failures = append(es.prog.Failures, PushFailure{URL: mpd.url, Error: "not pushed: the title is incomplete on this edge"})
		}
		es.mu.Unlock()
		if broken {
			p.report(es)
			continue
		}
		whole = append(whole, es)
	}
	p.uploadOne(ctx, mpd, whole)
	return false, nil
}

// uploadOne brings o to the given edges: skipped where the held version
// is current, fetched once and PUT where not.
func (p *pusher) uploadOne(ctx context.Context, o pushObject, edges []*edgeState) {
	// When every edge holds o with one ETag, a conditional GET tells
	// whether it is still current without its body.
	etag, all := "", len(edges) > 0
	for i, es := range edges {
		h, ok := es.held[o.key]
		if !ok || h.ETag == "" || (i > 0 && h.ETag != etag) {
			all = false
			break
		}
		etag = h.ETag
	}
	if !all {
		etag = ""
	}
	body, hdr, err := p.get(ctx, o.url, etag)
	if errors.Is(err, errNotModified) {
		for _, es := range edges {
			p.done(es, o, 0, false, nil)
		}
		return
	}
	if err != nil {
		for _, es := range edges {
			p.done(es, o, 0, true, err)
		}
		return
	}
	sum := sha256.Sum256(body)
	sha := hex.EncodeToString(sum[:])
	var wg sync.WaitGroup
	for _, es := range edges {
		if h, ok := es.held[o.key]; ok && h.SHA256 == sha {
			p.done(es, o, 0, false, nil)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := p.put(ctx, es, o, body, sha, hdr)
			p.done(es, o, int64(len(body)), true, err)
		}()
	}
	wg.Wait()
}

func (p *pusher) done(es *edgeState, o pushObject, n int64, sent bool, err error) {
	es.mu.Lock()
	switch {
	case err != nil:
		es.prog.Failed++
		es.prog.Failures = append(es.prog.Failures, PushFailure{URL: o.url, Error: err.Error()})
		p.log.Warn("push failed", "edge", es.base, "url", o.url, "err", err)
	case sent:
		es.prog.Pushed++
		es.prog.Bytes += n
	default:
		es.prog.Skipped++
	}
	es.mu.Unlock()
	p.report(es)
}

func (p *pusher) report(es *edgeState) {
	if p.cfg.Progress == nil {
		return
	}
	es.mu.Lock()
	prog := es.prog
	prog.Seconds = time.Since(es.start).Seconds()
	es.mu.Unlock()
	p.cfg.Progress(prog)
}

// put uploads one object to an edge, paced by the edge's limiter.
func (p *pusher) put(ctx context.Context, es *edgeState, o pushObject, body []byte, sha string, hdr http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, es.base+"/push/object?url="+url.QueryEscape(o.key),
		pace.Reader(ctx, bytes.NewReader(body), es.lim))
	if err != nil {
		return err
	}
	req.ContentLength = int64(len(body))
	for _, k := range pushapi.StoredHeaders {
		if v := hdr.Get(k); v != "" {
			req.Header.Set(k, v)
		}
	}
	req.Header.Set("Content-Digest", pushapi.ContentDigest(sha))
	req.Header.Set("Authorization", "Bearer "+p.cfg.Token)
	res, err := p.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 {
		return httpx.StatusError(res)
	}
	return nil
}

// errNotModified is a conditional GET's 304.
var errNotModified = errors.New("not modified")

// get fetches a whole object, conditionally on etag when set.
func (p *pusher) get(ctx context.Context, u, etag string) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	res, err := p.cfg.Client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	switch {
	case res.StatusCode == http.StatusNotModified && etag != "":
		return nil, nil, errNotModified
	case res.StatusCode != http.StatusOK:
		return nil, nil, httpx.StatusError(res)
	}
	body, err := io.ReadAll(res.Body)
	if err == nil && res.ContentLength >= 0 && int64(len(body)) != res.ContentLength {
		err = fmt.Errorf("body is %d bytes of %d", len(body), res.ContentLength)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: %w", u, err)
	}
	return body, res.Header, nil
}

// fill hands each edge the objects it lacks, the MPD last, as fill jobs,
// and follows them until done.
func (p *pusher) fill(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(p.edges))
	for i, es := range p.edges {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.fillEdge(ctx, es)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (p *pusher) fillEdge(ctx context.Context, es *edgeState) error {
	media, mpd := p.objects[:len(p.objects)-1], p.objects[len(p.objects)-1]
	var list []pushapi.FillObject
	for _, o := range media {
		if _, ok := es.held[o.key]; ok { // segments are immutable: held is current
			es.mu.Lock()
			es.prog.Skipped++
			es.mu.Unlock()
			continue
		}
		list = append(list, pushapi.FillObject{URL: o.key})
	}
	if len(list) > 0 {
		st, err := p.runFillJob(ctx, es, list)
		if err != nil {
			return err
		}
		if len(st.Failures) > 0 {
			return nil // no MPD: the title stays invisible on this edge
		}
	}
	_, err := p.runFillJob(ctx, es, []pushapi.FillObject{{URL: mpd.key}})
	return err
}

// runFillJob starts one fill job on an edge and polls it to the end.
func (p *pusher) runFillJob(ctx context.Context, es *edgeState, list []pushapi.FillObject) (pushapi.FillStatus, error) {
	var started struct{ ID string }
	req := pushapi.FillRequest{Objects: list, RateBPS: p.cfg.RateBPS, Concurrency: p.cfg.Concurrency}
	if err := httpx.DoJSON(ctx, p.cfg.Client, http.MethodPost, es.base+"/push/fill", p.cfg.Token, req, &started); err != nil {
		return pushapi.FillStatus{}, fmt.Errorf("push: edge %s: %w", es.base, err)
	}
	es.mu.Lock()
	base := es.prog
	es.mu.Unlock()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		var st pushapi.FillStatus
		if err := httpx.DoJSON(ctx, p.cfg.Client, http.MethodGet, es.base+"/push/fill/"+started.ID, p.cfg.Token, nil, &st); err != nil {
			return st, fmt.Errorf("push: edge %s: %w", es.base, err)
		}
		es.mu.Lock()
		es.prog.Pushed = base.Pushed + st.Done - len(st.Failures)
		es.prog.Failed = base.Failed + len(st.Failures)
		es.prog.Bytes = base.Bytes + st.Bytes
		if st.State == "done" {
			for _, f := range st.Failures {
				es.prog.Failures = append(es.prog.Failures, PushFailure{URL: f.URL, Error: f.Reason + ": " + f.Error})
			}
		}
		es.mu.Unlock()
		p.report(es)
		if st.State == "done" {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-tick.C:
		}
	}
}
