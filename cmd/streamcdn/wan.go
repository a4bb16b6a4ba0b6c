package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/streamcdn/streamcdn/deploy/wan"
	"github.com/streamcdn/streamcdn/internal/conf"
	"github.com/streamcdn/streamcdn/internal/serve"
	"golang.org/x/sync/errgroup"
)

// runWAN runs the TCP proxies that emulate a region's wide-area links
// (deploy up starts one per region).
func runWAN(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := newFlagSet("wan", stderr)
	config := fs.String("config", "", "The JSON configuration: proxies, each with its listen address, backends and paths (client prefix, rtt_ms, rate_bps). Required.")
	admin := fs.String("admin", "127.0.0.1:9090", "The address of /metrics, /healthz and /health/PROXY (200 while the proxy has a healthy backend).")
	level := fs.String("log-level", "info", "The log level: debug, info, warn or error.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *config == "" {
		fs.Usage()
		return errors.New("wan: --config is required")
	}
	data, err := os.ReadFile(*config)
	if err != nil {
		return err
	}
	var cfg wan.Config
	if err := conf.Decode(data, &cfg); err != nil {
		return fmt.Errorf("%s: %w", *config, err)
	}
	log, err := serve.NewLogger(stderr, *level)
	if err != nil {
		return err
	}
	reg := serve.NewRegistry()
	cfg.Logger, cfg.Registry = log, reg
	w, err := wan.New(cfg)
	if err != nil {
		return err
	}
	defer w.Close()
	if err := w.Listen(); err != nil {
		return err
	}
	mux := serve.AdminMux(reg, nil)
	mux.Handle("GET /health/", w.Health())
	adm, err := serve.Listen("admin", *admin, mux)
	if err != nil {
		return err
	}
	log.Info("wan proxies serving", "proxies", len(cfg.Proxies), "admin", adm.Ln.Addr().String())
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return w.Serve(ctx) })
	g.Go(func() error { return serve.All(ctx, log, adm) })
	return g.Wait()
}
