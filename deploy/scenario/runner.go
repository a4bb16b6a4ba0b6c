package scenario

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/streamcdn/streamcdn/deploy"
	"github.com/streamcdn/streamcdn/deploy/report"
	"github.com/streamcdn/streamcdn/edge"
	"github.com/streamcdn/streamcdn/internal/serve"
)

// Config is a demo: a topology brought up as processes on this machine,
// its script run, its report written and its status page served.
type Config struct {
	Topology *deploy.Topology
	// Modes, when set, run the topology once per fill mode (pull, push,
	// hybrid; ForMode), each on a fresh deployment, and compare them.
	Modes []string
	// Dir holds the deployments, each in a subdirectory; if empty, a new
	// temporary directory, removed when Run returns.
	Dir string
	// ReportDir is where report.html is written, or report-MODE.html
	// per mode; if empty, a new temporary directory, which stays.
	ReportDir string
	// Speed dilates the players' time; if zero, 1.
	Speed float64
	// EdgePort, when set, is the port every edge cluster answers on (the
	// players' video URLs); otherwise a free one, picked per deployment.
	EdgePort int
	// Listener is the controller's: Run serves the status page, the
	// report (/report) and /metrics from Registry on it until it
	// returns. The state file names it, and Prometheus scrapes it.
	// Required.
	Listener net.Listener
	// Prometheus runs Prometheus (on PATH) beside the components,
	// scraping them all.
	Prometheus bool
	Logger     *slog.Logger
	// Registry gets each deployment's controller metrics, served on
	// Listener; if nil, a new one.
	Registry *prometheus.Registry
	// Out gets the text: where everything is, progress and the reports.
	Out io.Writer
}

// Runner runs a demo and serves its status.
type Runner struct {
	cfg     Config
	status  string // the listener's address
	watcher atomic.Pointer[deploy.Watcher]
	report  atomic.Pointer[string] // the last report written
}

// New checks cfg.
func New(cfg Config) (*Runner, error) {
	switch {
	case cfg.Topology == nil:
		return nil, errors.New("scenario: no topology")
	case len(cfg.Topology.Players) == 0:
		return nil, errors.New("scenario: the topology has no players")
	case cfg.Listener == nil:
		return nil, errors.New("scenario: no status listener")
	case cfg.Speed < 0 || cfg.Speed > 1000:
		return nil, fmt.Errorf("scenario: speed %v: want 0 < K <= 1000", cfg.Speed)
	}
	for _, m := range cfg.Modes {
		if _, err := ForMode(cfg.Topology, m); err != nil {
			return nil, err
		}
	}
	cfg.Speed = cmp.Or(cfg.Speed, 1)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	return &Runner{cfg: cfg, status: cfg.Listener.Addr().String()}, nil
}

// Handler serves the running deployment's status page (deploy.Watcher)
// and, once written, the last report at /report.
func (r *Runner) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /report", func(w http.ResponseWriter, req *http.Request) {
		p := r.report.Load()
		if p == nil {
			http.Error(w, "the report is written when the players finish", http.StatusNotFound)
			return
		}
		http.ServeFile(w, req, *p)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		wa := r.watcher.Load()
		if wa == nil {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		wa.Handler().ServeHTTP(w, req)
	})
	return mux
}

// Run runs the demo: once, or once per mode and then the comparison.
// It fails when a player fails. When every player finished, the last
// deployment serves until ctx ends; then it is taken down. The status
// listener serves until Run returns, and is closed.
func (r *Runner) Run(ctx context.Context) error {
	serveCtx, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	served := make(chan error, 1)
	go func() {
		served <- serve.All(serveCtx, r.cfg.Logger, serve.Listener{Name: "status", Ln: r.cfg.Listener,
			Handler: serve.AdminMux(r.cfg.Registry, r.Handler())})
	}()
	defer func() {
		stopServing()
		if err := <-served; err != nil {
			r.cfg.Logger.Warn("status listener", "err", err)
		}
	}()
	if r.cfg.Dir == "" {
		dir, err := os.MkdirTemp("", "streamcdn-demo-")
		if err != nil {
			return err
		}
		defer func() {
			if err := os.RemoveAll(dir); err != nil {
				fmt.Fprintf(r.cfg.Out, "could not remove %s: %v\n", dir, err)
				return
			}
			fmt.Fprintf(r.cfg.Out, "removed %s (the deployments' titles, caches and logs)\n", dir)
		}()
		r.cfg.Dir = dir
	}
	if r.cfg.ReportDir == "" {
		dir, err := os.MkdirTemp("", "streamcdn-demo-report-")
		if err != nil {
			return err
		}
		r.cfg.ReportDir = dir
	}
	return r.run(ctx)
}

