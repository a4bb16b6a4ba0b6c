package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"time"

	"github.com/streamcdn/streamcdn/cdndns"
	"github.com/streamcdn/streamcdn/internal/serve"
	"golang.org/x/sync/errgroup"
)

func runDNS(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "explain" {
		return runDNSExplain(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "geodb" {
		return runGeoDB(args[1:], stderr)
	}
	fs := newFlagSet("dns", stderr)
	config := fs.String("config", "", "The YAML or JSON configuration: zones, clusters, CDN hosts, geo database, health checks. Required. SIGHUP reloads it.")
	addr := fs.String("listen", "127.0.0.1:5353", "The address to answer on, over UDP and TCP.")
	admin := fs.String("admin", "127.0.0.1:9053", "The admin address: /metrics, /healthz; with the token /explain, /rtt, /load, /drain.")
	tokenFile := fs.String("token-file", "", "A file holding the admin bearer token for /explain and the RTT, load and drain reports. Defaults to $STREAMCDN_ADMIN_TOKEN.")
	level := fs.String("log-level", "info", "The log level: debug, info, warn or error.")
	maxUDP := fs.Int("max-udp-size", 1232, "The largest UDP answer, whatever a client advertises (RFC 9715); larger ones are truncated (TC) and asked again over TCP.")
	workers := fs.Int("udp-workers", 1, "UDP sockets sharing the port (SO_REUSEPORT), each answered by its own goroutine; one answers about 200k queries per CPU-second, so raise it to the cores to give it.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *config == "" {
		fs.Usage()
		return errors.New("dns: --config is required")
	}
	cfg, err := cdndns.LoadConfigFile(*config)
	if err != nil {
		return err
	}
	svc, err := serve.NewProcess(stderr, *tokenFile, *level)
	if err != nil {
		return err
	}
	log, reg := svc.Log, svc.Reg
	cfg.Options = cdndns.Options{Logger: log, Registry: reg, AdminToken: svc.Token, MaxUDPSize: *maxUDP}
	srv, err := cdndns.New(*cfg)
	if err != nil {
		return err
	}
	sockets, err := cdndns.Listen(*addr, *workers)
	if err != nil {
		return err
	}
	adm, err := serve.Listen("admin", *admin, serve.AdminMux(reg, srv.Admin()))
	if err != nil {
		sockets.Close()
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	serve.OnHangup(ctx, func() { reload(log, srv, *config) })
	log.Info("dns serving", "listen", sockets.Addr(), "admin", adm.Ln.Addr().String())
	g.Go(func() error { return sockets.Serve(ctx, srv) })
	g.Go(func() error { srv.RunHealthChecks(ctx); return nil })
	g.Go(func() error { return serve.All(ctx, log, adm) })
	return g.Wait()
}

// reload loads the configuration at path into srv (on SIGHUP); a bad
// one is refused, logged, and the running one stays.
func reload(log *slog.Logger, srv *cdndns.Server, path string) {
	cfg, err := cdndns.LoadConfigFile(path)
	if err == nil {
		err = srv.Reload(*cfg)
	}
	if err != nil {
		log.Error("config reload refused; the running configuration stays", "err", err)
	}
}

// runGeoDB builds a MaxMind-format city database from a CSV:
// streamcdn dns geodb --csv FILE --out FILE.mmdb.
func runGeoDB(args []string, stderr io.Writer) error {
	fs := newFlagSet("dns geodb", stderr)
	in := fs.String("csv", "", "Rows network,city,country,latitude,longitude. Required.")
	out := fs.String("out", "", "The database to write. Required.")
	built := time.Now()
	fs.Func("build-time", "The build time to record, RFC 3339; default now. The same CSV and time give the same bytes.", func(s string) (err error) {
		built, err = time.Parse(time.RFC3339, s)
		return err
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" || *out == "" {
		fs.Usage()
		return errors.New("dns geodb: --csv and --out are required")
	}
	if err := cdndns.WriteGeoDBFile(*in, *out, built); err != nil {
		return fmt.Errorf("dns geodb: %w", err)
	}
	return nil
}

// runDNSExplain prints how the server would answer a client: streamcdn
// dns explain --config FILE [--client IP | --ecs PREFIX] NAME.
func runDNSExplain(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dns explain", stderr)
	config := fs.String("config", "", "The YAML or JSON configuration. Required.")
	client, ecs := netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.Addr{}
	fs.Func("client", "The resolver's address (default 127.0.0.1).", func(s string) (err error) { client, err = netip.ParseAddr(s); return err })
	fs.Func("ecs", "An EDNS Client Subnet prefix, which takes precedence over --client.", func(s string) error {
		p, err := netip.ParsePrefix(s)
		ecs = p.Masked().Addr()
		return err
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *config == "" || fs.NArg() != 1 {
		fs.Usage()
		return errors.New("dns explain: give --config and one CDN hostname")
	}
	cfg, err := cdndns.LoadConfigFile(*config)
	if err != nil {
		return err
	}
	srv, err := cdndns.New(*cfg)
	if err != nil {
		return err
	}
	if ecs.IsValid() {
		client = ecs
	}
	e, err := srv.Explain(fs.Arg(0), client)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(e)
}
