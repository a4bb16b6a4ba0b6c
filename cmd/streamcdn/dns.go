package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"

	"github.com/miekg/dns"
	"github.com/streamcdn/streamcdn/cdndns"
	"golang.org/x/sync/errgroup"
)

func runDNS(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "explain" {
		return runDNSExplain(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("dns", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "The JSON configuration: zones, clusters, CDN hosts, geo prefixes, health checks. Required.")
	addr := fs.String("listen", "127.0.0.1:5353", "The address to answer on, over UDP and TCP.")
	admin := fs.String("admin", "127.0.0.1:9053", "The address of /metrics and /healthz.")
	tokenFile := fs.String("token-file", "", "A file holding the admin bearer token for RTT, load and drain reports. Defaults to $STREAMCDN_ADMIN_TOKEN.")
	level := fs.String("log-level", "info", "The log level: debug, info, warn or error.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *config == "" {
		fs.Usage()
		return errors.New("dns: --config is required")
	}
	cfg, err := loadDNSConfig(*config)
	if err != nil {
		return err
	}
	svc, err := newService(stderr, *tokenFile, *level)
	if err != nil {
		return err
	}
	log, reg := svc.log, svc.reg
	srv, err := cdndns.New(*cfg, cdndns.Options{Logger: log, Registry: reg, AdminToken: svc.token})
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
	adm, err := listen("admin", *admin, adminMux(reg, srv.Admin()))
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

func loadDNSConfig(path string) (*cdndns.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return cdndns.LoadConfig(data)
}

// runDNSExplain prints how the server would answer a client: streamcdn
// dns explain --config FILE [--client IP | --ecs PREFIX] NAME.
func runDNSExplain(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dns explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "The JSON configuration. Required.")
	client := fs.String("client", "127.0.0.1", "The resolver's address.")
	ecs := fs.String("ecs", "", "An EDNS Client Subnet prefix, which takes precedence over --client.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *config == "" || fs.NArg() != 1 {
		fs.Usage()
		return errors.New("dns explain: give --config and one CDN hostname")
	}
	cfg, err := loadDNSConfig(*config)
	if err != nil {
		return err
	}
	srv, err := cdndns.New(*cfg, cdndns.Options{})
	if err != nil {
		return err
	}
	addr, err := netip.ParseAddr(*client)
	if *ecs != "" {
		var p netip.Prefix
		p, err = netip.ParsePrefix(*ecs)
		addr = p.Masked().Addr()
	}
	if err != nil {
		return fmt.Errorf("dns explain: %w", err)
	}
	e, err := srv.Explain(fs.Arg(0), addr)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(e)
}
