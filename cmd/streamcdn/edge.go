package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
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

// edgeFlags are the edge command's flags.
type edgeFlags struct {
	upstream, addr, admin, disk, name, region, tokenFile, pinnedDir *string
	mode, missRedirect, level, dnsAdmin, cluster, dnsTokenFile      *string
	upstreamCA, config, steerAdmin, httpServer                      *string
	noRTT                                                           *bool
	mem, diskSize, maxObject, slice, pinnedSize                     units.Size
	fileBody, lowat                                                 sizeOrOff
	fileLowat                                                       lowatFlag
	titleModes                                                      stringList
	every, sendTimeout, staleDisconnected                           *time.Duration
	front                                                           frontFlags
}

func addEdgeFlags(fs *flag.FlagSet) *edgeFlags {
	f := &edgeFlags{mem: 1 << 30, diskSize: 20 << 30, maxObject: 64 << 20, slice: 4 << 20, pinnedSize: 20 << 30, fileBody: sizeOrOff{64 << 10}, lowat: sizeOrOff{serve.NotSentLowat}}
	f.upstream = fs.String("upstream", "", "The upstream base URL: the origin or a parent edge (shield). Required.")
	f.addr = fs.String("listen", "127.0.0.1:8081", "The address to serve clients on.")
	f.admin = fs.String("admin", "127.0.0.1:9081", "The address of /metrics, /healthz, /readyz, /purge and /push.")
	fs.Var(&f.mem, "mem", "The memory tier's byte budget (B, KiB, MiB, GiB, or KB, MB, GB).")
	fs.Var(&f.fileBody, "file-body", "Bodies in the memory tier from this size up are kept in memfds, and sent by sendfile(2) without a copy when more than 128 clients are connected. off: every body on the Go heap.")
	fs.Var(&f.lowat, "notsent-lowat", "Each client connection's TCP_NOTSENT_LOWAT (Linux): a large body's write waits for the client once this much of it is queued unsent. off: the kernel's setting (net.ipv4.tcp_notsent_lowat; by default, no limit).")
	fs.Var(&f.fileLowat, "file-notsent-lowat", "With --http-server h1 and plain HTTP, the TCP_NOTSENT_LOWAT a client connection gets once it is sent a body by sendfile(2), whose queue holds references to the body's pages, not copies. off: the kernel's. Unset: the connection keeps --notsent-lowat.")
	f.disk = fs.String("disk", "", "The disk tier's directory. Empty means no disk tier.")
	fs.Var(&f.diskSize, "disk-size", "The disk tier's byte budget.")
	fs.Var(&f.maxObject, "max-object", "The largest object stored whole; larger ones are cached as slices.")
	fs.Var(&f.slice, "slice", "The slice size for objects larger than --max-object.")
	f.name = fs.String("name", "streamcdn-edge", "This cache's name in Cache-Status and Via.")
	f.region = fs.String("region", "", "The region reported on /healthz.")
	f.tokenFile = fs.String("token-file", "", "A file holding the admin bearer token. Defaults to $STREAMCDN_ADMIN_TOKEN; with neither, purge is refused.")
	f.pinnedDir = fs.String("pinned", "", "The pinned area's directory, for pushed objects. Empty: pushes are refused.")
	fs.Var(&f.pinnedSize, "pinned-size", "The pinned area's byte budget.")
	f.mode = fs.String("mode", "hybrid", "How titles are served: pull (fetch on miss), push (pushed objects only; a miss is 404 or --miss-redirect) or hybrid (pushed objects pinned, others pulled).")
	fs.Var(&f.titleModes, "title-mode", "A title's own mode, TITLE=pull|push|hybrid. Repeat for each title.")
	f.missRedirect = fs.String("miss-redirect", "", "In push mode, redirect a miss to this base URL (e.g. a parent edge) instead of answering 404.")
	f.level = fs.String("log-level", "info", "The log level: debug, info, warn or error.")
	f.dnsAdmin = fs.String("dns-admin", "", "The CDN DNS admin URL to report client RTT (TCP_INFO) and egress load to, e.g. http://127.0.0.1:9053. Empty: no reports.")
	f.cluster = fs.String("cluster", "", "This edge's cluster name in the DNS configuration; required with --dns-admin.")
	f.dnsTokenFile = fs.String("dns-token-file", "", "A file holding the DNS admin bearer token. Defaults to the edge's own admin token.")
	f.steerAdmin = fs.String("steer-admin", "", "The steering service's admin URL to report the same to (its edge named as --cluster), with the edge's admin token. Empty: none.")
	f.noRTT = fs.Bool("no-report-rtt", false, "Report load only, not client RTT: for an edge behind a proxy, whose connections are the proxy's.")
	f.every = fs.Duration("report-interval", 10*time.Second, "How often to report to the DNS and the steering service.")
	f.sendTimeout = fs.Duration("send-timeout", 60*time.Second, "Drop a client that takes longer than this to accept 256 KiB of a response.")
	f.front = addFrontFlags(fs)
	f.upstreamCA = fs.String("upstream-ca", "", "A PEM file of the CA certificates that vouch for an https:// upstream. Empty: the system's.")
	f.httpServer = fs.String("http-server", "h1", "What serves plain HTTP/1.1 on --listen: h1 (lean, one write per hit; h2c still by net/http) or net (net/http's server).")
	f.staleDisconnected = fs.Duration("stale-if-disconnected", time.Hour, "Serve a stored response this long past its freshness when upstream cannot be reached, unless it says must-revalidate, no-cache or stale-if-error.")
	f.config = configFlag(fs)
	return f
}

