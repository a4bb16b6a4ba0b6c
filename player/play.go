package player

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/streamcdn/streamcdn/manifest"
)

// Config is one session against a real server.
type Config struct {
	// URL is the MPD's.
	URL string
	// ABR names the algorithm (see Names); "" is dynamic, dash.js's
	// default.
	ABR string
	// Client fetches everything; nil is NewClient(ClientConfig{}).
	Client *http.Client
	// Trace, when set, shapes the session's reads to the trace's
	// bandwidth, period by period, looping, and delays each request by the
	// trace's latency.
	Trace Trace
	// TraceName labels the report.
	TraceName string
	// MaxBuffer is the buffer's capacity; 0 means 25 s.
	MaxBuffer time.Duration
	// Startup is the media that must be buffered before playback starts
	// and resumes after a stall; 0 means one segment.
	Startup time.Duration
	// Duration, when set, plays only the title's first Duration.
	Duration time.Duration
	// Speed dilates time: media plays Speed times faster and the trace
	// runs Speed times faster at Speed times its bandwidth, so that the
	// session makes the decisions of a speed-1 session in 1/Speed of the
	// time. 0 means 1.
	Speed float64
	// CMCD sends Common Media Client Data with every request.
	CMCD CMCD
	// SessionID is CMCD's sid; if empty, a random one.
	SessionID string
	// NoAbandon turns abandonment off.
	NoAbandon bool
	// Retries is how many times a failed segment is fetched again, each
	// time one quality lower, before the session ends with an error; 0
	// means 2, negative none.
	Retries int
	// RetryWait is the pause before the first retry of a segment, in
	// wall-clock time (Speed does not shorten it: it waits on the
	// network, not on the media), doubled for each further retry up to
	// 8 times it;
	// playback goes on from the buffer meanwhile. Zero retries at once.
	// A pause gives a CDN time to move a client off a failed server: a
	// new connection resolves the host again.
	RetryWait time.Duration
	// OnSegment, when set, is called after every segment attempt, in
	// order (the CSV log writes from it).
	OnSegment func(SegmentLog)
	// Metrics, when set, counts the session in a fleet's metrics.
	Metrics *FleetMetrics
	Logger  *slog.Logger
}

// Report is a session's outcome: its QoE (Metrics) and what happened.
type Report struct {
	Metrics
	URL      string `json:"url"`
	Protocol string `json:"protocol,omitempty"`
	// Ended is complete, duration (Config.Duration reached), error or
	// canceled.
	Ended    string `json:"ended"`
	Segments int    `json:"segments"`
	Bytes    int64  `json:"bytes"`
	// DelayedSegments counts segments during whose wait or download one
	// of the session's own timers fired more than 50 ms (wall clock)
	// late: time taken by the client's CPU, not by the network.
	DelayedSegments int `json:"delayed_segments"`
	// Pathways are the Content Steering pathways the session fetched
	// from, in order (none without steering).
	Pathways []string     `json:"pathways,omitempty"`
	Errors   []Event      `json:"errors"`
	Log      []SegmentLog `json:"-"`
}

// Event is an error the session met, and what it did about it.
type Event struct {
	AtS     float64 `json:"at_s"`
	Segment int     `json:"segment"` // -1: the MPD or an init/index segment
	Kind    string  `json:"kind"`    // mpd, http, network, truncated, fmp4, discontinuity
	URL     string  `json:"url"`
	Error   string  `json:"error"`
	Action  string  `json:"action"` // retry or end
}

// SegmentLog is one video segment attempt.
type SegmentLog struct {
	AtMs           float64 `json:"at_ms"`
	Index          int     `json:"index"`
	Representation string  `json:"representation"`
	BitrateKbps    float64 `json:"bitrate_kbps"`
	Bytes          int64   `json:"bytes"`
	TTFBMs         float64 `json:"ttfb_ms"`
	DownloadMs     float64 `json:"download_ms"`
	ThroughputKbps float64 `json:"throughput_kbps"`
	BufferBeforeMs float64 `json:"buffer_before_ms"`
	BufferAfterMs  float64 `json:"buffer_after_ms"`
	StallMs        float64 `json:"stall_ms"`
	Result         string  `json:"result"` // ok, abandoned or error
	// Cache is what the nearest cache's Cache-Status (RFC 9211) said: hit
	// (served from its store, pushed or pulled) or its fwd reason (miss,
	// stale, ...); empty without one.
	Cache string `json:"cache,omitempty"`
}

