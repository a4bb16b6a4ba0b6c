package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamcdn/streamcdn/deploy"
	"github.com/streamcdn/streamcdn/internal/testutil"
)

// TestTopologyDemo runs the demo as a user does, a process of the real
// binary on the built-in topology with --duration: every component its
// own process; players of both flows, through the DNS (its CNAME chain
// in the report) and steered by the steering service (the trailer
// pushed before anyone watches); eu-west's cluster failing and both
// flows moving its players, the steered ones first (their own failover,
// against the DNS's health checks), the DNS saying health moved its
// players; the report, and exit status 0 only because every player
// finished. No process is left.
func TestTopologyDemo(t *testing.T) {
	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	reportDir := t.TempDir()
	// --port 0: every listener on a free port, the status page's too.
	cmd, sc, errOut := startDemo(ctx, t, bin, "--duration", "40s", "--port", "0", "--speed", "4", "--report", reportDir)
	// While the demo still serves (until --duration), its status
	// listener serves the report it printed the address of.
	var out strings.Builder
	served := ""
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if m := regexp.MustCompile(`\(and (http://\S+/report)\)`).FindStringSubmatch(sc.Text()); m != nil && served == "" {
			served = m[1]
			res, err := http.Get(served)
			if err != nil {
				t.Fatal(err)
			}
			page, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil || res.StatusCode != http.StatusOK || strings.Count(string(page), "<svg") != 4 {
				t.Errorf("GET %s: %d %v, %d charts", served, res.StatusCode, err, strings.Count(string(page), "<svg"))
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("demo: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	if served == "" || strings.Contains(served, ":9000/") {
		t.Errorf("the demo printed no /report address, or not a free port's: %q", served)
	}
	report := out.String()
	for _, want := range []string{
		"every component its own process",
		"== where each region's clients were sent, and why",
		"us-east   127.0.1.0/24  us-east   geo: client in us-east, 0 km away",
		"== QoE per player population",
		"video.netcinema.com. 300 IN CNAME a1105.kingcdn.com.",
		"a1105.kingcdn.com. 20 IN A 127.0.1.1   (us-east's edge cluster)",
		"eu-west #1            2        sample   bola        eu-west,", // its players moved
		"eu-west #3 (steered)  2        trailer  bola        eu-west,us-east  2/2",
		"KingCDN flow (DNS):      6 players, 6 finished",
		"Netflix flow (steering): 2 players, 2 finished", // and the share of its segments the edges had stored
		"us-east first by health: ",                      // the steering manifests after eu-west died
		"== failover: an edge cluster dies; how fast each flow moved its players",
		"== clusters: hit ratio and origin offload",
		"origin offload",
		"EVENT eu-west's edge cluster fails",
		"player 0 of eu-west streams from us-east",
		"EVENT eu-west's edge cluster restarts",
		"eu-west's edge cluster is ready again",
		"pushed trailer: 65 objects",
		"us-east by health: ", // eu-west's players moved by health, not geography
		"every player finished without an error",
		"report with charts: " + filepath.Join(reportDir, "report.html"),
		"stopped deployment three-region: its 10 processes", // what the end cleaned up
		"(the deployments' titles, caches and logs)",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	moved := func(steered string) float64 {
		m := regexp.MustCompile(`(?m)^\s*([\d.]+) s  player \d of eu-west` + regexp.QuoteMeta(steered) + ` streams from us-east`).FindStringSubmatch(report)
		if m == nil {
			t.Fatalf("no player of eu-west%s moved to us-east:\n%s", steered, report)
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		return v
	}
	if s, d := moved(" (steered)"), moved(""); s < 3 || d < 3 || s >= d {
		t.Errorf("steered players moved at %.2f s, DNS players at %.2f s: want both after the failure at 3 s, the steered first", s, d)
	}
	// eu-west's cluster served its players before it failed: its counts
	// survive its restart.
	if m := regexp.MustCompile(`(?m)^\s*eu-west\s+\S+\s+\d+/\d+\s+(\d+)\s`).FindStringSubmatch(report); m == nil || m[1] == "0" {
		t.Errorf("eu-west's cluster line %q: want the requests it served before and after its restart", m)
	}
	// The report page: the four charts, the run's events on them, the
	// text report.
	page, err := os.ReadFile(filepath.Join(reportDir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(page), "<svg"); n != 4 {
		t.Errorf("report.html has %d charts, want 4", n)
	}
	for _, want := range []string{"eu-west fails", "eu-west restarts", "push trailer", "eu-west (steered)", "streamed from", "origin offload"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	// The demo's processes carry its deployment's ID; none is left.
	for _, line := range strings.Split(errOut.String(), "\n") {
		if strings.Contains(line, "panic") {
			t.Errorf("stderr: %s", line)
		}
	}
	m := regexp.MustCompile(`\(id ([A-Z0-9]+)\)`).FindStringSubmatch(report)
	if m == nil {
		t.Fatal("the report does not give the deployment's id")
	}
	if left := deploy.Processes(m[1]); len(left) > 0 {
		t.Errorf("processes left after the demo: %v", left)
	}
}

// startDemo starts "streamcdn demo args..." as a user does, dying with
// the test, and returns it, a scanner over its output and its standard
// error.
func startDemo(ctx context.Context, t *testing.T, bin string, args ...string) (*exec.Cmd, *bufio.Scanner, *bytes.Buffer) {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, append([]string{"demo"}, args...)...)
	errOut := &bytes.Buffer{}
	cmd.Stderr = errOut
	testutil.DieWithTest(cmd)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, bufio.NewScanner(stdout), errOut
}

// buildBinary builds this command for tests that run it as a user does.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary and runs processes")
	}
	bin := filepath.Join(t.TempDir(), "streamcdn")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestDemoModes runs the fill comparison as a user does: the built-in
// topology once per mode, each a fresh deployment of processes. Every
// player finishes in every mode; pushed titles cost the origin nothing
// while people watch; the modes are compared; an interrupt ends it and
// leaves no process.
func TestDemoModes(t *testing.T) {
	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(t.Context(), 180*time.Second)
	defer cancel()
	reportDir := t.TempDir()
	// --port P: every mode's clusters answer on P.
	port, err := deploy.FreePort("127.0.1.1", false)
	if err != nil {
		t.Fatal(err)
	}
	cmd, sc, errOut := startDemo(ctx, t, bin, "--mode", "all", "--admin", "127.0.0.1:0", "--port", strconv.Itoa(port), "--speed", "8", "--report", reportDir)
	var out strings.Builder
	var mode string
	finished := map[string]bool{}
	compared := map[string][]string{}
	var ids, ports []string
	for sc.Scan() {
		line := sc.Text()
		out.WriteString(line + "\n")
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "== mode "):
			mode = strings.TrimSuffix(f[2], ":")
		case strings.HasPrefix(line, "== modes compared"):
			mode = "compared"
		case mode == "compared" && len(f) > 6:
			compared[f[0]] = f
		case strings.HasPrefix(line, "every player finished without an error"):
			finished[mode] = true
		}
		if m := regexp.MustCompile(`\(id ([A-Z0-9]+)\)`).FindStringSubmatch(line); m != nil {
			ids = append(ids, m[1])
		}
		if strings.HasPrefix(line, "Still serving") {
			cmd.Process.Signal(os.Interrupt)
		}
		if strings.HasPrefix(line, "clusters answer on port ") {
			ports = append(ports, f[4])
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("demo: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	origin := map[string][2]int{} // requests for the push, during play
	for _, m := range []string{"pull", "push", "hybrid"} {
		if !finished[m] {
			t.Errorf("mode %s: not every player finished", m)
		}
		if _, err := os.Stat(filepath.Join(reportDir, "report-"+m+".html")); err != nil {
			t.Errorf("mode %s: %v", m, err)
		}
		row := compared[m]
		if len(row) < 7 {
			t.Fatalf("no comparison row for %s:\n%s", m, out.String())
		}
		push, err1 := strconv.Atoi(row[1])
		play, err2 := strconv.Atoi(row[3])
		if err1 != nil || err2 != nil {
			t.Fatalf("comparison row %q", row)
		}
		origin[m] = [2]int{push, play}
	}
	// Pull fills nothing ahead; push fills everything, so the origin sees
	// nothing during play; hybrid is between.
	if origin["pull"][0] != 0 || origin["push"][0] == 0 || origin["hybrid"][0] == 0 || origin["hybrid"][0] >= origin["push"][0] {
		t.Errorf("origin requests for the push: %v", origin)
	}
	if origin["push"][1] != 0 || origin["hybrid"][1] == 0 || origin["hybrid"][1] >= origin["pull"][1] {
		t.Errorf("origin requests during play: %v, want push 0 and hybrid below pull", origin)
	}
	if len(ids) != 3 {
		t.Fatalf("deployments = %v, want one per mode", ids)
	}
	if want := strconv.Itoa(port); len(ports) != 3 || ports[0] != want || ports[1] != want || ports[2] != want {
		t.Errorf("clusters' ports %v, want %s in every mode", ports, want)
	}
	for _, id := range ids {
		if left := deploy.Processes(id); len(left) > 0 {
			t.Errorf("processes of %s left after the demo: %v", id, left)
		}
	}
}
