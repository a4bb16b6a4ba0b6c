package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

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

// TestDemoModes runs the fill-mode comparison on free ports: in every
// mode its viewers stream the sample through every region's edge, it
// prints the report, and it answers over HTTP until its context is
// cancelled.
func TestDemoModes(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"demo", "--mode", "all", "--port", "0", "--admin", "127.0.0.1:0", "--speed", "10"}, pw, io.Discard)
		pw.Close()
	}()
	type block struct{ report, routes, players []string }
	blocks := map[string]*block{}
	var edgeURL, metricsURL, mode string
	var compared []string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[0] == "edge" && edgeURL == "":
			edgeURL = f[2]
		case len(f) == 2 && f[0] == "metrics":
			metricsURL = f[1]
		case strings.HasPrefix(line, "== mode "):
			mode = f[2][:len(f[2])-1]
			blocks[mode] = &block{}
		case strings.HasPrefix(line, "== modes compared"):
			mode = "compared"
		case mode == "compared" && len(f) > 0 && slices.Contains([]string{"pull", "push", "hybrid"}, f[0]):
			compared = append(compared, line)
		case mode == "":
		case strings.HasPrefix(strings.TrimSpace(line), "origin:") || strings.Contains(line, "edge-"):
			blocks[mode].report = append(blocks[mode].report, line)
		case strings.Contains(line, "a1105.kingcdn.com"):
			blocks[mode].routes = append(blocks[mode].routes, line)
		case strings.Contains(line, "kbit/s") && len(f) > 0 && slices.Contains(demoRegions, f[0]):
			blocks[mode].players = append(blocks[mode].players, line)
		}
		if strings.HasPrefix(line, "Still serving") {
			break
		}
	}
	go io.Copy(io.Discard, pr)
	origins := map[string]int{}
	for _, m := range []string{"pull", "push", "hybrid"} {
		b := blocks[m]
		if b == nil {
			t.Fatalf("no report for mode %s", m)
		}
		// Each region's viewers resolved video.netcinema.com through the
		// DNS, from their own address, to their own region's cluster.
		if len(b.routes) != 3 {
			t.Fatalf("%s: DNS report = %q, want a line per region", m, b.routes)
		}
		for i, line := range b.routes {
			f := strings.Fields(line)
			region, ip := demoRegions[i], fmt.Sprintf("127.0.%d.1", i+1)
			if len(f) < 6 || f[0] != region || f[3] != ip || f[4] != region || f[5] != "geo:" {
				t.Errorf("%s: DNS report line %q, want %s answered %s by geo", m, line, region, ip)
			}
		}
		// Three players per region, each on its own network, all complete.
		if len(b.players) != 9 {
			t.Errorf("%s: player report = %q, want 9 lines", m, b.players)
		}
		for _, line := range b.players {
			if !strings.Contains(line, " complete ") {
				t.Errorf("%s: player %q did not complete", m, line)
			}
		}
		// Every edge served its players; the origin saw a fraction of it.
		if len(b.report) != 4 {
			t.Fatalf("%s: report = %q, want three edges and the origin", m, b.report)
		}
		for _, line := range b.report[:3] {
			f := strings.Fields(line)
			if n, err := strconv.Atoi(f[2]); err != nil || n < 3*16 {
				t.Errorf("%s: edge line %q: want at least 48 requests (3 players x 15 segments + MPD)", m, line)
			}
		}
		var originReq, clientReq int
		var offload float64
		if _, err := fmt.Sscanf(strings.TrimSpace(b.report[3]), "origin: %d requests for %d client requests: origin offload %f%%",
			&originReq, &clientReq, &offload); err != nil || offload < 50 {
			t.Errorf("%s: origin line %q (%v): want an offload above 50%%", m, b.report[3], err)
		}
		origins[m] = originReq
	}
	// Pushed titles cost the origin nothing during play.
	if origins["push"] != 0 || origins["hybrid"] >= origins["pull"] {
		t.Errorf("origin requests during play: %v, want push 0 and hybrid below pull", origins)
	}
	if len(compared) != 3 {
		t.Errorf("comparison = %q, want a row per mode", compared)
	}
	for _, u := range []string{edgeURL, strings.TrimSuffix(edgeURL, "manifest.mpd") + "360p/1.m4s", metricsURL} {
		res, err := http.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || len(body) == 0 {
			t.Errorf("GET %s: %d, %d bytes", u, res.StatusCode, len(body))
		}
		if strings.HasSuffix(u, "/metrics") {
			for _, m := range []string{`streamcdn_origin_requests_total{code_class="2xx",method="GET",node="origin"}`,
				`streamcdn_edge_requests_total{cache="hit",code_class="2xx",mode="pull",node="edge-us-east"}`,
				`streamcdn_edge_requests_total{cache="pinned",code_class="2xx",mode="push",node="edge-us-east"}`,
				`streamcdn_edge_cache_bytes{mode="hybrid",node="edge-us-east",tier="pinned"}`} {
				if !strings.Contains(string(body), m) {
					t.Errorf("metrics lack %s", m)
				}
			}
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("demo returned %v after cancel", err)
	}
}

