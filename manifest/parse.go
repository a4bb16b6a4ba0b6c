package manifest

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/Eyevinn/dash-mpd/mpd"
)

// maxSegments bounds the segments one MPD may expand to, all
// representations together, so that a tiny hostile MPD (r="2000000000")
// costs neither memory nor time. 200,000 is a three-hour film in 2 s
// segments at 36 representations.
const maxSegments = 200_000

// Manifest is a parsed MPD with the segments of every representation.
type Manifest struct {
	MPD           *mpd.MPD
	Type          string // "static" or "dynamic"
	Duration      time.Duration
	MinBufferTime time.Duration
	Tracks        []*Track
	// Pathways are the MPD-level BaseURLs, resolved, with their
	// serviceLocations; segment URLs are resolved against the first.
	Pathways []Pathway
	// Steering is the MPD's ContentSteering, when it has one.
	Steering *SteeringRef
}

// SteeringRef is an MPD's ContentSteering element.
type SteeringRef struct {
	// Server is the steering manifest's URL, resolved.
	Server string
	// Default is the pathway to use until the server answers.
	Default          string
	QueryBeforeStart bool
}

// Track is one Representation of one Period, with its segments resolved.
type Track struct {
	Period        int
	PeriodStart   time.Duration
	AdaptationSet int
	ID            string
	ContentType   string // "video", "audio", "text", or "" when unknown
	MimeType      string
	Codecs        string
	Bandwidth     uint32
	Width, Height uint32
	Timescale     uint32
	// PresentationTimeOffset is in Timescale units.
	PresentationTimeOffset uint64
	// Init is the initialization segment, or nil.
	Init *Segment
	// Index is, for SegmentBase addressing, the sidx to fetch and give to
	// ExpandIndex; Segments is empty until then. Nil otherwise.
	Index    *Segment
	Segments []Segment
	// periodDuration bounds the track's timeline; zero when unknown.
	periodDuration time.Duration
	media          string
	// budget is what is left of the MPD's maxSegments while parsing.
	budget *int
}

// Segment is one resource to fetch: a URL and an optional byte range, with
// its place on the presentation timeline.
type Segment struct {
	URL   string
	Range *ByteRange // nil: the whole resource
	// Start is the presentation time (period start included) and Duration
	// the length; both zero for initialization and index segments.
	Start, Duration time.Duration
	Number          uint64 // $Number$, or the 1-based position
	Time            uint64 // media time in the track's timescale ($Time$)
}

// ByteRange is an inclusive byte range, as in SegmentBase@indexRange.
type ByteRange struct{ First, Last uint64 }

// Header returns the Range request header value for r.
func (r ByteRange) Header() string { return fmt.Sprintf("bytes=%d-%d", r.First, r.Last) }

// Len is the number of bytes in r.
func (r ByteRange) Len() uint64 { return r.Last - r.First + 1 }