// maxObject bounds one fetched object (MPD or segment) in memory.
const maxObject = 256 << 20

// Play runs one session: it fetches the MPD, then each segment of the
// video ladder (and of the first audio track) over HTTP, choosing
// qualities with the ABR algorithm and keeping a playout buffer in
// session time. Every media segment is checked as fMP4 with decode times
// continuing the previous one's; a segment that fails (HTTP error,
// truncated, not fMP4, discontinuous) is an error event and is fetched
// again, one quality lower each time, up to Config.Retries times; then the
// session ends with an error. A malformed MPD ends it at once. The report
// is returned even with the error.
func Play(ctx context.Context, cfg Config) (*Report, error) {
	s := newSession(cfg)
	err := s.run(ctx)
	return s.finish(ctx, err), err
}

type session struct {
	cfg    Config
	log    *slog.Logger
	client *http.Client
	clk    *clock
	link   *link
	abr    ABR
	est    *Estimator
	ac     *Context
	buf    *buffer
	m      *Metrics
	rep    *Report

	steer *steering // nil: the MPD has no ContentSteering
	video []*manifest.Track
	audio *manifest.Track
	inits map[*manifest.Track]*initInfo

	started, stalled bool
	last             float64 // session time of the last advance
	videoEnd         float64 // seconds: where the next video segment must start
	audioEnd         float64
	nextAudio        int
}

func newSession(cfg Config) *session {
	if cfg.ABR == "" {
		cfg.ABR = "dynamic"
	}
	if cfg.MaxBuffer <= 0 {
		cfg.MaxBuffer = 25 * time.Second
	}
	if cfg.Retries == 0 {
		cfg.Retries = 2
	}
	if cfg.Client == nil {
		cfg.Client = NewClient(ClientConfig{})
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SessionID == "" {
		cfg.SessionID = rand.Text()
	}
	s := &session{cfg: cfg, log: cfg.Logger, client: cfg.Client, clk: newClock(cfg.Speed),
		inits: map[*manifest.Track]*initInfo{}}
	if len(cfg.Trace) > 0 {
		s.link = newLink(cfg.Trace)
	}
	s.rep = &Report{URL: cfg.URL, Errors: []Event{}}
	return s
}

// errEnd marks an error already recorded as an event.
type errEnd struct{ err error }

func (e errEnd) Error() string { return e.err.Error() }
func (e errEnd) Unwrap() error { return e.err }

func (s *session) event(seg int, kind, url string, err error, action string) {
	s.rep.Errors = append(s.rep.Errors, Event{AtS: s.clk.now() / 1000, Segment: seg, Kind: kind, URL: url, Error: err.Error(), Action: action})
	s.log.Warn("segment error", "segment", seg, "kind", kind, "url", url, "err", err, "action", action)
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.errors.WithLabelValues(kind).Inc()
	}
}

func (s *session) run(ctx context.Context) error {
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.active.Inc()
		defer s.cfg.Metrics.active.Dec()
	}
	if s.cfg.Trace != nil {
		if err := s.cfg.Trace.validate(); err != nil {
			return err
		}
	}
	if err := s.open(ctx); err != nil {
		return err
	}
	return s.stream(ctx)
}

// ladder is the first period's video representations, lowest bandwidth
// first, and its first audio one (nil: none). An audio-only title's
// audio is the ladder.
func ladder(m *manifest.Manifest) (video []*manifest.Track, audio *manifest.Track) {
	var audios []*manifest.Track
	for _, t := range m.Tracks {
		if t.Period != 0 {
			continue // the first period is the title
		}
		switch {
		case t.ContentType == "video" || strings.HasPrefix(t.MimeType, "video/"):
			video = append(video, t)
		case t.ContentType == "audio" || strings.HasPrefix(t.MimeType, "audio/"):
			audios = append(audios, t)
		}
	}
	if len(video) == 0 {
		video, audios = audios, nil
	}
	sort.SliceStable(video, func(i, j int) bool { return video[i].Bandwidth < video[j].Bandwidth })
	if len(audios) > 0 {
		audio = audios[0]
	}
	return video, audio
}

