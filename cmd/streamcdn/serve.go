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
			Protocols: serverProtocols()}
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

// tlsFlags adds --tls-cert and --tls-key (each repeatable, paired in
// order) to fs.
func tlsFlags(fs *flag.FlagSet) (certFiles, keyFiles *stringList) {
	certFiles, keyFiles = new(stringList), new(stringList)
	fs.Var(certFiles, "tls-cert", "Serve HTTPS (and HTTP/2 by ALPN) with this PEM certificate chain, on every listener. Repeat with --tls-key for more names: the client's server name (SNI) picks one. Reloaded when the files change or on SIGHUP.")
	fs.Var(keyFiles, "tls-key", "The PEM private key of the --tls-cert in the same position.")
	return certFiles, keyFiles
}

// loadTLS loads the certificate pairs (nil, nil when there are none) and
// reloads them when their files change or on SIGHUP until ctx ends.
func loadTLS(ctx context.Context, log *slog.Logger, certFiles, keyFiles []string) (*tls.Config, error) {
	if len(certFiles) != len(keyFiles) {
		return nil, fmt.Errorf("tls: %d --tls-cert and %d --tls-key: give them in pairs", len(certFiles), len(keyFiles))
	}
	if len(certFiles) == 0 {
		return nil, nil
	}
	var pairs []certs.Pair
	for i := range certFiles {
		pairs = append(pairs, certs.Pair{Cert: certFiles[i], Key: keyFiles[i]})
	}
	store, err := certs.Load(pairs)
	if err != nil {
		return nil, err
	}
	go store.Watch(ctx, 5*time.Second, log)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := store.Reload(); err != nil {
					log.Error("reload TLS certificates", "err", err)
				}
			}
		}
	}()
	return store.TLSConfig(), nil
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

// accessLogFlags adds --access-log and --access-log-format to fs.
func accessLogFlags(fs *flag.FlagSet) (path, format *string) {
	path = fs.String("access-log", "", "Write a line per request to this file (- for standard output): nginx's combined fields, then cache status, upstream status, duration and the CMCD session id. SIGHUP reopens it, for logrotate. Empty: no access log.")
	format = fs.String("access-log-format", "text", "The access log's format: text or json.")
	return path, format
}

// openAccessLog opens the access log at path (nil, nil when path is
// empty) and reopens it on each SIGHUP until ctx ends. The caller closes
// it.
func openAccessLog(ctx context.Context, log *slog.Logger, path, format string, stdout io.Writer) (*accesslog.Logger, error) {
	if path == "" {
		return nil, nil
	}
	l, err := accesslog.New(accesslog.Config{Path: path, Format: format, Stdout: stdout})
	if err != nil {
		return nil, err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := l.Reopen(); err != nil {
					log.Error("reopen the access log", "path", path, "err", err)
				}
			}
		}
	}()
	return l, nil
}
