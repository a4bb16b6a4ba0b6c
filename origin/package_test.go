package origin

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamcdn/streamcdn/internal/testutil"
	"github.com/streamcdn/streamcdn/manifest"
)

func TestPackage(t *testing.T) {
	for _, profile := range []manifest.Profile{manifest.ProfileLive, manifest.ProfileOnDemand} {
		t.Run(string(profile), func(t *testing.T) {
			res := freshTitle(t, profile)
			if len(res.Dropped) != 1 || res.Dropped[0].Height != 720 {
				t.Errorf("dropped rungs = %v, want [720p]", res.Dropped)
			}
			rep := checkTitle(t, res.Dir, freshTargets)
			for _, id := range []string{"180p", "270p", "360p"} {
				if rep.frames[id] != freshSeconds*30 {
					t.Errorf("%s has %d frames, want %d", id, rep.frames[id], freshSeconds*30)
				}
			}
			if res.Presentation.Profile != profile || len(res.Presentation.Representations) != 4 {
				t.Errorf("presentation = %s with %d representations", res.Presentation.Profile, len(res.Presentation.Representations))
			}
			t.Logf("encode %v, segment %v", res.Encode, res.Segment)
		})
	}
}

func TestParseLadder(t *testing.T) {
	got, err := ParseLadder("360p:400k, 720p:3M,1080p:6000000")
	if err != nil || len(got) != 3 || got[0] != (Rung{360, 400_000}) || got[1] != (Rung{720, 3_000_000}) || got[2] != (Rung{1080, 6_000_000}) {
		t.Errorf("ParseLadder = %v, %v", got, err)
	}
	for _, bad := range []string{"", "360:400k", "360p", "361p:400k", "360p:0", "360p:1k", "360p:400k,360p:500k", "360p:9G", "p:1M"} {
		if _, err := ParseLadder(bad); err == nil {
			t.Errorf("ParseLadder(%q): no error", bad)
		}
	}
}

// TestPackageBadInput checks that bad inputs give a clear error and
// write nothing.
func TestPackageBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, input, want string
		needsFFmpeg       bool
	}{
		{name: "missing", input: filepath.Join(dir, "nope.mp4"), want: "no such file"},
		{name: "directory", input: dir, want: "is a directory"},
		{name: "empty", input: write("empty.mp4", ""), want: "is empty"},
		{name: "text", input: write("text.mp4", "this is not a video\n"), want: "not a media file", needsFFmpeg: true},
		{name: "audio only", input: audioOnly(t, dir), want: "has no video stream", needsFFmpeg: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.needsFFmpeg {
				testutil.RequireTool(t, "ffprobe")
			}
			out := filepath.Join(t.TempDir(), "title")
			_, err := Package(t.Context(), PackageConfig{Input: tc.input, Output: out})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Package(%s) error = %v, want %q", tc.name, err, tc.want)
			}
			if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("output written after a failure: %v", err)
			}
			assertNoStaging(t, filepath.Dir(out))
		})
	}
}

func TestPackageWithoutFFmpeg(t *testing.T) {
	input := filepath.Join(t.TempDir(), "in.mp4")
	if err := os.WriteFile(input, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir())
	_, err := Package(t.Context(), PackageConfig{Input: input, Output: filepath.Join(t.TempDir(), "t")})
	if !errors.Is(err, ErrNoFFmpeg) || !strings.Contains(err.Error(), "apt-get install ffmpeg") {
		t.Errorf("Package without ffmpeg: %v", err)
	}
}

func audioOnly(t *testing.T, dir string) string {
	t.Helper()
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		return filepath.Join(dir, "no-ffmpeg.m4a")
	}
	p := filepath.Join(dir, "tone.m4a")
	out, err := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=d=2", "-c:a", "aac", p).CombinedOutput()
	if err != nil {
		t.Fatalf("make audio-only input: %v: %s", err, out)
	}
	return p
}

// TestSegmentRenditions segments an already-encoded file (video and audio
// in one MP4) without transcoding.
func TestSegmentRenditions(t *testing.T) {
	in := mezzanine(t)
	out := filepath.Join(t.TempDir(), "byo")
	p, err := Segment(t.Context(), SegmentConfig{Inputs: []string{in}, Output: out, SegmentDuration: 2e9})
	if err != nil {
		t.Fatalf("Segment: %v", err)
	}
	if len(p.Representations) != 2 || p.Representations[0].ID != "mezzanine-video" || p.Representations[1].ID != "mezzanine-audio" {
		t.Fatalf("representations = %+v", p.Representations)
	}
	testutil.ValidateMPD(t, filepath.Join(out, ManifestName))
	n := 0
	for _, s := range p.Representations[0].Segments {
		n += int(s.Duration)
	}
	if got := float64(n) / float64(p.Representations[0].Timescale); got < freshSeconds-0.1 || got > freshSeconds+0.1 {
		t.Errorf("video timeline covers %.3fs, want %d s", got, freshSeconds)
	}
}
