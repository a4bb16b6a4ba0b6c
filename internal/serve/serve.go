// Package serve runs a component's HTTP listeners: the protocols every
// listener speaks, a graceful shutdown, an admin mux with /metrics, the
// process's logger and registry, SIGHUP handling, and the front of a
// public listener (access log and TLS certificates, both reloadable).
package serve

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/streamcdn/streamcdn/internal/accesslog"
	"github.com/streamcdn/streamcdn/internal/certs"
	"github.com/streamcdn/streamcdn/internal/h1"
	"golang.org/x/sync/errgroup"
)

// NewRegistry returns a registry with the Go and process collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// AdminMux serves /metrics from reg and, for every other path, the
// component's own admin handler, or a plain /healthz when it has none.
func AdminMux(reg *prometheus.Registry, component http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	if component != nil {
		mux.Handle("/", component)
		return mux
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok\n")
	})
	return mux
}

// Listener is a bound socket and the handler to serve on it.
type Listener struct {
	Name        string
	Ln          net.Listener
	Handler     http.Handler
	ConnContext func(context.Context, net.Conn) context.Context // optional
	TLS         *tls.Config                                     // nil: plain HTTP
	// H1 serves a plain listener's HTTP/1.x with internal/h1, leaner per
	// request than net/http (for a cache's hits); connections that open
	// with the HTTP/2 preface still go to net/http.
	H1 bool
	// FileLowat is the TCP_NOTSENT_LOWAT an H1 listener's connection
	// gets once it sends a body by sendfile (h1.Config.FileLowat): 0
	// keeps the listener's, LowatOff gives the kernel's.
	FileLowat int
}

// NotSentLowat is the most a connection of a Listen listener keeps
// queued in its socket but not yet sent (TCP_NOTSENT_LOWAT, on Linux):
// a write of a large body waits in the poller once this much of it is
// unsent, instead of filling a send buffer the kernel grows to
// megabytes. (The likely reason it helps: with bodies going out to many
// connections at once, each then gets a share of the server's turns as
// its client drains it, rather than whoever wrote first owning the
// queue; not measured directly.) With the edge's
// 1 MiB hits at 1,000 connections, `scripts/bench-edge.sh 5 2` gave a
// p99 2.2–2.5× nginx's before this (two runs on 39c6ff6) and 1.7–1.8×
// after (two runs on 9313695); README, "Benchmarks", has those and an
// A/B of one build with and without it. Those runs predate sending
// memfd bodies by sendfile; since then, an A/B of the edge's
// --notsent-lowat (README, "Memory is bounded") found the cap costing
// CPU and tail at 1,000 connections. It does not limit what is in
// flight: a connection with a large window still fills it.
const NotSentLowat = 64 << 10

// LowatOff is the lowat that leaves connections' TCP_NOTSENT_LOWAT as the
// kernel has it (net.ipv4.tcp_notsent_lowat; by default, no limit).
const LowatOff = -1

// Listen binds addr over TCP for h; name names it in errors and logs.
// Its connections have NotSentLowat set.
func Listen(name, addr string, h http.Handler) (Listener, error) {
	return ListenLowat(name, addr, h, 0)
}

// ListenLowat is Listen with lowat bytes as its connections'
// TCP_NOTSENT_LOWAT: 0 for NotSentLowat, LowatOff for the kernel's.
func ListenLowat(name, addr string, h http.Handler, lowat int) (Listener, error) {
	switch {
	case lowat == 0:
		lowat = NotSentLowat
	case lowat < 0 && lowat != LowatOff:
		return Listener{}, fmt.Errorf("%s listener: TCP_NOTSENT_LOWAT %d: want a size or LowatOff", name, lowat)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return Listener{}, fmt.Errorf("%s listener: %w", name, err)
	}
	if lowat != LowatOff {
		ln = lowatListener{ln, lowat}
	}
	return Listener{Name: name, Ln: ln, Handler: h}, nil
}

