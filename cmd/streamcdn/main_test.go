package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/streamcdn/streamcdn/internal/testutil"
)

func TestRunUsage(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), nil, &out, &out); err == nil {
		t.Error("run with no command: no error")
	}
	if err := run(t.Context(), []string{"bogus"}, &out, &out); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Errorf("run(bogus) = %v", err)
	}
	if err := run(t.Context(), []string{"package", "-o", t.TempDir()}, io.Discard, io.Discard); err == nil {
		t.Error("package without -i or --sample: no error")
	}
}

func TestPackageSample(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sample")
	var out bytes.Buffer
	if err := run(t.Context(), []string{"package", "--sample", "--profile", "ondemand", "-o", dir}, &out, io.Discard); err != nil {
		t.Fatalf("package --sample: %v", err)
	}
	for _, f := range []string{"manifest.mpd", "180p.mp4", "270p.mp4", "360p.mp4", "audio.mp4"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("package --sample did not write %s: %v", f, err)
		}
	}
	if !strings.Contains(out.String(), "ondemand profile") {
		t.Errorf("summary = %q", out.String())
	}
}

// TestPackageInterrupted: "package" interrupted (its context ended, as
// Ctrl-C ends it) says what it cleaned up, and leaves nothing at -o.
func TestPackageInterrupted(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sample")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := run(ctx, []string{"package", "--sample", "-o", dir}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "interrupted") || !strings.Contains(err.Error(), "nothing was written at "+dir) {
		t.Errorf("package, interrupted: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("-o after an interrupted package: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(dir))
	if len(entries) != 0 {
		t.Errorf("left beside -o: %v", entries)
	}
}

