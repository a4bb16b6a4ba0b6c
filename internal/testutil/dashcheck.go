package testutil

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Verdict is the part of ../shared/tools/dash-check's JSON the tests read.
type Verdict struct {
	OK             bool     `json:"ok"`
	FailReasons    []string `json:"failReasons"`
	StartupSeconds float64  `json:"startupSeconds"`
	SecondsPlayed  float64  `json:"secondsPlayed"`
	// Ended is whether the presentation played to its end.
	Ended bool `json:"ended"`
	// WallSecondsPlayed is the wall time from playback's start to the
	// end of the run; Duration the media's (the <video> element's);
	// Buffered its buffered ranges at the end, as dash-check gives them.
	WallSecondsPlayed float64         `json:"wallSecondsPlayed"`
	Duration          float64         `json:"duration"`
	Buffered          json.RawMessage `json:"buffered"`
	Stalls            struct {
		Count        int     `json:"count"`
		TotalSeconds float64 `json:"totalSeconds"`
	} `json:"stalls"`
	QualitySwitches struct {
		Rendered int `json:"rendered"`
	} `json:"qualitySwitches"`
	ResolutionsRendered []string `json:"resolutionsRendered"`
}

// PlayedToEnd reports whether playback reached the end of the
// presentation: the <video> element's ended event, or its current time
// within 0.1 s of its duration. dash.js on a loaded machine has been
// seen to reach the duration (30.016 s of 30.016 s) and then sit there
// for another 30 s of wall time without the ended event, its buffered
// ranges already empty; shaka-player and dash.js on an idle machine
// end.
func (v Verdict) PlayedToEnd() bool {
	return v.Ended || (v.Duration > 0 && v.SecondsPlayed >= v.Duration-0.1)
}

// DashCheck plays mpdURL for 12 s in player ("dashjs" or "shaka") in
// headless Chromium with dash-check, whose npm-installed script is
// $DASH_CHECK, and returns its verdict. A missing script, node or
// Chromium skips the test, or fails it in CI.
func DashCheck(t *testing.T, mpdURL, player string) Verdict {
	t.Helper()
	return DashCheckWith(t, mpdURL, player, DashCheckOptions{})
}

// DashCheckFor is DashCheck playing for the given seconds.
func DashCheckFor(t *testing.T, mpdURL, player string, seconds int) Verdict {
	t.Helper()
	return DashCheckWith(t, mpdURL, player, DashCheckOptions{Seconds: seconds})
}

// DashCheckOptions are the less common ways to run dash-check.
type DashCheckOptions struct {
	// Seconds to play; if zero, 12.
	Seconds int
	// Lenient fails the run only on fatal player errors: a test that
	// kills a server mid-play expects failed requests.
	Lenient bool
	// CAPEM, when set, is a CA certificate file Chromium trusts, as a
	// user who installed it would: in an NSS database (certutil,
	// Debian's libnss3-tools) under a home directory of the test's own,
	// which Chromium reads.
	CAPEM string
}

// DashCheckWith is DashCheck with options.
func DashCheckWith(t *testing.T, mpdURL, player string, o DashCheckOptions) Verdict {
	t.Helper()
	if testing.Short() {
		t.Skip("real players are skipped in -short mode")
	}
	script := os.Getenv("DASH_CHECK")
	if script == "" {
		Missing(t, "DASH_CHECK (the path of an npm-installed dash-check.js) is not set")
	}
	node := RequireTool(t, "node")
	RequireTool(t, "chromium")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script, "--mpd", mpdURL, "--player", player, "--seconds", strconv.Itoa(cmp.Or(o.Seconds, 12)), "--port", "0")
	if o.Lenient {
		cmd.Args = append(cmd.Args, "--lenient")
	}
	if o.CAPEM != "" {
		cmd.Env = append(os.Environ(), "HOME="+trustingHome(t, o.CAPEM))
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var v Verdict
	if jerr := json.Unmarshal(out, &v); jerr != nil {
		t.Fatalf("dash-check: %v (%v): %s %s", err, jerr, out, stderr.String())
	}
	if err != nil {
		t.Errorf("dash-check exited with %v: %v", err, v.FailReasons)
	}
	return v
}

// trustingHome is a home directory whose NSS database (where Chromium
// on Linux looks for the user's certificate authorities) trusts the CA
// in caPEM to identify web sites.
func trustingHome(t *testing.T, caPEM string) string {
	t.Helper()
	certutil := RequireTool(t, "certutil")
	home := t.TempDir()
	db := filepath.Join(home, ".pki", "nssdb")
	if err := os.MkdirAll(db, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-N", "-d", "sql:" + db, "--empty-password"},
		{"-A", "-d", "sql:" + db, "-n", "streamcdn test CA", "-t", "C,,", "-i", caPEM},
	} {
		if out, err := exec.Command(certutil, args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %v: %v\n%s", args, err, out)
		}
	}
	return home
}
