package manifest

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/Eyevinn/dash-mpd/mpd"
)

// Build returns the static MPD for p.
func Build(p *Presentation) (*mpd.MPD, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	m := mpd.NewMPD(mpd.STATIC_TYPE)
	m.Profiles = mpd.PROFILE_LIVE
	if p.Profile == ProfileOnDemand {
		m.Profiles = mpd.PROFILE_ONDEMAND
	}
	m.MediaPresentationDuration = durationPtr(p.Duration)
	m.MinBufferTime = durationPtr(p.MinBufferTime)
	if max := p.maxSegmentDuration(); max > 0 {
		m.MaxSegmentDuration = durationPtr(max)
	}
	if p.Title != "" {
		m.ProgramInformation = []*mpd.ProgramInformationType{{Title: p.Title}}
	}
	period := mpd.NewPeriod()
	period.Id = "0"
	period.Start = durationPtr(0)
	m.AppendPeriod(period)
	for i, kind := range []string{"video", "audio"} {
		reps := p.byType(kind)
		if len(reps) == 0 {
			continue
		}
		period.AppendAdaptationSet(p.adaptationSet(uint32(i), kind, reps))
	}
	return m, nil
}

// Marshal returns the MPD of p as XML.
func Marshal(p *Presentation) ([]byte, error) {
	m, err := Build(p)
	if err != nil {
		return nil, err
	}
	s, err := m.WriteToString("  ", true)
	if err != nil {
		return nil, fmt.Errorf("write mpd: %w", err)
	}
	return []byte(s), nil
}

func (p *Presentation) validate() error {
	if _, err := ParseProfile(string(p.Profile)); err != nil {
		return err
	}
	if len(p.Representations) == 0 {
		return errors.New("presentation has no representations")
	}
	ids := map[string]bool{}
	for _, r := range p.Representations {
		switch {
		case r.ID == "" || ids[r.ID]:
			return fmt.Errorf("representation id %q is empty or repeated", r.ID)
		case r.ContentType != "video" && r.ContentType != "audio":
			return fmt.Errorf("representation %s: content type %q", r.ID, r.ContentType)
		case r.Timescale == 0:
			return fmt.Errorf("representation %s: zero timescale", r.ID)
		case len(r.Segments) == 0:
			return fmt.Errorf("representation %s: no segments", r.ID)
		case p.Profile == ProfileOnDemand && (r.InitSize == 0 || r.IndexSize == 0):
			return fmt.Errorf("representation %s: on-demand needs init and index sizes", r.ID)
		}
		ids[r.ID] = true
	}
	return nil
}

func (p *Presentation) byType(kind string) []Representation {
	var out []Representation
	for _, r := range p.Representations {
		if r.ContentType == kind {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b Representation) int { return int(a.Bandwidth) - int(b.Bandwidth) })
	return out
}

func (p *Presentation) maxSegmentDuration() time.Duration {
	var max time.Duration
	for _, r := range p.Representations {
		for _, s := range r.Segments {
			max = maxDur(max, scale(s.Duration, r.Timescale))
		}
	}
	return max
}

func (p *Presentation) adaptationSet(id uint32, kind string, reps []Representation) *mpd.AdaptationSetType {
	mime := kind + "/mp4"
	as := mpd.NewAdaptationSetWithParams(kind, mime, true, 1)
	as.Id = &id
	if p.Profile == ProfileOnDemand {
		as.SegmentAlignment = false
		as.SubsegmentAlignment = true
		as.SubsegmentStartsWithSAP = 1
		as.StartWithSAP = 0
	}
	if kind == "video" {
		as.Par = parOf(reps[len(reps)-1])
		as.MaxWidth, as.MaxHeight = reps[len(reps)-1].Width, reps[len(reps)-1].Height
		as.MaxFrameRate = reps[0].FrameRate
	} else if reps[0].Lang != "" {
		as.Lang = reps[0].Lang
	}
	shared := p.Profile == ProfileLive && sameTimeline(reps)
	if shared {
		as.SegmentTemplate = segmentTemplate(reps[0])
	}
	for _, r := range reps {
		rep := representation(r)
		switch {
		case p.Profile == ProfileOnDemand:
			rep.BaseURLs = []*mpd.BaseURLType{mpd.NewBaseURL(OnDemandPath(r.ID))}
			rep.SegmentBase = segmentBase(r)
		case !shared:
			rep.SegmentTemplate = segmentTemplate(r)
		}
		as.AppendRepresentation(rep)
	}
	return as
}

