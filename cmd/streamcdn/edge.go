package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/streamcdn/streamcdn/edge"
	"github.com/streamcdn/streamcdn/internal/conf"
	"github.com/streamcdn/streamcdn/internal/serve"
	"github.com/streamcdn/streamcdn/internal/units"
	"golang.org/x/sync/errgroup"
)

// edgeMemOverhead is what an edge's process may use beyond its memory
// tier and fills in flight before the collector works harder: runtime,
// metrics, and connections' buffers and stacks.
const edgeMemOverhead = 24 << 20

func runEdge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("edge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	upstream := fs.String("upstream", "", "The upstream base URL: the origin or a parent edge (shield). Required.")
	addr := fs.String("listen", "127.0.0.1:8081", "The address to serve clients on.")
	admin := fs.String("admin", "127.0.0.1:9081", "The address of /metrics, /healthz, /readyz, /purge and /push.")
	mem := fs.String("mem", "1GiB", "The memory tier's byte budget (B, KiB, MiB, GiB, or KB, MB, GB).")
	disk := fs.String("disk", "", "The disk tier's directory. Empty means no disk tier.")
	diskSize := fs.String("disk-size", "20GiB", "The disk tier's byte budget.")
	maxObject := fs.String("max-object", "64MiB", "The largest object stored whole; larger ones are cached as slices.")
	slice := fs.String("slice", "4MiB", "The slice size for objects larger than --max-object.")
	name := fs.String("name", "streamcdn-edge", "This cache's name in Cache-Status and Via.")
	region := fs.String("region", "", "The region reported on /healthz.")
	tokenFile := fs.String("token-file", "", "A file holding the admin bearer token. Defaults to $STREAMCDN_ADMIN_TOKEN; with neither, purge is refused.")
	pinnedDir := fs.String("pinned", "", "The pinned area's directory, for pushed objects. Empty: pushes are refused.")
	pinnedSize := fs.String("pinned-size", "20GiB", "The pinned area's byte budget.")
	mode := fs.String("mode", "hybrid", "How titles are served: pull (fetch on miss), push (pushed objects only; a miss is 404 or --miss-redirect) or hybrid (pushed objects pinned, others pulled).")
	var titleModes stringList
	fs.Var(&titleModes, "title-mode", "A title's own mode, TITLE=pull|push|hybrid. Repeat for each title.")
	missRedirect := fs.String("miss-redirect", "", "In push mode, redirect a miss to this base URL (e.g. a parent edge) instead of answering 404.")
	level := fs.String("log-level", "info", "The log level: debug, info, warn or error.")
	dnsAdmin := fs.String("dns-admin", "", "The CDN DNS admin URL to report client RTT (TCP_INFO) and egress load to, e.g. http://127.0.0.1:9053. Empty: no reports.")
	cluster := fs.String("cluster", "", "This edge's cluster name in the DNS configuration; required with --dns-admin.")
	dnsTokenFile := fs.String("dns-token-file", "", "A file holding the DNS admin bearer token. Defaults to the edge's own admin token.")
	every := fs.Duration("report-interval", 10*time.Second, "How often to report to the DNS.")
	sendTimeout := fs.Duration("send-timeout", 60*time.Second, "Drop a client that takes longer than this to accept 256 KiB of a response.")
	ff := addFrontFlags(fs)
	upstreamCA := fs.String("upstream-ca", "", "A PEM file of the CA certificates that vouch for an https:// upstream. Empty: the system's.")
	staleDisconnected := fs.Duration("stale-if-disconnected", time.Hour, "Serve a stored response this long past its freshness when upstream cannot be reached, unless it says must-revalidate, no-cache or stale-if-error.")
	config := configFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := conf.ApplyFlags(fs, *config); err != nil {
		return fmt.Errorf("edge: --config %w", err)
	}
	if *dnsAdmin != "" && *cluster == "" {
		return errors.New("edge: --cluster is required with --dns-admin")
	}
	if *upstream == "" {
		fs.Usage()
		return errors.New("edge: --upstream is required")
	}
	var memBytes, diskBytes, maxBytes, sliceBytes, pinnedBytes int64
	for _, p := range []struct {
		s   string
		dst *int64
	}{{*mem, &memBytes}, {*diskSize, &diskBytes}, {*maxObject, &maxBytes}, {*slice, &sliceBytes}, {*pinnedSize, &pinnedBytes}} {
		v, err := units.ParseSize(p.s)
		if err != nil {
			return err
		}
		*p.dst = v
	}
	modes := map[string]string{}
	for _, tm := range titleModes {
		title, m, ok := strings.Cut(tm, "=")
		if !ok {
			return fmt.Errorf("edge: --title-mode %q: want TITLE=pull|push|hybrid", tm)
		}
		modes[title] = m
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// The process holds its budget: the memory tier, the fills in
		// flight (an eighth of it) and a fixed allowance for the rest
		// (connections, metrics, the runtime). The collector works
		// harder near the limit instead of letting the heap double.
		debug.SetMemoryLimit(memBytes + memBytes/8 + edgeMemOverhead)
	}
	svc, err := newService(stderr, *tokenFile, *level)
	if err != nil {
		return err
	}
	dnsToken := svc.token
	if *dnsTokenFile != "" {
		if dnsToken, err = adminToken(*dnsTokenFile); err != nil {
			return err
		}
	}
	log, reg := svc.log, svc.reg
	fr, err := ff.open(ctx, log, stdout)
	if err != nil {
		return err
	}
	defer fr.Close()
	upstreamCAs, err := serve.CAPool(*upstreamCA)
	if err != nil {
		return err
	}
	srv, err := edge.New(edge.Config{
		Upstream: *upstream, Name: *name, Region: *region, MemoryBytes: memBytes, DiskDir: *disk, DiskBytes: diskBytes,
		MaxObjectBytes: maxBytes, SliceBytes: sliceBytes, AdminToken: svc.token, Logger: log, Registry: reg,
		PinnedDir: *pinnedDir, PinnedBytes: pinnedBytes, Mode: *mode, TitleModes: modes, MissRedirect: *missRedirect,
		SendTimeout: *sendTimeout, StaleIfDisconnected: *staleDisconnected, AccessLog: fr.Access, UpstreamCAs: upstreamCAs,
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	pub, err := serve.Listen("edge", *addr, srv)
	if err != nil {
		return err
	}
	pub.ConnContext = srv.ConnContext
	adm, err := serve.Listen("admin", *admin, serve.AdminMux(reg, srv.Admin()))
	if err != nil {
		pub.Ln.Close()
		return err
	}
	pub.TLS, adm.TLS = fr.TLS, fr.TLS
	log.Info("edge serving", "upstream", *upstream, "listen", pub.Ln.Addr().String(), "admin", adm.Ln.Addr().String())
	g, ctx := errgroup.WithContext(ctx)
	if *dnsAdmin != "" {
		rc := edge.ReportConfig{URL: strings.TrimSuffix(*dnsAdmin, "/"), Cluster: *cluster, Token: dnsToken, Interval: *every}
		g.Go(func() error { srv.RunReports(ctx, rc); return nil })
	}
	g.Go(func() error { return serve.All(ctx, log, pub, adm) })
	return g.Wait()
}

// adminToken reads the admin token from file, or from
// $STREAMCDN_ADMIN_TOKEN when file is empty.
func adminToken(file string) (string, error) {
	if file == "" {
		return os.Getenv("STREAMCDN_ADMIN_TOKEN"), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", fmt.Errorf("token file %s is empty", file)
	}
	return token, nil
}
