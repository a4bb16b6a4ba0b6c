package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/streamcdn/streamcdn/internal/httpx"
	"github.com/streamcdn/streamcdn/internal/serve"
	"github.com/streamcdn/streamcdn/steer"
	"golang.org/x/sync/errgroup"
)

func runSteer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "explain" {
		return runSteerExplain(ctx, args[1:], stdout, stderr)
	}
	fs := newFlagSet("steer", stderr)
	config := fs.String("config", "", "The YAML or JSON configuration: origin (base URL), edges (name, url, admin, lat, lon), pathways. Required.")
	addr := fs.String("listen", "127.0.0.1:8070", "The address players ask: GET /TITLE/manifest.mpd and /dcsm/TITLE.")
	admin := fs.String("admin", "127.0.0.1:9070", "The address of /metrics, /healthz; with the token /explain?title=&client=, POST /drain?edge=&on=, and the edges' POST /rtt and /load.")
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

// runSteerExplain asks a running steering service why it sends a client
// of a title where it does: streamcdn steer explain [--admin URL]
// [--client IP] TITLE.
func runSteerExplain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("steer explain", stderr)
	admin := fs.String("admin", "http://127.0.0.1:9070", "The steering service's admin URL.")
	client := fs.String("client", "127.0.0.1", "The client's address.")
	tokenFile := fs.String("token-file", "", "A file holding the service's admin bearer token. Defaults to $STREAMCDN_ADMIN_TOKEN.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("steer explain: give one title")
	}
	if _, err := netip.ParseAddr(*client); err != nil {
		return fmt.Errorf("steer explain: --client: %w", err)
	}
	token, err := serve.AdminToken(*tokenFile)
	if err != nil {
		return err
	}
	u := strings.TrimSuffix(*admin, "/") + "/explain?title=" + url.QueryEscape(fs.Arg(0)) + "&client=" + url.QueryEscape(*client)
	var d steer.Decision
	if err := httpx.DoJSON(ctx, &http.Client{Timeout: 5 * time.Second}, http.MethodGet, u, token, nil, &d); err != nil {
		return fmt.Errorf("steer explain: %w", err)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if werr := enc.Encode(d); werr != nil {
		return werr
	}
	if len(d.Pathways) == 0 {
		return fmt.Errorf("steer explain: no healthy edge holds %q (holders: %v, down: %v)", d.Title, d.Holders, d.Down)
	}
	return nil
}
