package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/streamcdn/streamcdn/cdndns"
	"github.com/streamcdn/streamcdn/cdndns/examples"
	"github.com/streamcdn/streamcdn/edge"
	"github.com/streamcdn/streamcdn/internal/httpx"
	"github.com/streamcdn/streamcdn/internal/sample"
	"github.com/streamcdn/streamcdn/manifest"
	"github.com/streamcdn/streamcdn/origin"
	"github.com/streamcdn/streamcdn/player"
	"golang.org/x/sync/errgroup"
)

// demoTitle and demoTrailer are the demo's titles, both the built-in
// sample: two of three viewers watch demoTitle, the third demoTrailer.
const (
	demoTitle   = "sample"
	demoTrailer = "trailer"
)

// titleFor is the title viewer v of a region watches.
func titleFor(v int) string {
	if v%3 == 2 {
		return demoTrailer
	}
	return demoTitle
}

// demoFlagsApply checks the flags given (set) against the program they
// run: the topology demo (the default) and the fill comparison (--mode)
// take different flags, and one given to the program that does not use
// it is an error, not silently ignored.
func demoFlagsApply(set map[string]bool, compare bool) error {
	only, want := []string{"port", "profile", "viewers", "abr"}, "with --mode (the fill comparison)"
	if compare {
		only, want = []string{"topology", "prometheus", "report"}, "without --mode (the topology demo)"
	}
	for _, name := range only {
		if set[name] {
			return fmt.Errorf("demo: --%s applies only %s", name, want)
		}
	}
	return nil
}

// demoRegions are the emulated regions: each edge listens on its own
// loopback address, 127.0.R.1.
var demoRegions = []string{"us-east", "eu-west", "ap-south"}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.Int("port", 8080, "The base port: origin on 127.0.0.1:PORT, shield on PORT+1, DNS on PORT+2 (UDP and TCP), region R's edge on 127.0.R.1:PORT. 0 picks free ports.")
	admin := fs.String("admin", "127.0.0.1:9080", "The address of /metrics for every component.")
	profile := fs.String("profile", "live", "The DASH profile to serve the sample in: live or ondemand.")
	viewers := fs.Int("viewers", 3, "Players per region, each resolving video.netcinema.com through the DNS from 127.0.R.2 and streaming the title with ABR from the edge it names, on its own network trace.")
	abr := fs.String("abr", "dynamic", "The players' ABR algorithm: "+strings.Join(player.Names(), ", ")+".")
	speed := fs.Float64("speed", 4, "Dilate the players' time: the 30 s title plays in 30/K s, at K times the traces' bandwidth.")
	duration := fs.Duration("duration", 0, "Stop after this long. Zero means run until interrupted.")
	mode := fs.String("mode", "all", "Instead of the topology demo, compare how edges are filled, on one in-process stack: pull (fetch on a miss), push (every title pushed before the players start; a miss is 404), hybrid (the most watched title pushed, the other pulled), or all: each in turn on fresh caches. --port, --profile, --viewers and --abr apply to this comparison.")
	topology := fs.String("topology", "", "The topology file to run; default: the built-in three-region topology (deploy/examples/three-region.yaml).")
	prom := fs.Bool("prometheus", false, "Also run Prometheus (Debian's prometheus) scraping every component.")
	reportDir := fs.String("report", "", "Where the topology demo writes its report (report.html: the charts and the text); default: a new directory under the system's temporary directory. The status page serves it at /report too.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	compare := set["mode"]
	if err := demoFlagsApply(set, compare); err != nil {
		fs.Usage()
		return err
	}
	if !compare {
		return runTopologyDemo(ctx, topologyDemo{file: *topology, admin: *admin, speed: *speed, duration: *duration, prometheus: *prom, report: *reportDir}, stdout, stderr)
	}
	prof, err := manifest.ParseProfile(*profile)
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, "warn")
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "streamcdn-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if _, err := origin.Repackage(ctx, origin.RepackageConfig{
		Source: sample.FS(), Output: filepath.Join(dir, demoTitle), Profile: prof,
	}); err != nil {
		return fmt.Errorf("write sample: %w", err)
	}
	if _, err := origin.Repackage(ctx, origin.RepackageConfig{
		Source: sample.FS(), Output: filepath.Join(dir, demoTrailer), Profile: prof,
	}); err != nil {
		return fmt.Errorf("write sample: %w", err)
	}
	modes := []string{*mode}
	switch *mode {
	case "all":
		modes = []string{edge.ModePull, edge.ModePush, edge.ModeHybrid}
	case edge.ModePull, edge.ModePush, edge.ModeHybrid:
	default:
		return fmt.Errorf("demo: --mode %q: want pull, push, hybrid or all", *mode)
	}
	if err := player.Known(*abr); err != nil {
		return err
	}
	if *speed <= 0 || *speed > 1000 {
		return fmt.Errorf("demo: --speed %v: want 0 < K <= 1000", *speed)
	}
	st, err := startStack(log, dir, *port, *admin)
	if err != nil {
		return err
	}
	defer st.close()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	served := make(chan error, 1)
	go func() {
		g, ctx := errgroup.WithContext(ctx)
		g.Go(func() error { return serveAll(ctx, log, st.listeners...) })
		g.Go(func() error { return st.dnsSockets.serve(ctx, st.dns) })
		served <- g.Wait()
	}()

	fmt.Fprintf(stdout, "streamcdn demo: the built-in sample as two titles, %s and %s (%s profile), origin -> shield -> edges in %d regions.\n\n",
		demoTitle, demoTrailer, prof, len(demoRegions))
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  origin\thttp://%s/%s/%s\n", st.originAddr, demoTitle, origin.ManifestName)
	fmt.Fprintf(tw, "  shield\thttp://%s/%s/%s\n", st.shieldAddr, demoTitle, origin.ManifestName)
	for _, e := range st.edges {
		fmt.Fprintf(tw, "  edge %s\t%s (admin %s)\n", e.region, e.mpdURL, e.adminURL)
	}
	fmt.Fprintf(tw, "  dns\t%s (netcinema.com and kingcdn.com)\n", st.dnsAddr)
	fmt.Fprintf(tw, "  metrics\thttp://%s/metrics\n", st.adminAddr)
	tw.Flush()
	dnsHost, dnsPort, _ := net.SplitHostPort(st.dnsAddr)
	fmt.Fprintf(stdout, "\nAsk it:          dig @%s -p %s +subnet=127.0.2.0/24 video.netcinema.com\n", dnsHost, dnsPort)
	fmt.Fprintf(stdout, "Watch it with:   ffplay %s\n\n", st.edges[0].mpdURL)

	var results []modeResult
	for _, m := range modes {
		res, err := st.runMode(ctx, stdout, m, *viewers, *abr, *speed)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		results = append(results, res)
	}
	if len(results) > 1 {
		fmt.Fprintf(stdout, "\n== modes compared: the same %d players, fresh caches each time\n", len(demoRegions)**viewers)
		compareModes(stdout, results)
	}
	fmt.Fprintln(stdout, "\nStill serving; Ctrl-C stops the demo.")
	start := time.Now()
	err = <-served
	fmt.Fprintf(stdout, "demo stopped after %s\n", time.Since(start).Round(time.Second))
	return err
}

