package origin

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/streamcdn/streamcdn/manifest"
)

// rendition is one track cut into segments, ready to be written.
type rendition struct {
	id     string
	t      *track
	segs   [][]sample
	target uint32 // nominal bits per second from the ladder; 0 if none
	// minBuffer is the MPD's minBufferTime, which @bandwidth depends on.
	minBuffer time.Duration
}

// initSegment builds the CMAF header of a single-track rendition. The edit
// list is not copied: the MPD's presentationTimeOffset carries it.
func (r *rendition) initSegment() *mp4.InitSegment {
	init := mp4.CreateEmptyInit()
	init.Moov.Mvhd.Timescale = r.t.timescale
	trak := init.AddEmptyTrack(r.t.timescale, r.t.kind, r.t.lang)
	trak.Mdia.Minf.Stbl.Stsd.AddChild(r.t.entry)
	if v, ok := r.t.entry.(*mp4.VisualSampleEntryBox); ok {
		trak.Tkhd.Width, trak.Tkhd.Height = mp4.Fixed32(uint32(v.Width)<<16), mp4.Fixed32(uint32(v.Height)<<16)
	}
	return init
}

// fragment builds the moof+mdat of segment k. The mdat references the
// samples' data rather than copying it.
func (r *rendition) fragment(k int) (*mp4.Fragment, error) {
	frag, err := mp4.CreateFragment(uint32(k+1), 1)
	if err != nil {
		return nil, err
	}
	frag.Moof.Traf.Tfdt.SetBaseMediaDecodeTime(r.segs[k][0].dts)
	for _, s := range r.segs[k] {
		flags := mp4.NonSyncSampleFlags
		if s.sync {
			flags = mp4.SyncSampleFlags
		}
		frag.Moof.Traf.Trun.AddSample(mp4.Sample{Flags: flags, Dur: s.dur, Size: uint32(len(s.data)), CompositionTimeOffset: s.cto})
		frag.Mdat.AddSampleDataPart(s.data)
	}
	return frag, nil
}

// segmentInfos returns each segment's earliest presentation time and
// duration, the values the SegmentTimeline and the sidx must carry.
func (r *rendition) segmentInfos(sizes []uint64) []manifest.SegmentInfo {
	infos := make([]manifest.SegmentInfo, len(r.segs))
	for k, seg := range r.segs {
		infos[k].Start = uint64(earliest(seg))
		infos[k].Size = sizes[k]
		if k > 0 {
			infos[k-1].Duration = infos[k].Start - infos[k-1].Start
		}
	}
	last := r.segs[len(r.segs)-1]
	infos[len(infos)-1].Duration = uint64(latestEnd(last)) - infos[len(infos)-1].Start
	return infos
}

func earliest(seg []sample) int64 {
	e := seg[0].pts()
	for _, s := range seg[1:] {
		e = min(e, s.pts())
	}
	return max(e, 0)
}

func latestEnd(seg []sample) int64 {
	var e int64
	for _, s := range seg {
		e = max(e, s.pts()+int64(s.dur))
	}
	return e
}

// writeLive writes DIR/<id>/init.mp4 and DIR/<id>/<n>.m4s.
func (r *rendition) writeLive(dir string) (manifest.Representation, error) {
	if err := os.MkdirAll(filepath.Join(dir, r.id), 0o755); err != nil {
		return manifest.Representation{}, err
	}
	if err := writeFile(filepath.Join(dir, manifest.LiveInitPath(r.id)), r.initSegment().Encode); err != nil {
		return manifest.Representation{}, err
	}
	sizes := make([]uint64, len(r.segs))
	for k := range r.segs {
		frag, err := r.fragment(k)
		if err != nil {
			return manifest.Representation{}, err
		}
		seg := mp4.NewMediaSegment()
		seg.AddFragment(frag)
		sizes[k] = seg.Size()
		if err := writeFile(filepath.Join(dir, manifest.LiveMediaPath(r.id, k)), seg.Encode); err != nil {
			return manifest.Representation{}, err
		}
	}
	return r.describe(r.segmentInfos(sizes))
}

// writeOnDemand writes DIR/<id>.mp4: the init segment, a sidx box indexing
// every segment, then the segments' moof+mdat pairs.
func (r *rendition) writeOnDemand(dir string) (manifest.Representation, error) {
	frags := make([]*mp4.Fragment, len(r.segs))
	sizes := make([]uint64, len(r.segs))
	for k := range r.segs {
		f, err := r.fragment(k)
		if err != nil {
			return manifest.Representation{}, err
		}
		frags[k], sizes[k] = f, f.Size()
	}
	infos := r.segmentInfos(sizes)
	init := r.initSegment()
	sidx := &mp4.SidxBox{Version: 1, ReferenceID: 1, Timescale: r.t.timescale, EarliestPresentationTime: infos[0].Start}
	for _, in := range infos {
		sidx.SidxRefs = append(sidx.SidxRefs, mp4.SidxRef{
			ReferencedSize: uint32(in.Size), SubSegmentDuration: uint32(in.Duration), StartsWithSAP: 1, SAPType: 1,
		})
	}
	err := writeFile(filepath.Join(dir, manifest.OnDemandPath(r.id)), func(w io.Writer) error {
		if err := init.Encode(w); err != nil {
			return err
		}
		if err := sidx.Encode(w); err != nil {
			return err
		}
		for _, f := range frags {
			if err := f.Encode(w); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return manifest.Representation{}, err
	}
	rep, err := r.describe(infos)
	rep.InitSize, rep.IndexSize = init.Size(), sidx.Size()
	return rep, err
}

// writeFile writes a file through encode, then fsyncs it, so that a title
// renamed into place afterwards is complete on disk.
func writeFile(path string, encode func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	err = encode(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// bandwidth returns the smallest rate B (bits/s) at which, for every
// segment i taken as a starting point, delivering from i at B after an
// initial minBuffer of buffering has every segment j complete when its
// playout begins: max over i<=j of bits(i..j) / (minBuffer + start_j - start_i).
// This is @bandwidth as ISO/IEC 23009-1 §5.3.5.2 defines it, at segment
// granularity.
func bandwidth(infos []manifest.SegmentInfo, timescale uint32, minBuffer time.Duration) uint32 {
	mb := minBuffer.Seconds()
	var peak float64
	for i := range infos {
		var bits float64
		for j := i; j < len(infos); j++ {
			bits += float64(infos[j].Size) * 8
			window := mb + float64(infos[j].Start-infos[i].Start)/float64(timescale)
			peak = max(peak, bits/window)
		}
	}
	return uint32(peak + 0.999)
}
