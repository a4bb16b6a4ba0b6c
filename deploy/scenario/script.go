// Package scenario runs a topology end to end: its player populations
// stream through the DNS while its scripted events happen (a cluster
// fails and is restored, a title is pushed), and the run becomes a
// report (deploy/report, text and HTML).
//
// Script plays the script against a deployment that is up: one this
// process controls (deploy.Deployment) or one another controller runs
// (deploy.Remote). Runner is the whole demo: it brings the topology up
// as processes (deploy.Up), runs the script, writes the report and
// serves the status page; with fill modes it does so once per mode, on
// fresh caches, and compares them.
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
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/streamcdn/streamcdn/cdndns"
	"github.com/streamcdn/streamcdn/deploy"
	"github.com/streamcdn/streamcdn/deploy/report"
	"github.com/streamcdn/streamcdn/internal/httpx"
	"github.com/streamcdn/streamcdn/origin"
)

// ScriptConfig is a run of a topology's players and events against a
// deployment that is up.
type ScriptConfig struct {
	// State is the deployment's.
	State *deploy.State
	// Topology's players and events are run; if nil, the deployment's.
	Topology *deploy.Topology
	// Control carries out the fail and restore events.
	Control deploy.Control
	// Speed dilates the players' time; if zero, 1.
	Speed float64
	// Duration, when set, plays only each title's first D.
	Duration time.Duration
	// Filled, when set, is called once the fill ahead of demand (the
	// pushes at 0s) is done, before the first player starts.
	Filled func()
	Logger *slog.Logger
}

// Script runs cfg's players and, beside them, its events at their
// times. A push at 0s is a fill ahead of demand: it completes before the
// first player starts. Every event runs, also one due after the players
// finished (a restore), unless a player fails or ctx ends. The returned
// run has everything but the Snapshot, which the caller takes; its error
// is the first failed player's.
func Script(ctx context.Context, cfg ScriptConfig) (report.Run, error) {
	t := cmp.Or(cfg.Topology, cfg.State.Topology)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Speed = cmp.Or(cfg.Speed, 1)
	run := report.Run{Topology: t, Speed: cfg.Speed}
	if len(t.Players) == 0 {
		return run, errors.New("scenario: the topology has no players")
	}
	ev := &events{plan: cfg.State.Plan, ctl: cfg.Control, log: cfg.Logger, tl: &timeline{start: time.Now()}}
	before, during := prefill(t.Events)
	for _, e := range before {
		if err := ev.do(ctx, e); err != nil {
			return run, err
		}
	}
	if cfg.Filled != nil {
		cfg.Filled()
	}
	if t.Steering != nil {
		run.SteeringTTL = t.Steering.SteeringTTL()
	}
	run.ChainFrom, run.Chain = chain(ctx, cfg.State, t)
	ev.tl.begin()
	evCtx, stopEvents := context.WithCancel(ctx)
	defer stopEvents()
	var wg sync.WaitGroup
	wg.Go(func() { ev.run(evCtx, during) })
	sessions, err := deploy.Play(ctx, deploy.PlayConfig{State: cfg.State, Topology: t, Speed: cfg.Speed, Duration: cfg.Duration,
		Logger: cfg.Logger, OnRoute: ev.tl.route})
	if err != nil {
		stopEvents()
	}
	wg.Wait()
	run.Sessions = sessions
	run.Start, run.Routes, run.Events, run.Timeline = ev.tl.result()
	run.Explained = explain(cfg.State, t)
	return run, err
}

// PlayConfig is a run of a topology's players and events against a
// deployment another process controls ("deploy play").
type PlayConfig struct {
	// State is the deployment's, from its state file.
	State *deploy.State
	// Topology's players and events are run; if nil, the deployment's.
	Topology *deploy.Topology
	Speed    float64
	Duration time.Duration
	// Out gets a row per player, then the report (report.Text).
	Out io.Writer
}

// Play runs the script against the deployment cfg.State describes,
// asking its controller (deploy.Remote) to carry out failures and
// restores, and writes the report with the controller's status at the
// end. Its error is the first failed player's.
func Play(ctx context.Context, cfg PlayConfig) error {
	remote, err := deploy.NewRemote(cfg.State)
	if err != nil {
		return err
	}
	run, playErr := Script(ctx, ScriptConfig{State: cfg.State, Topology: cfg.Topology, Control: remote, Speed: cfg.Speed, Duration: cfg.Duration})
	report.Sessions(cfg.Out, run.Sessions)
	if run.Snapshot, err = remote.Snapshot(context.WithoutCancel(ctx)); err != nil {
		fmt.Fprintf(cfg.Out, "\n(no status from the controller: %v)\n", err)
	}
	if err := report.Text(cfg.Out, run); err != nil {
		return err
	}
	return playErr
}

