package origin

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// planCuts splits every track into segments that start at the same
// presentation times. Cut points are the reference video track's keyframes
// at or just after each multiple of segDur; every other video track must
// have a keyframe at the same time (within half a frame), which ffmpeg's
// forced keyframes guarantee; audio is cut at the sample nearest to each
// video cut. It returns, per track, the index of each segment's first
// sample.
func planCuts(tracks []*track, segDur time.Duration) ([][]int, error) {
	ref := referenceTrack(tracks)
	if ref == nil {
		return nil, errors.New("no tracks")
	}
	cuts, err := refCuts(ref, segDur)
	if err != nil {
		return nil, err
	}
	out := make([][]int, len(tracks))
	for i, t := range tracks {
		if t.kind == "video" {
			out[i], err = alignVideo(t, ref, cuts)
		} else {
			out[i] = alignAudio(t, ref, cuts)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func referenceTrack(tracks []*track) *track {
	for _, t := range tracks {
		if t.kind == "video" {
			return t
		}
	}
	if len(tracks) > 0 {
		return tracks[0]
	}
	return nil
}

// refCuts returns the reference track's cut points as indexes of samples.
func refCuts(ref *track, segDur time.Duration) ([]int, error) {
	if len(ref.samples) == 0 {
		return nil, errors.New("reference track has no samples")
	}
	if !ref.samples[0].sync {
		return nil, errors.New("first sample is not a keyframe")
	}
	segTicks := int64(segDur) * int64(ref.timescale) / int64(time.Second)
	if segTicks <= 0 {
		return nil, fmt.Errorf("segment duration %v is too short", segDur)
	}
	tol := int64(ref.samples[0].dur) / 2
	pts, idx := ref.syncPoints()
	cuts := []int{idx[0]}
	next := segTicks
	for j := 1; j < len(pts); j++ {
		if pts[j] >= next-tol {
			cuts = append(cuts, idx[j])
			next = (pts[j]+tol)/segTicks*segTicks + segTicks
		}
	}
	return cuts, nil
}

// alignVideo finds, in t, the keyframe at each of ref's cut times.
func alignVideo(t, ref *track, cuts []int) ([]int, error) {
	if t == ref {
		return cuts, nil
	}
	out := make([]int, len(cuts))
	for k, c := range cuts {
		want := ref.samples[c].pts() - int64(ref.pto)
		i := t.nearestSample(rescale(want, ref.timescale, t.timescale))
		got := rescale(t.samples[i].pts()-int64(t.pto), t.timescale, ref.timescale)
		if !t.samples[i].sync || abs(got-want) > int64(ref.samples[c].dur)/2 {
			return nil, fmt.Errorf("rendition has no keyframe at %.3fs: renditions are not aligned",
				float64(want)/float64(ref.timescale))
		}
		out[k] = i
	}
	return out, nil
}

// alignAudio cuts t at the samples nearest to ref's cut times.
func alignAudio(t, ref *track, cuts []int) []int {
	out := []int{0}
	for _, c := range cuts[1:] {
		want := rescale(ref.samples[c].pts()-int64(ref.pto), ref.timescale, t.timescale)
		if i := t.nearestSample(want); i > out[len(out)-1] && i < len(t.samples) {
			out = append(out, i)
		}
	}
	return out
}

// split cuts t's samples at the given start indexes.
func split(t *track, starts []int) [][]sample {
	segs := make([][]sample, len(starts))
	for k, s := range starts {
		end := len(t.samples)
		if k+1 < len(starts) {
			end = starts[k+1]
		}
		segs[k] = t.samples[s:end]
	}
	return segs
}

// rescale converts v from timescale from to timescale to, rounding to
// nearest (exact for the media times of any real title).
func rescale(v int64, from, to uint32) int64 {
	if from == to {
		return v
	}
	return int64(math.Round(float64(v) * float64(to) / float64(from)))
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