// open fetches and parses the MPD, picks the ladder and expands
// SegmentBase indexes.
func (s *session) open(ctx context.Context) error {
	res, err := s.fetch(ctx, s.cfg.URL, nil, cmcdData{ot: "m"}, nil)
	if err != nil {
		s.event(-1, kindOf(err), s.cfg.URL, err, "end")
		return errEnd{fmt.Errorf("MPD: %w", err)}
	}
	m, err := manifest.Parse(res.body, s.cfg.URL)
	if err != nil {
		s.event(-1, "mpd", s.cfg.URL, err, "end")
		return errEnd{err}
	}
	if m.Type != "static" {
		err := errors.New("a dynamic (live) MPD; the player plays static presentations")
		s.event(-1, "mpd", s.cfg.URL, err, "end")
		return errEnd{err}
	}
	if s.steer = newSteering(m); s.steer != nil {
		if m.Steering.QueryBeforeStart {
			s.reloadSteering(ctx)
		} else {
			s.steer.nextMs = s.clk.now() + 1 // after the first segment
		}
		s.notePathway()
	}
	video, audio := ladder(m)
	if len(video) == 0 {
		err := errors.New("no video or audio representation in the first period")
		s.event(-1, "mpd", s.cfg.URL, err, "end")
		return errEnd{err}
	}
	s.audio = audio
	for _, t := range append(video, s.audio) {
		if t == nil || t.Index == nil {
			continue
		}
		res, err := s.fetch(ctx, t.Index.URL, t.Index.Range, cmcdData{ot: "i"}, nil)
		if err == nil {
			err = t.ExpandIndex(res.body)
		}
		if err != nil {
			s.event(-1, kindOf(err), t.Index.URL, err, "end")
			return errEnd{fmt.Errorf("index of %s: %w", t.ID, err)}
		}
	}
	n := len(video[0].Segments)
	for _, t := range video {
		n = min(n, len(t.Segments))
	}
	if s.cfg.Duration > 0 {
		for i := range n {
			if video[0].Segments[i].Start-video[0].PeriodStart >= s.cfg.Duration {
				n = i
				break
			}
		}
	}
	if n == 0 {
		err := errors.New("the video has no segments")
		s.event(-1, "mpd", s.cfg.URL, err, "end")
		return errEnd{err}
	}
	for _, t := range video {
		t.Segments = t.Segments[:n]
	}
	s.video = video

	var total time.Duration
	for _, seg := range video[0].Segments {
		total += seg.Duration
	}
	segMs := float64(total.Milliseconds()) / float64(n)
	if segMs <= 0 {
		err := errors.New("segments of zero duration")
		s.event(-1, "mpd", s.cfg.URL, err, "end")
		return errEnd{err}
	}
	maxBuf := float64(s.cfg.MaxBuffer.Milliseconds())
	if maxBuf < segMs {
		return fmt.Errorf("the buffer (%v) must hold a segment (%.0f ms)", s.cfg.MaxBuffer, segMs)
	}
	rates := make([]float64, len(video))
	for i, t := range video {
		rates[i] = float64(t.Bandwidth) / 1000
	}
	s.ac = &Context{Segments: n, SegmentMs: segMs, BitratesKbps: rates, MaxBufferMs: maxBuf, Size: s.sizeBits}
	if s.abr, err = New(s.cfg.ABR, s.ac); err != nil {
		return err
	}
	s.m = &Metrics{ABR: strings.ToLower(s.cfg.ABR), Trace: s.cfg.TraceName, segMs: segMs, bitrates: rates}
	s.buf = &buffer{segMs: segMs, m: s.m, bitrates: rates, lastQ: -1}
	s.est = NewEstimator(segMs)
	return nil
}

// sizeBits is a segment's size: exact for byte ranges, else the
// representation's bandwidth over its duration.
func (s *session) sizeBits(i, q int) float64 {
	t := s.video[q]
	seg := t.Segments[min(i, len(t.Segments)-1)]
	if seg.Range != nil {
		return float64(seg.Range.Len() * 8)
	}
	return float64(t.Bandwidth) * seg.Duration.Seconds()
}

