package origin

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/Eyevinn/mp4ff/aac"
	"github.com/Eyevinn/mp4ff/avc"
	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/streamcdn/streamcdn/manifest"
)

// describe returns the MPD view of the rendition: codecs string from the
// real SPS or AudioSpecificConfig, picture size, frame rate and aspect
// ratio, and @bandwidth: the ladder's nominal rate, raised to the measured
// peak when the encoder's peak exceeds it.
func (r *rendition) describe(infos []manifest.SegmentInfo) (manifest.Representation, error) {
	rep := manifest.Representation{
		ID: r.id, ContentType: r.t.kind, Lang: r.t.lang, Timescale: r.t.timescale,
		PresentationTimeOffset: r.t.pto, Segments: infos,
		Bandwidth: max(r.target, bandwidth(infos, r.t.timescale, r.minBuffer)),
	}
	if rep.Lang == "und" {
		rep.Lang = ""
	}
	var err error
	switch e := r.t.entry.(type) {
	case *mp4.VisualSampleEntryBox:
		err = describeVideo(&rep, e, r.t)
	case *mp4.AudioSampleEntryBox:
		err = describeAudio(&rep, e)
	default:
		err = fmt.Errorf("unsupported sample entry %T", e)
	}
	if err != nil {
		return rep, fmt.Errorf("rendition %s: %w", r.id, err)
	}
	return rep, nil
}

func describeVideo(rep *manifest.Representation, e *mp4.VisualSampleEntryBox, t *track) error {
	if e.AvcC == nil || len(e.AvcC.SPSnalus) == 0 {
		return errors.New("avc1 entry without SPS")
	}
	sps, err := avc.ParseSPSNALUnit(e.AvcC.SPSnalus[0], true)
	if err != nil {
		return fmt.Errorf("parse sps: %w", err)
	}
	rep.Codecs = avc.CodecString("avc1", sps)
	rep.Width, rep.Height = uint32(sps.Width), uint32(sps.Height)
	rep.SAR = "1:1"
	if v := sps.VUI; v != nil && v.SampleAspectRatioWidth > 0 && v.SampleAspectRatioHeight > 0 {
		rep.SAR = fmt.Sprintf("%d:%d", v.SampleAspectRatioWidth, v.SampleAspectRatioHeight)
	}
	rep.FrameRate = frameRate(t)
	return nil
}

// frameRate is timescale over the most common sample duration, as "30" or
// "30000/1001".
func frameRate(t *track) string {
	counts := map[uint32]int{}
	var common uint32
	for _, s := range t.samples {
		counts[s.dur]++
		if counts[s.dur] > counts[common] {
			common = s.dur
		}
	}
	if common == 0 {
		return ""
	}
	ts, d := uint64(t.timescale), uint64(common)
	g := gcd64(ts, d)
	if d/g == 1 {
		return fmt.Sprint(ts / g)
	}
	return fmt.Sprintf("%d/%d", ts/g, d/g)
}

func describeAudio(rep *manifest.Representation, e *mp4.AudioSampleEntryBox) error {
	rep.SampleRate, rep.Channels = uint32(e.SampleRate), uint32(e.ChannelCount)
	if e.Esds == nil || e.Esds.DecConfigDescriptor == nil || e.Esds.DecConfigDescriptor.DecSpecificInfo == nil {
		return errors.New("mp4a entry without AudioSpecificConfig")
	}
	asc, err := aac.DecodeAudioSpecificConfig(bytes.NewReader(e.Esds.DecConfigDescriptor.DecSpecificInfo.DecConfig))
	if err != nil {
		return fmt.Errorf("parse AudioSpecificConfig: %w", err)
	}
	rep.Codecs = fmt.Sprintf("mp4a.40.%d", asc.ObjectType)
	if asc.ChannelConfiguration > 0 {
		rep.Channels = uint32(asc.ChannelConfiguration)
	}
	return nil
}

func gcd64(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
