package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/streamcdn/streamcdn/cdndns"
	"github.com/streamcdn/streamcdn/deploy"
	"github.com/streamcdn/streamcdn/deploy/examples"
	demoreport "github.com/streamcdn/streamcdn/deploy/report"
	"github.com/streamcdn/streamcdn/internal/httpx"
	"github.com/streamcdn/streamcdn/origin"
)

// topologyDemo is the demo's run of a topology.
type topologyDemo struct {
	file, admin string
	speed       float64
	duration    time.Duration
	prometheus  bool
	report      string // the report's directory; "": a new temporary one
}

// runTopologyDemo brings the topology up as processes (deploy up), runs
// its player populations through the DNS while its scripted events
// happen, and prints the report. With a duration, it ends then and
// fails unless every player finished without an error; otherwise it
// serves until interrupted.
func runTopologyDemo(ctx context.Context, cfg topologyDemo, stdout, stderr io.Writer) error {
	data := examples.ThreeRegion
	if cfg.file != "" {
		var err error
		if data, err = os.ReadFile(cfg.file); err != nil {
			return err
		}
	}
	top, err := deploy.Load(data)
	if err != nil {
		return err
	}
	if len(top.Players) == 0 {
		return errors.New("demo: the topology has no players")
	}
	if cfg.speed <= 0 || cfg.speed > 1000 {
		return fmt.Errorf("demo: --speed %v: want 0 < K <= 1000", cfg.speed)
	}
	log, err := newLogger(stderr, "warn")
	if err != nil {
		return err
	}
	var promPath string
	if cfg.prometheus {
		if promPath, err = exec.LookPath("prometheus"); err != nil {
			return fmt.Errorf("demo --prometheus: %w", err)
		}
	}
	if cfg.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.duration)
		defer cancel()
	}
	dir, err := os.MkdirTemp("", "streamcdn-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ln, err := net.Listen("tcp", cfg.admin)
	if err != nil {
		return fmt.Errorf("demo: status listener: %w", err)
	}
	plan, err := deploy.NewPlan(top, deploy.PlanConfig{Dir: dir, Prometheus: cfg.prometheus, Controller: ln.Addr().String()})
	if err != nil {
		ln.Close()
		return err
	}
	reg := newRegistry()
	started := time.Now()
	d, err := deploy.Up(ctx, deploy.UpConfig{Plan: plan, Prometheus: promPath, Status: "http://" + ln.Addr().String(), Logger: log, Registry: reg})
	if err != nil {
		ln.Close()
		return err
	}
	defer d.Stop(context.Background())
	w := deploy.NewWatcher(d)
	reportPath := filepath.Join(cfg.report, "report.html")
	if cfg.report == "" {
		rd, err := os.MkdirTemp("", "streamcdn-demo-report-")
		if err != nil {
			return err
		}
		reportPath = filepath.Join(rd, "report.html")
	}
	var reportReady atomic.Bool
	status := adminMux(reg, w.Handler())
	status.HandleFunc("GET /report", func(rw http.ResponseWriter, r *http.Request) {
		if !reportReady.Load() {
			http.Error(rw, "the report is written when the players finish", http.StatusNotFound)
			return
		}
		http.ServeFile(rw, r, reportPath)
	})
	// The status page lives until the demo returns (its context may end
	// first, with --duration).
	serveCtx, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	served := make(chan error, 1)
	go func() {
		served <- serveAll(serveCtx, log, listener{name: "status", ln: ln, h: status})
	}()
	defer func() { stopServing(); <-served }()

	fmt.Fprintf(stdout, "streamcdn demo: topology %q, every component its own process, up in %.2f s.\n\n", top.Name, d.ReadyAfter().Seconds())
	printDeployment(stdout, d.State(), plan)

	// The players, and the scripted events beside them.
	tl := &timeline{start: time.Now()}
	evCtx, stopEvents := context.WithCancel(ctx)
	var evWG sync.WaitGroup
	evWG.Add(1)
	go func() {
		defer evWG.Done()
		runEvents(evCtx, d, top, tl, log)
	}()
	fmt.Fprintf(stdout, "\n== %d players in %d populations stream %s through the DNS, at speed %g\n", top.PlayerCount(), len(top.Players),
		plan.VideoURL("TITLE"), cfg.speed)
	sessions, playErr := deploy.Play(ctx, deploy.PlayConfig{State: d.State(), Topology: top, Speed: cfg.speed, Logger: log,
		OnRoute: func(r deploy.Route) {
			tl.route(r)
		}})
	// Every scripted event runs, also one due after the players finished
	// (a restore), so that the report shows the whole script; a failed
	// run, or the end of ctx, stops them.
	if playErr != nil {
		stopEvents()
	}
	evWG.Wait()
	stopEvents()
	snap := w.Poll(context.Background())
	var text strings.Builder
	report(io.MultiWriter(stdout, &text), d, top, sessions, tl, snap)
	tl.mu.Lock()
	run := demoreport.Run{Topology: top, Start: tl.start, Speed: cfg.speed, Sessions: sessions, Routes: tl.routes,
		Events: tl.marks, Snapshot: snap, Text: text.String()}
	err = demoreport.WriteHTML(reportPath, run)
	tl.mu.Unlock()
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	reportReady.Store(true)
	fmt.Fprintf(stdout, "\nreport with charts: %s (and http://%s/report)\n", reportPath, ln.Addr())
	if playErr != nil {
		return fmt.Errorf("demo: %w", playErr)
	}
	fmt.Fprintf(stdout, "\nevery player finished without an error, %.1f s after the start\n", time.Since(started).Seconds())
	if cfg.duration > 0 {
		fmt.Fprintf(stdout, "status page and /metrics stay up until the %s run ends\n", cfg.duration)
	} else {
		fmt.Fprintln(stdout, "Still serving; Ctrl-C stops the demo.")
	}
	<-ctx.Done() // the duration, or Ctrl-C: both end a run that went well
	return nil
}