// advance plays the media that session time has consumed since the last
// call, stalling when the buffer runs dry.
func (s *session) advance() {
	now := s.clk.now()
	dt := now - s.last
	s.last = now
	if !s.started || dt <= 0 {
		return
	}
	if s.stalled {
		s.buf.stall(dt)
		return
	}
	events := s.m.RebufferEvents
	s.buf.deplete(dt)
	if len(s.buf.contents) == 0 {
		if s.m.RebufferEvents == events {
			s.m.RebufferEvents++
		}
		s.stalled = true
		if s.cfg.Metrics != nil {
			s.cfg.Metrics.stalls.Inc()
		}
	}
}

// arrived adds a whole segment of quality q to the buffer, starting or
// resuming playback at the threshold.
func (s *session) arrived(q int) {
	s.buf.contents = append(s.buf.contents, q)
	s.m.chunk(q, s.buf.rebufDuring)
	s.buf.rebufDuring = 0
	threshold := float64(s.cfg.Startup.Milliseconds())
	threshold = min(max(threshold, s.ac.SegmentMs), s.ac.MaxBufferMs)
	if s.buf.level() < threshold && s.ac.Index+1 < s.ac.Segments {
		return
	}
	if !s.started {
		s.started = true
		now := s.clk.now()
		s.m.startupMs = now
		s.m.playMs += now
		s.last = now
	}
	s.stalled = false
}

func (s *session) update() {
	s.advance()
	s.ac.BufferMs = s.buf.level()
	s.ac.ThroughputKbps, s.ac.LatencyMs, s.ac.HasEstimate = s.est.Throughput, s.est.Latency, s.est.Valid
}

// wait sleeps ms of session time, playing meanwhile.
func (s *session) wait(ctx context.Context, ms float64) error {
	err := s.clk.sleepUntil(ctx, s.clk.now()+ms)
	s.advance()
	return err
}

func (s *session) stream(ctx context.Context) error {
	attempts := 0
	quality := -1 // forced for a retry
	for next := 0; next < s.ac.Segments; {
		s.ac.Index = next
		if s.steer != nil && s.clk.now() >= s.steer.nextMs {
			s.reloadSteering(ctx)
			s.notePathway()
		}
		late := s.clk.late
		s.update()
		if full := s.buf.level() + s.ac.SegmentMs - s.ac.MaxBufferMs; full > 0 && s.started {
			if err := s.wait(ctx, full); err != nil {
				return err
			}
			s.abr.Delayed(full)
			s.update()
		}
		q := 0 // the first segment at the lowest quality, as Sabre
		if next > 0 {
			var delay float64
			q, delay = s.abr.Choose(s.ac)
			if delay > 0 && s.started {
				if err := s.wait(ctx, delay); err != nil {
					return err
				}
				s.update()
			}
		}
		if quality >= 0 {
			q = quality
		}
		q = min(max(q, 0), len(s.video)-1)
		r, err := s.segment(ctx, next, q)
		if s.clk.late > late {
			s.rep.DelayedSegments++
			if s.cfg.Metrics != nil {
				s.cfg.Metrics.delayed.Inc()
			}
		}
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			attempts++
			if attempts > s.cfg.Retries || s.cfg.Retries < 0 {
				s.rep.Errors[len(s.rep.Errors)-1].Action = "end"
				return errEnd{fmt.Errorf("segment %d: %w", next, err)}
			}
			quality = max(q-1, 0)
			if s.steer != nil {
				// Another pathway may have the segment: the same quality
				// there, before a lower one.
				from, to := s.steer.failover()
				s.log.Info("pathway failed", "from", from, "to", to, "err", err)
				s.notePathway()
				if to != from {
					quality = q
				}
			}
			if s.cfg.RetryWait > 0 {
				pause := s.cfg.RetryWait << min(attempts-1, 3)
				speed := s.cfg.Speed
				if speed <= 0 {
					speed = 1
				}
				if err := s.wait(ctx, float64(pause.Milliseconds())*speed); err != nil {
					return err
				}
			}
			continue
		case r.AbandonTo >= 0:
			s.m.Abandoned++
			s.update()
			s.abr.Downloaded(s.ac, r)
			continue
		}
		attempts, quality = 0, -1
		s.update()
		s.abr.Downloaded(s.ac, r)
		dl := r.TimeMs - r.TTFBMs
		if dl > 0 {
			s.est.Push(dl, r.Bits/dl, r.TTFBMs)
			s.ac.History = append(s.ac.History, r.Bits/dl)
		}
		next++
	}
	return nil
}

