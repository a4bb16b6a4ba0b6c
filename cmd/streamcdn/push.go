package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/streamcdn/streamcdn/internal/pace"
	"github.com/streamcdn/streamcdn/internal/serve"
	"github.com/streamcdn/streamcdn/origin"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runPush(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("push", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mpd := fs.String("mpd", "", "The title's MPD URL on the origin: every segment of every representation, then the MPD, is pushed.")
	var edges stringList
	fs.Var(&edges, "edge", "An edge's admin URL, e.g. http://127.0.0.1:9081. Repeat for each edge.")
	rate := fs.String("rate", "0", "The cap on what each edge receives, e.g. 200Mbit or 1Gbit. 0: no cap.")
	window := fs.String("window", "", "A daily window HH:MM-HH:MM (local time), e.g. 02:00-06:00: wait for it to open, start nothing after it closes.")
	conc := fs.Int("concurrency", 4, "Objects in flight at once.")
	fill := fs.Bool("fill", false, "Hand each edge the list of what it lacks, to fetch from its own upstream at --rate, instead of uploading.")
	popular := fs.Int("popular", 0, "Push the N most requested titles (from --origin-admin) instead of --mpd, biggest demand first, within each edge's pinned budget.")
	since := fs.Duration("since", 24*time.Hour, "With --popular: the demand window.")
	originAdmin := fs.String("origin-admin", "", "With --popular: the origin's admin URL, e.g. http://127.0.0.1:9080.")
	originURL := fs.String("origin", "", "With --popular: the origin's public URL; a title's MPD is ORIGIN/<title>/manifest.mpd.")
	tokenFile := fs.String("token-file", "", "A file holding the edges' admin bearer token. Defaults to $STREAMCDN_ADMIN_TOKEN.")
	metricsAddr := fs.String("metrics", "", "Serve the push's Prometheus metrics on this address while it runs.")
	noProgress := fs.Bool("no-progress", false, "Do not draw the progress bars.")
	level := fs.String("log-level", "warn", "The log level: debug, info, warn or error.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case len(edges) == 0:
		return errors.New("push: at least one --edge is required")
	case (*mpd == "") == (*popular == 0):
		return errors.New("push: give exactly one of --mpd or --popular")
	case *popular > 0 && (*originAdmin == "" || *originURL == ""):
		return errors.New("push: --popular needs --origin-admin and --origin")
	case *conc < 1 || *conc > 256:
		return fmt.Errorf("push: --concurrency %d: want 1 to 256", *conc)
	}
	bps, err := pace.ParseRate(*rate)
	if err != nil {
		return fmt.Errorf("push: --rate: %w", err)
	}
	var win *origin.Window
	if *window != "" {
		if win, err = origin.ParseWindow(*window); err != nil {
			return fmt.Errorf("push: --window: %w", err)
		}
	}
	svc, err := newService(stderr, *tokenFile, *level)
	if err != nil {
		return err
	}
	if svc.token == "" {
		return errors.New("push: no admin token: give --token-file or set STREAMCDN_ADMIN_TOKEN")
	}
	m := newPushMetrics(svc.reg)
	if *metricsAddr != "" {
		l, err := serve.Listen("metrics", *metricsAddr, serve.AdminMux(svc.reg, nil))
		if err != nil {
			return err
		}
		mctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go serve.All(mctx, svc.log, l)
		fmt.Fprintf(stderr, "push metrics on http://%s/metrics\n", l.Ln.Addr())
	}
	bars := newBars(stderr, !*noProgress)
	cfg := origin.PushConfig{MPD: *mpd, Edges: edges, Token: svc.token, RateBPS: bps, Concurrency: *conc, Window: win,
		Fill: *fill, Logger: svc.log, Progress: func(p origin.EdgeProgress) { m.update(p); bars.update(p) }}
	if win != nil && !win.Contains(time.Now()) {
		fmt.Fprintf(stderr, "push: waiting %s for the window %s to open\n", win.Until(time.Now()).Round(time.Second), win)
	}
	var reports []*origin.PushReport
	if *popular > 0 {
		rep, perr := origin.PushPopular(ctx, origin.PopularConfig{Push: cfg, OriginAdmin: *originAdmin, Origin: *originURL,
			Top: *popular, Since: *since})
		bars.finish()
		err = perr
		if rep != nil {
			printPlans(stdout, rep)
			reports = rep.Pushes
		}
	} else {
		rep, perr := origin.Push(ctx, cfg)
		bars.finish()
		err = perr
		if rep != nil {
			reports = append(reports, rep)
		}
	}
	failed := false
	for _, r := range reports {
		printPush(stdout, r)
		failed = failed || r.Failed()
	}
	if err == nil && failed {
		err = errors.New("push: some objects did not reach every edge; run it again to resume")
	}
	return err
}

// printPush prints one title's summary, a row per edge.
func printPush(w io.Writer, r *origin.PushReport) {
	fmt.Fprintf(w, "%s: %d objects\n", r.MPD, r.Objects)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "edge\tpushed\tskipped\tfailed\tleft\tbytes\ttime\tthroughput\t\n")
	for _, e := range r.Edges {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%.2f s\t%s\t\n", e.Edge, e.Pushed, e.Skipped, e.Failed, e.Left, e.Bytes,
			e.Seconds, throughput(e.Bytes, e.Seconds))
	}
	tw.Flush()
	for _, e := range r.Edges {
		for _, f := range e.Failures {
			fmt.Fprintf(w, "  failed on %s: %s: %s\n", e.Edge, f.URL, f.Error)
		}
	}
	if r.WindowClosed {
		fmt.Fprintln(w, "  the window closed: run it again in the next window to send what is left")
	}
}