func representation(r Representation) *mpd.RepresentationType {
	var rep *mpd.RepresentationType
	if r.ContentType == "video" {
		rep = mpd.NewVideoRepresentation(r.ID, r.Codecs, "", r.FrameRate, int(r.Bandwidth), int(r.Width), int(r.Height))
		rep.Sar = mpd.RatioType(r.SAR)
		return rep
	}
	rep = mpd.NewAudioRepresentation(r.ID, r.Codecs, "", int(r.Bandwidth), int(r.SampleRate))
	if r.Channels > 0 {
		rep.AudioChannelConfigurations = []*mpd.DescriptorType{{
			SchemeIdUri: mpd.AUDIO_CHANNEL_CONFIGURATION_MPEG_DASH,
			Value:       strconv.Itoa(int(r.Channels)),
		}}
	}
	return rep
}

func segmentTemplate(r Representation) *mpd.SegmentTemplateType {
	st := mpd.NewSegmentTemplate()
	st.Initialization = initTemplate
	st.Media = mediaTemplate
	st.StartNumber = ptr(uint32(startNumber))
	st.Timescale = ptr(r.Timescale)
	if r.PresentationTimeOffset > 0 {
		st.PresentationTimeOffset = ptr(r.PresentationTimeOffset)
	}
	st.SegmentTimeline = timeline(r.Segments)
	return st
}

// timeline writes segments as S elements, with t on the first and on any
// discontinuity, and runs of equal durations folded into @r.
func timeline(segs []SegmentInfo) *mpd.SegmentTimelineType {
	tl := mpd.NewSegmentTimeline()
	var next uint64
	for i, s := range segs {
		last := len(tl.S) - 1
		if i > 0 && s.Start == next && tl.S[last].D == s.Duration {
			tl.S[last].R++
		} else {
			e := &mpd.S{D: s.Duration}
			if i == 0 || s.Start != next {
				e.T = ptr(s.Start)
			}
			tl.S = append(tl.S, e)
		}
		next = s.Start + s.Duration
	}
	return tl
}

func sameTimeline(reps []Representation) bool {
	for _, r := range reps[1:] {
		if r.Timescale != reps[0].Timescale || r.PresentationTimeOffset != reps[0].PresentationTimeOffset ||
			len(r.Segments) != len(reps[0].Segments) {
			return false
		}
		for i, s := range r.Segments {
			if s.Start != reps[0].Segments[i].Start || s.Duration != reps[0].Segments[i].Duration {
				return false
			}
		}
	}
	return true
}

func segmentBase(r Representation) *mpd.SegmentBaseType {
	sb := &mpd.SegmentBaseType{
		Timescale:       ptr(r.Timescale),
		IndexRange:      fmt.Sprintf("%d-%d", r.InitSize, r.InitSize+r.IndexSize-1),
		IndexRangeExact: true,
		Initialization:  &mpd.URLType{Range: fmt.Sprintf("0-%d", r.InitSize-1)},
	}
	if r.PresentationTimeOffset > 0 {
		sb.PresentationTimeOffset = ptr(r.PresentationTimeOffset)
	}
	return sb
}

func parOf(r Representation) mpd.RatioType {
	w, h := r.Width, r.Height
	if n, d, ok := parseRatio(r.SAR); ok {
		w, h = w*n, h*d
	}
	g := gcd(w, h)
	if g == 0 {
		return ""
	}
	return mpd.RatioType(fmt.Sprintf("%d:%d", w/g, h/g))
}

func parseRatio(s string) (n, d uint32, ok bool) {
	var a, b uint32
	if _, err := fmt.Sscanf(s, "%d:%d", &a, &b); err != nil || a == 0 || b == 0 {
		return 0, 0, false
	}
	return a, b, true
}

func gcd(a, b uint32) uint32 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func ptr[T any](v T) *T { return &v }

func durationPtr(d time.Duration) *mpd.Duration {
	md := mpd.Duration(d)
	return &md
}

func maxDur(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}

// scale converts v ticks of timescale ts to a Duration without overflow for
// any v below 2^63 ns.
func scale(v uint64, ts uint32) time.Duration {
	t := uint64(ts)
	return time.Duration(v/t)*time.Second + time.Duration((v%t)*uint64(time.Second)/t)
}
