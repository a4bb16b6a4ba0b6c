package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/streamcdn/streamcdn/internal/conf"
	"github.com/streamcdn/streamcdn/internal/serve"
	"github.com/streamcdn/streamcdn/origin"
)

func runOrigin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("origin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "The directory of titles, each at DIR/<title>/manifest.mpd. Required.")
	addr := fs.String("listen", "127.0.0.1:8080", "The address to serve titles on.")
	admin := fs.String("admin", "127.0.0.1:9080", "The address to serve /metrics, /healthz and /titles (request counts per title) on.")
	mpdAge := fs.Duration("mpd-max-age", 0, "The Cache-Control max-age of MPDs. Zero means 10s.")
	level := fs.String("log-level", "info", "The log level: debug, info, warn or error.")
	ff := addFrontFlags(fs)
	config := configFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := conf.ApplyFlags(fs, *config); err != nil {
		return fmt.Errorf("origin: --config %w", err)
	}
	if *dir == "" {
		fs.Usage()
		return errors.New("origin: --dir is required")
	}
	log, err := serve.NewLogger(stderr, *level)
	if err != nil {
		return err
	}
	fr, err := ff.open(ctx, log, stdout)
	if err != nil {
		return err
	}
	defer fr.Close()
	return serveOrigin(ctx, log, origin.Config{Dir: *dir, MPDMaxAge: *mpdAge, AccessLog: fr.Access}, *addr, *admin, fr.TLS, func(pub, adm net.Addr) {
		log.Info("origin serving", "dir", *dir, "listen", pub.String(), "admin", adm.String())
	})
}

// serveOrigin runs an origin over cfg.Dir on addr with its admin listener
// on admin until ctx ends, calling ready once both listen.
func serveOrigin(ctx context.Context, log *slog.Logger, cfg origin.Config, addr, admin string, tlsCfg *tls.Config, ready func(pub, adm net.Addr)) error {
	reg := serve.NewRegistry()
	cfg.Logger, cfg.Registry = log, reg
	srv, err := origin.New(cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	pub, err := serve.Listen("origin", addr, srv)
	if err != nil {
		return err
	}
	adm, err := serve.Listen("admin", admin, serve.AdminMux(reg, srv.Admin()))
	if err != nil {
		pub.Ln.Close()
		return err
	}
	pub.TLS, adm.TLS = tlsCfg, tlsCfg
	ready(pub.Ln.Addr(), adm.Ln.Addr())
	return serve.All(ctx, log, pub, adm)
}