// stack is the demo's running CDN. The origin, the DNS and the
// listeners live for the whole run; the shield and the edges are made
// anew for each mode (fresh caches, the mode's configuration) and swapped
// in behind the same listeners.
type stack struct {
	originAddr, shieldAddr, adminAddr string
	dnsAddr                           string
	edgePort                          int
	originRequests, originBytes       atomic.Int64
	log                               *slog.Logger
	dir, token                        string
	reg                               *prometheus.Registry
	origin                            *origin.Server
	shield                            swapped
	dns                               *cdndns.Server
	dnsSockets                        *dnsSockets
	edges                             []*demoEdge
	listeners                         []listener
}

type demoEdge struct {
	region, mpdURL string
	ip, adminURL   string
	srv            swapped
	requests, hits atomic.Int64
	bytes          atomic.Int64
}

// swapped is the edge server a mode runs, which setMode replaces behind
// listeners that stay, with its admin handler made once.
type swapped struct{ p atomic.Pointer[running] }

type running struct {
	srv   *edge.Server
	admin http.Handler
}

// swap puts srv in and returns the server it replaces, or nil.
func (s *swapped) swap(srv *edge.Server) *edge.Server {
	if old := s.p.Swap(&running{srv, srv.Admin()}); old != nil {
		return old.srv
	}
	return nil
}

// current is the running server, or nil before the first mode.
func (s *swapped) current() *running { return s.p.Load() }

func (s *swapped) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rn := s.current(); rn != nil {
		rn.srv.ServeHTTP(w, r)
		return
	}
	http.Error(w, "starting", http.StatusServiceUnavailable)
}

