package origin

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	samplefs "github.com/streamcdn/streamcdn/internal/sample"
	"github.com/streamcdn/streamcdn/internal/testutil"
	"github.com/streamcdn/streamcdn/manifest"
)

// scratch is a directory shared by the tests of this package run, for the
// titles that are expensive to make; TestMain removes it.
var scratch string

func TestMain(m *testing.M) {
	var err error
	if scratch, err = os.MkdirTemp("", "streamcdn-origin-test-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(scratch)
	os.Exit(code)
}

// freshTargets is the ladder the fresh titles are packaged with; 720p is
// taller than the 360p input and must be dropped.
const freshLadder = "180p:200k,270p:400k,360p:800k,720p:2000k"

var freshTargets = map[string]int{"180p": 200_000, "270p": 400_000, "360p": 800_000, "audio": 128_000}

const freshSeconds = 26

var (
	mezzOnce sync.Once
	mezzPath string
	mezzErr  error

	titlesMu sync.Mutex
	titles   = map[string]*Result{}
)

// titlesDir holds the titles made once for the whole run; servedTitles
// serves it.
func titlesDir() string { return filepath.Join(scratch, "titles") }

// mezzanine makes, once, a 26 s 640x360 30 fps test pattern with a tone.
func mezzanine(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("encoding with ffmpeg is skipped in -short mode")
	}
	ffmpeg := testutil.RequireTool(t, "ffmpeg")
	mezzOnce.Do(func() {
		mezzPath = filepath.Join(scratch, "mezzanine.mp4")
		out, err := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
			"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
			"-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000:beep_factor=4",
			"-t", fmt.Sprint(freshSeconds), "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18",
			"-c:a", "aac", "-b:a", "192k", mezzPath).CombinedOutput()
		if err != nil {
			mezzErr = fmt.Errorf("make mezzanine: %v: %s", err, out)
		}
	})
	if mezzErr != nil {
		t.Fatal(mezzErr)
	}
	return mezzPath
}

// freshTitle packages the mezzanine in profile with ffmpeg and our
// packager, once per profile, as titlesDir()/fresh-<profile>.
func freshTitle(t *testing.T, profile manifest.Profile) *Result {
	t.Helper()
	input := mezzanine(t)
	return sharedTitle(t, "fresh-"+string(profile), func(dir string) (*Result, error) {
		ladder, err := ParseLadder(freshLadder)
		if err != nil {
			return nil, err
		}
		return Package(context.Background(), PackageConfig{
			Input: input, Output: dir, Ladder: ladder, SegmentDuration: 2e9, Profile: profile,
		})
	})
}

// sampleTitle repackages the embedded sample in profile, once, as
// titlesDir()/sample-<profile>.
func sampleTitle(t *testing.T, profile manifest.Profile) *Result {
	t.Helper()
	return sharedTitle(t, "sample-"+string(profile), func(dir string) (*Result, error) {
		p, err := Repackage(context.Background(), RepackageConfig{Source: samplefs.FS(), Output: dir, Profile: profile})
		return &Result{Dir: dir, Presentation: p}, err
	})
}

func sharedTitle(t *testing.T, name string, make func(dir string) (*Result, error)) *Result {
	t.Helper()
	titlesMu.Lock()
	defer titlesMu.Unlock()
	if r := titles[name]; r != nil {
		return r
	}
	r, err := make(filepath.Join(titlesDir(), name))
	if err != nil {
		t.Fatalf("make title %s: %v", name, err)
	}
	titles[name] = r
	return r
}