func TestAdminToken(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	os.WriteFile(file, []byte("  s3cret\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	t.Setenv("STREAMCDN_ADMIN_TOKEN", "from-env")
	if got, err := adminToken(file); err != nil || got != "s3cret" {
		t.Errorf("adminToken(file) = %q, %v", got, err)
	}
	if got, err := adminToken(""); err != nil || got != "from-env" {
		t.Errorf("adminToken(\"\") = %q, %v, want the environment's", got, err)
	}
	for _, bad := range []string{empty, filepath.Join(dir, "missing")} {
		if _, err := adminToken(bad); err == nil {
			t.Errorf("adminToken(%s): no error", bad)
		}
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

// TestDemoFlagsApply: a flag of the fill comparison without --mode, or
// of the topology demo with it, is an error before anything starts.
func TestDemoFlagsApply(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // in the error; "" for none
	}{
		{[]string{"--viewers", "5"}, "--viewers applies only with --mode"},
		{[]string{"--abr", "bola"}, "--abr applies only with --mode"},
		{[]string{"--port", "0"}, "--port applies only with --mode"},
		{[]string{"--mode", "pull", "--topology", "x.yaml"}, "--topology applies only without --mode"},
		{[]string{"--mode", "all", "--prometheus"}, "--prometheus applies only without --mode"},
		{[]string{"--mode", "all", "--report", "dir"}, "--report applies only without --mode"},
	} {
		err := run(t.Context(), append([]string{"demo"}, tc.args...), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("demo %v: %v, want an error with %q", tc.args, err, tc.want)
		}
	}
	if err := demoFlagsApply(map[string]bool{"mode": true, "viewers": true, "speed": true}, true); err != nil {
		t.Errorf("--mode with --viewers and --speed: %v", err)
	}
	if err := demoFlagsApply(map[string]bool{"topology": true, "speed": true, "admin": true}, false); err != nil {
		t.Errorf("the topology demo with --topology, --speed and --admin: %v", err)
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

// TestIsTerminal: a file or a buffer is not a terminal.
func TestIsTerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) || isTerminal(&bytes.Buffer{}) || isTerminal(io.Discard) {
		t.Error("a file, a buffer or io.Discard taken for a terminal")
	}
}

// TestLiveOutput: off a terminal, progress is due at most every
// plainEvery, and always when final; lines start plain.
func TestLiveOutput(t *testing.T) {
	o := newLiveOutput(&bytes.Buffer{}, 0)
	if o.term || o.lineStart() != "" {
		t.Fatalf("a buffer taken for a terminal: %+v", o)
	}
	if o.due(false) {
		t.Error("due at once, off a terminal")
	}
	if !o.due(true) || o.due(false) {
		t.Error("the final state not due, or due again right after")
	}
	o.last = o.last.Add(-plainEvery)
	if !o.due(false) {
		t.Error("not due after plainEvery")
	}
}
