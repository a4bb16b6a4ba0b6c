package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamcdn/streamcdn/internal/sample"
	"github.com/streamcdn/streamcdn/internal/testutil"
	"github.com/streamcdn/streamcdn/origin"
)

// sampleOrigin serves the sample from a real origin on 127.0.0.1 and
// returns its MPD URL.
func sampleOrigin(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := origin.Repackage(context.Background(), origin.RepackageConfig{Source: sample.FS(), Output: filepath.Join(dir, "sample")}); err != nil {
		t.Fatal(err)
	}
	o, err := origin.New(origin.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(o)
	t.Cleanup(func() { srv.Close(); o.Close() })
	return srv.URL + "/sample/" + origin.ManifestName
}

func TestPlayCommand(t *testing.T) {
	mpd := sampleOrigin(t)
	dir := t.TempDir()
	trace := filepath.Join(dir, "trace.json")
	os.WriteFile(trace, []byte(`[{"duration_ms": 5000, "bandwidth_kbps": 1500, "latency_ms": 30}]`), 0o644)
	var out bytes.Buffer
	err := run(t.Context(), []string{"play", mpd, "--abr", "bba", "--trace", trace, "--speed", "10", "--max-buffer", "8s", "--cmcd", "headers",
		"--json", filepath.Join(dir, "r.json"), "--log", filepath.Join(dir, "s.csv")}, &out, io.Discard)
	if err != nil {
		t.Fatalf("play: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "ended complete") {
		t.Errorf("report:\n%s", out.String())
	}
	var rep map[string]any
	b, _ := os.ReadFile(filepath.Join(dir, "r.json"))
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep["abr"] != "bba" || rep["segments"] != float64(15) || rep["ended"] != "complete" {
		t.Errorf("report abr %v segments %v ended %v", rep["abr"], rep["segments"], rep["ended"])
	}
	csv, _ := os.ReadFile(filepath.Join(dir, "s.csv"))
	if lines := strings.Split(strings.TrimSpace(string(csv)), "\n"); len(lines) < 16 || !strings.HasPrefix(lines[0], "at_ms,index,representation,bitrate_kbps,bytes,ttfb_ms") {
		t.Errorf("CSV log: %d lines, header %q", len(lines), lines[0])
	}

	// A missing title: an error, the report still printed.
	out.Reset()
	err = run(t.Context(), []string{"play", strings.Replace(mpd, "/sample/", "/nope/", 1), "--speed", "10"}, &out, io.Discard)
	if err == nil || !strings.Contains(out.String(), "ended error") || !strings.Contains(out.String(), "404") {
		t.Errorf("missing title: err %v, report:\n%s", err, out.String())
	}
	for _, args := range [][]string{{"play"}, {"play", mpd, "--abr", "nope"}, {"play", mpd, "--cmcd", "json"}, {"play", mpd, "--speed", "0"}} {
		if err := run(t.Context(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

func TestBenchCommand(t *testing.T) {
	t.Run("url", func(t *testing.T) {
		mpd := sampleOrigin(t)
		dir := t.TempDir()
		var out bytes.Buffer
		if err := run(t.Context(), []string{"bench", "--url", mpd, "--players", "6", "--abr", "bola,throughput", "--speed", "20",
			"--max-buffer", "10s", "--no-progress", "--out", dir}, &out, io.Discard); err != nil {
			t.Fatalf("bench: %v\n%s", err, out.String())
		}
		checkFleetOut(t, dir, out.String(), []string{"bola (3)", "throughput (3)", "segments delayed by the client's CPU"})
	})
	t.Run("video", func(t *testing.T) {
		sabre := filepath.Join(testutil.SharedDir(t), "traces", "sabre")
		if _, err := os.Stat(sabre); err != nil {
			testutil.Missing(t, "the Sabre traces (../shared/traces/sabre) are missing")
		}
		dir := t.TempDir()
		var out bytes.Buffer
		if err := run(t.Context(), []string{"bench", "--video", filepath.Join(sabre, "bbb.json"), "--traces", filepath.Join(sabre, "3G"),
			"--players", "40", "--abr", "bola,bba", "--out", dir}, &out, io.Discard); err != nil {
			t.Fatalf("bench: %v\n%s", err, out.String())
		}
		checkFleetOut(t, dir, out.String(), []string{"bola (20)", "bba (20)", "qoe_lin"})
	})
	t.Run("built-in", func(t *testing.T) {
		// No --url, --video or --traces: the inputs built into the binary.
		// Its progress, to a buffer (not a terminal), is plain lines.
		dir := t.TempDir()
		var out, errs bytes.Buffer
		if err := run(t.Context(), []string{"bench", "--players", "10", "--abr", "bola,bolae", "--out", dir},
			&out, &errs); err != nil {
			t.Fatalf("bench: %v\n%s", err, out.String())
		}
		checkFleetOut(t, dir, out.String(), []string{"bola (5)", "bolae (5)", "qoe_lin"})
		if !strings.Contains(errs.String(), "10/10 sessions") || strings.ContainsAny(errs.String(), "\r\033") {
			t.Errorf("progress off a terminal: %q, want plain lines", errs.String())
		}
	})
	if err := run(t.Context(), []string{"bench", "--players", "2", "--url", "http://127.0.0.1:1/a.mpd", "--video", "v.json"},
		io.Discard, io.Discard); err == nil {
		t.Error("bench with both --url and --video: no error")
	}
}

func checkFleetOut(t *testing.T, dir, out string, want []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	for _, f := range []string{"fleet.json", "sessions.csv", "segments.csv", "qoe_cdf.svg", "bitrate.svg", "buffer.svg"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || len(b) == 0 {
			t.Errorf("%s: %v, %d bytes", f, err, len(b))
			continue
		}
		if strings.HasSuffix(f, ".svg") && !bytes.Contains(b, []byte("<svg")) {
			t.Errorf("%s is not SVG", f)
		}
	}
}
