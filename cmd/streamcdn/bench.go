package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/streamcdn/streamcdn/internal/atomicfile"
	"github.com/streamcdn/streamcdn/internal/progress"
	"github.com/streamcdn/streamcdn/internal/serve"
	"github.com/streamcdn/streamcdn/player"
	"github.com/streamcdn/streamcdn/player/charts"
	"github.com/streamcdn/streamcdn/player/sample"
)

// runBench runs a fleet of players, against a server or in virtual time:
// streamcdn bench --url URL|--video FILE --players N --traces DIR --abr a,b,c [--speed K] [--out DIR].
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
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
	session, err := pf.config()
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	session.URL = *url
	cfg := player.FleetConfig{Players: *players, Session: session, Stagger: *stagger,
		MaxBufferMs: float64(pf.maxBuffer.Milliseconds()), NoAbandon: *pf.noAbandon}
	for _, a := range strings.Split(*pf.abr, ",") {
		if a = strings.TrimSpace(a); a != "" {
			cfg.ABRs = append(cfg.ABRs, strings.ToLower(a))
		}
	}
	if *tracesPath != "" || *url == "" { // a virtual-time fleet always has traces
		if cfg.TraceNames, cfg.Traces, err = loadTraces(*tracesPath); err != nil {
			return err
		}
		for i := range cfg.Traces {
			cfg.Traces[i] = withLatency(cfg.Traces[i], *pf.latency)
		}
	}
	if *url == "" {
		if cfg.Video, err = loadVideo(*videoPath); err != nil {
			return err
		}
	} else {
		resolver, h2 := *pf.resolver, *pf.http2
		cfg.NewClient = func() *http.Client { return player.NewClient(player.ClientConfig{Resolver: resolver, HTTP2: h2}) }
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
	if *metricsAddr != "" {
		l, err := serve.Listen("metrics", *metricsAddr, serve.AdminMux(reg, nil))
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "fleet metrics on http://%s/metrics\n", l.Ln.Addr())
		srvCtx, stop := context.WithCancel(context.Background())
		defer stop()
		go serve.All(srvCtx, slog.New(slog.DiscardHandler), l)
	}
	var base runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&base)
	var peak uint64
	start := time.Now()
	finished := make(chan struct{})
	g.Go(func() error {
		defer close(finished)
		return fleet.Run(gctx)
	})
	g.Go(func() error {
		peak = watchFleet(stderr, fleet, cfg.Players, start, finished, cfg.Video == nil, !*noProgress)
		return nil
	})
	if err := g.Wait(); err != nil {
		return err
	}
	elapsed := time.Since(start)

	table := player.Table(fleet.Reports)
	printFleet(stdout, table)
	segs, delayed, failed := 0, 0, 0
	for _, s := range table {
		segs += s.Segments
		delayed += s.DelayedSegments
		failed += s.Failed
	}
	fmt.Fprintf(stdout, "\n%d sessions in %s (%.1f sessions/s), at most %d at once; %d failed\n", cfg.Players, elapsed.Round(time.Millisecond),
		float64(cfg.Players)/elapsed.Seconds(), fleet.Peak(), failed)
	if cfg.Video == nil {
		fmt.Fprintf(stdout, "segments delayed by the client's CPU (a timer > 50 ms late): %d of %d (%.2f%%)\n", delayed, segs, 100*float64(delayed)/float64(max(segs, 1)))
		if peak > base.HeapInuse+base.StackInuse {
			perPlayer := float64(peak-base.HeapInuse-base.StackInuse) / float64(cfg.Players)
			fmt.Fprintf(stdout, "memory: peak heap+stacks %.1f MiB, %.1f KiB per player\n", float64(peak)/(1<<20), perPlayer/1024)
		}
	}
	if *outDir != "" {
		if err := writeFleet(*outDir, fleet.Reports, table, *sampled); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s: fleet.json sessions.csv segments.csv qoe_cdf.svg bitrate.svg buffer.svg\n", *outDir)
	}
	if failed > 0 {
		return fmt.Errorf("bench: %d of %d sessions failed", failed, cfg.Players)
	}
	return nil
}

// watchFleet shows the fleet's progress on w until finished closes
// (none if !show). For a real fleet (sample) it returns the peak of heap
// and stacks it saw, sampled twice a second.
func watchFleet(w io.Writer, fleet *player.Fleet, players int, start time.Time, finished <-chan struct{}, sample, show bool) uint64 {
	var peak uint64
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	out := progress.New(w, 0) // on a terminal, every tick
	draw := func() {
		if show {
			done := fleet.Done()
			out.Set("fleet", fmt.Sprintf("%s %d/%d sessions, %d running, %s", progress.Bar(done, players, 30), done, players,
				fleet.Active(), time.Since(start).Round(time.Second)))
		}
	}
	for {
		select {
		case <-finished:
			draw()
			out.Flush()
			return peak
		case <-tick.C:
			if sample {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse+ms.StackInuse)
			}
			draw()
		}
	}
}

func printFleet(w io.Writer, table map[string]*player.ABRSummary) {
	abrs := make([]string, 0, len(table))
	for k := range table {
		abrs = append(abrs, k)
	}
	sort.Strings(abrs)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "abr\tmetric\tmean\tmedian\tp95\t\n")
	for _, a := range abrs {
		s := table[a]
		for i, n := range player.FleetMetricNames {
			label := ""
			if i == 0 {
				label = fmt.Sprintf("%s (%d)", a, s.Sessions)
			}
			st := s.Metrics[n]
			fmt.Fprintf(tw, "%s\t%s\t%.4g\t%.4g\t%.4g\t\n", label, n, st.Mean, st.Median, st.P95)
		}
	}
	tw.Flush()
}

// writeFleet writes the fleet's files, each whole or not at all.
func writeFleet(dir string, reports []*player.Report, table map[string]*player.ABRSummary, sampled int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(map[string]any{"summary": table, "sessions": reports}, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, "fleet.json"), append(b, '\n')); err != nil {
		return err
	}
	for name, write := range map[string]func(io.Writer, []*player.Report) error{
		"sessions.csv": player.WriteSessionsCSV, "segments.csv": player.WriteFleetLogCSV,
	} {
		if err := atomicfile.WriteFrom(filepath.Join(dir, name), func(w io.Writer) error { return write(w, reports) }); err != nil {
			return err
		}
	}
	var cdf, rate, buf bytes.Buffer
	if err := charts.QoECDF(&cdf, reports); err != nil {
		return err
	}
	if err := charts.Timelines(&rate, &buf, reports, sampled); err != nil {
		return err
	}
	for name, b := range map[string]*bytes.Buffer{"qoe_cdf.svg": &cdf, "bitrate.svg": &rate, "buffer.svg": &buf} {
		if err := atomicfile.Write(filepath.Join(dir, name), b.Bytes()); err != nil {
			return err
		}
	}
	return nil
}