func (r *Runner) run(ctx context.Context) error {
	modes := r.cfg.Modes
	if len(modes) == 0 {
		modes = []string{""} // the topology as it is
	}
	var d *deploy.Deployment
	stop := func() {
		if d != nil {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
			defer cancel()
			st := d.State()
			if err := d.Stop(sctx); err != nil {
				fmt.Fprintf(r.cfg.Out, "stopping deployment %s: %v\n", st.Name, err)
			} else {
				fmt.Fprintf(r.cfg.Out, "stopped deployment %s: its %d processes\n", st.Name, len(st.Processes))
			}
			d = nil
		}
	}
	defer stop()
	var fills []report.Fill
	for _, m := range modes {
		stop()
		t := r.cfg.Topology
		if m != "" {
			t, _ = ForMode(t, m) // checked by New
			fmt.Fprintf(r.cfg.Out, "\n== mode %s: %s\n", m, modeDoc[m])
		}
		var fill report.Fill
		var err error
		d, fill, err = r.runOne(ctx, t, m)
		if err != nil {
			return err
		}
		fills = append(fills, fill)
	}
	if len(fills) > 1 {
		fmt.Fprintf(r.cfg.Out, "\n== modes compared: the same %d players, fresh caches each time\n", r.cfg.Topology.PlayerCount())
		report.Compare(r.cfg.Out, fills)
	}
	fmt.Fprintln(r.cfg.Out, "\nStill serving; Ctrl-C stops the demo.")
	<-ctx.Done()
	return nil
}

// modeDoc says what each fill mode does.
var modeDoc = map[string]string{
	edge.ModePull:   "edges fetch on a miss, through the shield",
	edge.ModePush:   "every title pushed to every edge before the players start; a miss is 404",
	edge.ModeHybrid: "the most watched title pushed before the players start, the others pulled on a miss",
}

// runOne brings t up in its own directory, runs its script and writes its
// report. It returns the deployment, which the caller stops (also on
// error), and what the run cost the origin and gave the players.
func (r *Runner) runOne(ctx context.Context, t *deploy.Topology, mode string) (*deploy.Deployment, report.Fill, error) {
	started := time.Now()
	var reg prometheus.Registerer = r.cfg.Registry
	if mode != "" {
		reg = prometheus.WrapRegistererWith(prometheus.Labels{"mode": mode}, reg)
	}
	plan, err := deploy.NewPlan(t, deploy.PlanConfig{Dir: filepath.Join(r.cfg.Dir, cmp.Or(mode, t.Name)), EdgePort: r.cfg.EdgePort,
		Prometheus: r.cfg.Prometheus, Controller: r.status})
	if err != nil {
		return nil, report.Fill{}, err
	}
	d, err := deploy.Up(ctx, deploy.UpConfig{Plan: plan,
		Status: "http://" + r.status, Logger: r.cfg.Logger, Registry: reg})
	if err != nil {
		return nil, report.Fill{}, err
	}
	w := deploy.NewWatcher(d)
	r.watcher.Store(w)
	out := r.cfg.Out
	fmt.Fprintf(out, "streamcdn demo: topology %q, every component its own process, up in %.2f s.\n\n", t.Name, d.ReadyAfter().Seconds())
	PrintDeployment(out, d.State(), plan)
	fmt.Fprintf(out, "\n== %d players in %d populations stream %s through the DNS, at speed %g\n", t.PlayerCount(), len(t.Players),
		plan.VideoURL("TITLE"), r.cfg.Speed)
	// The watcher reads every edge's counters each second while the
	// script runs, so that an edge killed and restarted keeps what it
	// served before in the report.
	watchCtx, stopWatching := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-watchCtx.Done():
				return
			case <-time.After(time.Second):
				w.Poll(watchCtx)
			}
		}
	}()
	var filled deploy.Snapshot
	run, playErr := Script(ctx, ScriptConfig{State: d.State(), Topology: t, Control: d, Speed: r.cfg.Speed, Logger: r.cfg.Logger,
		Filled: func() { filled = w.Poll(ctx) }})
	stopWatching()
	<-watched
	if playErr != nil && ctx.Err() != nil {
		return d, report.Fill{}, ctx.Err()
	}
	run.Snapshot, run.Filled = w.Poll(context.WithoutCancel(ctx)), filled
	if err := report.Text(out, run); err != nil {
		return d, report.Fill{}, err
	}
	path := filepath.Join(r.cfg.ReportDir, "report.html")
	if mode != "" {
		path = filepath.Join(r.cfg.ReportDir, "report-"+mode+".html")
	}
	if err := report.WriteHTML(path, run); err != nil {
		return d, report.Fill{}, fmt.Errorf("scenario: %w", err)
	}
	r.report.Store(&path)
	fmt.Fprintf(out, "\nreport with charts: %s (and http://%s/report)\n", path, r.status)
	if playErr != nil {
		return d, report.Fill{}, fmt.Errorf("scenario: %w", playErr)
	}
	fmt.Fprintf(out, "\nevery player finished without an error, %.1f s after the start\n", time.Since(started).Seconds())
	return d, report.FillOf(mode, run), nil
}

