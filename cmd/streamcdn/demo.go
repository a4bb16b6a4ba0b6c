package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/streamcdn/streamcdn/internal/sample"
	"github.com/streamcdn/streamcdn/manifest"
	"github.com/streamcdn/streamcdn/origin"
)

const demoTitle = "sample"

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("listen", "127.0.0.1:8080", "The address of the demo origin. Use port 0 for any free port.")
	admin := fs.String("admin", "127.0.0.1:9080", "The address of the origin's /metrics and /healthz.")
	profile := fs.String("profile", "live", "The DASH profile to serve the sample in: live or ondemand.")
	duration := fs.Duration("duration", 0, "Stop after this long. Zero means run until interrupted.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	prof, err := manifest.ParseProfile(*profile)
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, "info")
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
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	start := time.Now()
	err = serveOrigin(ctx, log, origin.Config{Dir: dir}, *addr, *admin, func(pub, adm net.Addr) {
		mpdURL := fmt.Sprintf("http://%s/%s/%s", pub, demoTitle, origin.ManifestName)
		fmt.Fprintf(stdout, "streamcdn demo: the built-in sample (%s profile) is served by a local origin.\n\n", prof)
		fmt.Fprintf(stdout, "  MPD      %s\n  metrics  http://%s/metrics\n\n", mpdURL, adm)
		fmt.Fprintf(stdout, "Watch it with:  ffplay %s\n", mpdURL)
		fmt.Fprintf(stdout, "or open the MPD URL in any DASH player (dash.js, shaka-player). Ctrl-C stops the demo.\n")
	})
	fmt.Fprintf(stdout, "demo stopped after %s\n", time.Since(start).Round(time.Second))
	return err
}
