package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/streamcdn/streamcdn/internal/serve"
	"github.com/streamcdn/streamcdn/player"
)

// playFlags are the session flags play and bench share.
type playFlags struct {
	abr       *string
	maxBuffer *time.Duration
	startup   *time.Duration
	duration  *time.Duration
	speed     *float64
	resolver  *string
	http2     *bool
	cmcd      *string
	noAbandon *bool
	latency   *time.Duration
}

func addPlayFlags(fs *flag.FlagSet, abrDefault string) *playFlags {
	return &playFlags{
		abr:       fs.String("abr", abrDefault, "ABR algorithm: "+strings.Join(player.Names(), ", ")+"."),
		maxBuffer: fs.Duration("max-buffer", 25*time.Second, "The buffer's capacity."),
		startup:   fs.Duration("startup", 0, "Media buffered before playback starts and after a stall resumes (0: one segment)."),
		duration:  fs.Duration("duration", 0, "Play only the title's first D (0: all of it)."),
		speed:     fs.Float64("speed", 1, "Dilate time: media plays K times faster and the trace's bandwidth is K times higher, so decisions are those of speed 1."),
		resolver:  fs.String("resolver", "", "Resolve the host through this DNS server (host:port), following CNAMEs, instead of the system resolver."),
		http2:     fs.Bool("http2", false, "Speak HTTP/2 (h2 over TLS, h2c with prior knowledge over http)."),
		cmcd:      fs.String("cmcd", "", "Send CMCD (CTA-5004) keys br bl d mtp nor ot sid su: query or headers."),
		noAbandon: fs.Bool("no-abandon", false, "Never abandon a download."),
		latency:   fs.Duration("latency", 0, "Latency added to each request of a trace that has none (e.g. 80ms for Pensieve's traces)."),
	}
}

// config is the session Config the flags describe, without URL and trace.
func (f *playFlags) config() (player.Config, error) {
	cm, err := player.ParseCMCD(*f.cmcd)
	if err != nil {
		return player.Config{}, err
	}
	if *f.speed <= 0 || *f.speed > 1000 {
		return player.Config{}, fmt.Errorf("--speed %v: want 0 < K <= 1000", *f.speed)
	}
	return player.Config{ABR: *f.abr, MaxBuffer: *f.maxBuffer, Startup: *f.startup, Duration: *f.duration,
		Speed: *f.speed, CMCD: cm, NoAbandon: *f.noAbandon,
		Client: player.NewClient(player.ClientConfig{Resolver: *f.resolver, HTTP2: *f.http2})}, nil
}

// runPlay streams one title as a headless player:
// streamcdn play URL [--abr NAME] [--trace FILE] [--json FILE] [--log FILE.csv] ...
func runPlay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("play", stderr)
	pf := addPlayFlags(fs, "dynamic")
	tracePath := fs.String("trace", "", "Shape reads to this trace (Sabre JSON or Pensieve text), looping.")
	jsonPath := fs.String("json", "", "Write the session's report as JSON to this file (- for stdout).")
	logPath := fs.String("log", "", "Write the per-segment log as CSV to this file.")
	verbose := fs.String("log-level", "warn", "Log level: debug, info, warn or error.")
	// The URL may come before or after the flags.
	if err := fs.Parse(args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) > 0 {
		if err := fs.Parse(rest[1:]); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("play: one URL, then flags; got also %q", fs.Args())
		}
	}
	if len(rest) == 0 {
		fs.Usage()
		return errors.New("play: the MPD's URL is required")
	}
	cfg, err := pf.config()
	if err != nil {
		return fmt.Errorf("play: %w", err)
	}
	cfg.URL = rest[0]
	if err := player.Known(cfg.ABR); err != nil {
		return fmt.Errorf("play: %w", err)
	}
	if cfg.Logger, err = serve.NewLogger(stderr, *verbose); err != nil {
		return err
	}
	if *tracePath != "" {
		if cfg.Trace, err = player.LoadTrace(*tracePath); err != nil {
			return err
		}
		cfg.Trace = cfg.Trace.WithLatency(*pf.latency)
		cfg.TraceName = *tracePath
	}
	rep, playErr := player.Play(ctx, cfg)
	rep.WriteText(stdout)
	if err := rep.WriteFiles(*jsonPath, *logPath, stdout); err != nil {
		return err
	}
	return playErr
}