// lowatListener sets TCP_NOTSENT_LOWAT to n on each connection it
// accepts (a listening socket's setting is not inherited).
type lowatListener struct {
	net.Listener
	n int
}

func (l lowatListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if sc, ok := c.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			// A connection that cannot take it is served as it is.
			_ = rc.Control(func(fd uintptr) { _ = setNotSentLowat(fd, l.n) })
		}
	}
	return c, nil
}

// Protocols are HTTP/1.1, HTTP/2 over TLS and HTTP/2 with prior
// knowledge (h2c) over plain TCP, as players and CDN tiers speak them.
func Protocols() *http.Protocols {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	p.SetUnencryptedHTTP2(true)
	return p
}

// server is what All runs on a listener: net/http's or internal/h1's.
type server interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
}

// ShutdownGrace is how long a shutdown waits for requests in flight.
const ShutdownGrace = 5 * time.Second

// All serves every listener until ctx ends, then shuts them down
// gracefully: requests in flight get ShutdownGrace to finish, then
// whatever connections remain are closed.
func All(ctx context.Context, log *slog.Logger, lns ...Listener) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, l := range lns {
		srv := &http.Server{Handler: l.Handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second, ConnContext: l.ConnContext,
			Protocols: Protocols(),
			// net/http's own messages (a client gone mid-handshake, an
			// accept error) through the component's logger, at info.
			ErrorLog: slog.NewLogLogger(log.With("listener", l.Name).Handler(), slog.LevelInfo)}
		var hs server = srv
		if l.H1 && l.TLS == nil {
			hs = h1.New(h1.Config{Handler: l.Handler, ReadHeaderTimeout: srv.ReadHeaderTimeout, IdleTimeout: srv.IdleTimeout,
				ConnContext: l.ConnContext, H2C: srv, Log: log.With("listener", l.Name), FileLowat: l.FileLowat})
		}
		g.Go(func() error {
			serve := func() error { return hs.Serve(l.Ln) }
			if l.TLS != nil {
				// A copy each: net/http adds "h2" to the server's config,
				// and listeners share one.
				srv.TLSConfig = l.TLS.Clone()
				serve = func() error { return srv.ServeTLS(l.Ln, "", "") }
			}
			if err := serve(); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("%s: %w", l.Name, err)
			}
			return nil
		})
		g.Go(func() error {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
			defer cancel()
			log.Info("shutting down", "listener", l.Name)
			if err := hs.Shutdown(sctx); !errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			log.Warn("connections still open after the grace period; closing them", "listener", l.Name, "grace", ShutdownGrace)
			_ = hs.Close() // its only error is the listener's, closed by Shutdown already
			return nil
		})
	}
	return g.Wait()
}

// NewLogger is a text logger on w at level (debug, info, warn, error).
func NewLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level: %w", err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// OnHangup calls fn on each SIGHUP until ctx ends. The signal is
// caught from the call on, so a SIGHUP right after cannot kill the
// process.
func OnHangup(ctx context.Context, fn func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				fn()
			}
		}
	}()
}

// FrontConfig is a public listener's front.
type FrontConfig struct {
	// AccessLog is the access log's path ("-": stdout); "": none.
	AccessLog string
	// AccessFormat is text or json.
	AccessFormat string
	// Certs are the TLS certificates; none: plain HTTP.
	Certs  []certs.Pair
	Stdout io.Writer
	Logger *slog.Logger
}

// Front is what OpenFront opens: the access log (nil: none) and the TLS
// configuration (nil: plain HTTP).
type Front struct {
	Access *accesslog.Logger
	TLS    *tls.Config
}