// edgeConfig is the edge.Config the flags describe, less what the
// process opens (logger, registry, token, access log).
func (f *edgeFlags) edgeConfig() (edge.Config, error) {
	cfg := edge.Config{Upstream: *f.upstream, Name: *f.name, Region: *f.region, MemoryBytes: int64(f.mem), DiskDir: *f.disk,
		DiskBytes: int64(f.diskSize), MaxObjectBytes: int64(f.maxObject), SliceBytes: int64(f.slice), PinnedDir: *f.pinnedDir,
		PinnedBytes: int64(f.pinnedSize), Mode: *f.mode, TitleModes: map[string]string{}, MissRedirect: *f.missRedirect,
		SendTimeout: *f.sendTimeout, StaleIfDisconnected: *f.staleDisconnected, FileBodyBytes: int64(f.fileBody.Size)}
	if f.fileBody.Size == 0 {
		cfg.FileBodyBytes = -1 // off
	}
	switch {
	case (*f.dnsAdmin != "" || *f.steerAdmin != "") && *f.cluster == "":
		return cfg, errors.New("edge: --cluster is required with --dns-admin or --steer-admin")
	case *f.upstream == "":
		return cfg, errors.New("edge: --upstream is required")
	case f.lowat.Size > math.MaxInt32:
		return cfg, fmt.Errorf("edge: --notsent-lowat %v: more than a socket option holds (2 GiB)", &f.lowat)
	case f.fileLowat.Size > math.MaxInt32:
		return cfg, fmt.Errorf("edge: --file-notsent-lowat %v: more than a socket option holds (2 GiB)", &f.fileLowat)
	case *f.httpServer != "h1" && *f.httpServer != "net":
		return cfg, fmt.Errorf("edge: --http-server %q: want h1 or net", *f.httpServer)
	case f.fileLowat.set && (*f.httpServer != "h1" || len(*f.front.certFiles) > 0):
		return cfg, errors.New("edge: --file-notsent-lowat needs --http-server h1 and plain HTTP (no --tls-cert): only h1 sends by sendfile")
	}
	for _, tm := range f.titleModes {
		title, m, ok := strings.Cut(tm, "=")
		if !ok {
			return cfg, fmt.Errorf("edge: --title-mode %q: want TITLE=pull|push|hybrid", tm)
		}
		cfg.TitleModes[title] = m
	}
	var err error
	cfg.UpstreamCAs, err = serve.CAPool(*f.upstreamCA)
	return cfg, err
}

