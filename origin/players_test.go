package origin

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamcdn/streamcdn/internal/testutil"
	"github.com/streamcdn/streamcdn/manifest"
)

// servedTitles serves, from one origin on loopback, the sample and the
// fresh title in both profiles, and returns their MPD URLs keyed
// "sample-live", "fresh-ondemand", ...
func servedTitles(t *testing.T) map[string]string {
	t.Helper()
	urls := map[string]string{}
	for _, profile := range []manifest.Profile{manifest.ProfileLive, manifest.ProfileOnDemand} {
		for _, r := range []*Result{sampleTitle(t, profile), freshTitle(t, profile)} {
			urls[filepath.Base(r.Dir)] = ""
		}
	}
	s, err := New(Config{Dir: titlesDir()})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() { ts.Close(); s.Close() })
	for name := range urls {
		urls[name] = ts.URL + "/" + name + "/" + ManifestName
	}
	return urls
}

// TestFFmpegDecodesFromOrigin decodes every video representation of every
// title from the origin's URL and compares the decoded frame count with
// the packaged one (ffmpeg exits 0 even when a segment 404s).
func TestFFmpegDecodesFromOrigin(t *testing.T) {
	ffmpeg := testutil.RequireTool(t, "ffmpeg")
	urls := servedTitles(t)
	for name, u := range urls {
		want := freshSeconds * 30
		if strings.HasPrefix(name, "sample") {
			want = 900
		}
		for i := range 3 {
			t.Run(fmt.Sprintf("%s/v%d", name, i), func(t *testing.T) {
				if got := decodedFrames(t, ffmpeg, u, i); got != want {
					t.Errorf("ffmpeg decoded %d frames of video %d of %s, packaged %d", got, i, u, want)
				}
			})
		}
	}
}

func decodedFrames(t *testing.T, ffmpeg, url string, stream int) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-i", url,
		"-map", fmt.Sprintf("0:v:%d", stream), "-f", "null", "-", "-progress", "pipe:1")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("ffmpeg reported errors: %s", stderr.String())
	}
	frames := -1
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "frame="); ok {
			frames, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return frames
}

// TestRealPlayers plays every title in dash.js and shaka-player in
// headless Chromium (../shared/tools/dash-check): each must start, play
// without stalls and render a quality switch.
func TestRealPlayers(t *testing.T) {
	if testing.Short() {
		t.Skip("real players are skipped in -short mode")
	}
	urls := servedTitles(t)
	for _, name := range []string{"sample-live", "sample-ondemand", "fresh-live", "fresh-ondemand"} {
		for _, player := range []string{"dashjs", "shaka"} {
			t.Run(name+"/"+player, func(t *testing.T) {
				v := testutil.DashCheck(t, urls[name], player)
				if !v.OK || v.Stalls.Count != 0 || v.QualitySwitches.Rendered < 1 {
					t.Errorf("%s in %s: ok=%v stalls=%d switches=%d reasons=%v", name, player,
						v.OK, v.Stalls.Count, v.QualitySwitches.Rendered, v.FailReasons)
				}
				t.Logf("%s in %s: started in %.2fs, played %.1fs, %d switches, resolutions %v",
					name, player, v.StartupSeconds, v.SecondsPlayed, v.QualitySwitches.Rendered, v.ResolutionsRendered)
			})
		}
	}
}