// adminHandler serves the running server's admin API.
func (s *swapped) adminHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rn := s.current(); rn != nil {
			rn.admin.ServeHTTP(w, r)
			return
		}
		http.Error(w, "starting", http.StatusServiceUnavailable)
	})
}

func (s *swapped) connContext(ctx context.Context, c net.Conn) context.Context {
	if rn := s.current(); rn != nil {
		return rn.srv.ConnContext(ctx, c)
	}
	return ctx
}

func (s *swapped) close() {
	if rn := s.current(); rn != nil {
		rn.srv.Close()
	}
}

func startStack(log *slog.Logger, dir string, port int, adminAddr string) (_ *stack, err error) {
	st := &stack{log: log, dir: dir, reg: newRegistry(), token: rand.Text()}
	defer func() {
		if err != nil {
			st.close() // st, not the nil returned
		}
	}()
	if st.origin, err = origin.New(origin.Config{Dir: dir, Logger: log,
		Registry: prometheus.WrapRegistererWith(prometheus.Labels{"node": "origin"}, st.reg)}); err != nil {
		return nil, err
	}
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st.originRequests.Add(1)
		rec := &httpx.Recorder{ResponseWriter: w}
		st.origin.ServeHTTP(rec, r)
		st.originBytes.Add(rec.Bytes)
	})
	if st.originAddr, err = st.listen("origin", "127.0.0.1", port, counted); err != nil {
		return nil, err
	}
	if st.shieldAddr, err = st.listen("shield", "127.0.0.1", nextPort(port, 1), &st.shield); err != nil {
		return nil, err
	}
	// Every edge listens on the same port, on its region's address: the
	// DNS answers with an address, the URL keeps its port.
	st.edgePort = port
	for i, region := range demoRegions {
		e := &demoEdge{region: region, ip: fmt.Sprintf("127.0.%d.1", i+1)}
		addr, err := st.listen("edge-"+region, e.ip, st.edgePort, &e.srv)
		if err != nil {
			return nil, err
		}
		st.listeners[len(st.listeners)-1].connContext = e.srv.connContext
		if st.edgePort == 0 {
			_, p, _ := net.SplitHostPort(addr)
			st.edgePort, _ = strconv.Atoi(p)
		}
		e.mpdURL = fmt.Sprintf("http://%s/%s/%s", addr, demoTitle, origin.ManifestName)
		adm, err := st.listen("edge-admin-"+region, e.ip, 0, e.srv.adminHandler())
		if err != nil {
			return nil, err
		}
		e.adminURL = "http://" + adm
		st.edges = append(st.edges, e)
	}
	if err := st.startDNS(log, dir, nextPort(port, 2), prometheus.WrapRegistererWith(prometheus.Labels{"node": "dns"}, st.reg)); err != nil {
		return nil, err
	}
	st.adminAddr, err = st.listen("admin", "", 0, adminMux(st.reg, st.origin.Admin()), adminAddr)
	return st, err
}

// setMode puts a fresh shield and fresh edges in the given mode behind
// the listeners, and closes the previous ones.
func (st *stack) setMode(mode string) error {
	wrap := func(node string) prometheus.Registerer {
		return prometheus.WrapRegistererWith(prometheus.Labels{"node": node, "mode": mode}, st.reg)
	}
	shield, err := edge.New(edge.Config{Upstream: "http://" + st.originAddr, Name: "shield", Mode: edge.ModePull,
		Logger: st.log, Registry: wrap("shield")})
	if err != nil {
		return err
	}
	if old := st.shield.swap(shield); old != nil {
		old.Close()
	}
	for _, e := range st.edges {
		srv, err := edge.New(edge.Config{Upstream: "http://" + st.shieldAddr, Name: "edge-" + e.region, Region: e.region,
			Mode: mode, PinnedDir: filepath.Join(st.dir, ".pinned", mode, e.region), AdminToken: st.token,
			Logger: st.log, Registry: wrap("edge-" + e.region)})
		if err != nil {
			return err
		}
		if old := e.srv.swap(srv); old != nil {
			old.Close()
		}
		e.requests.Store(0)
		e.hits.Store(0)
		e.bytes.Store(0)
	}
	st.originRequests.Store(0)
	st.originBytes.Store(0)
	return nil
}