// prefill splits events into the pushes at 0s, which fill the edges
// before the players start, and the rest, in time order.
func prefill(evs []deploy.Event) (before, during []deploy.Event) {
	for _, e := range evs {
		if e.Action == "push" && e.At.D() == 0 {
			before = append(before, e)
		} else {
			during = append(during, e)
		}
	}
	slices.SortStableFunc(during, func(a, b deploy.Event) int { return cmp.Compare(a.At, b.At) })
	return before, during
}

// events carries out a topology's events.
type events struct {
	plan *deploy.Plan
	ctl  deploy.Control
	log  *slog.Logger
	tl   *timeline
}

// run does each event at its time since the timeline's start.
func (ev *events) run(ctx context.Context, evs []deploy.Event) {
	for _, e := range evs {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(ev.tl.at(e.At.D()))):
		}
		if err := ev.do(ctx, e); err != nil {
			ev.tl.add(time.Now(), "event failed: "+err.Error())
		}
	}
}

// do carries out one event and records it.
func (ev *events) do(ctx context.Context, e deploy.Event) error {
	names, admins := ev.edges(e.Region)
	if ev.ctl == nil && e.Action != "push" {
		return fmt.Errorf("scenario: %s %s: no control of the deployment's processes", e.Action, e.Region)
	}
	switch e.Action {
	case "fail":
		ev.tl.event(e, e.Region+" fails", fmt.Sprintf("%s's edge cluster fails (%s killed)", e.Region, strings.Join(names, ", ")))
		return ev.ctl.Kill(names...)
	case "restore":
		ev.tl.event(e, e.Region+" restarts", fmt.Sprintf("%s's edge cluster restarts", e.Region))
		if err := ev.ctl.Start(ctx, names...); err != nil {
			return err
		}
		ev.tl.add(time.Now(), fmt.Sprintf("%s's edge cluster is ready again", e.Region))
	case "push":
		ev.tl.event(e, "push "+e.Title, fmt.Sprintf("push fill of %s to %s", e.Title, cmp.Or(e.Region, "every region")))
		rep, err := ev.push(ctx, e.Title, admins)
		if err != nil {
			return fmt.Errorf("push %s: %w", e.Title, err)
		}
		var bytes int64
		for _, e := range rep.Edges {
			bytes += e.Bytes
		}
		ev.tl.add(time.Now(), fmt.Sprintf("pushed %s: %d objects, %d bytes to %d edges in %.2f s", e.Title, rep.Objects, bytes, len(rep.Edges), rep.Seconds))
	default:
		return fmt.Errorf("scenario: unknown action %q", e.Action)
	}
	return nil
}

// edges are the names and admin URLs of region's edges, or of every
// edge when region is "".
func (ev *events) edges(region string) (names, admins []string) {
	for _, c := range ev.plan.Components {
		if c.Kind == deploy.KindEdge && (region == "" || c.Region == region) {
			names, admins = append(names, c.Name), append(admins, "http://"+c.Admin)
		}
	}
	return names, admins
}

// push fills the edges' pinned areas with title, from the origin.
func (ev *events) push(ctx context.Context, title string, edges []string) (*origin.PushReport, error) {
	o, _ := ev.plan.Component("origin")
	token, err := ev.plan.Token()
	if err != nil {
		return nil, err
	}
	rep, err := origin.Push(ctx, origin.PushConfig{MPD: fmt.Sprintf("http://%s/%s/%s", o.Listen, title, origin.ManifestName),
		Edges: edges, Token: token, Concurrency: 8, Logger: ev.log})
	if err == nil && rep.Failed() {
		err = errors.New("some objects did not reach every edge")
	}
	return rep, err
}

