package report

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamcdn/streamcdn/deploy"
	"github.com/streamcdn/streamcdn/deploy/examples"
	"github.com/streamcdn/streamcdn/internal/testutil"
	"github.com/streamcdn/streamcdn/player"
)

// TestWriteHTML: four charts, each region in the legends, the events
// marked, the origin offload given, the text report kept (escaped), and
// no XML declaration inside the HTML.
func TestWriteHTML(t *testing.T) {
	path := writeSample(t)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	if n := strings.Count(html, "<svg"); n != 4 {
		t.Errorf("%d charts, want 4", n)
	}
	for _, want := range []string{"eu-west fails", "eu-west restarts", "streamed from", "us-east", "ap-south",
		"EVENT &lt;eu-west&gt; fails", "== QoE per player population", "Hit ratio per edge cluster", "eu-west (100 req)", "origin offload 80.0%"} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(html, "<?xml") {
		t.Error("an XML declaration inside the HTML")
	}
}

// TestReportInChromium: the page parses in a browser with its four
// charts as SVG elements.
func TestReportInChromium(t *testing.T) {
	chromium := testutil.RequireTool(t, "chromium")
	path := writeSample(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", "file://"+path).Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	if n := strings.Count(string(out), "<svg"); n != 4 {
		t.Errorf("the browser's DOM has %d svg elements, want 4", n)
	}
}

// writeSample writes the report of a made-up run of the three-region
// example, an edge cluster failing and coming back.
func writeSample(t *testing.T) string {
	t.Helper()
	top, err := deploy.Load(examples.ThreeRegion)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	run := Run{Topology: top, Start: start, Speed: 2,
		Timeline: []Line{{3 * time.Second, "EVENT <eu-west> fails"}},
		Events: []Event{{At: 3 * time.Second, Label: "eu-west fails", Action: "fail", Region: "eu-west"},
			{At: 7 * time.Second, Label: "eu-west restarts", Action: "restore", Region: "eu-west"}}}
	for i, reg := range top.Regions {
		s := &deploy.Session{Region: reg.Name, Started: start.Add(time.Duration(i) * 100 * time.Millisecond), Report: &player.Report{}}
		for k := range 10 {
			s.Report.Log = append(s.Report.Log, player.SegmentLog{AtMs: float64(4000 * k), BitrateKbps: float64(400 + 100*k), DownloadMs: 300,
				BufferBeforeMs: float64(1000 * k), BufferAfterMs: float64(1000*k + 4000), Result: "ok"})
		}
		run.Sessions = append(run.Sessions, s)
		run.Routes = append(run.Routes, deploy.Route{At: s.Started, Region: reg.Name, Cluster: reg.Name})
		run.Snapshot.Regions = append(run.Snapshot.Regions, deploy.RegionStatus{Name: reg.Name, Cluster: true, Requests: 100, Hits: 90, HitRatio: 0.9})
	}
	run.Routes = append(run.Routes, deploy.Route{At: start.Add(4 * time.Second), Region: "eu-west", Cluster: "us-east"})
	run.Snapshot.OriginRequests = 60 // of 300 client requests
	path := filepath.Join(t.TempDir(), "out", "report.html")
	if err := WriteHTML(path, run); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestFillOf: what a run cost the origin before the players (Filled) and
// during play (the rest), against the clusters' requests, and the
// players' mean startup and total stalls.
func TestFillOf(t *testing.T) {
	r := Run{
		Filled:   deploy.Snapshot{OriginRequests: 66, OriginBytes: 4000},
		Snapshot: deploy.Snapshot{OriginRequests: 106, OriginBytes: 6500, Regions: []deploy.RegionStatus{{Requests: 100}, {Requests: 34}, {}}},
		Sessions: []*deploy.Session{{Report: &player.Report{Metrics: player.Metrics{StartupS: 1, RebufferEvents: 2, RebufferS: 0.5}}},
			{Report: &player.Report{Metrics: player.Metrics{StartupS: 3}}}, {}},
	}
	want := Fill{Mode: "push", PushRequests: 66, PushBytes: 4000, PlayRequests: 40, PlayBytes: 2500, ClientRequests: 134,
		Startup: 4 * time.Second / 3, Stalls: 2, Rebuffer: 500 * time.Millisecond}
	if got := FillOf("push", r); got != want {
		t.Errorf("FillOf = %+v, want %+v", got, want)
	}
}

// TestFailovers: for a failure, each flow's players that were on the
// failed cluster, and how long each took to fetch from another; players
// elsewhere, or that started after it, do not count.
func TestFailovers(t *testing.T) {
	start := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return start.Add(time.Duration(s * float64(time.Second))) }
	run := Run{Start: start, Events: []Event{{At: 3 * time.Second, Action: "fail", Region: "eu-west"}, {At: 7 * time.Second, Action: "restore", Region: "eu-west"}},
		Routes: []deploy.Route{
			{At: at(0.1), Population: 0, Player: 0, Flow: "dns", Cluster: "eu-west"},
			{At: at(0.2), Population: 0, Player: 1, Flow: "dns", Cluster: "eu-west"},
			{At: at(0.3), Population: 1, Player: 0, Flow: "steer", Cluster: "eu-west"},
			{At: at(0.4), Population: 2, Player: 0, Flow: "dns", Cluster: "us-east"}, // elsewhere
			{At: at(3.7), Population: 1, Player: 0, Flow: "steer", Cluster: "us-east"},
			{At: at(4.5), Population: 0, Player: 1, Flow: "dns", Cluster: "us-east"},
			{At: at(4.8), Population: 0, Player: 0, Flow: "dns", Cluster: "us-east"},
			{At: at(5.0), Population: 3, Player: 0, Flow: "dns", Cluster: "us-east"}, // started after
			{At: at(8.0), Population: 0, Player: 0, Flow: "dns", Cluster: "eu-west"}, // back, then away again: counted once
			{At: at(9.0), Population: 0, Player: 0, Flow: "dns", Cluster: "us-east"},
		}}
	got := Failovers(run)
	want := []Failover{
		{Region: "eu-west", At: 3 * time.Second, Flow: "dns", Players: 2, Moved: []time.Duration{1500 * time.Millisecond, 1800 * time.Millisecond}},
		{Region: "eu-west", At: 3 * time.Second, Flow: "steer", Players: 1, Moved: []time.Duration{700 * time.Millisecond}},
	}
	if len(got) != len(want) {
		t.Fatalf("Failovers = %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Region != w.Region || g.At != w.At || g.Flow != w.Flow || g.Players != w.Players || !slices.Equal(g.Moved, w.Moved) {
			t.Errorf("Failovers[%d] = %+v, want %+v", i, g, w)
		}
	}
	if got[0].Median() != 1800*time.Millisecond || (Failover{}).Median() != 0 {
		t.Errorf("medians %s, %s", got[0].Median(), Failover{}.Median())
	}
	var b strings.Builder
	writeFailovers(&b, run)
	for _, line := range []string{"eu-west's cluster failed at 3.00 s:", "KingCDN flow (DNS)       2 of 2 players moved in 1.80 s (median; 1.50-1.80 s)",
		"Netflix flow (steering)  1 of 1 players moved in 0.70 s"} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("failover text lacks %q:\n%s", line, b.String())
		}
	}
}