// ParseByteRange parses "first-last" as used by @indexRange, @range and
// @mediaRange.
func ParseByteRange(s string) (ByteRange, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	first, err1 := strconv.ParseUint(a, 10, 64)
	last, err2 := strconv.ParseUint(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || last < first {
		return ByteRange{}, fmt.Errorf("byte range %q is not first-last", s)
	}
	return ByteRange{first, last}, nil
}

var errZeroTimescale = errors.New("@timescale is zero")

// ParseError is an MPD that cannot be resolved; Element names the element
// at fault, e.g. Period[0]/AdaptationSet[1]/Representation[v2]/SegmentTemplate.
type ParseError struct {
	Element string
	Err     error
}

func (e *ParseError) Error() string {
	if e.Element == "" {
		return "mpd: " + e.Err.Error()
	}
	return "mpd: " + e.Element + ": " + e.Err.Error()
}

func (e *ParseError) Unwrap() error { return e.Err }

// Parse parses an MPD document fetched from mpdURL (used to resolve
// relative BaseURLs and segment URLs; it may be empty) and resolves every
// representation's segments.
func Parse(data []byte, mpdURL string) (*Manifest, error) {
	base, err := url.Parse(mpdURL)
	if err != nil {
		return nil, &ParseError{Err: fmt.Errorf("mpd url: %w", err)}
	}
	m, err := decode(data)
	if err != nil {
		return nil, err
	}
	out := &Manifest{MPD: m, Type: m.GetType()}
	if m.MediaPresentationDuration != nil {
		out.Duration = time.Duration(*m.MediaPresentationDuration)
	}
	if m.MinBufferTime != nil {
		out.MinBufferTime = time.Duration(*m.MinBufferTime)
	}
	if len(m.Periods) == 0 {
		return nil, &ParseError{Element: "MPD", Err: errors.New("no Period")}
	}
	mpdBase := base
	base, err = resolveBase(base, m.BaseURL)
	if err != nil {
		return nil, &ParseError{Element: "MPD/BaseURL", Err: err}
	}
	if err := out.steering(mpdBase, m); err != nil {
		return nil, err
	}
	budget := maxSegments
	for i, p := range m.Periods {
		start, dur := periodTiming(m, i, out.Duration)
		tracks, err := parsePeriod(p, i, base, start, dur, &budget)
		if err != nil {
			return nil, err
		}
		out.Tracks = append(out.Tracks, tracks...)
	}
	return out, nil
}

// decode reads an MPD from the network: canonicalized first (dash-mpd's
// decoder loops on some inputs), then decoded, its root checked.
func decode(data []byte) (*mpd.MPD, error) {
	data, err := canonicalize(data)
	if err != nil {
		return nil, &ParseError{Err: err}
	}
	m, err := mpd.MPDFromBytes(data)
	if err != nil {
		return nil, &ParseError{Err: fmt.Errorf("xml: %w", err)}
	}
	if m.XMLName.Local != "MPD" {
		return nil, &ParseError{Err: fmt.Errorf("root element is %q, not MPD", m.XMLName.Local)}
	}
	return m, nil
}

// steering reads the MPD's pathways and ContentSteering element,
// resolved against the MPD's URL.
func (out *Manifest) steering(mpdBase *url.URL, m *mpd.MPD) error {
	for _, b := range m.BaseURL {
		u, err := resolveRef(mpdBase, strings.TrimSpace(string(b.Value)))
		if err != nil {
			return &ParseError{Element: "MPD/BaseURL", Err: err}
		}
		out.Pathways = append(out.Pathways, Pathway{ID: b.ServiceLocation, BaseURL: u})
	}
	if cs := m.ContentSteering; cs != nil {
		server, err := resolveRef(mpdBase, strings.TrimSpace(cs.Value))
		if err != nil || strings.TrimSpace(cs.Value) == "" {
			return &ParseError{Element: "MPD/ContentSteering", Err: fmt.Errorf("server %q: %v", cs.Value, err)}
		}
		out.Steering = &SteeringRef{Server: server, Default: cs.DefaultServiceLocation, QueryBeforeStart: cs.QueryBeforeStart}
	}
	return nil
}

// periodTiming returns the start and (zero if unknown) duration of period i.
func periodTiming(m *mpd.MPD, i int, mpdDur time.Duration) (start, dur time.Duration) {
	for j := 0; j <= i; j++ {
		p := m.Periods[j]
		switch {
		case p.Start != nil:
			start = time.Duration(*p.Start)
		case j > 0:
			start += dur
		}
		dur = 0
		switch {
		case p.Duration != nil:
			dur = time.Duration(*p.Duration)
		case j+1 < len(m.Periods) && m.Periods[j+1].Start != nil:
			dur = time.Duration(*m.Periods[j+1].Start) - start
		case j+1 == len(m.Periods) && mpdDur > 0:
			dur = mpdDur - start
		}
	}
	return start, max(dur, 0)
}

func parsePeriod(p *mpd.Period, pi int, base *url.URL, start, dur time.Duration, budget *int) ([]*Track, error) {
	elem := fmt.Sprintf("Period[%d]", pi)
	pbase, err := resolveBase(base, p.BaseURLs)
	if err != nil {
		return nil, &ParseError{Element: elem + "/BaseURL", Err: err}
	}
	var tracks []*Track
	for ai, as := range p.AdaptationSets {
		aelem := fmt.Sprintf("%s/AdaptationSet[%d]", elem, ai)
		abase, err := resolveBase(pbase, as.BaseURLs)
		if err != nil {
			return nil, &ParseError{Element: aelem + "/BaseURL", Err: err}
		}
		if len(as.Representations) == 0 {
			return nil, &ParseError{Element: aelem, Err: errors.New("no Representation")}
		}
		for ri, r := range as.Representations {
			relem := fmt.Sprintf("%s/Representation[%d]", aelem, ri)
			if r.Id != "" {
				relem = fmt.Sprintf("%s/Representation[%s]", aelem, r.Id)
			}
			t := newTrack(p, as, r, pi, ai, start, dur)
			t.budget = budget
			rbase, err := resolveBase(abase, r.BaseURLs)
			if err != nil {
				return nil, &ParseError{Element: relem + "/BaseURL", Err: err}
			}
			elemName, err := t.resolve(p, as, r, rbase)
			if err != nil {
				return nil, &ParseError{Element: relem + elemName, Err: err}
			}
			tracks = append(tracks, t)
		}
	}
	return tracks, nil
}

func newTrack(p *mpd.Period, as *mpd.AdaptationSetType, r *mpd.RepresentationType, pi, ai int, start, dur time.Duration) *Track {
	t := &Track{
		Period: pi, PeriodStart: start, periodDuration: dur, AdaptationSet: ai,
		ID: r.Id, Bandwidth: r.Bandwidth, Width: r.Width, Height: r.Height,
		MimeType: first(r.MimeType, as.MimeType), Codecs: first(r.Codecs, as.Codecs),
		ContentType: string(as.ContentType),
	}
	if t.ContentType == "" {
		t.ContentType, _, _ = strings.Cut(t.MimeType, "/")
		if t.ContentType == "application" {
			t.ContentType = "text"
		}
	}
	return t
}

// resolve fills the track's segments from whichever addressing the
// Representation inherits, and returns the addressing element's name for
// errors.
func (t *Track) resolve(p *mpd.Period, as *mpd.AdaptationSetType, r *mpd.RepresentationType, base *url.URL) (string, error) {
	switch nearestAddressing(
		[3]bool{r.SegmentTemplate != nil, r.SegmentList != nil, r.SegmentBase != nil},
		[3]bool{as.SegmentTemplate != nil, as.SegmentList != nil, as.SegmentBase != nil},
		[3]bool{p.SegmentTemplate != nil, p.SegmentList != nil, p.SegmentBase != nil},
	) {
	case addrTemplate:
		st := mergeTemplate(p.SegmentTemplate, as.SegmentTemplate, r.SegmentTemplate)
		return "/SegmentTemplate", t.fromTemplate(st, base)
	case addrList:
		sl := mergeList(p.SegmentList, as.SegmentList, r.SegmentList)
		return "/SegmentList", t.fromList(sl, base)
	case addrBase:
		sb := mergeBase(p.SegmentBase, as.SegmentBase, r.SegmentBase)
		return "/SegmentBase", t.fromBase(sb, base)
	}
	// A BaseURL alone: the whole representation is one segment.
	t.Timescale = 1
	t.Segments = []Segment{{URL: base.String(), Start: t.PeriodStart, Duration: t.periodDuration, Number: 1}}
	return "", nil
}

func (t *Track) fromTemplate(st *mpd.SegmentTemplateType, base *url.URL) error {
	t.Timescale = st.GetTimescale()
	if t.Timescale == 0 {
		return errZeroTimescale
	}
	if st.PresentationTimeOffset != nil {
		t.PresentationTimeOffset = *st.PresentationTimeOffset
	}
	vars := templateVars{RepresentationID: t.ID, Bandwidth: t.Bandwidth}
	if st.Initialization != "" {
		u, err := t.expandURL(base, st.Initialization, vars)
		if err != nil {
			return fmt.Errorf("@initialization: %w", err)
		}
		t.Init = &Segment{URL: u}
	}
	if st.Media == "" {
		return errors.New("no @media")
	}
	times, err := t.segmentTimes(&st.MultipleSegmentBaseType)
	if err != nil {
		return err
	}
	start := uint64(1)
	if st.StartNumber != nil {
		start = uint64(*st.StartNumber)
	}
	t.Segments = make([]Segment, 0, len(times))
	for i, tm := range times {
		vars.Number, vars.Time = start+uint64(i), tm.t
		u, err := t.expandURL(base, st.Media, vars)
		if err != nil {
			return fmt.Errorf("@media: %w", err)
		}
		t.Segments = append(t.Segments, t.segment(u, nil, vars.Number, tm))
	}
	return nil
}

func (t *Track) fromList(sl *mpd.SegmentListType, base *url.URL) error {
	t.Timescale = sl.GetTimescale()
	if t.Timescale == 0 {
		return errZeroTimescale
	}
	if sl.PresentationTimeOffset != nil {
		t.PresentationTimeOffset = *sl.PresentationTimeOffset
	}
	init, err := urlSegment(base, sl.Initialization)
	if err != nil {
		return fmt.Errorf("segment list: initialization: %w", err)
	}
	t.Init = init
	var times []segTime
	if sl.SegmentTimeline != nil || sl.Duration != nil {
		if times, err = t.segmentTimes(&sl.MultipleSegmentBaseType); err != nil {
			return err
		}
	}
	if len(sl.SegmentURL) == 0 {
		return errors.New("no SegmentURL")
	}
	if err := t.charge(int64(len(sl.SegmentURL))); err != nil {
		return err
	}
	for i, su := range sl.SegmentURL {
		u, err := resolveRef(base, string(su.Media))
		if err != nil {
			return fmt.Errorf("SegmentURL[%d]@media: %w", i, err)
		}
		var br *ByteRange
		if su.MediaRange != "" {
			r, err := ParseByteRange(string(su.MediaRange))
			if err != nil {
				return fmt.Errorf("SegmentURL[%d]@mediaRange: %w", i, err)
			}
			br = &r
		}
		var tm segTime
		if i < len(times) {
			tm = times[i]
		}
		t.Segments = append(t.Segments, t.segment(u, br, uint64(i+1), tm))
	}
	return nil
}

func (t *Track) fromBase(sb *mpd.SegmentBaseType, base *url.URL) error {
	t.Timescale = sb.GetTimescale()
	if t.Timescale == 0 {
		return errZeroTimescale
	}
	if sb.PresentationTimeOffset != nil {
		t.PresentationTimeOffset = *sb.PresentationTimeOffset
	}
	t.media = base.String()
	init, err := urlSegment(base, sb.Initialization)
	if err != nil {
		return fmt.Errorf("segment base: initialization: %w", err)
	}
	t.Init = init
	switch {
	case sb.RepresentationIndex != nil:
		idx, err := urlSegment(base, sb.RepresentationIndex)
		if err != nil {
			return fmt.Errorf("RepresentationIndex: %w", err)
		}
		t.Index = idx
	case sb.IndexRange != "":
		r, err := ParseByteRange(sb.IndexRange)
		if err != nil {
			return fmt.Errorf("@indexRange: %w", err)
		}
		t.Index = &Segment{URL: t.media, Range: &r}
	default: // no index: the file is one segment
		t.Segments = []Segment{{URL: t.media, Start: t.PeriodStart, Duration: t.periodDuration, Number: 1}}
	}
	return nil
}

// ExpandIndex fills t.Segments from the bytes of t.Index, a sidx box, for
// SegmentBase addressing (ISO/IEC 23009-1 §5.3.9.2).
func (t *Track) ExpandIndex(sidx []byte) error {
	if t.Index == nil || t.Index.Range == nil {
		return errors.New("track has no SegmentBase index range")
	}
	s, err := ParseSidx(sidx)
	if err != nil {
		return err
	}
	if uint64(len(sidx)) < s.Size || s.Size > t.Index.Range.Len() {
		return fmt.Errorf("sidx: box of %d bytes does not fit index range %s", s.Size, t.Index.Range.Header())
	}
	offset := t.Index.Range.First + s.Size + s.FirstOffset
	tm := s.EarliestPresentationTime
	segs := make([]Segment, 0, len(s.References))
	for i, ref := range s.References {
		if ref.Index {
			return fmt.Errorf("sidx: reference %d points at another sidx (hierarchical index not supported)", i)
		}
		if ref.Size == 0 {
			return fmt.Errorf("sidx: reference %d has zero size", i)
		}
		r := &ByteRange{First: offset, Last: offset + uint64(ref.Size) - 1}
		segs = append(segs, Segment{
			URL: t.media, Range: r, Number: uint64(i + 1), Time: tm,
			Start:    t.PeriodStart + scaleSigned(int64(tm)-int64(t.PresentationTimeOffset), s.Timescale),
			Duration: scale(uint64(ref.Duration), s.Timescale),
		})
		offset += uint64(ref.Size)
		tm += uint64(ref.Duration)
	}
	t.Timescale = s.Timescale
	t.Segments = segs
	return nil
}

// charge takes n segments from the MPD's budget.
func (t *Track) charge(n int64) error {
	if t.budget == nil {
		return nil // a Track built by hand
	}
	if n > int64(*t.budget) {
		return fmt.Errorf("the MPD expands to more than %d segments", maxSegments)
	}
	*t.budget -= int(n)
	return nil
}

// segTime is a segment's media time and duration in the track timescale.
type segTime struct{ t, d uint64 }

func (t *Track) segment(u string, br *ByteRange, number uint64, tm segTime) Segment {
	return Segment{
		URL: u, Range: br, Number: number, Time: tm.t,
		Start:    t.PeriodStart + scaleSigned(int64(tm.t)-int64(t.PresentationTimeOffset), t.Timescale),
		Duration: scale(tm.d, t.Timescale),
	}
}

// segmentTimes lists the segments' media times from a SegmentTimeline or
// from @duration and the period's duration.
func (t *Track) segmentTimes(ms *mpd.MultipleSegmentBaseType) ([]segTime, error) {
	end := t.PresentationTimeOffset + toTicks(t.periodDuration, t.Timescale)
	if ms.SegmentTimeline != nil {
		return t.timelineTimes(ms.SegmentTimeline, end, t.periodDuration > 0)
	}
	if ms.Duration == nil || *ms.Duration == 0 {
		return nil, errors.New("neither SegmentTimeline nor @duration")
	}
	if t.periodDuration <= 0 {
		return nil, errors.New("@duration addressing needs a known Period duration")
	}
	d := uint64(*ms.Duration)
	n := (end - t.PresentationTimeOffset + d - 1) / d
	if n > maxSegments {
		n = maxSegments + 1 // charge refuses it
	}
	if err := t.charge(int64(n)); err != nil {
		return nil, fmt.Errorf("@duration %d: %w", d, err)
	}
	times := make([]segTime, n)
	for i := range times {
		times[i] = segTime{t: t.PresentationTimeOffset + uint64(i)*d, d: d}
	}
	return times, nil
}

func (t *Track) timelineTimes(tl *mpd.SegmentTimelineType, end uint64, endKnown bool) ([]segTime, error) {
	var times []segTime
	cur := t.PresentationTimeOffset
	for i, s := range tl.S {
		if s.T != nil {
			cur = *s.T
		}
		if s.D == 0 {
			return nil, fmt.Errorf("SegmentTimeline/S[%d]: missing or zero @d", i)
		}
		n := int64(s.R) + 1
		if s.R < 0 {
			limit, limited := end, endKnown
			if i+1 < len(tl.S) && tl.S[i+1].T != nil {
				limit, limited = *tl.S[i+1].T, true
			}
			if !limited {
				return nil, fmt.Errorf("SegmentTimeline/S[%d]: r=-1 with no end to repeat to", i)
			}
			n = 0
			if limit > cur {
				n = int64(min((limit-cur-1)/s.D+1, maxSegments+1)) // ceil; charge refuses the excess
			}
		}
		if err := t.charge(n); err != nil {
			return nil, fmt.Errorf("SegmentTimeline/S[%d]: %w", i, err)
		}
		for range n {
			times = append(times, segTime{t: cur, d: s.D})
			cur += s.D
		}
	}
	return times, nil
}

func (t *Track) expandURL(base *url.URL, tpl string, v templateVars) (string, error) {
	s, err := expandTemplate(tpl, v)
	if err != nil {
		return "", err
	}
	return resolveRef(base, s)
}

func urlSegment(base *url.URL, u *mpd.URLType) (*Segment, error) {
	if u == nil {
		return nil, nil
	}
	ref, err := resolveRef(base, string(u.SourceURL))
	if err != nil {
		return nil, err
	}
	seg := &Segment{URL: ref}
	if u.Range != "" {
		r, err := ParseByteRange(u.Range)
		if err != nil {
			return nil, fmt.Errorf("@range: %w", err)
		}
		seg.Range = &r
	}
	return seg, nil
}

// resolveBase applies the first of a level's BaseURLs to base.
func resolveBase(base *url.URL, urls []*mpd.BaseURLType) (*url.URL, error) {
	if len(urls) == 0 {
		return base, nil
	}
	ref, err := url.Parse(strings.TrimSpace(string(urls[0].Value)))
	if err != nil {
		return nil, err
	}
	return base.ResolveReference(ref), nil
}

func resolveRef(base *url.URL, s string) (string, error) {
	if s == "" {
		return base.String(), nil
	}
	ref, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	return base.ResolveReference(ref).String(), nil
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func toTicks(d time.Duration, ts uint32) uint64 {
	if d <= 0 {
		return 0
	}
	return uint64(d/time.Second)*uint64(ts) + uint64(d%time.Second)*uint64(ts)/uint64(time.Second)
}

func scaleSigned(v int64, ts uint32) time.Duration {
	if v < 0 {
		return -scale(uint64(-v), ts)
	}
	return scale(uint64(v), ts)
}