// ForMode is t with every edge cluster in fill mode m, and its pushes
// replaced by m's fill ahead of demand (pushes at 0s): for push, every
// title; for hybrid, the title most players watch and those the
// steering service's players watch (it offers only edges that hold a
// title whole); for pull, none, and the steered players take the DNS
// flow, as no edge holds anything ahead of demand. Its failures and
// restores stay.
func ForMode(t *deploy.Topology, m string) (*deploy.Topology, error) {
	switch m {
	case edge.ModePull, edge.ModePush, edge.ModeHybrid:
	default:
		return nil, fmt.Errorf("scenario: mode %q: want pull, push or hybrid", m)
	}
	c := *t
	c.Regions = make([]deploy.Region, len(t.Regions))
	for i, r := range t.Regions {
		c.Regions[i] = r
		if r.Edge != nil {
			e := *r.Edge
			e.Mode = m
			c.Regions[i].Edge = &e
		}
	}
	c.Events = nil
	c.Players = slices.Clone(t.Players)
	if m == edge.ModePull {
		c.Steering = nil
		for i := range c.Players {
			c.Players[i].Flow = ""
		}
	}
	var fill []string
	switch m {
	case edge.ModePush:
		for _, ti := range t.Origin.Titles {
			fill = append(fill, ti.Name)
		}
	case edge.ModeHybrid:
		fill = []string{mostWatched(t)}
		for _, p := range t.Players {
			if title := t.TitleOf(p); p.Flow == "steer" && !slices.Contains(fill, title) {
				fill = append(fill, title)
			}
		}
	}
	for _, title := range fill {
		c.Events = append(c.Events, deploy.Event{Action: "push", Title: title})
	}
	for _, e := range t.Events {
		if e.Action != "push" {
			c.Events = append(c.Events, e)
		}
	}
	return &c, c.Validate()
}

// mostWatched is the title with the most players, the first of the
// origin's on a tie.
func mostWatched(t *deploy.Topology) string {
	count := map[string]int{}
	for _, p := range t.Players {
		count[t.TitleOf(p)] += p.Count
	}
	best := t.Origin.Titles[0].Name
	for _, ti := range t.Origin.Titles {
		if count[ti.Name] > count[best] {
			best = ti.Name
		}
	}
	return best
}

// PrintDeployment prints where everything of a deployment is.
func PrintDeployment(w io.Writer, st *deploy.State, plan *deploy.Plan) {
	fmt.Fprintf(w, "deployment %s in %s (id %s)\n\n", st.Name, plan.Dir, st.ID)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "component\tregion\tpid\tlisten\tadmin (/metrics, /healthz)")
	pids := map[string]int{}
	for _, p := range st.Processes {
		pids[p.Component] = p.PID
	}
	for _, c := range plan.Components {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\thttp://%s\n", c.Name, cmp.Or(c.Region, "-"), pids[c.Name], cmp.Or(c.Listen, "-"), c.Admin)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nclusters answer on port %d of 127.0.R.1; players of region R come from 127.0.R.100-199\n", plan.EdgePort)
	for _, u := range st.VideoURLs {
		fmt.Fprintf(w, "video: %s\n", u)
	}
	host, port, _ := net.SplitHostPort(plan.DNS)
	fmt.Fprintf(w, "dns:   dig @%s -p %s -b 127.0.2.100 %s\n", host, port, strings.TrimSuffix(plan.Topology.DNS.Video, "."))
	if plan.Steer != "" {
		t := plan.Topology
		title := t.Origin.Titles[0].Name
		for _, p := range t.Players {
			if p.Flow == "steer" {
				title = t.TitleOf(p)
				break
			}
		}
		fmt.Fprintf(w, "steer: curl --interface 127.0.2.100 %s/%s/manifest.mpd; curl --interface 127.0.2.100 %s/dcsm/%s\n",
			plan.Steer, title, plan.Steer, title)
	}
	if st.Status != "" {
		fmt.Fprintf(w, "status page: %s/   metrics: %s/metrics\n", st.Status, st.Status)
	}
	if plan.Prometheus != "" {
		fmt.Fprintf(w, "prometheus: %s\n", plan.Prometheus)
	}
}