// TestSimJSON: sim --json prints one row per ABR × trace and a summary
// keyed by ABR with the fields.
func TestSimJSON(t *testing.T) {
	dir := filepath.Join(testutil.SharedDir(t), "traces", "sabre")
	if _, err := os.Stat(dir); err != nil {
		testutil.Missing(t, "the Sabre traces (../shared/traces/sabre) are missing")
	}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"sim", "--video", filepath.Join(dir, "bbb.json"), "--trace", filepath.Join(dir, "3G"),
		"--abr", "bola,bba", "--json"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Sessions []map[string]any          `json:"sessions"`
		Summary  map[string]map[string]any `json:"summary"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Sessions) != 40 || len(got.Summary) != 2 {
		t.Fatalf("%d sessions, %d summaries; want 40 and 2", len(got.Sessions), len(got.Summary))
	}
	for _, k := range []string{"avg_bitrate_kbps", "rebuffer_ratio", "rebuffer_s", "switches", "startup_s", "sabre_score", "qoe_lin", "sessions"} {
		if _, ok := got.Summary["bola"][k]; !ok {
			t.Errorf("summary lacks %s", k)
		}
	}
	if err := run(t.Context(), []string{"sim", "--video", filepath.Join(dir, "bbb.json"), "--trace", filepath.Join(dir, "3G"), "--abr", "nope"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "unknown ABR") {
		t.Errorf("unknown ABR: %v", err)
	}
	// Without --video and --trace: the built-in video and its five traces.
	out.Reset()
	if err := run(t.Context(), []string{"sim", "--abr", "bola", "--json"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || len(got.Sessions) != 5 {
		t.Errorf("sim on the built-in inputs: %d sessions (want 5), %v", len(got.Sessions), err)
	}
}

// TestDemoFlags: a bad flag value is an error before anything starts.
func TestDemoFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // in the error
	}{
		{[]string{"--mode", "fast"}, `mode "fast": want pull, push or hybrid`},
		{[]string{"--speed", "2000"}, "want 0 < K <= 1000"},
		{[]string{"--topology", "no-such.yaml"}, "no-such.yaml"},
		{[]string{"--viewers", "5"}, "flag provided but not defined: -viewers"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		err := run(t.Context(), append([]string{"demo", "--admin", "127.0.0.1:0"}, tc.args...), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("demo %v: %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}

// TestHelpExitsZero: "streamcdn CMD -h" prints the command's usage and
// exits 0, for every command; "--version" prints the version; a missing
// required flag is an error, not help.
func TestHelpExitsZero(t *testing.T) {
	for _, c := range commands() {
		if c.name == "version" {
			continue
		}
		var stderr strings.Builder
		err := run(t.Context(), []string{c.name, "-h"}, io.Discard, &stderr)
		if exitCode(err) != 0 || stderr.Len() == 0 {
			t.Errorf("%s -h: exit %d (%v), %d bytes of usage", c.name, exitCode(err), err, stderr.Len())
		}
		// A synopsis, two or more examples of the command itself.
		help := stderr.String()
		if !regexp.MustCompile(`(?i)^usage: streamcdn `+c.name+` `).MatchString(help) ||
			!strings.Contains(help, "Examples:") || strings.Count(help, "\n  streamcdn "+c.name) < 1 ||
			len(regexp.MustCompile(`\n  \S`).FindAllString(help[strings.Index(help, "Examples:"):], -1)) < 1 {
			t.Errorf("%s -h lacks a synopsis or examples:\n%s", c.name, help)
		}
	}
	var top strings.Builder
	if err := run(t.Context(), []string{"help"}, io.Discard, &top); exitCode(err) != 0 || !strings.Contains(top.String(), "Examples:\n  streamcdn demo") {
		t.Errorf("help: exit %d, %s", exitCode(err), top.String())
	}
	var out strings.Builder
	if err := run(t.Context(), []string{"--version"}, &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "streamcdn ") {
		t.Errorf("--version: %q %v", out.String(), err)
	}
	for _, args := range [][]string{{"origin"}, {"wan"}, {"deploy"}, {"deploy", "render"}} {
		if err := run(t.Context(), args, io.Discard, io.Discard); exitCode(err) == 0 {
			t.Errorf("%v without its required flags: exit 0 (%v)", args, err)
		}
	}
}

// TestDefaultPortsApart: the commands' default addresses (what each
// listens on when not told, as their -h prints) are all different, so
// that a demo and the README's examples run side by side.
func TestDefaultPortsApart(t *testing.T) {
	seen := map[string]string{}
	for _, c := range commands() {
		var stderr strings.Builder
		run(t.Context(), []string{c.name, "-h"}, io.Discard, &stderr)
		for _, m := range regexp.MustCompile(`(?s)\n  -(\S+) string\n[^\n]*\n?[^\n]*\(default "(127\.0\.0\.1:[1-9]\d*)"\)`).FindAllStringSubmatch(stderr.String(), -1) {
			who := c.name + " --" + m[1]
			if other, ok := seen[m[2]]; ok {
				t.Errorf("%s and %s both default to %s", other, who, m[2])
			}
			seen[m[2]] = who
		}
	}
	if len(seen) < 8 {
		t.Errorf("found the default addresses %v: want those of origin, edge, dns, steer, wan and demo", seen)
	}
}

// TestSteerConfig: steer reads its configuration strictly and checks it
// before it listens.
func TestSteerConfig(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ body, want string }{
		{"origin: http://127.0.0.1:8080/\nedges: [{name: eu-west, url: 'http://127.0.2.1:8080/', admin: 'http://127.0.2.1:9081', lat: 53.3}]\npathway: 2\n",
			`unknown field "pathway"`},
		{"origin: http://127.0.0.1:8080/\nedges: []\n", "no edges"},
		{"origin: http://127.0.0.1:8080/\nedges: [{name: 'eu west', url: 'http://127.0.2.1:8080/', admin: 'http://127.0.2.1:9081'}]\n", "letters, digits"},
	} {
		p := filepath.Join(dir, "steer.yaml")
		os.WriteFile(p, []byte(tc.body), 0o644)
		err := run(t.Context(), []string{"steer", "--config", p, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"}, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error with %q", tc.body, err, tc.want)
		}
	}
}