// startDNS serves the example zones (NetCinema's CNAME to KingCDN, and
// KingCDN's three clusters on 127.0.R.1 with the demo geo database).
func (st *stack) startDNS(log *slog.Logger, dir string, port int, reg prometheus.Registerer) error {
	cfgPath := filepath.Join(dir, "kingcdn.yaml")
	if err := os.WriteFile(cfgPath, examples.KingCDN, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, examples.GeoDBName), examples.GeoDB, 0o644); err != nil {
		return err
	}
	cfg, err := cdndns.LoadConfigFile(cfgPath)
	if err != nil {
		return err
	}
	if st.dns, err = cdndns.New(*cfg, cdndns.Options{Logger: log, Registry: reg}); err != nil {
		return err
	}
	if st.dnsSockets, err = listenDNS(fmt.Sprintf("127.0.0.1:%d", port), 1); err != nil {
		return err
	}
	st.dnsAddr = st.dnsSockets.addr()
	return nil
}

// modeResult is what one mode cost the origin and gave the players.
type modeResult struct {
	mode                        string
	fillRequests, fillBytes     int64 // at the origin, for pushes before play
	originRequests, originBytes int64 // at the origin, during play
	clientRequests              int64
	startup                     float64 // mean, seconds
	stalls                      int
	rebuffer                    float64 // total, seconds
}

// modeDoc says what each mode does in the demo.
var modeDoc = map[string]string{
	edge.ModePull:   "edges fetch on a miss, through the shield",
	edge.ModePush:   "both titles pushed to every edge before the players start; a miss would be 404",
	edge.ModeHybrid: demoTitle + " (two of three viewers) pushed, " + demoTrailer + " pulled on a miss",
}

// runMode runs the viewers once with fresh edges in mode and reports.
func (st *stack) runMode(ctx context.Context, w io.Writer, mode string, viewers int, abr string, speed float64) (modeResult, error) {
	res := modeResult{mode: mode}
	if err := st.setMode(mode); err != nil {
		return res, err
	}
	fmt.Fprintf(w, "\n== mode %s: %s\n", mode, modeDoc[mode])
	var titles []string
	switch mode {
	case edge.ModePush:
		titles = []string{demoTitle, demoTrailer}
	case edge.ModeHybrid:
		titles = []string{demoTitle}
	}
	for _, title := range titles {
		rep, err := st.push(ctx, title)
		if err != nil {
			return res, err
		}
		var bytes int64
		for _, e := range rep.Edges {
			bytes += e.Bytes
		}
		fmt.Fprintf(w, "pushed %s: %d objects to %d edges, %d bytes, in %.2f s\n", title, rep.Objects, len(rep.Edges), bytes, rep.Seconds)
	}
	res.fillRequests, res.fillBytes = st.originRequests.Swap(0), st.originBytes.Swap(0)
	routes, err := st.resolveRegions(ctx)
	if err != nil {
		return res, err
	}
	sessions, playErr := st.runViewers(ctx, routes, viewers, abr, speed)
	if playErr != nil && ctx.Err() != nil {
		return res, ctx.Err()
	}
	st.reportDNS(w, routes)
	fmt.Fprintln(w)
	reportPlayers(w, sessions)
	fmt.Fprintln(w)
	st.report(w)
	res.originRequests, res.originBytes = st.originRequests.Load(), st.originBytes.Load()
	for _, e := range st.edges {
		res.clientRequests += e.requests.Load()
	}
	for _, s := range sessions {
		if s.report != nil {
			res.startup += s.report.StartupS / float64(len(sessions))
			res.stalls += s.report.RebufferEvents
			res.rebuffer += s.report.RebufferS
		}
	}
	return res, playErr
}

// push fills every edge's pinned area with title, from the origin.
func (st *stack) push(ctx context.Context, title string) (*origin.PushReport, error) {
	var edges []string
	for _, e := range st.edges {
		edges = append(edges, e.adminURL)
	}
	rep, err := origin.Push(ctx, origin.PushConfig{MPD: fmt.Sprintf("http://%s/%s/%s", st.originAddr, title, origin.ManifestName),
		Edges: edges, Token: st.token, Concurrency: 8, Logger: st.log})
	if err == nil && rep.Failed() {
		err = fmt.Errorf("push %s: some objects did not reach every edge", title)
	}
	return rep, err
}

