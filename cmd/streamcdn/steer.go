package main

import (
	"context"
	"errors"
	"io"

	"github.com/streamcdn/streamcdn/internal/serve"
	"github.com/streamcdn/streamcdn/steer"
	"golang.org/x/sync/errgroup"
)

func runSteer(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := newFlagSet("steer", stderr)
	config := fs.String("config", "", "The YAML or JSON configuration: origin (base URL), edges (name, url, admin, lat, lon), pathways. Required.")
	addr := fs.String("listen", "127.0.0.1:8070", "The address players ask: GET /TITLE/manifest.mpd and /dcsm/TITLE.")
	admin := fs.String("admin", "127.0.0.1:9070", "The address of /metrics, /healthz; with the token /explain?title=&client= and POST /drain?edge=&on=.")
	tokenFile := fs.String("token-file", "", "A file holding the bearer token of the edges' holdings API and of this admin API. Defaults to $STREAMCDN_ADMIN_TOKEN.")
	geoDB := fs.String("geo-db", "", "A MaxMind-format city database that places clients, over the configuration's geo_db (cdndns/examples/demo-geo.mmdb for the demo's addresses).")
	ttl := fs.Duration("ttl", 0, "The steering manifest's TTL: how often players ask again (default 10s).")
	level := fs.String("log-level", "info", "The log level: debug, info, warn or error.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *config == "" {
		fs.Usage()
		return errors.New("steer: --config is required")
	}
	cfg, err := steer.LoadConfigFile(*config)
	if err != nil {
		return err
	}
	svc, err := serve.NewProcess(stderr, *tokenFile, *level)
	if err != nil {
		return err
	}
	if *geoDB != "" {
		cfg.GeoDB = *geoDB
	}
	cfg.TTL, cfg.Token, cfg.Logger, cfg.Registry = *ttl, svc.Token, svc.Log, svc.Reg
	s, err := steer.New(*cfg)
	if err != nil {
		return err
	}
	pub, adm, err := serve.Bind(serve.Pair{Name: "steer", Addr: *addr, Handler: s, AdminAddr: *admin, Admin: s.Admin(), Registry: svc.Reg})
	if err != nil {
		return err
	}
	svc.Log.Info("steering", "edges", len(cfg.Edges), "listen", pub.Ln.Addr().String(), "admin", adm.Ln.Addr().String())
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { s.Run(ctx); return nil })
	g.Go(func() error { return serve.All(ctx, svc.Log, pub, adm) })
	return g.Wait()
}
