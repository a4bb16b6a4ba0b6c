package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/streamcdn/streamcdn/internal/pace"
	"github.com/streamcdn/streamcdn/internal/progress"
	"github.com/streamcdn/streamcdn/internal/serve"
	"github.com/streamcdn/streamcdn/origin"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runPush(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("push", stderr)
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
	svc, err := serve.NewProcess(stderr, *tokenFile, *level)
	if err != nil {
		return err
	}
	if svc.Token == "" {
		return errors.New("push: no admin token: give --token-file or set STREAMCDN_ADMIN_TOKEN")
	}
	m, err := origin.NewPushMetrics(svc.Reg)
	if err != nil {
		return err
	}
	stopMetrics, err := serve.Metrics(*metricsAddr, svc.Reg, stderr, "push")
	if err != nil {
		return err
	}
	defer stopMetrics()
	bars := progress.New(stderr, 100*time.Millisecond)
	cfg := origin.PushConfig{MPD: *mpd, Edges: edges, Token: svc.Token, RateBPS: bps, Concurrency: *conc, Window: win,
		Fill: *fill, Logger: svc.Log, Progress: func(p origin.EdgeProgress) {
			m.Observe(p)
			if !*noProgress {
				bars.Set(p.Edge, p.Line())
			}
		}}
	if win != nil && !win.Contains(time.Now()) {
		fmt.Fprintf(stderr, "push: waiting %s for the window %s to open\n", win.Until(time.Now()).Round(time.Second), win)
	}
	var reports []*origin.PushReport
	if *popular > 0 {
		rep, perr := origin.PushPopular(ctx, origin.PopularConfig{Push: cfg, OriginAdmin: *originAdmin, Origin: *originURL,
			Top: *popular, Since: *since})
		bars.Flush()
		err = perr
		if rep != nil {
			rep.WriteText(stdout)
			reports = rep.Pushes
		}
	} else {
		rep, perr := origin.Push(ctx, cfg)
		bars.Flush()
		err = perr
		if rep != nil {
			reports = append(reports, rep)
		}
	}
	failed := false
	for _, r := range reports {
		r.WriteText(stdout)
		failed = failed || r.Failed()
	}
	if err == nil && failed {
		err = errors.New("push: some objects did not reach every edge; run it again to resume")
	}
	return err
}