// compareModes prints the modes side by side.
func compareModes(w io.Writer, results []modeResult) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "mode\tpush: origin requests\tpush: origin bytes\tplay: origin requests\tplay: origin bytes\tclient requests\torigin offload\tmean startup\tstalls\trebuffer\t\n")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%.1f%%\t%.2f s\t%d\t%.2f s\t\n", r.mode, r.fillRequests, r.fillBytes,
			r.originRequests, r.originBytes, r.clientRequests, 100-pct(r.originRequests, r.clientRequests), r.startup, r.stalls, r.rebuffer)
	}
	tw.Flush()
}

// route is how a region's viewers reach the CDN: the name they resolve,
// the address the DNS gave them, and why.
type route struct {
	region  string
	client  netip.Addr // the viewers' own address, 127.0.R.2
	cname   string
	addr    netip.Addr
	edge    *demoEdge
	explain cdndns.Explanation
}

// demoName is what viewers ask for: NetCinema's name, handed to KingCDN.
const demoName = "video.netcinema.com"

// resolveRegions resolves demoName for each region's viewers through the
// DNS, from their own address, as their local resolver would.
func (st *stack) resolveRegions(ctx context.Context) ([]*route, error) {
	var routes []*route
	for i, region := range demoRegions {
		rt := &route{region: region, client: netip.AddrFrom4([4]byte{127, 0, byte(i + 1), 2})}
		res := player.NewResolver(st.dnsAddr, rt.client.AsSlice())
		cname, err := res.LookupCNAME(ctx, demoName)
		if err != nil {
			return nil, fmt.Errorf("region %s: resolve %s: %w", region, demoName, err)
		}
		rt.cname = strings.TrimSuffix(cname, ".")
		addrs, err := res.LookupNetIP(ctx, "ip4", demoName)
		if err != nil || len(addrs) == 0 {
			return nil, fmt.Errorf("region %s: resolve %s: %v", region, demoName, err)
		}
		rt.addr = addrs[0].Unmap()
		for _, e := range st.edges {
			if e.ip == rt.addr.String() {
				rt.edge = e
			}
		}
		if rt.edge == nil {
			return nil, fmt.Errorf("region %s: %s resolved to %s, which is no demo edge", region, demoName, rt.addr)
		}
		if rt.explain, err = st.dns.Explain(rt.cname, rt.client); err != nil {
			return nil, err
		}
		routes = append(routes, rt)
	}
	return routes, nil
}