// timeline is what happened, when: in words, and as the report's
// charts take it (the players' routes, the scripted events).
type timeline struct {
	start  time.Time
	mu     sync.Mutex
	events []tlEvent
	routes []deploy.Route
	marks  []demoreport.Event
}

// route records a player's move, for the text and the charts.
func (tl *timeline) route(r deploy.Route) {
	tl.add(r.At, fmt.Sprintf("player %d of %s streams from %s", r.Player, r.Region, r.Cluster))
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.routes = append(tl.routes, r)
}

// event records a scripted event now: in words, and marked on the
// charts with label.
func (tl *timeline) event(label, what string) {
	now := time.Now()
	tl.add(now, "EVENT "+what)
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.marks = append(tl.marks, demoreport.Event{At: now.Sub(tl.start), Label: label})
}

type tlEvent struct {
	at   time.Duration
	what string
}

func (tl *timeline) add(at time.Time, what string) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.events = append(tl.events, tlEvent{at.Sub(tl.start), what})
}

// runEvents carries out the topology's events at their times.
func runEvents(ctx context.Context, d *deploy.Deployment, t *deploy.Topology, tl *timeline, log *slog.Logger) {
	evs := append([]deploy.Event(nil), t.Events...)
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].At < evs[j].At })
	plan := d.Plan()
	edgesOf := func(region string) (names, admins []string) {
		for _, c := range plan.Components {
			if c.Kind == deploy.KindEdge && (region == "" || c.Region == region) {
				names, admins = append(names, c.Name), append(admins, "http://"+c.Admin)
			}
		}
		return names, admins
	}
	for _, ev := range evs {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(tl.start.Add(ev.At.D()))):
		}
		names, admins := edgesOf(ev.Region)
		switch ev.Action {
		case "fail":
			tl.event(ev.Region+" fails", fmt.Sprintf("%s's edge cluster fails (%s killed)", ev.Region, strings.Join(names, ", ")))
			if err := d.Kill(names...); err != nil {
				tl.add(time.Now(), "event failed: "+err.Error())
			}
		case "restore":
			tl.event(ev.Region+" restarts", fmt.Sprintf("%s's edge cluster restarts", ev.Region))
			if err := d.Start(ctx, names...); err != nil {
				tl.add(time.Now(), "event failed: "+err.Error())
			} else {
				tl.add(time.Now(), fmt.Sprintf("%s's edge cluster is ready again", ev.Region))
			}
		case "push":
			where := cmp.Or(ev.Region, "every region")
			tl.event("push "+ev.Title, fmt.Sprintf("push fill of %s to %s", ev.Title, where))
			rep, err := pushTitle(ctx, plan, ev.Title, admins, log)
			if err != nil {
				tl.add(time.Now(), "push failed: "+err.Error())
				continue
			}
			var bytes int64
			for _, e := range rep.Edges {
				bytes += e.Bytes
			}
			tl.add(time.Now(), fmt.Sprintf("pushed %s: %d objects, %d bytes to %d edges in %.2f s", ev.Title, rep.Objects, bytes, len(rep.Edges), rep.Seconds))
		}
	}
}

