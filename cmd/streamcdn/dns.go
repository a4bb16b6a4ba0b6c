package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"github.com/streamcdn/streamcdn/cdndns"
	"github.com/streamcdn/streamcdn/internal/atomicfile"
	"golang.org/x/sync/errgroup"
)

func runDNS(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "explain" {
		return runDNSExplain(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "geodb" {
		return runGeoDB(args[1:], stderr)
	}
	fs := flag.NewFlagSet("dns", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "The YAML or JSON configuration: zones, clusters, CDN hosts, geo database, health checks. Required. SIGHUP reloads it.")
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
	cfg, err := cdndns.LoadConfigFile(*config)
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
	servers, err := listenDNS(*addr, srv)
	if err != nil {
		return err
	}
	adm, err := listen("admin", *admin, adminMux(reg, srv.Admin()))
	if err != nil {
		closeDNS(servers)
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	log.Info("dns serving", "listen", servers[0].PacketConn.LocalAddr().String(), "admin", adm.ln.Addr().String())
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serveDNS(ctx, servers) })
	g.Go(func() error { srv.RunHealthChecks(ctx); return nil })
	g.Go(func() error { reloadOnHangup(ctx, log, srv, *config, hup); return nil })
	g.Go(func() error { return serveAll(ctx, log, adm) })
	return g.Wait()
}

// listenDNS binds addr over UDP and the same port over TCP.
//
// With port 0 the TCP port is the one the system gave the UDP socket,
// which a TCP connection may hold already: then another is tried, a few
// times.
func listenDNS(addr string, h dns.Handler) ([]*dns.Server, error) {
	_, port, _ := net.SplitHostPort(addr)
	for attempt := 1; ; attempt++ {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, fmt.Errorf("dns udp: %w", err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}}, nil
		}
		pc.Close()
		if port != "0" || attempt == 5 {
			return nil, fmt.Errorf("dns tcp: %w", err)
		}
	}
}

// serveDNS answers on servers until ctx ends.
func serveDNS(ctx context.Context, servers []*dns.Server) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, s := range servers {
		g.Go(s.ActivateAndServe)
		g.Go(func() error { <-ctx.Done(); return s.Shutdown() })
	}
	return g.Wait()
}

func closeDNS(servers []*dns.Server) {
	for _, s := range servers {
		if s.PacketConn != nil {
			s.PacketConn.Close()
		}
		if s.Listener != nil {
			s.Listener.Close()
		}
	}
}

// reloadOnHangup reloads the configuration on each SIGHUP until ctx ends;
// a configuration that does not load is logged and the running one stays.
func reloadOnHangup(ctx context.Context, log *slog.Logger, srv *cdndns.Server, path string, hup <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		cfg, err := cdndns.LoadConfigFile(path)
		if err == nil {
			err = srv.Reload(*cfg)
		}
		if err != nil {
			log.Error("config reload refused; the running configuration stays", "err", err)
		}
	}
}

// runGeoDB builds a MaxMind-format city database from a CSV:
// streamcdn dns geodb --csv FILE --out FILE.mmdb.
func runGeoDB(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("dns geodb", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("csv", "", "Rows network,city,country,latitude,longitude. Required.")
	out := fs.String("out", "", "The database to write. Required.")
	built := fs.String("build-time", "", "The build time to record, RFC 3339; default now. The same CSV and time give the same bytes.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" || *out == "" {
		fs.Usage()
		return errors.New("dns geodb: --csv and --out are required")
	}
	t := time.Now()
	if *built != "" {
		var err error
		if t, err = time.Parse(time.RFC3339, *built); err != nil {
			return fmt.Errorf("dns geodb: --build-time: %w", err)
		}
	}
	f, err := os.Open(*in)
	if err != nil {
		return fmt.Errorf("dns geodb: %w", err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if err := cdndns.WriteGeoDB(f, &buf, t); err != nil {
		return fmt.Errorf("dns geodb: %s: %w", *in, err)
	}
	return atomicfile.Write(*out, buf.Bytes())
}

// runDNSExplain prints how the server would answer a client: streamcdn
// dns explain --config FILE [--client IP | --ecs PREFIX] NAME.
func runDNSExplain(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dns explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "The YAML or JSON configuration. Required.")
	client := fs.String("client", "127.0.0.1", "The resolver's address.")
	ecs := fs.String("ecs", "", "An EDNS Client Subnet prefix, which takes precedence over --client.")
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