// reportDNS prints, per region, what the viewers resolved and why.
func (st *stack) reportDNS(w io.Writer, routes []*route) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "region\tviewers from\t%s ->\tanswer\tcluster\twhy\n", demoName)
	for _, rt := range routes {
		why := rt.explain.Decision.Reason
		if rt.explain.Location != "" {
			why += ": client in " + rt.explain.Location
			for _, c := range rt.explain.Clusters {
				if c.Name == rt.explain.Decision.Cluster && c.DistanceKm != nil {
					why += fmt.Sprintf(", %.0f km away", *c.DistanceKm)
				}
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", rt.region, rt.client, rt.cname, rt.addr, rt.explain.Decision.Cluster, why)
	}
	tw.Flush()
}

func nextPort(port, n int) int {
	if port == 0 {
		return 0
	}
	return port + n
}

// listen binds host:port (or addr when given) and adds it to the stack.
func (st *stack) listen(name, host string, port int, h http.Handler, addr ...string) (string, error) {
	a := fmt.Sprintf("%s:%d", host, port)
	if len(addr) > 0 {
		a = addr[0]
	}
	l, err := listen(name, a, h)
	if err != nil {
		return "", err
	}
	st.listeners = append(st.listeners, l)
	return l.ln.Addr().String(), nil
}

func (st *stack) close() {
	for _, l := range st.listeners {
		l.ln.Close()
	}
	if st.dnsSockets != nil {
		st.dnsSockets.close()
	}
	for _, e := range st.edges {
		e.srv.close()
	}
	st.shield.close()
	if st.origin != nil {
		st.origin.Close()
	}
}

// demoTraces are the players' networks, one per player in turn:
// synthetic, so that the demo needs nothing beside the binary.
var demoTraces = []struct {
	name  string
	trace player.Trace
}{
	{"fibre 2 Mbit/s", player.Trace{{DurationMs: 60000, BandwidthKbps: 2000, LatencyMs: 10}}},
	{"cellular, varying", player.Trace{
		{DurationMs: 4000, BandwidthKbps: 1200, LatencyMs: 60}, {DurationMs: 4000, BandwidthKbps: 400, LatencyMs: 80},
		{DurationMs: 4000, BandwidthKbps: 1500, LatencyMs: 60}, {DurationMs: 6000, BandwidthKbps: 250, LatencyMs: 100},
		{DurationMs: 4000, BandwidthKbps: 900, LatencyMs: 60}}},
	{"DSL 450 kbit/s", player.Trace{{DurationMs: 60000, BandwidthKbps: 450, LatencyMs: 30}}},
}

// demoSession is one player's outcome.
type demoSession struct {
	region, title, trace string
	report               *player.Report
}

// runViewers runs every region's players at once. Each resolves
// video.netcinema.com through the DNS from its region's client address,
// then streams http://video.netcinema.com:PORT/ from the edge it was
// given, with ABR, on its own trace.
func (st *stack) runViewers(ctx context.Context, routes []*route, viewers int, abr string, speed float64) ([]demoSession, error) {
	host := net.JoinHostPort(demoName, strconv.Itoa(st.edgePort))
	sessions := make([]demoSession, len(routes)*viewers)
	var g errgroup.Group
	for ri, rt := range routes {
		for v := range viewers {
			tr := demoTraces[v%len(demoTraces)]
			i := ri*viewers + v
			title := titleFor(v)
			mpdURL := fmt.Sprintf("http://%s/%s/%s", host, title, origin.ManifestName)
			sessions[i] = demoSession{region: rt.region, title: title, trace: tr.name}
			client := player.NewClient(player.ClientConfig{Resolver: st.dnsAddr, LocalAddr: rt.client.AsSlice()})
			client.Transport = &httpx.ObserveRemote{Next: client.Transport, Seen: func(ip string, res *http.Response) {
				countEdge(st.edges, ip, res)
			}}
			g.Go(func() error {
				r, err := player.Play(ctx, player.Config{URL: mpdURL, ABR: abr, Client: client, Trace: tr.trace, TraceName: tr.name,
					Speed: speed, MaxBuffer: 12 * time.Second, SessionID: fmt.Sprintf("%s-%d", rt.region, v)})
				sessions[i].report = r
				client.CloseIdleConnections()
				if err != nil {
					return fmt.Errorf("player %d in %s: %w", v, rt.region, err)
				}
				return nil
			})
		}
	}
	return sessions, g.Wait()
}

// countEdge counts a response from ip against the edge at ip: the
// demo's players' requests, hits and bytes per edge.
func countEdge(edges []*demoEdge, ip string, res *http.Response) {
	for _, e := range edges {
		if e.ip == ip {
			e.requests.Add(1)
			e.bytes.Add(max(res.ContentLength, 0))
			if strings.Contains(res.Header.Get("Cache-Status"), "; hit") {
				e.hits.Add(1)
			}
		}
	}
}

// reportPlayers prints each player's QoE.
func reportPlayers(w io.Writer, sessions []demoSession) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "region\ttitle\tplayer network\tabr\tended\tstartup\tbitrate\tswitches\tstalls\trebuffer\tqoe_lin")
	for _, s := range sessions {
		r := s.report
		if r == nil {
			fmt.Fprintf(tw, "%s\t%s\t%s\t\tnot started\n", s.region, s.title, s.trace)
			continue
		}
		ended := r.Ended
		if len(r.Errors) > 0 {
			ended += fmt.Sprintf(" (%d errors: %s)", len(r.Errors), r.Errors[len(r.Errors)-1].Error)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.2f s\t%.0f kbit/s\t%d\t%d\t%.2f s\t%.3f\n", s.region, s.title, s.trace, r.ABR, ended,
			r.StartupS, r.AvgBitrateKbps, r.Switches, r.RebufferEvents, r.RebufferS, r.QoELin)
	}
	tw.Flush()
}

// report prints each edge's hit ratio and the origin offload.
func (st *stack) report(w io.Writer) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "region\tedge\trequests\thits\thit ratio\tbytes served\t")
	var total int64
	for _, e := range st.edges {
		req, hits := e.requests.Load(), e.hits.Load()
		total += req
		fmt.Fprintf(tw, "%s\tedge-%s\t%d\t%d\t%.1f%%\t%d\t\n", e.region, e.region, req, hits, pct(hits, req), e.bytes.Load())
	}
	tw.Flush()
	o := st.originRequests.Load()
	fmt.Fprintf(w, "\norigin: %d requests for %d client requests: origin offload %.1f%% (%d bytes)\n", o, total, 100-pct(o, total), st.originBytes.Load())
}

func pct(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}