func runEdge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("edge", stderr)
	f := addEdgeFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := conf.ApplyFlags(fs, *f.config); err != nil {
		return fmt.Errorf("edge: --config %w", err)
	}
	cfg, err := f.edgeConfig()
	if err != nil {
		fs.Usage()
		return err
	}
	// The process holds its budget: the memory tier, the fills in flight
	// (an eighth of it) and a fixed allowance for the rest (connections,
	// metrics, the runtime). The collector works harder near the limit
	// instead of letting the heap double; bodies in memfds are taken off
	// it as they come (governMemory).
	memLimit := cfg.MemoryBytes + cfg.MemoryBytes/8 + edgeMemOverhead
	setLimit, setPercent := os.Getenv("GOMEMLIMIT") == "", os.Getenv("GOGC") == ""
	if setLimit {
		debug.SetMemoryLimit(memLimit)
	}
	svc, err := serve.NewProcess(stderr, *f.tokenFile, *f.level)
	if err != nil {
		return err
	}
	dnsToken := svc.Token
	if *f.dnsTokenFile != "" {
		if dnsToken, err = serve.AdminToken(*f.dnsTokenFile); err != nil {
			return err
		}
	}
	log, reg := svc.Log, svc.Reg
	fr, err := f.front.open(ctx, log, stdout)
	if err != nil {
		return err
	}
	defer fr.Close()
	cfg.AdminToken, cfg.Logger, cfg.Registry, cfg.AccessLog = svc.Token, log, reg, fr.Access
	srv, err := edge.New(cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	pub, adm, err := serve.Bind(serve.Pair{Name: "edge", Addr: *f.addr, Handler: srv, ConnContext: srv.ConnContext,
		H1: *f.httpServer == "h1", AdminAddr: *f.admin, Admin: srv.Admin(), Registry: reg, TLS: fr.TLS,
		NotSentLowat: lowatOption(f.lowat), FileLowat: f.fileLowat.option()})
	if err != nil {
		return err
	}
	log.Info("edge serving", "upstream", cfg.Upstream, "listen", pub.Ln.Addr().String(), "admin", adm.Ln.Addr().String())
	g, ctx := errgroup.WithContext(ctx)
	rc := edge.ReportConfig{NoRTT: *f.noRTT, Interval: *f.every}
	if *f.dnsAdmin != "" {
		rc.Targets = append(rc.Targets, edge.ReportTarget{URL: *f.dnsAdmin, Cluster: *f.cluster, Token: dnsToken})
	}
	if *f.steerAdmin != "" {
		rc.Targets = append(rc.Targets, edge.ReportTarget{URL: *f.steerAdmin, Cluster: *f.cluster, Token: svc.Token})
	}
	if len(rc.Targets) > 0 {
		g.Go(func() error { srv.RunReports(ctx, rc); return nil })
	}
	if setLimit || setPercent {
		g.Go(func() error {
			governMemory(ctx, memLimit, srv.FileBytes, setLimit, setPercent, time.Second)
			return nil
		})
	}
	g.Go(func() error { return serve.All(ctx, log, pub, adm) })
	return g.Wait()
}

// lowatOption is a lowat flag's value as serve takes it.
func lowatOption(z sizeOrOff) int {
	if z.Size == 0 {
		return serve.LowatOff
	}
	return int(z.Size)
}

// lowatFlag is a lowat that may be left unset (--file-notsent-lowat).
type lowatFlag struct {
	sizeOrOff
	set bool
}

func (z *lowatFlag) Set(s string) error {
	z.set = true
	return z.sizeOrOff.Set(s)
}

func (z *lowatFlag) String() string {
	if z == nil || !z.set {
		return ""
	}
	return z.sizeOrOff.String()
}

// option is the flag's value as serve.Pair.FileLowat takes it: 0 when
// unset (the connection keeps its listener's).
func (z *lowatFlag) option() int {
	if !z.set {
		return 0
	}
	return lowatOption(z.sizeOrOff)
}

// sizeOrOff is a byte size flag that also takes "off" (0).
type sizeOrOff struct{ units.Size }

func (z *sizeOrOff) Set(s string) error {
	if s == "off" {
		z.Size = 0
		return nil
	}
	return z.Size.Set(s)
}

func (z *sizeOrOff) String() string {
	if z == nil || z.Size == 0 {
		return "off"
	}
	return z.Size.String()
}
