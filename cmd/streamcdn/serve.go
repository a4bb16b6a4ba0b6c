package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/streamcdn/streamcdn/internal/accesslog"
	"github.com/streamcdn/streamcdn/internal/certs"
	"golang.org/x/sync/errgroup"
)

// newRegistry returns a registry with the Go and process collectors.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// adminMux serves /metrics from reg and, for every other path, the
// component's own admin handler, or a plain /healthz when it has none.
func adminMux(reg *prometheus.Registry, component http.Handler) *http.ServeMux {
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

// listener is a bound socket and the handler to serve on it.
type listener struct {
	name        string
	ln          net.Listener
	h           http.Handler
	connContext func(context.Context, net.Conn) context.Context // optional
	tls         *tls.Config                                     // nil: plain HTTP
}

func listen(name, addr string, h http.Handler) (listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return listener{}, fmt.Errorf("%s listener: %w", name, err)
	}
	return listener{name: name, ln: ln, h: h}, nil
}

// serverProtocols are HTTP/1.1, HTTP/2 over TLS and HTTP/2 with prior
// knowledge (h2c) over plain TCP, as players and CDN tiers speak them.
func serverProtocols() *http.Protocols {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	p.SetUnencryptedHTTP2(true)
	return p
}

// shutdownGrace is how long a shutdown waits for requests in flight.
const shutdownGrace = 5 * time.Second

// serveAll serves every listener until ctx ends, then shuts them down
// gracefully: requests in flight get shutdownGrace to finish, then
// whatever connections remain are closed.
func serveAll(ctx context.Context, log *slog.Logger, lns ...listener) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, l := range lns {
		srv := &http.Server{Handler: l.h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second, ConnContext: l.connContext,
			Protocols: serverProtocols(),
			// net/http's own messages (a client gone mid-handshake, an
			// accept error) through the component's logger, at info.
			ErrorLog: slog.NewLogLogger(log.With("listener", l.name).Handler(), slog.LevelInfo)}
		g.Go(func() error {
			serve := func() error { return srv.Serve(l.ln) }
			if l.tls != nil {
				// A copy each: net/http adds "h2" to the server's config,
				// and listeners share one.
				srv.TLSConfig = l.tls.Clone()
				serve = func() error { return srv.ServeTLS(l.ln, "", "") }
			}
			if err := serve(); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("%s: %w", l.name, err)
			}
			return nil
		})
		g.Go(func() error {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			defer cancel()
			log.Info("shutting down", "listener", l.name)
			if err := srv.Shutdown(sctx); !errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			log.Warn("connections still open after the grace period; closing them", "listener", l.name, "grace", shutdownGrace)
			srv.Close() // its only error is the listener's, closed by Shutdown already
			return nil
		})
	}
	return g.Wait()
}

// service holds what a long-running subcommand builds before its
// component: the admin token, a logger and a metrics registry.
type service struct {
	token string
	log   *slog.Logger
	reg   *prometheus.Registry
}

func newService(stderr io.Writer, tokenFile, level string) (service, error) {
	token, err := adminToken(tokenFile)
	if err != nil {
		return service{}, err
	}
	log, err := newLogger(stderr, level)
	if err != nil {
		return service{}, err
	}
	return service{token, log, newRegistry()}, nil
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level: %w", err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// onHangup calls fn on each SIGHUP until ctx ends. The signal is
// caught from the call on, so a SIGHUP right after cannot kill the
// process.
func onHangup(ctx context.Context, fn func()) {
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

// frontFlags are the flags of a server's HTTP front, the origin's and the
// edge's alike: its access log and its TLS certificates.
type frontFlags struct {
	accessPath, accessFormat *string
	certFiles, keyFiles      *stringList
}

func addFrontFlags(fs *flag.FlagSet) frontFlags {
	f := frontFlags{certFiles: new(stringList), keyFiles: new(stringList)}
	f.accessPath = fs.String("access-log", "", "Write a line per request to this file (- for standard output): nginx's combined fields, then cache status, upstream status, duration and the CMCD session id. SIGHUP reopens it, for logrotate. Empty: no access log.")
	f.accessFormat = fs.String("access-log-format", "text", "The access log's format: text or json.")
	fs.Var(f.certFiles, "tls-cert", "Serve HTTPS (and HTTP/2 by ALPN) with this PEM certificate chain, on every listener. Repeat with --tls-key for more names: the client's server name (SNI) picks one. Reloaded when the files change or on SIGHUP.")
	fs.Var(f.keyFiles, "tls-key", "The PEM private key of the --tls-cert in the same position.")
	return f
}

// front is what frontFlags open: the access log (nil: none) and the TLS
// configuration (nil: plain HTTP).
type front struct {
	access *accesslog.Logger
	tls    *tls.Config
}

// open opens the access log and loads the certificates; on SIGHUP, until
// ctx ends, the log is reopened (logrotate) and the certificates
// reloaded, which they also are when their files change. The caller
// closes the front.
func (f frontFlags) open(ctx context.Context, log *slog.Logger, stdout io.Writer) (front, error) {
	var fr front
	if len(*f.certFiles) != len(*f.keyFiles) {
		return fr, fmt.Errorf("tls: %d --tls-cert and %d --tls-key: give them in pairs", len(*f.certFiles), len(*f.keyFiles))
	}
	var store *certs.Store
	if len(*f.certFiles) > 0 {
		var pairs []certs.Pair
		for i := range *f.certFiles {
			pairs = append(pairs, certs.Pair{Cert: (*f.certFiles)[i], Key: (*f.keyFiles)[i]})
		}
		var err error
		if store, err = certs.Load(pairs); err != nil {
			return fr, err
		}
		fr.tls = store.TLSConfig()
		go store.Watch(ctx, 5*time.Second, log)
	}
	if *f.accessPath != "" {
		var err error
		fr.access, err = accesslog.New(accesslog.Config{Path: *f.accessPath, Format: *f.accessFormat, Stdout: stdout})
		if err != nil {
			return fr, err
		}
	}
	onHangup(ctx, func() {
		if fr.access != nil {
			if err := fr.access.Reopen(); err != nil {
				log.Error("reopen the access log", "path", *f.accessPath, "err", err)
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
func (fr front) Close() {
	if fr.access != nil {
		fr.access.Close()
	}
}

// caPool reads a PEM file of CA certificates; nil for no file (the
// system's roots).
func caPool(caFile string) (*x509.CertPool, error) {
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
