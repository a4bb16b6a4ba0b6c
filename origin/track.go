package origin

import (
	"bytes"
	"errors"
	"fmt"
	"sort"

	"github.com/Eyevinn/mp4ff/mp4"
)

// track is one elementary stream in memory: its sample entry, its timing
// and its samples, whatever container it came from.
type track struct {
	kind      string // "video" or "audio"
	timescale uint32
	// pto is the media time that is presentation time zero (the edit
	// list's media_time), carried into the MPD as presentationTimeOffset.
	pto     uint64
	entry   mp4.Box // avc1/mp4a sample entry, copied into the init segment
	lang    string
	samples []sample
}

// sample is one access unit. data aliases the buffer the track was read
// from.
type sample struct {
	dts  uint64
	dur  uint32
	cto  int32
	sync bool
	data []byte
}

func (s sample) pts() int64 { return int64(s.dts) + int64(s.cto) }

// readProgressive reads every video and audio track of a progressive
// (non-fragmented) MP4 held in buf, as ffmpeg writes them.
func readProgressive(buf []byte) ([]*track, error) {
	f, err := mp4.DecodeFile(bytes.NewReader(buf), mp4.WithDecodeMode(mp4.DecModeLazyMdat))
	if err != nil {
		return nil, fmt.Errorf("decode mp4: %w", err)
	}
	if f.IsFragmented() || f.Moov == nil {
		return nil, errors.New("not a progressive mp4")
	}
	var tracks []*track
	for _, trak := range f.Moov.Traks {
		t, err := progressiveTrack(trak, buf)
		if err != nil {
			return nil, fmt.Errorf("track %d: %w", trak.Tkhd.TrackID, err)
		}
		if t != nil {
			tracks = append(tracks, t)
		}
	}
	return tracks, nil
}

func progressiveTrack(trak *mp4.TrakBox, buf []byte) (*track, error) {
	t := &track{timescale: trak.Mdia.Mdhd.Timescale, lang: trak.Mdia.Mdhd.GetLanguage()}
	stbl := trak.Mdia.Minf.Stbl
	switch trak.Mdia.Hdlr.HandlerType {
	case "vide":
		t.kind = "video"
		if stbl.Stsd.AvcX == nil {
			return nil, errors.New("video is not H.264")
		}
		t.entry = stbl.Stsd.AvcX
	case "soun":
		t.kind = "audio"
		if stbl.Stsd.Mp4a == nil {
			return nil, errors.New("audio is not AAC")
		}
		t.entry = stbl.Stsd.Mp4a
	default:
		return nil, nil // subtitles, data, ...: not packaged
	}
	if t.timescale == 0 {
		return nil, errors.New("zero timescale")
	}
	t.pto = editListOffset(trak)
	samples, err := sampleTable(stbl, buf)
	if err != nil {
		return nil, err
	}
	t.samples = samples
	return t, nil
}

// editListOffset returns the media time of the first non-empty edit:
// encoder priming (AAC) or B-frame delay (H.264) that ffmpeg signals there.
func editListOffset(trak *mp4.TrakBox) uint64 {
	if trak.Edts == nil {
		return 0
	}
	for _, elst := range trak.Edts.Elst {
		for _, e := range elst.Entries {
			if e.MediaTime >= 0 {
				return uint64(e.MediaTime)
			}
		}
	}
	return 0
}

// sampleTable walks stts, ctts, stsz, stsc, stco/co64 and stss once, in
// sample order, and returns the samples with their data sliced from buf.
func sampleTable(stbl *mp4.StblBox, buf []byte) ([]sample, error) {
	if stbl.Stsz == nil || stbl.Stsc == nil || stbl.Stts == nil || (stbl.Stco == nil && stbl.Co64 == nil) {
		return nil, errors.New("incomplete sample table")
	}
	n := int(stbl.Stsz.SampleNumber)
	samples := make([]sample, n)
	if err := fillTiming(samples, stbl); err != nil {
		return nil, err
	}
	if err := fillData(samples, stbl, buf); err != nil {
		return nil, err
	}
	if stbl.Stss == nil {
		for i := range samples {
			samples[i].sync = true
		}
	} else {
		for _, nr := range stbl.Stss.SampleNumber {
			if nr >= 1 && int(nr) <= n {
				samples[nr-1].sync = true
			}
		}
	}
	return samples, nil
}

