package player

import (
	"errors"
	"fmt"

	"github.com/Eyevinn/mp4ff/bits"
	"github.com/Eyevinn/mp4ff/mp4"
)

// initInfo is what a media segment's check needs from its
// initialization segment: per track, the timescale and the defaults of
// its trex box.
type initInfo struct {
	tracks map[uint32]trackInfo
}

type trackInfo struct {
	timescale uint32
	trex      *mp4.TrexBox
}

// decodeMP4 runs mp4ff's decoder over b, turning a panic on hostile
// input into an error: segments come from the network.
func decodeMP4(b []byte) (f *mp4.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("undecodable MP4 (%v)", r)
		}
	}()
	return mp4.DecodeFileSR(bits.NewFixedSliceReader(b))
}

// checkInit parses an initialization segment: an ftyp and a moov with an
// mvex (fragmented), each track with its timescale.
func checkInit(b []byte) (*initInfo, error) {
	f, err := decodeMP4(b)
	if err != nil {
		return nil, fmt.Errorf("init segment: %w", err)
	}
	if f.Init == nil || f.Init.Moov == nil {
		return nil, errors.New("init segment: no moov box")
	}
	moov := f.Init.Moov
	if moov.Mvex == nil {
		return nil, errors.New("init segment: no mvex box: not fragmented MP4")
	}
	info := &initInfo{tracks: map[uint32]trackInfo{}}
	for _, trak := range moov.Traks {
		if trak.Tkhd == nil || trak.Mdia == nil || trak.Mdia.Mdhd == nil || trak.Mdia.Mdhd.Timescale == 0 {
			return nil, errors.New("init segment: a track without tkhd or a timescale")
		}
		id := trak.Tkhd.TrackID
		ti := trackInfo{timescale: trak.Mdia.Mdhd.Timescale}
		if trex, ok := moov.Mvex.GetTrex(id); ok {
			ti.trex = trex
		}
		info.tracks[id] = ti
	}
	if len(info.tracks) == 0 {
		return nil, errors.New("init segment: no tracks")
	}
	return info, nil
}

// span is a media segment's decode times, in seconds as a fraction of
// the track's timescale: [start, end).
type span struct {
	start, end uint64
	timescale  uint32
}

func (s span) startS() float64 { return float64(s.start) / float64(s.timescale) }
func (s span) endS() float64   { return float64(s.end) / float64(s.timescale) }

// checkSegment parses a media segment: one or more moof/mdat pairs of one
// track, each traf with a tfdt, the fragments contiguous in decode time
// and every sample's bytes inside its mdat. It returns the segment's
// decode span.
func checkSegment(b []byte, init *initInfo) (span, error) {
	f, err := decodeMP4(b)
	if err != nil {
		return span{}, fmt.Errorf("media segment: %w", err)
	}
	var sp span
	frags := 0
	for _, seg := range f.Segments {
		for _, frag := range seg.Fragments {
			if frag.Moof == nil || frag.Mdat == nil {
				return span{}, errors.New("media segment: a moof without its mdat")
			}
			if len(frag.Moof.Trafs) != 1 {
				return span{}, fmt.Errorf("media segment: %d track fragments in a moof, want 1", len(frag.Moof.Trafs))
			}
			t, err := trafSpan(frag.Moof.Trafs[0], frag.Mdat, init)
			if err != nil {
				return span{}, fmt.Errorf("media segment: fragment %d: %w", frags, err)
			}
			if frags == 0 {
				sp = t
			} else if t.start != sp.end || t.timescale != sp.timescale {
				return span{}, fmt.Errorf("media segment: fragment %d starts at %d, the previous ended at %d", frags, t.start, sp.end)
			} else {
				sp.end = t.end
			}
			frags++
		}
	}
	if frags == 0 {
		return span{}, errors.New("media segment: no moof/mdat")
	}
	return sp, nil
}

func trafSpan(traf *mp4.TrafBox, mdat *mp4.MdatBox, init *initInfo) (span, error) {
	if traf.Tfhd == nil || traf.Tfdt == nil {
		return span{}, errors.New("traf without tfhd or tfdt")
	}
	ti, ok := init.tracks[traf.Tfhd.TrackID]
	if !ok {
		return span{}, fmt.Errorf("track %d is not in the init segment", traf.Tfhd.TrackID)
	}
	defDur, defSize := uint32(0), uint32(0)
	if ti.trex != nil {
		defDur, defSize = ti.trex.DefaultSampleDuration, ti.trex.DefaultSampleSize
	}
	if traf.Tfhd.HasDefaultSampleDuration() {
		defDur = traf.Tfhd.DefaultSampleDuration
	}
	if traf.Tfhd.HasDefaultSampleSize() {
		defSize = traf.Tfhd.DefaultSampleSize
	}
	var dur, size uint64
	for _, trun := range traf.Truns {
		n := uint64(trun.SampleCount())
		if trun.HasSampleDuration() {
			for _, s := range trun.Samples {
				dur += uint64(s.Dur)
			}
		} else {
			dur += n * uint64(defDur)
		}
		if trun.HasSampleSize() {
			for _, s := range trun.Samples {
				size += uint64(s.Size)
			}
		} else {
			size += n * uint64(defSize)
		}
	}
	if dur == 0 {
		return span{}, errors.New("no samples, or samples of zero duration")
	}
	if have := uint64(len(mdat.Data)); size > have {
		return span{}, fmt.Errorf("samples need %d bytes, the mdat holds %d (truncated)", size, have)
	}
	start := traf.Tfdt.BaseMediaDecodeTime()
	return span{start: start, end: start + dur, timescale: ti.timescale}, nil
}
