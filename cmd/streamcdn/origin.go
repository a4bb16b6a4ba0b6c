package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/streamcdn/streamcdn/internal/conf"
	"github.com/streamcdn/streamcdn/internal/serve"
	"github.com/streamcdn/streamcdn/origin"
)

func runOrigin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("origin", stderr)
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
	reg := serve.NewRegistry()
	srv, err := origin.New(origin.Config{Dir: *dir, MPDMaxAge: *mpdAge, AccessLog: fr.Access, Logger: log, Registry: reg})
	if err != nil {
		return err
	}
	defer srv.Close()
	pub, adm, err := serve.Bind(serve.Pair{Name: "origin", Addr: *addr, Handler: srv, AdminAddr: *admin, Admin: srv.Admin(), Registry: reg, TLS: fr.TLS})
	if err != nil {
		return err
	}
	log.Info("origin serving", "dir", *dir, "listen", pub.Ln.Addr().String(), "admin", adm.Ln.Addr().String())
	return serve.All(ctx, log, pub, adm)
}