func fillTiming(samples []sample, stbl *mp4.StblBox) error {
	i, dts := 0, uint64(0)
	for e, count := range stbl.Stts.SampleCount {
		for range count {
			if i == len(samples) {
				return errors.New("stts lists more samples than stsz")
			}
			samples[i].dts, samples[i].dur = dts, stbl.Stts.SampleTimeDelta[e]
			dts += uint64(samples[i].dur)
			i++
		}
	}
	if i != len(samples) {
		return fmt.Errorf("stts lists %d samples, stsz %d", i, len(samples))
	}
	if c := stbl.Ctts; c != nil {
		for e := range c.EndSampleNr[1:] { // EndSampleNr[0] is 0, entry e ends at EndSampleNr[e+1]
			for nr := c.EndSampleNr[e] + 1; nr <= c.EndSampleNr[e+1] && int(nr) <= len(samples); nr++ {
				samples[nr-1].cto = c.SampleOffset[e]
			}
		}
	}
	return nil
}

func fillData(samples []sample, stbl *mp4.StblBox, buf []byte) error {
	offsets := chunkOffsets(stbl)
	entries := stbl.Stsc.Entries
	i := 0
	for e, entry := range entries {
		lastChunk := uint32(len(offsets))
		if e+1 < len(entries) {
			lastChunk = entries[e+1].FirstChunk - 1
		}
		for chunk := entry.FirstChunk; chunk <= lastChunk && chunk >= 1 && int(chunk) <= len(offsets); chunk++ {
			off := offsets[chunk-1]
			for range entry.SamplesPerChunk {
				if i == len(samples) {
					return nil
				}
				size := uint64(stbl.Stsz.GetSampleSize(i + 1))
				if off+size > uint64(len(buf)) {
					return fmt.Errorf("sample %d at %d+%d lies beyond the file (%d bytes)", i+1, off, size, len(buf))
				}
				samples[i].data = buf[off : off+size : off+size]
				off += size
				i++
			}
		}
	}
	if i != len(samples) {
		return fmt.Errorf("stsc covers %d of %d samples", i, len(samples))
	}
	return nil
}

func chunkOffsets(stbl *mp4.StblBox) []uint64 {
	if stbl.Co64 != nil {
		return stbl.Co64.ChunkOffset
	}
	out := make([]uint64, len(stbl.Stco.ChunkOffset))
	for i, o := range stbl.Stco.ChunkOffset {
		out[i] = uint64(o)
	}
	return out
}

// readFragmented reads one single-track CMAF track from its init segment
// and its media segments (or one file holding both), as our own packager
// writes them.
func readFragmented(init []byte, media [][]byte, pto uint64) (*track, error) {
	is, err := mp4.DecodeFile(bytes.NewReader(init))
	if err != nil {
		return nil, fmt.Errorf("decode init: %w", err)
	}
	if is.Init == nil || len(is.Init.Moov.Traks) != 1 {
		return nil, errors.New("init segment must hold exactly one track")
	}
	trak := is.Init.Moov.Traks[0]
	t, err := progressiveTrack(trak, nil)
	if err != nil && t == nil {
		return nil, err
	}
	if t == nil {
		return nil, errors.New("init segment has neither video nor audio")
	}
	t.pto = pto
	trex, ok := is.Init.Moov.Mvex.GetTrex(trak.Tkhd.TrackID)
	if !ok {
		return nil, errors.New("init segment has no trex")
	}
	for i, m := range media {
		f, err := mp4.DecodeFile(bytes.NewReader(m))
		if err != nil {
			return nil, fmt.Errorf("segment %d: %w", i, err)
		}
		for _, seg := range f.Segments {
			for _, frag := range seg.Fragments {
				full, err := frag.GetFullSamples(trex)
				if err != nil {
					return nil, fmt.Errorf("segment %d: %w", i, err)
				}
				for _, s := range full {
					t.samples = append(t.samples, sample{
						dts: s.DecodeTime, dur: s.Dur, cto: s.CompositionTimeOffset,
						sync: mp4.IsSyncSampleFlags(s.Flags), data: s.Data,
					})
				}
			}
		}
	}
	if len(t.samples) == 0 {
		return nil, errors.New("no samples")
	}
	return t, nil
}

// syncPTS returns the presentation times, relative to pto, of the track's
// sync samples with their indexes.
func (t *track) syncPoints() (pts []int64, idx []int) {
	for i, s := range t.samples {
		if s.sync {
			pts = append(pts, s.pts()-int64(t.pto))
			idx = append(idx, i)
		}
	}
	return pts, idx
}

// nearestSample returns the index of the sample whose presentation time
// (relative to pto) is nearest to rel, among samples sorted by dts.
func (t *track) nearestSample(rel int64) int {
	i := sort.Search(len(t.samples), func(i int) bool { return t.samples[i].pts()-int64(t.pto) >= rel })
	if i > 0 && (i == len(t.samples) || rel-(t.samples[i-1].pts()-int64(t.pto)) < t.samples[i].pts()-int64(t.pto)-rel) {
		return i - 1
	}
	return i
}
