package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamcdn/streamcdn/deploy/examples"
	"github.com/streamcdn/streamcdn/internal/testutil"
	"github.com/streamcdn/streamcdn/origin"
)

// binary builds the streamcdn command once for the tests that run
// components as processes.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary and runs processes")
	}
	bin := filepath.Join(t.TempDir(), "streamcdn")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/streamcdn/streamcdn/cmd/streamcdn")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// up brings the three-region example up (its players shortened) under
// a fresh directory, and takes it down at the end of the test.
func up(t *testing.T, bin string, prom bool) (*Deployment, *Topology) {
	t.Helper()
	top, err := Load(examples.ThreeRegion)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := NewPlan(top, PlanConfig{Dir: t.TempDir(), Prometheus: prom})
	if err != nil {
		t.Fatal(err)
	}
	d, err := Up(t.Context(), UpConfig{Plan: plan, Binary: bin, Prometheus: "prometheus"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Stop(context.Background()); err != nil {
			t.Error(err)
		}
		if left := Processes(d.ID()); len(left) > 0 {
			t.Errorf("processes left after Stop: %v", left)
		}
	})
	return d, top
}

// TestLocalFailover: a player in each region streams via DNS from its
// own region's cluster; when one region's edge dies, the DNS answers
// that region's clients with another cluster within the health-check
// bound and the players' sessions go on there; Stop leaves nothing.
func TestLocalFailover(t *testing.T) {
	bin := binary(t)
	d, top := up(t, bin, false)
	st := d.State()
	top.Players = []Players{{Region: "us-east", Count: 1}, {Region: "eu-west", Count: 2}, {Region: "ap-south", Count: 1}}

	// Every region's clients get their own cluster while all are up.
	w := NewWatcher(d)
	w.Poll(t.Context())
	sessions, err := Play(t.Context(), PlayConfig{State: st, Topology: top, Speed: 8, Duration: 8 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sessions {
		if len(s.Clusters) != 1 || s.Clusters[0] != s.Region {
			t.Errorf("player %d of %s served by %v, want its own region's cluster", s.Player, s.Region, s.Clusters)
		}
	}
	// The status page's figures come from the clusters' own counters:
	// requests, hit ratio, and the egress since the last poll against
	// the capacity (1 Gbit/s each).
	snap := w.Poll(t.Context())
	for _, r := range snap.Regions {
		if r.Health != "up" || !r.DNSUp || r.NodesUp != 1 || r.Requests == 0 || r.EgressMbps <= 0 {
			t.Errorf("status of %s after play: %+v", r.Name, r)
		}
		if r.HitRatio != float64(r.Hits)/float64(r.Requests) || math.Abs(r.Load-r.EgressMbps/1000) > 1e-12 {
			t.Errorf("status of %s: hit ratio %v of %d/%d, load %v of %v Mbit/s", r.Name, r.HitRatio, r.Hits, r.Requests, r.Load, r.EgressMbps)
		}
	}
	if snap.OriginRequests == 0 || len(snap.Answers) == 0 {
		t.Errorf("status: origin requests %d, DNS answers %v", snap.OriginRequests, snap.Answers)
	}

	// The trailer is pushed to every edge, and a steered player of
	// eu-west joins the next run: the Netflix flow beside the DNS's.
	o, _ := d.plan.Component("origin")
	token, err := d.plan.Token()
	if err != nil {
		t.Fatal(err)
	}
	var admins []string
	for _, c := range d.plan.Components {
		if c.Kind == KindEdge {
			admins = append(admins, "http://"+c.Admin)
		}
	}
	if rep, err := origin.Push(t.Context(), origin.PushConfig{MPD: "http://" + o.Listen + "/trailer/" + origin.ManifestName,
		Edges: admins, Token: token}); err != nil || rep.Failed() {
		t.Fatalf("push: %v", err)
	}
	top.Players = append(top.Players, Players{Region: "eu-west", Count: 1, Title: "trailer", Flow: "steer"})

	// eu-west's edge dies while its players stream.
	bound, _ := top.HealthBound()
	killed := make(chan time.Time, 1)
	var moved time.Time
	go func() {
		time.Sleep(time.Second)
		killed <- time.Now()
		if err := d.Kill("edge-eu-west-1"); err != nil {
			t.Error(err)
		}
	}()
	sessions, err = Play(t.Context(), PlayConfig{State: st, Topology: top, Speed: 2, Duration: 20 * time.Second,
		OnRoute: func(r Route) {
			if r.Region == "eu-west" && r.Cluster != "eu-west" && moved.IsZero() {
				moved = r.At
			}
		}})
	if err != nil {
		t.Fatalf("a session ended in error: %v", err)
	}
	at := <-killed
	for _, s := range sessions {
		if s.Report == nil || s.Report.Ended != "duration" {
			t.Errorf("player %d of %s: %+v", s.Player, s.Region, s.Report)
		}
		if s.Region == "eu-west" {
			if len(s.Clusters) != 2 || s.Clusters[0] != "eu-west" || s.Clusters[1] == "eu-west" {
				t.Errorf("eu-west player %d served by %v, want eu-west then another", s.Player, s.Clusters)
			}
		} else if len(s.Clusters) != 1 || s.Clusters[0] != s.Region {
			t.Errorf("player %d of %s served by %v", s.Player, s.Region, s.Clusters)
		}
	}
	// The bound is on the DNS's side; a player finds out at its next
	// request and retries, so allow its backoff too.
	if moved.IsZero() {
		t.Fatal("eu-west's players never moved")
	}
	t.Logf("eu-west's players moved %.2f s after the kill (health bound %s)", moved.Sub(at).Seconds(), bound)
	// The status page shows the cluster down, in a real browser.
	snap = w.Poll(t.Context())
	// The page's requests reuse a fresh snapshot and poll on a stale one.
	if again := w.Current(t.Context(), time.Hour); !again.At.Equal(snap.At) {
		t.Errorf("a fresh snapshot was taken again: %v, then %v", snap.At, again.At)
	}
	if later := w.Current(t.Context(), 0); !later.At.After(snap.At) {
		t.Errorf("a stale snapshot was not retaken: %v, then %v", snap.At, later.At)
	}
	for _, r := range snap.Regions {
		want := "up"
		if r.Name == "eu-west" {
			want = "down"
		}
		if r.Health != want {
			t.Errorf("status: %s is %q, want %q", r.Name, r.Health, want)
		}
	}
	if len(snap.SteerAnswers) == 0 {
		t.Error("status: no steering answers")
	}
	statusPage(t, w, top)
}

// statusPage serves the status page and renders it in headless
// Chromium: every region is on the map and in the table, with the
// health the page's script fetched.
func statusPage(t *testing.T, w *Watcher, top *Topology) {
	t.Helper()
	chromium := testutil.RequireTool(t, "chromium")
	srv := httptestServer(t, w.Handler())
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
		"--dump-dom", srv+"/").Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	dom := string(out)
	// The deployment's name, in the title and the heading.
	if strings.Contains(dom, "{{NAME}}") || !strings.Contains(dom, "<code>"+top.Name+"</code>") {
		t.Errorf("the page does not name the deployment %q:\n%s", top.Name, dom)
	}
	for _, r := range top.Regions {
		want := "up"
		if r.Name == "eu-west" {
			want = "down"
		}
		if !strings.Contains(dom, fmt.Sprintf(`data-region="%s" data-health="%s"`, r.Name, want)) {
			t.Errorf("the map lacks %s (%s):\n%s", r.Name, want, dom)
		}
		if !strings.Contains(dom, fmt.Sprintf(`<tr data-region="%s"><td>%s</td><td>%s</td>`, r.Name, r.Name, want)) {
			t.Errorf("the table lacks %s (%s)", r.Name, want)
		}
	}
	// Both flows: the DNS's answers, and the steering service's.
	if !strings.Contains(dom, "<td>eu-west</td><td>geo</td>") || strings.Contains(dom, `<table id="steer-table" hidden`) {
		t.Errorf("the page lacks the DNS's or the steering service's answers:\n%s", dom)
	}
}

// TestControllerCrash: when the controller dies without stopping its
// components, none outlives it (the parent-death signal), and Down
// still works from the state file.
func TestControllerCrash(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	topo := filepath.Join(dir, "three-region.yaml")
	if err := os.WriteFile(topo, examples.ThreeRegion, 0o644); err != nil {
		t.Fatal(err)
	}
	ddir := filepath.Join(dir, "deployment")
	cmd := exec.Command(bin, "deploy", "up", "-f", topo, "--dir", ddir, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	testutil.DieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var st *State
	for i := 0; i < 600 && st == nil; i++ { // 60 s
		time.Sleep(100 * time.Millisecond)
		st, _ = ReadState(ddir)
	}
	if st == nil {
		t.Fatal("no state file after 60 s")
	}
	if n := len(Processes(st.ID)); n != len(st.Plan.Components) {
		t.Fatalf("%d processes carry the ID, want %d", n, len(st.Plan.Components))
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	var left []int
	for i := 0; i < 100; i++ { // 10 s
		if left = Processes(st.ID); len(left) == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(left) > 0 {
		t.Errorf("processes outlived the controller: %v", left)
	}
	if _, err := Down(t.Context(), ddir); err != nil {
		t.Error(err)
	}
	if _, err := ReadState(ddir); err == nil {
		t.Error("state file left after Down")
	}
}

// TestPrometheusScrapes: with --prometheus, a real Prometheus scrapes
// every component: up == 1 for each target within 30 s of start.
func TestPrometheusScrapes(t *testing.T) {
	testutil.RequireTool(t, "prometheus")
	bin := binary(t)
	d, _ := up(t, bin, true)
	start := time.Now()
	plan := d.Plan()
	want := len(plan.Components) - 1 // all but Prometheus itself
	var got map[string]float64
	for time.Since(start) < 30*time.Second {
		got = queryUp(t, plan.Prometheus)
		ok := len(got) == want
		for _, v := range got {
			ok = ok && v == 1
		}
		if ok {
			t.Logf("all %d targets up after %.1f s", want, time.Since(start).Seconds())
			dashboardQueries(t, d, plan.Prometheus)
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("after 30 s, up = %v, want %d targets at 1", got, want)
}

// queryUp asks Prometheus's HTTP API for up, by component.
func queryUp(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape("up"))
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var r struct {
		Status string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, s := range r.Data.Result {
		v := 0.0
		if str, ok := s.Value[1].(string); ok && str == "1" {
			v = 1
		}
		out[s.Metric["component"]] = v
	}
	return out
}

// dashboardQueries: every query of the Grafana dashboard is one
// Prometheus accepts, and names only metrics the components export
// (after some traffic: labelled series appear with their first sample).
func dashboardQueries(t *testing.T, d *Deployment, base string) {
	t.Helper()
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(Dashboard, &dash); err != nil {
		t.Fatal(err)
	}
	top := *d.Plan().Topology
	top.Players = []Players{{Region: "us-east", Count: 1}, {Region: "eu-west", Count: 1}}
	if _, err := Play(t.Context(), PlayConfig{State: d.State(), Topology: &top, Speed: 8, Duration: 4 * time.Second}); err != nil {
		t.Fatal(err)
	}
	metric := regexp.MustCompile(`streamcdn_[a-z_]+`)
	var missing []string
	for range 30 { // scrapes every 2 s: 15 s
		names := map[string]bool{}
		resp, err := http.Get(base + "/api/v1/label/__name__/values")
		if err != nil {
			t.Fatal(err)
		}
		var vals struct{ Data []string }
		json.NewDecoder(resp.Body).Decode(&vals)
		resp.Body.Close()
		for _, n := range vals.Data {
			names[n] = true
		}
		missing = nil
		for _, p := range dash.Panels {
			for _, tg := range p.Targets {
				for _, m := range metric.FindAllString(tg.Expr, -1) {
					if !names[m] {
						missing = append(missing, p.Title+": "+m)
					}
				}
			}
		}
		if len(missing) == 0 {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, m := range missing {
		t.Errorf("dashboard panel %s: no component exports it", m)
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(tg.Expr))
			if err != nil {
				t.Fatal(err)
			}
			var r struct{ Status, Error string }
			json.NewDecoder(resp.Body).Decode(&r)
			resp.Body.Close()
			if r.Status != "success" {
				t.Errorf("panel %q: %s: %s", p.Title, tg.Expr, r.Error)
			}
		}
	}
}