// segment fetches video segment i at quality q, with its init segment
// when q is new, and the audio segments it covers, and adds it to the
// buffer. Its result's AbandonTo is >= 0 if the download was abandoned.
func (s *session) segment(ctx context.Context, i, q int) (Result, error) {
	t := s.video[q]
	seg := t.Segments[i]
	init, err := s.initOf(ctx, t, i)
	if err != nil {
		return Result{}, err
	}
	s.update()
	before := s.buf.level()
	stallBefore := s.m.rebufferMs
	row := SegmentLog{AtMs: s.clk.now(), Index: i, Representation: t.ID, BitrateKbps: float64(t.Bandwidth) / 1000, BufferBeforeMs: before}
	cm := s.cmcdFor(t, i, "v")
	var check func(Progress) int
	if !s.cfg.NoAbandon && i > 0 && q > 0 {
		check = func(p Progress) int {
			p.Index, p.Quality = i, q
			p.SizeBits = s.sizeBits(i, q)
			s.update()
			to := s.abr.Abandon(s.ac, p, s.buf.level())
			if to >= q {
				return -1
			}
			return to
		}
	}
	res, err := s.fetch(ctx, seg.URL, seg.Range, cm, check)
	r := Result{Quality: q, AbandonTo: -1, TimeMs: res.ttfb + res.dl, TTFBMs: res.ttfb, Bits: float64(8 * len(res.body))}
	row.Bytes, row.TTFBMs, row.DownloadMs, row.Cache = int64(len(res.body)), res.ttfb, res.dl, res.cache
	if res.dl > 0 {
		row.ThroughputKbps = r.Bits / res.dl
	}
	s.rep.Bytes += int64(len(res.body))
	if err == nil && res.abandonTo >= 0 {
		r.AbandonTo = res.abandonTo
		row.Result = "abandoned"
		s.logRow(row, stallBefore)
		return r, nil
	}
	videoEnd := s.videoEnd
	if err == nil {
		err = s.checkMedia(res.body, init, &videoEnd, i)
	}
	if err != nil {
		row.Result = "error"
		s.logRow(row, stallBefore)
		s.event(i, kindOf(err), seg.URL, err, "retry")
		return r, err
	}
	if err := s.audioUpTo(ctx, seg.Start+seg.Duration); err != nil {
		return r, err
	}
	s.videoEnd = videoEnd
	s.update()
	s.arrived(q)
	s.rep.Segments++
	row.Result = "ok"
	s.logRow(row, stallBefore)
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.bitrate.Observe(float64(t.Bandwidth) / 8)
	}
	return r, nil
}

func (s *session) logRow(row SegmentLog, stallBefore float64) {
	row.BufferAfterMs = s.buf.level()
	row.StallMs = s.m.rebufferMs - stallBefore
	s.rep.Log = append(s.rep.Log, row)
	if s.cfg.OnSegment != nil {
		s.cfg.OnSegment(row)
	}
}

// initOf returns track t's init segment's information, fetching it the
// first time t is played.
func (s *session) initOf(ctx context.Context, t *manifest.Track, i int) (*initInfo, error) {
	if in, ok := s.inits[t]; ok {
		return in, nil
	}
	if t.Init == nil {
		err := fmt.Errorf("representation %s has no initialization segment", t.ID)
		s.event(i, "mpd", s.cfg.URL, err, "retry")
		return nil, err
	}
	res, err := s.fetch(ctx, t.Init.URL, t.Init.Range, cmcdData{ot: "i", sid: s.cfg.SessionID}, nil)
	var in *initInfo
	if err == nil {
		in, err = checkInit(res.body)
		err = fmtErr(err)
	}
	if err != nil {
		s.event(i, kindOf(err), t.Init.URL, err, "retry")
		return nil, err
	}
	s.rep.Bytes += int64(len(res.body))
	s.inits[t] = in
	return in, nil
}

