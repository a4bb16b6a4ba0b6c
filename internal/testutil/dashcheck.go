package testutil

import (
	"bytes"
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
	Ended  bool `json:"ended"`
	Stalls struct {
		Count        int     `json:"count"`
		TotalSeconds float64 `json:"totalSeconds"`
	} `json:"stalls"`
	QualitySwitches struct {
		Rendered int `json:"rendered"`
	} `json:"qualitySwitches"`
	ResolutionsRendered []string `json:"resolutionsRendered"`
}

// DashCheck plays mpdURL for 12 s in player ("dashjs" or "shaka") in
// headless Chromium with dash-check, whose npm-installed script is
// $DASH_CHECK, and returns its verdict. A missing script, node or
// Chromium skips the test, or fails it in CI.
func DashCheck(t *testing.T, mpdURL, player string) Verdict {
	t.Helper()
	return DashCheckFor(t, mpdURL, player, 12)
}

// DashCheckFor is DashCheck playing for the given seconds.
func DashCheckFor(t *testing.T, mpdURL, player string, seconds int) Verdict {
	t.Helper()
	return DashCheckArgs(t, mpdURL, player, seconds)
}

// DashCheckArgs is DashCheckFor with more of dash-check's options, such
// as --lenient (only fatal player errors fail the run: a test that kills
// a server mid-play expects failed requests).
func DashCheckArgs(t *testing.T, mpdURL, player string, seconds int, args ...string) Verdict {
	t.Helper()
	return DashCheckTrusting(t, mpdURL, player, seconds, "", args...)
}

// DashCheckTrusting is DashCheckArgs with Chromium trusting the CA
// certificate in caPEM (when not ""), as a user who installed it would:
// in an NSS database (certutil, Debian's libnss3-tools) under a home
// directory of the test's own, which Chromium reads.
func DashCheckTrusting(t *testing.T, mpdURL, player string, seconds int, caPEM string, args ...string) Verdict {
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
	cmd := exec.CommandContext(ctx, node, script, "--mpd", mpdURL, "--player", player, "--seconds", strconv.Itoa(seconds), "--port", "0")
	cmd.Args = append(cmd.Args, args...)
	if caPEM != "" {
		cmd.Env = append(os.Environ(), "HOME="+trustingHome(t, caPEM))
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