// OpenFront opens the access log and loads the certificates; on SIGHUP,
// until ctx ends, the log is reopened (logrotate) and the certificates
// reloaded, which they also are when their files change. The caller
// closes the front.
func OpenFront(ctx context.Context, cfg FrontConfig) (Front, error) {
	var fr Front
	log := cfg.Logger
	var store *certs.Store
	if len(cfg.Certs) > 0 {
		var err error
		if store, err = certs.Load(cfg.Certs); err != nil {
			return fr, err
		}
		fr.TLS = store.TLSConfig()
		go store.Watch(ctx, 5*time.Second, log)
	}
	if cfg.AccessLog != "" {
		var err error
		fr.Access, err = accesslog.New(accesslog.Config{Path: cfg.AccessLog, Format: cfg.AccessFormat, Stdout: cfg.Stdout})
		if err != nil {
			return fr, err
		}
	}
	OnHangup(ctx, func() {
		if fr.Access != nil {
			if err := fr.Access.Reopen(); err != nil {
				log.Error("reopen the access log", "path", cfg.AccessLog, "err", err)
			}
		}
		if store != nil {
			if err := store.Reload(); err != nil {
				log.Error("reload TLS certificates", "err", err)
			}
		}
	})
	return fr, nil
}

// Close flushes and closes the access log.
func (fr Front) Close() {
	if fr.Access != nil {
		_ = fr.Access.Close()
	}
}

// CAPool reads a PEM file of CA certificates; nil for no file (the
// system's roots).
func CAPool(caFile string) (*x509.CertPool, error) {
	if caFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("upstream CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("upstream CA %s: no PEM certificate", caFile)
	}
	return pool, nil
}

// Pair is a component's two listeners: the public one, and the admin one
// with /metrics from Registry and the component's admin handler.
type Pair struct {
	Name        string
	Addr        string
	Handler     http.Handler
	ConnContext func(context.Context, net.Conn) context.Context // optional
	AdminAddr   string
	Admin       http.Handler // nil: a plain /healthz
	Registry    *prometheus.Registry
	TLS         *tls.Config // on both; nil: plain HTTP
	H1          bool        // the public listener's Listener.H1
	// NotSentLowat is the public listener's connections'
	// TCP_NOTSENT_LOWAT (ListenLowat): 0 for the package's
	// NotSentLowat, LowatOff for the kernel's.
	NotSentLowat int
	// FileLowat is the public listener's Listener.FileLowat.
	FileLowat int
}

// Bind binds both listeners of p: the public one, then the admin one.
func Bind(p Pair) (pub, admin Listener, err error) {
	if pub, err = ListenLowat(p.Name, p.Addr, p.Handler, p.NotSentLowat); err != nil {
		return pub, admin, err
	}
	if admin, err = Listen("admin", p.AdminAddr, AdminMux(p.Registry, p.Admin)); err != nil {
		pub.Ln.Close()
		return pub, admin, err
	}
	pub.ConnContext, pub.H1, pub.FileLowat = p.ConnContext, p.H1, p.FileLowat
	pub.TLS, admin.TLS = p.TLS, p.TLS
	return pub, admin, nil
}

// Process is what a long-running command builds before its component:
// the admin token, a logger and a metrics registry.
type Process struct {
	Token string
	Log   *slog.Logger
	Reg   *prometheus.Registry
}

// NewProcess reads the admin token (AdminToken) and makes a logger at
// level on stderr and a registry (NewRegistry).
func NewProcess(stderr io.Writer, tokenFile, level string) (Process, error) {
	token, err := AdminToken(tokenFile)
	if err != nil {
		return Process{}, err
	}
	log, err := NewLogger(stderr, level)
	if err != nil {
		return Process{}, err
	}
	return Process{token, log, NewRegistry()}, nil
}

// AdminToken reads the admin token from file, or from
// $STREAMCDN_ADMIN_TOKEN when file is empty.
func AdminToken(file string) (string, error) {
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

// Metrics serves reg's metrics on addr until stop, for a command that
// is not a server (a push, a fleet); none when addr is "". It says where
// on w.
func Metrics(addr string, reg *prometheus.Registry, w io.Writer, what string) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	l, err := Listen("metrics", addr, AdminMux(reg, nil))
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "%s metrics on http://%s/metrics\n", what, l.Ln.Addr())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = All(ctx, slog.New(slog.DiscardHandler), l); close(done) }()
	return func() { cancel(); <-done }, nil
}