// audioUpTo fetches the audio segments that start before end.
func (s *session) audioUpTo(ctx context.Context, end time.Duration) error {
	t := s.audio
	if t == nil {
		return nil
	}
	for s.nextAudio < len(t.Segments) && t.Segments[s.nextAudio].Start < end {
		i := s.nextAudio
		seg := t.Segments[i]
		var err error
		for attempt := 0; ; attempt++ {
			var init *initInfo
			if init, err = s.initOf(ctx, t, i); err == nil {
				var res fetched
				if res, err = s.fetch(ctx, seg.URL, seg.Range, s.cmcdFor(t, i, "a"), nil); err == nil {
					s.rep.Bytes += int64(len(res.body))
					if err = s.checkMedia(res.body, init, &s.audioEnd, i); err == nil {
						break
					}
				}
				s.event(i, kindOf(err), seg.URL, fmt.Errorf("audio: %w", err), "retry")
			}
			if ctx.Err() != nil || attempt >= s.cfg.Retries {
				return err
			}
		}
		s.nextAudio++
	}
	return nil
}

// checkMedia checks a media segment and that it starts where the track's
// previous one ended (*end, seconds; zero before the first).
func (s *session) checkMedia(b []byte, init *initInfo, end *float64, i int) error {
	sp, err := checkSegment(b, init)
	if err != nil {
		return fmtErr(err)
	}
	if i > 0 && math.Abs(sp.startS()-*end) > 0.002 {
		return discontinuity{fmt.Errorf("decode time %.3f s, the previous segment ended at %.3f s", sp.startS(), *end)}
	}
	*end = sp.endS()
	return nil
}

// cmcdFor is the CMCD data of segment i of track t.
func (s *session) cmcdFor(t *manifest.Track, i int, ot string) cmcdData {
	seg := t.Segments[i]
	c := cmcdData{brKbps: float64(t.Bandwidth) / 1000, dMs: float64(seg.Duration.Milliseconds()), ot: ot, sid: s.cfg.SessionID,
		inBuffer: true, startup: !s.started || s.stalled}
	if s.buf != nil {
		c.blMs = s.buf.level()
	}
	if s.est != nil && s.est.Valid {
		c.mtpKbps = s.est.Throughput
	}
	if i+1 < len(t.Segments) {
		n := t.Segments[i+1]
		if n.URL != seg.URL {
			c.nor = relativeURL(seg.URL, n.URL)
		}
	}
	return c
}

// Error kinds.
type (
	httpStatus    struct{ error }
	truncated     struct{ error }
	fmp4Error     struct{ error }
	discontinuity struct{ error }
)

func (e httpStatus) Unwrap() error    { return e.error }
func (e truncated) Unwrap() error     { return e.error }
func (e fmp4Error) Unwrap() error     { return e.error }
func (e discontinuity) Unwrap() error { return e.error }

func fmtErr(err error) error {
	if err == nil {
		return nil
	}
	return fmp4Error{err}
}

func kindOf(err error) string {
	var (
		h httpStatus
		t truncated
		f fmp4Error
		d discontinuity
		p *manifest.ParseError
	)
	switch {
	case errors.As(err, &h):
		return "http"
	case errors.As(err, &t):
		return "truncated"
	case errors.As(err, &f):
		return "fmp4"
	case errors.As(err, &d):
		return "discontinuity"
	case errors.As(err, &p):
		return "mpd"
	}
	return "network"
}

// fetched is one response: its body and its timing in session ms.
type fetched struct {
	body      []byte
	ttfb, dl  float64
	abandonTo int
	cache     string // the nearest cache's Cache-Status
}