// explain asks the DNS, for each region's clients, where it sends them
// and why.
func explain(st *deploy.State, t *deploy.Topology) []report.Explained {
	hc := &http.Client{Timeout: 2 * time.Second}
	token, _ := st.Plan.Token()
	var out []report.Explained
	for i, r := range t.Regions {
		client := deploy.PlayerIP(i+1, 0)
		ex := report.Explained{Region: r.Name, Clients: deploy.RegionIP(i+1, 0) + "/24", Cluster: "?"}
		var e cdndns.Explanation
		u := st.Plan.DNSAdmin + "/explain?name=" + url.QueryEscape(t.DNS.Host) + "&client=" + client
		if err := httpx.DoJSON(context.Background(), hc, http.MethodGet, u, token, nil, &e); err != nil {
			ex.Why = err.Error()
			out = append(out, ex)
			continue
		}
		ex.Cluster, ex.Why = e.Decision.Cluster, e.Decision.Reason
		if e.Decision.Reason == "health" {
			ex.Why = fmt.Sprintf("health: %s down; the next best by %s", strings.Join(e.Decision.Down, ", "), e.Decision.Ranking)
		}
		for _, c := range e.Clusters {
			if c.Name == e.Decision.Cluster && c.DistanceKm != nil {
				ex.Why += fmt.Sprintf(": client in %s, %.0f km away", cmp.Or(e.Location, "?"), *c.DistanceKm)
			}
		}
		out = append(out, ex)
	}
	return out
}

// chain asks the deployment's DNS for the provider's video host as a
// stub resolver of the first region with DNS players would (from its
// address), and returns the answer's records: the CNAME to the CDN host
// and the cluster's address, each A named by its region. On an error,
// the error is the one line.
func chain(ctx context.Context, st *deploy.State, t *deploy.Topology) (from string, rrs []string) {
	R := 0
	for _, p := range t.Players {
		if p.Flow == "" || p.Flow == "dns" {
			_, R = t.Region(p.Region)
			break
		}
	}
	if R == 0 {
		return "", nil
	}
	from = deploy.PlayerIP(R, 0)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c := &dns.Client{Net: "udp", Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(from)}}}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(t.DNS.Video), dns.TypeA)
	in, _, err := c.ExchangeContext(ctx, m, st.Plan.DNS)
	if err != nil {
		return from, []string{"no answer: " + err.Error()}
	}
	for _, rr := range in.Answer {
		line := strings.ReplaceAll(rr.String(), "\t", " ")
		if a, ok := rr.(*dns.A); ok {
			for i, r := range t.Regions {
				if a.A.String() == deploy.ClusterIP(i+1) {
					line += "   (" + r.Name + "'s edge cluster)"
				}
			}
		}
		rrs = append(rrs, line)
	}
	if len(rrs) == 0 {
		rrs = []string{"no records: " + dns.RcodeToString[in.Rcode]}
	}
	return from, rrs
}

// timeline is what happened, when: in words, and as the report's
// charts take it (the players' routes, the scripted events).
type timeline struct {
	mu     sync.Mutex
	start  time.Time
	lines  []report.Line
	routes []deploy.Route
	marks  []report.Event
}

// begin starts the clock: what happened before (a fill ahead of demand)
// is at 0.
func (tl *timeline) begin() {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.start = time.Now()
	for i := range tl.lines {
		tl.lines[i].At = 0
	}
	for i := range tl.marks {
		tl.marks[i].At = 0
	}
}

// at is the time d after the start.
func (tl *timeline) at(d time.Duration) time.Time {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return tl.start.Add(d)
}

// route records a player's move, for the text and the charts.
func (tl *timeline) route(r deploy.Route) {
	who := fmt.Sprintf("player %d of %s", r.Player, r.Region)
	if r.Flow == "steer" {
		who += " (steered)"
	}
	tl.add(r.At, fmt.Sprintf("%s streams from %s", who, r.Cluster))
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.routes = append(tl.routes, r)
}

// event records a scripted event now: in words, and marked on the
// charts with label.
func (tl *timeline) event(e deploy.Event, label, what string) {
	now := time.Now()
	tl.add(now, "EVENT "+what)
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.marks = append(tl.marks, report.Event{At: now.Sub(tl.start), Label: label, Action: e.Action, Region: e.Region})
}

func (tl *timeline) add(at time.Time, what string) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.lines = append(tl.lines, report.Line{At: at.Sub(tl.start), What: what})
}

func (tl *timeline) result() (time.Time, []deploy.Route, []report.Event, []report.Line) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return tl.start, slices.Clone(tl.routes), slices.Clone(tl.marks), slices.Clone(tl.lines)
}
