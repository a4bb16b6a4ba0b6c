package origin

import (
	"context"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	samplefs "github.com/streamcdn/streamcdn/internal/sample"
	"github.com/streamcdn/streamcdn/internal/testutil"
	"github.com/streamcdn/streamcdn/manifest"
)

// sampleTargets is the ladder scripts/make-sample.sh packages the sample with.
var sampleTargets = map[string]int{"180p": 150_000, "270p": 300_000, "360p": 600_000, "audio": 64_000}

// titleReport is what checkTitle read back from a packaged title.
type titleReport struct {
	frames map[string]int // samples per representation
}

// checkTitle checks a packaged title against the acceptance criteria:
// the MPD validates; every segment's first presentation time read back
// from the media with mp4ff equals its SegmentTimeline/sidx time; segment i
// of every video rung starts at the same time and audio within one AAC
// frame; @bandwidth is within 10% of the ladder target and not below the
// peak measured from the files.
func checkTitle(t *testing.T, dir string, targets map[string]int) titleReport {
	t.Helper()
	mpdPath := filepath.Join(dir, ManifestName)
	testutil.ValidateMPD(t, mpdPath)
	data, err := os.ReadFile(mpdPath)
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(data, "")
	if err != nil {
		t.Fatalf("Parse(%s): %v", mpdPath, err)
	}
	fsys := os.DirFS(dir)
	rep := titleReport{frames: map[string]int{}}
	var videoStarts []time.Duration
	starts := map[string][]time.Duration{}
	for _, tr := range m.Tracks {
		got, infos, frames := readBack(t, fsys, tr)
		rep.frames[tr.ID] = frames
		starts[tr.ID] = got
		for i, s := range tr.Segments {
			if infos[i].Start != s.Time {
				t.Errorf("%s segment %d: media starts at tick %d, MPD says %d", tr.ID, i, infos[i].Start, s.Time)
			}
		}
		if tr.ContentType == "video" && videoStarts == nil {
			videoStarts = got
		}
		checkBandwidth(t, m, tr, infos, targets[tr.ID])
	}
	for _, tr := range m.Tracks {
		s := starts[tr.ID]
		if len(s) != len(videoStarts) {
			t.Errorf("%s has %d segments, the video %d", tr.ID, len(s), len(videoStarts))
			continue
		}
		tol := time.Duration(0)
		if tr.ContentType == "audio" {
			tol = time.Second * 1024 / 48000
		}
		for i := range s {
			if d := s[i] - videoStarts[i]; d > tol || -d > tol {
				t.Errorf("%s segment %d starts at %v, video at %v: not aligned", tr.ID, i, s[i], videoStarts[i])
			}
		}
	}
	return rep
}

// readBack reads every segment of tr on its own with mp4ff and returns
// each one's earliest presentation time (relative to the MPD timeline)
// and in media ticks,
// its size and timing, and the number of samples.
func readBack(t *testing.T, fsys fs.FS, tr *manifest.Track) ([]time.Duration, []manifest.SegmentInfo, int) {
	t.Helper()
	if tr.Index != nil {
		idx, err := readRef(fsys, *tr.Index)
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.ExpandIndex(idx); err != nil {
			t.Fatalf("%s: ExpandIndex: %v", tr.ID, err)
		}
	}
	init, err := readRef(fsys, *tr.Init)
	if err != nil {
		t.Fatal(err)
	}
	var starts []time.Duration
	var infos []manifest.SegmentInfo
	frames := 0
	for i, s := range tr.Segments {
		b, err := readRef(fsys, s)
		if err != nil {
			t.Fatal(err)
		}
		track, err := readFragmented(init, [][]byte{b}, tr.PresentationTimeOffset)
		if err != nil {
			t.Fatalf("%s segment %d: %v", tr.ID, i, err)
		}
		e := earliest(track.samples)
		starts = append(starts, time.Duration(math.Round(float64(e-int64(track.pto))/float64(track.timescale)*1e9)))
		infos = append(infos, manifest.SegmentInfo{Start: uint64(e), Size: uint64(len(b))})
		frames += len(track.samples)
		if !track.samples[0].sync {
			t.Errorf("%s segment %d does not start with a sync sample", tr.ID, i)
		}
	}
	return starts, infos, frames
}

func checkBandwidth(t *testing.T, m *manifest.Manifest, tr *manifest.Track, infos []manifest.SegmentInfo, target int) {
	t.Helper()
	peak := bandwidth(infos, tr.Timescale, m.MinBufferTime)
	if tr.Bandwidth < peak {
		t.Errorf("%s: @bandwidth %d is below the measured peak %d", tr.ID, tr.Bandwidth, peak)
	}
	if target == 0 {
		t.Errorf("%s: no target bit rate", tr.ID)
		return
	}
	if off := math.Abs(float64(tr.Bandwidth)-float64(target)) / float64(target); off > 0.10 {
		t.Errorf("%s: @bandwidth %d is %.1f%% off its target %d (measured peak %d)", tr.ID, tr.Bandwidth, 100*off, target, peak)
	}
	t.Logf("%s: target %d, @bandwidth %d, measured peak %d", tr.ID, target, tr.Bandwidth, peak)
}

// TestSampleTitle checks the embedded sample, repackaged into both
// profiles without ffmpeg.
func TestSampleTitle(t *testing.T) {
	for _, profile := range []manifest.Profile{manifest.ProfileLive, manifest.ProfileOnDemand} {
		t.Run(string(profile), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "sample")
			p, err := Repackage(t.Context(), RepackageConfig{Source: samplefs.FS(), Output: dir, Profile: profile})
			if err != nil {
				t.Fatalf("Repackage: %v", err)
			}
			if p.Title != "streamcdn sample" || p.Duration < 29*time.Second {
				t.Errorf("presentation %q of %v", p.Title, p.Duration)
			}
			rep := checkTitle(t, dir, sampleTargets)
			for _, id := range []string{"180p", "270p", "360p"} {
				if rep.frames[id] != 900 {
					t.Errorf("%s has %d frames, want 900 (30 s at 30 fps)", id, rep.frames[id])
				}
			}
			assertNoStaging(t, filepath.Dir(dir))
		})
	}
}

// TestRepackageLeavesNothingOnError feeds a title with a corrupt segment:
// the error must leave neither the output nor a staging directory.
func TestRepackageLeavesNothingOnError(t *testing.T) {
	src := fstest.MapFS{}
	err := fs.WalkDir(samplefs.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(samplefs.FS(), p)
		src[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	src["360p/7.m4s"] = &fstest.MapFile{Data: []byte("this is not a media segment")}
	parent := t.TempDir()
	out := filepath.Join(parent, "broken")
	if _, err := Repackage(t.Context(), RepackageConfig{Source: src, Output: out}); err == nil {
		t.Fatal("Repackage of a corrupt title: no error")
	}
	if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("output exists after a failed run: %v", err)
	}
	assertNoStaging(t, parent)
}

func TestRepackageRefusesExistingOutput(t *testing.T) {
	dir := t.TempDir()
	_, err := Repackage(t.Context(), RepackageConfig{Source: samplefs.FS(), Output: dir})
	if err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("Repackage into an existing directory: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Repackage(ctx, RepackageConfig{Source: samplefs.FS(), Output: filepath.Join(dir, "x")}); !errors.Is(err, context.Canceled) {
		t.Errorf("Repackage with a cancelled context: %v", err)
	}
}

func assertNoStaging(t *testing.T, parent string) {
	t.Helper()
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("staging directory left behind: %s", e.Name())
		}
	}
}
