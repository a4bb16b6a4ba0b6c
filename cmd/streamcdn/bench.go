package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/streamcdn/streamcdn/internal/progress"
	"github.com/streamcdn/streamcdn/internal/serve"
	"github.com/streamcdn/streamcdn/player"
	"github.com/streamcdn/streamcdn/player/charts"
	"github.com/streamcdn/streamcdn/player/sample"
)

// runBench runs a fleet of players, against a server or in virtual time:
// streamcdn bench --url URL|--video FILE --players N --traces DIR --abr a,b,c [--speed K] [--out DIR].
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", stderr)
	pf := addPlayFlags(fs, "bolae")
	url := fs.String("url", "", "The MPD to stream: a real-HTTP fleet.")
	videoPath := fs.String("video", "", "A video description in Sabre's format: a virtual-time fleet (Sabre's model). Without --url or --video, the built-in "+sample.VideoName+".")
	players := fs.Int("players", 10, "The number of sessions; real ones all run at once.")
	tracesPath := fs.String("traces", "", "A trace or a directory of traces, assigned round-robin (virtual-time fleet default: the built-in "+sample.TracesName+").")
	outDir := fs.String("out", "", "Write fleet.json, sessions.csv, segments.csv and the charts (qoe_cdf.svg, bitrate.svg, buffer.svg) here.")
	stagger := fs.Duration("stagger", 0, "Spread real sessions' starts over this time.")
	metricsAddr := fs.String("metrics", "", "Serve the fleet's Prometheus metrics on this address while it runs.")
	sampled := fs.Int("sample", 4, "Sessions drawn in the timeline charts.")
	noProgress := fs.Bool("no-progress", false, "Do not draw the progress bar.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url != "" && *videoPath != "" {
		fs.Usage()
		return errors.New("bench: give --url or --video, not both")
	}
	cfg, err := fleetConfig(pf, *url, *videoPath, *tracesPath, *players, *stagger)
	if err != nil {
		return err
	}
	reg := serve.NewRegistry()
	if cfg.Session.Metrics, err = player.NewFleetMetrics(reg); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	fleet, err := player.NewFleet(cfg)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}

	g, gctx := errgroup.WithContext(ctx)
	stopMetrics, err := serve.Metrics(*metricsAddr, reg, stderr, "fleet")
	if err != nil {
		return err
	}
	defer stopMetrics()
	start := time.Now()
	finished := make(chan struct{})
	g.Go(func() error {
		defer close(finished)
		return fleet.Run(gctx)
	})
	if !*noProgress {
		g.Go(func() error { watchFleet(stderr, fleet, start, finished); return nil })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	table := player.Table(fleet.Reports)
	failed := fleet.WriteSummary(stdout, table, time.Since(start))
	if *outDir != "" {
		if err := charts.WriteFleet(*outDir, fleet.Reports, table, *sampled); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s: fleet.json sessions.csv segments.csv qoe_cdf.svg bitrate.svg buffer.svg\n", *outDir)
	}
	if failed > 0 {
		return fmt.Errorf("bench: %d of %d sessions failed", failed, cfg.Players)
	}
	return nil
}

// watchFleet draws the fleet's progress on w until finished closes.
func watchFleet(w io.Writer, fleet *player.Fleet, start time.Time, finished <-chan struct{}) {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	out := progress.New(w, 0) // on a terminal, every tick
	set := func() {
		done := fleet.Done()
		out.Set("fleet", fmt.Sprintf("%s %d/%d sessions, %d running, %s", progress.Bar(done, len(fleet.Reports), 30), done,
			len(fleet.Reports), fleet.Active(), time.Since(start).Round(time.Second)))
	}
	for {
		select {
		case <-finished:
			set()
			out.Flush()
			return
		case <-tick.C:
			set()
		}
	}
}

// fleetConfig is the fleet the flags describe: a real-HTTP one with a
// URL, else a virtual-time one on the video (default: the built-in).
func fleetConfig(pf *playFlags, url, videoPath, tracesPath string, players int, stagger time.Duration) (player.FleetConfig, error) {
	session, err := pf.config()
	if err != nil {
		return player.FleetConfig{}, fmt.Errorf("bench: %w", err)
	}
	session.URL = url
	cfg := player.FleetConfig{Players: players, Session: session, Stagger: stagger,
		MaxBufferMs: float64(pf.maxBuffer.Milliseconds()), NoAbandon: *pf.noAbandon}
	for _, a := range strings.Split(*pf.abr, ",") {
		if a = strings.TrimSpace(a); a != "" {
			cfg.ABRs = append(cfg.ABRs, strings.ToLower(a))
		}
	}
	if tracesPath != "" || url == "" { // a virtual-time fleet always has traces
		if cfg.TraceNames, cfg.Traces, err = sample.LoadTraces(tracesPath); err != nil {
			return cfg, err
		}
		for i := range cfg.Traces {
			cfg.Traces[i] = cfg.Traces[i].WithLatency(*pf.latency)
		}
	}
	if url == "" {
		if cfg.Video, err = sample.LoadVideo(videoPath); err != nil {
			return cfg, err
		}
	} else {
		resolver, h2 := *pf.resolver, *pf.http2
		cfg.NewClient = func() *http.Client { return player.NewClient(player.ClientConfig{Resolver: resolver, HTTP2: h2}) }
	}
	return cfg, nil
}