// cacheOf is what the nearest cache said of a response (RFC 9211: the
// last entry of Cache-Status): "hit", or the reason it forwarded the
// request ("miss", "stale", ...); "" without one.
func cacheOf(h http.Header) string {
	vs := h.Values("Cache-Status")
	if len(vs) == 0 {
		return ""
	}
	last := vs[len(vs)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	for _, p := range strings.Split(last, ";")[1:] {
		p = strings.TrimSpace(p)
		if v, ok := strings.CutPrefix(p, "fwd="); ok {
			return v
		}
		if p == "hit" {
			return "hit"
		}
	}
	return ""
}

// fetch GETs url (a byte range of it when br is set), shaped by the
// trace if any, asking check (may be nil) every 50 ms of session time
// whether to abandon.
func (s *session) fetch(ctx context.Context, url string, br *manifest.ByteRange, cm cmcdData, check func(Progress) int) (fetched, error) {
	out := fetched{abandonTo: -1}
	url = s.steer.rewrite(url)
	t0 := s.clk.now()
	if s.link != nil {
		if err := s.clk.sleepUntil(ctx, t0+s.link.latency(t0)); err != nil {
			return out, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return out, err
	}
	if br != nil {
		req.Header.Set("Range", br.Header())
	}
	if s.cfg.CMCD != CMCDOff {
		cm.sid = s.cfg.SessionID
		cm.apply(req, s.cfg.CMCD)
	}
	res, err := s.client.Do(req)
	if err != nil {
		return out, fmt.Errorf("GET %s: %w", url, err)
	}
	defer res.Body.Close()
	s.rep.Protocol = res.Proto
	out.cache = cacheOf(res.Header)
	want := http.StatusOK
	if br != nil {
		want = http.StatusPartialContent
	}
	if res.StatusCode != want {
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		return out, httpStatus{fmt.Errorf("GET %s: %s, want %d", url, res.Status, want)}
	}
	size := res.ContentLength
	if br != nil && size >= 0 && uint64(size) != br.Len() {
		return out, truncated{fmt.Errorf("GET %s: %d bytes for range %s", url, size, br.Header())}
	}
	if size > maxObject {
		return out, fmt.Errorf("GET %s: %d bytes is more than %d", url, size, maxObject)
	}
	var body io.Reader = res.Body
	var shaped *shapedBody
	if s.link != nil {
		shaped = &shapedBody{ctx: ctx, r: res.Body, link: s.link, clk: s.clk}
		body = shaped
	}
	buf := bytes.NewBuffer(make([]byte, 0, max(size, 0)))
	chunk := make([]byte, 32<<10)
	first, lastCheck := -1.0, 0.0
	for {
		n, rerr := body.Read(chunk)
		if n > 0 && first < 0 {
			first = s.clk.now()
			if shaped != nil {
				first = shaped.first // before the first read's shaping
			}
			out.ttfb = first - t0
		}
		buf.Write(chunk[:n])
		if buf.Len() > maxObject {
			return out, fmt.Errorf("GET %s: more than %d bytes", url, maxObject)
		}
		now := s.clk.now()
		if rerr == io.EOF {
			out.dl = now - first
			break
		}
		if rerr != nil {
			out.body = buf.Bytes()
			out.dl = now - first
			if errors.Is(rerr, io.ErrUnexpectedEOF) {
				return out, truncated{fmt.Errorf("GET %s: %d of %d bytes: %w", url, buf.Len(), size, rerr)}
			}
			return out, fmt.Errorf("GET %s: %w", url, rerr)
		}
		if check != nil && first >= 0 && now-lastCheck >= progressMs {
			lastCheck = now
			p := Progress{DownloadedBits: float64(8 * buf.Len()), TimeMs: now - t0, TTFBMs: out.ttfb}
			if to := check(p); to >= 0 {
				out.abandonTo, out.body, out.dl = to, buf.Bytes(), now-first
				return out, nil
			}
		}
	}
	out.body = buf.Bytes()
	if first < 0 {
		out.ttfb = s.clk.now() - t0
	}
	if size >= 0 && int64(buf.Len()) != size || br != nil && uint64(buf.Len()) != br.Len() {
		return out, truncated{fmt.Errorf("GET %s: %d bytes, want %d", url, buf.Len(), size)}
	}
	return out, nil
}

// finish completes the report: what remains in the buffer plays out (in
// no time: the session ends with its last download).
func (s *session) finish(ctx context.Context, err error) *Report {
	r := s.rep
	switch {
	case err == nil && s.cfg.Duration > 0:
		r.Ended = "duration"
	case err == nil:
		r.Ended = "complete"
	case ctx.Err() != nil:
		r.Ended = "canceled"
	default:
		r.Ended = "error"
		var e errEnd
		if !errors.As(err, &e) {
			s.event(-1, kindOf(err), s.cfg.URL, err, "end")
		}
	}
	if s.m != nil {
		if s.started {
			s.advance()
			s.buf.deplete(s.buf.level())
		}
		s.m.finish()
		r.Metrics = *s.m
	} else {
		r.Metrics = Metrics{ABR: s.cfg.ABR, Trace: s.cfg.TraceName}
	}
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.sessions.WithLabelValues(r.Ended).Inc()
		s.cfg.Metrics.rebuffer.Add(r.RebufferS)
		s.cfg.Metrics.bytes.Add(float64(r.Bytes))
	}
	return r
}