// pushTitle fills the edges' pinned areas with title from the origin.
func pushTitle(ctx context.Context, plan *deploy.Plan, title string, edges []string, log *slog.Logger) (*origin.PushReport, error) {
	o, _ := plan.Component("origin")
	tok, err := os.ReadFile(filepath.Join(plan.Dir, "admin-token"))
	if err != nil {
		return nil, err
	}
	rep, err := origin.Push(ctx, origin.PushConfig{MPD: fmt.Sprintf("http://%s/%s/%s", o.Listen, title, origin.ManifestName),
		Edges: edges, Token: strings.TrimSpace(string(tok)), Concurrency: 8, Logger: log})
	if err == nil && rep.Failed() {
		err = errors.New("some objects did not reach every edge")
	}
	return rep, err
}

// report prints what a person wants to read after the run.
func report(w io.Writer, d *deploy.Deployment, t *deploy.Topology, sessions []*deploy.Session, tl *timeline, snap deploy.Snapshot) {
	plan := d.Plan()
	fmt.Fprintln(w, "\n== where each region's clients were sent, and why (the DNS's explanation now)")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "region\tclients\tcluster\twhy")
	hc := &http.Client{Timeout: 2 * time.Second}
	token, _ := os.ReadFile(filepath.Join(plan.Dir, "admin-token"))
	for i, r := range t.Regions {
		client := deploy.PlayerIP(i+1, 0)
		var e cdndns.Explanation
		u := plan.DNSAdmin + "/explain?name=" + url.QueryEscape(t.DNS.Host) + "&client=" + client
		if err := httpx.DoJSON(context.Background(), hc, http.MethodGet, u, strings.TrimSpace(string(token)), nil, &e); err != nil {
			fmt.Fprintf(tw, "%s\t%s\t?\t%v\n", r.Name, client, err)
			continue
		}
		why := e.Decision.Reason
		for _, c := range e.Clusters {
			if c.Name == e.Decision.Cluster && c.DistanceKm != nil {
				why += fmt.Sprintf(": client in %s, %.0f km away", cmp.Or(e.Location, "?"), *c.DistanceKm)
			}
		}
		fmt.Fprintf(tw, "%s\t%s/24\t%s\t%s\n", r.Name, deploy.RegionIP(i+1, 0), e.Decision.Cluster, why)
	}
	tw.Flush()

	fmt.Fprintln(w, "\n== QoE per player population")
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "population\tplayers\ttitle\tabr\tclusters\tfinished\tmean startup\tmean bitrate\tstalls\trebuffer\tretries")
	for pi, p := range t.Players {
		var n, ok, stalls, retries int
		var startup, bitrate, rebuffer float64
		clusters := map[string]bool{}
		var title, abr string
		for _, s := range sessions {
			if s.Population != pi {
				continue
			}
			n++
			title, abr = s.Title, s.ABR
			for _, c := range s.Clusters {
				clusters[c] = true
			}
			if r := s.Report; r != nil {
				if s.Err == "" {
					ok++
				}
				startup += r.StartupS
				bitrate += r.AvgBitrateKbps
				stalls += r.RebufferEvents
				rebuffer += r.RebufferS
				retries += len(r.Errors)
			}
		}
		var cl []string
		for c := range clusters {
			cl = append(cl, c)
		}
		sort.Strings(cl)
		fmt.Fprintf(tw, "%s #%d\t%d\t%s\t%s\t%s\t%d/%d\t%.2f s\t%.0f kbit/s\t%d\t%.2f s\t%d\n", p.Region, pi, n, title, abr, strings.Join(cl, ","),
			ok, n, startup/float64(max(n, 1)), bitrate/float64(max(n, 1)), stalls, rebuffer, retries)
	}
	tw.Flush()

	fmt.Fprintln(w, "\n== clusters: hit ratio and origin offload")
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "cluster\thealth\tnodes up\trequests\thits\thit ratio\t")
	var total int64
	for _, r := range snap.Regions {
		if !r.Cluster {
			continue
		}
		total += r.Requests
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%d\t%d\t%.1f%%\t\n", r.Name, r.Health, r.NodesUp, r.Nodes, r.Requests, r.Hits, 100*r.HitRatio)
	}
	tw.Flush()
	if o := snap.OriginRequests; total > 0 {
		fmt.Fprintf(w, "origin: %d requests for %d client requests: origin offload %.1f%%\n", o, total, 100-100*float64(o)/float64(total))
	}
	var answers []string
	for _, a := range snap.Answers {
		answers = append(answers, fmt.Sprintf("%s by %s: %d", a.Cluster, a.Reason, a.Count))
	}
	fmt.Fprintf(w, "DNS answers: %s\n", strings.Join(answers, "; "))

	fmt.Fprintln(w, "\n== timeline: events and DNS decisions as the players saw them")
	tl.mu.Lock()
	for _, e := range tl.events {
		fmt.Fprintf(w, "%7.2f s  %s\n", e.at.Seconds(), e.what)
	}
	tl.mu.Unlock()
}