func throughput(bytes int64, secs float64) string {
	if secs <= 0 || bytes == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f Mbit/s", float64(bytes)*8/secs/1e6)
}

func printPlans(w io.Writer, r *origin.PopularReport) {
	fmt.Fprintln(w, "most requested titles:")
	for i, t := range r.Titles {
		fmt.Fprintf(w, "  %d. %s: %d requests, %d plays, %d bytes\n", i+1, t.Title, t.Requests, t.Plays, t.SizeBytes)
	}
	for _, p := range r.Plans {
		fmt.Fprintf(w, "edge %s: %d bytes free; pushing %s (%d bytes)", p.Edge, p.FreeBytes, strings.Join(p.Titles, ", "), p.PlannedBytes)
		if len(p.DoNotFit) > 0 {
			fmt.Fprintf(w, "; do not fit: %s", strings.Join(p.DoNotFit, ", "))
		}
		fmt.Fprintln(w)
	}
}

// bars draws one progress bar per edge, redrawn in place on a terminal;
// elsewhere, as plain lines every few seconds and at the end.
type bars struct {
	out   *liveOutput
	on    bool
	mu    sync.Mutex
	order []string
	state map[string]origin.EdgeProgress
	drawn int
}

func newBars(w io.Writer, on bool) *bars {
	return &bars{out: newLiveOutput(w, 100*time.Millisecond), on: on, state: map[string]origin.EdgeProgress{}}
}

func (b *bars) update(p origin.EdgeProgress) {
	if !b.on {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.state[p.Edge]; !ok {
		b.order = append(b.order, p.Edge)
	}
	b.state[p.Edge] = p
	if b.out.due(false) {
		b.draw()
	}
}

// draw moves up over the bars drawn before and draws them again. b.mu held.
func (b *bars) draw() {
	const width = 30
	if b.drawn > 0 && b.out.term {
		fmt.Fprintf(b.out.w, "\033[%dA", b.drawn)
	}
	for _, e := range b.order {
		p := b.state[e]
		n := width * p.Done() / max(p.Objects, 1)
		fmt.Fprintf(b.out.w, "%s%s [%s%s] %d/%d objects, %d failed, %.1f MB, %s\n", b.out.lineStart(), e, strings.Repeat("#", n),
			strings.Repeat(".", width-n), p.Done(), p.Objects, p.Failed, float64(p.Bytes)/1e6, throughput(p.Bytes, p.Seconds))
	}
	b.drawn = len(b.order)
}

// finish draws the final state and starts over for the next title.
func (b *bars) finish() {
	if !b.on {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.order) > 0 && b.out.due(true) {
		b.draw()
	}
}

// pushMetrics are the push command's own metrics.
type pushMetrics struct {
	mu         sync.Mutex
	seen       map[string]origin.EdgeProgress
	objects    *prometheus.CounterVec
	bytes      *prometheus.CounterVec
	throughput *prometheus.GaugeVec
}

func newPushMetrics(reg prometheus.Registerer) *pushMetrics {
	m := &pushMetrics{
		seen: map[string]origin.EdgeProgress{},
		objects: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "streamcdn", Subsystem: "push", Name: "objects_total",
			Help: "Objects dealt with, by edge and result (pushed, skipped, failed)."}, []string{"edge", "result"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "streamcdn", Subsystem: "push", Name: "bytes_total",
			Help: "Body bytes pushed, by edge."}, []string{"edge"}),
		throughput: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "streamcdn", Subsystem: "push", Name: "throughput_bytes_per_second",
			Help: "Average push throughput to each edge since its push started."}, []string{"edge"}),
	}
	reg.MustRegister(m.objects, m.bytes, m.throughput)
	return m
}

// update adds what changed since the edge's last progress on the same
// title.
func (m *pushMetrics) update(p origin.EdgeProgress) {
	m.mu.Lock()
	defer m.mu.Unlock()
	prev := m.seen[p.Edge]
	if prev.MPD != p.MPD { // a new title: its counts start from zero
		prev = origin.EdgeProgress{}
	}
	m.objects.WithLabelValues(p.Edge, "pushed").Add(float64(max(p.Pushed-prev.Pushed, 0)))
	m.objects.WithLabelValues(p.Edge, "skipped").Add(float64(max(p.Skipped-prev.Skipped, 0)))
	m.objects.WithLabelValues(p.Edge, "failed").Add(float64(max(p.Failed-prev.Failed, 0)))
	m.bytes.WithLabelValues(p.Edge).Add(float64(max(p.Bytes-prev.Bytes, 0)))
	if p.Seconds > 0 {
		m.throughput.WithLabelValues(p.Edge).Set(float64(p.Bytes) / p.Seconds)
	}
	m.seen[p.Edge] = p
}
