package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/miekg/dns"
	"github.com/streamcdn/streamcdn/cdndns"
	"golang.org/x/sync/errgroup"
)

func runDNS(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dns", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "The JSON configuration: zones, clusters, CDN hosts, geo prefixes, health checks. Required.")
	addr := fs.String("listen", "127.0.0.1:5353", "The address to answer on, over UDP and TCP.")
	admin := fs.String("admin", "127.0.0.1:9053", "The address of /metrics and /healthz.")
	level := fs.String("log-level", "info", "The log level: debug, info, warn or error.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *config == "" {
		fs.Usage()
		return errors.New("dns: --config is required")
	}
	data, err := os.ReadFile(*config)
	if err != nil {
		return err
	}
	cfg, err := cdndns.LoadConfig(data)
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, *level)
	if err != nil {
		return err
	}
	reg := newRegistry()
	srv, err := cdndns.New(*cfg, cdndns.Options{Logger: log, Registry: reg})
	if err != nil {
		return err
	}
	pc, err := net.ListenPacket("udp", *addr)
	if err != nil {
		return fmt.Errorf("dns udp: %w", err)
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		return fmt.Errorf("dns tcp: %w", err)
	}
	adm, err := listen("admin", *admin, adminMux(reg, nil))
	if err != nil {
		pc.Close()
		ln.Close()
		return err
	}
	log.Info("dns serving", "listen", pc.LocalAddr().String(), "admin", adm.ln.Addr().String())
	g, ctx := errgroup.WithContext(ctx)
	for _, s := range []*dns.Server{{PacketConn: pc, Handler: srv}, {Listener: ln, Handler: srv}} {
		g.Go(s.ActivateAndServe)
		g.Go(func() error { <-ctx.Done(); return s.Shutdown() })
	}
	g.Go(func() error { srv.RunHealthChecks(ctx); return nil })
	g.Go(func() error { return serveAll(ctx, log, adm) })
	return g.Wait()
}
