// Package wan emulates wide-area links in user space, for kernels
// without netem: TCP proxies that delay every byte by the path's one-way
// delay each way and pace it at the path's rate, chosen by the client's
// source network. A proxy in front of several backends is also the
// cluster's load balancer: it spreads connections over the backends that
// accept them, and answers health checks for the cluster.
package wan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/streamcdn/streamcdn/internal/httpx"
	"github.com/streamcdn/streamcdn/internal/pace"
	"github.com/streamcdn/streamcdn/internal/promreg"
	"golang.org/x/sync/errgroup"
)

// Config is a set of proxies.
type Config struct {
	Proxies []ProxyConfig `json:"proxies"`
	// Logger and Registry are the process's, not read from the file.
	Logger *slog.Logger `json:"-"`
	// Registry gets the proxies' metrics; nil: none.
	Registry prometheus.Registerer `json:"-"`
}

// ProxyConfig is one emulated path into a service.
type ProxyConfig struct {
	// Name labels the proxy's metrics and its health check path.
	Name string `json:"name"`
	// Listen is the service's address as clients see it.
	Listen string `json:"listen"`
	// Backends are tried in turn, starting after the last one used.
	Backends []Backend `json:"backends"`
	// Paths are the links by client network; the first match wins.
	Paths []Path `json:"paths,omitempty"`
	// Default applies to clients no path matches.
	Default Path `json:"default"`
}

// Backend is a server behind a proxy.
type Backend struct {
	Addr string `json:"addr"`
	// Health is an HTTP URL answering 200 while the backend is up.
	Health string `json:"health,omitempty"`
}

// Path is the network between a client network and the service.
type Path struct {
	// From is the clients' prefix, e.g. 127.0.2.0/24; empty for Default.
	From string `json:"from,omitempty"`
	// Label names the path in metrics, e.g. the clients' region.
	Label string `json:"label,omitempty"`
	// RTTMs is the round-trip time added, in milliseconds.
	RTTMs float64 `json:"rtt_ms"`
	// RateBPS is the rate each way in bits per second, shared by the
	// path's connections; 0 is unlimited.
	RateBPS float64 `json:"rate_bps,omitempty"`
}

// Proxy is a running proxy.
type Proxy struct {
	cfg   ProxyConfig
	log   *slog.Logger
	paths []*path
	def   *path
	next  atomic.Uint32
	// active is the connections open, the series found once.
	active prometheus.Gauge
	hc     *http.Client
	// dialContext connects to a backend: a net.Dialer's, or an
	// in-memory one in tests on virtual time.
	dialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

type path struct {
	prefix     netip.Prefix
	label      string
	oneWay     time.Duration
	up, down   *pace.Limiter // client to service, service to client
	bytesUp    prometheus.Counter
	bytesDown  prometheus.Counter
	conns      prometheus.Counter
	dialErrors prometheus.Counter
}

// Metrics are the proxies' counters, shared by every proxy of a process.
type Metrics struct {
	bytes  *prometheus.CounterVec
	conns  *prometheus.CounterVec
	errors *prometheus.CounterVec
	active *prometheus.GaugeVec
}

// NewMetrics registers the proxies' metrics on reg (nil: none).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "streamcdn", Subsystem: "wan", Name: "bytes_total",
			Help: "Bytes carried, by proxy, path (the clients' network) and direction (up: to the service)."}, []string{"proxy", "path", "direction"}),
		conns: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "streamcdn", Subsystem: "wan", Name: "connections_total",
			Help: "Connections accepted, by proxy and path."}, []string{"proxy", "path"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "streamcdn", Subsystem: "wan", Name: "backend_dial_failures_total",
			Help: "Connections no backend accepted, by proxy and path."}, []string{"proxy", "path"}),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "streamcdn", Subsystem: "wan", Name: "connections",
			Help: "Connections open, by proxy."}, []string{"proxy"}),
	}
	if err := promreg.Register(reg, m.bytes, m.conns, m.errors, m.active); err != nil {
		return nil, err
	}
	return m, nil
}

// WAN is a region's proxies.
type WAN struct {
	proxies []*Proxy
	lns     []net.Listener
}

// New checks cfg and makes its proxies; Listen binds them.
func New(cfg Config) (*WAN, error) {
	m, err := NewMetrics(cfg.Registry)
	if err != nil {
		return nil, fmt.Errorf("wan: %w", err)
	}
	w := &WAN{}
	for _, pc := range cfg.Proxies {
		p, err := newProxy(pc, m, cfg.Logger)
		if err != nil {
			return nil, err
		}
		w.proxies = append(w.proxies, p)
	}
	return w, nil
}

// Listen binds every proxy's address.
func (w *WAN) Listen() error {
	for _, p := range w.proxies[len(w.lns):] {
		ln, err := net.Listen("tcp", p.cfg.Listen)
		if err != nil {
			return fmt.Errorf("wan %s: %w", p.cfg.Name, err)
		}
		w.lns = append(w.lns, ln)
	}
	return nil
}

// Serve carries every proxy's connections until ctx ends; Listen first.
func (w *WAN) Serve(ctx context.Context) error {
	if len(w.lns) != len(w.proxies) {
		return errors.New("wan: Serve before Listen")
	}
	g, ctx := errgroup.WithContext(ctx)
	for i, p := range w.proxies {
		g.Go(func() error { return p.Serve(ctx, w.lns[i]) })
	}
	return g.Wait()
}

// Close closes the listeners of a WAN that does not serve.
func (w *WAN) Close() {
	for _, ln := range w.lns {
		ln.Close()
	}
}

// Health answers GET /health/NAME (HealthHandler).
func (w *WAN) Health() http.Handler { return HealthHandler(w.proxies) }

// newProxy checks cfg and makes its proxy; m is from NewMetrics.
func newProxy(cfg ProxyConfig, m *Metrics, log *slog.Logger) (*Proxy, error) {
	if cfg.Name == "" {
		return nil, errors.New("wan: proxy without a name")
	}
	if len(cfg.Backends) == 0 {
		return nil, fmt.Errorf("wan: proxy %s: no backends", cfg.Name)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{cfg: cfg, log: log, active: m.active.WithLabelValues(cfg.Name), hc: &http.Client{Timeout: time.Second},
		dialContext: (&net.Dialer{Timeout: time.Second}).DialContext}
	mk := func(pc Path) (*path, error) {
		if pc.RTTMs < 0 || pc.RTTMs > 10000 || pc.RateBPS < 0 {
			return nil, fmt.Errorf("wan: proxy %s: path %q: rtt_ms 0 to 10000 and rate_bps not negative", cfg.Name, pc.Label)
		}
		label := pc.Label
		if label == "" {
			label = "default"
		}
		ph := &path{label: label, oneWay: time.Duration(pc.RTTMs / 2 * float64(time.Millisecond)),
			bytesUp:    m.bytes.WithLabelValues(cfg.Name, label, "up"),
			bytesDown:  m.bytes.WithLabelValues(cfg.Name, label, "down"),
			conns:      m.conns.WithLabelValues(cfg.Name, label),
			dialErrors: m.errors.WithLabelValues(cfg.Name, label)}
		ph.up, ph.down = pace.New(pc.RateBPS), pace.New(pc.RateBPS)
		if pc.From != "" {
			pr, err := netip.ParsePrefix(pc.From)
			if err != nil {
				return nil, fmt.Errorf("wan: proxy %s: path from: %w", cfg.Name, err)
			}
			ph.prefix = pr.Masked()
		}
		return ph, nil
	}
	var err error
	for _, pc := range cfg.Paths {
		ph, err := mk(pc)
		if err != nil {
			return nil, err
		}
		if !ph.prefix.IsValid() {
			return nil, fmt.Errorf("wan: proxy %s: path %q has no from prefix", cfg.Name, pc.Label)
		}
		p.paths = append(p.paths, ph)
	}
	if p.def, err = mk(cfg.Default); err != nil {
		return nil, err
	}
	return p, nil
}

// pathFor is the path of a client at addr.
func (p *Proxy) pathFor(addr net.Addr) *path {
	if ta, ok := addr.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		ip = ip.Unmap()
		for _, ph := range p.paths {
			if ph.prefix.Contains(ip) {
				return ph
			}
		}
	}
	return p.def
}

// Serve accepts connections on ln until ctx ends, then closes the
// connections it carries.
func (p *Proxy) Serve(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // on an accept error too: the connections end
	context.AfterFunc(ctx, func() { ln.Close() })
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return fmt.Errorf("wan: %s: %w", p.cfg.Name, err)
		}
		wg.Go(func() { p.handle(ctx, c) })
	}
}

// handle carries one connection: a handshake's round trip, then bytes
// each way, delayed and paced.
func (p *Proxy) handle(ctx context.Context, c net.Conn) {
	defer c.Close()
	ph := p.pathFor(c.RemoteAddr())
	ph.conns.Inc()
	p.active.Inc()
	defer p.active.Dec()
	// The client's SYN, SYN-ACK and ACK: one round trip before it can
	// send, the server's connect the same way.
	if pace.Sleep(ctx, 2*ph.oneWay) != nil {
		return
	}
	b := p.dial(ctx)
	if b == nil {
		ph.dialErrors.Inc()
		p.log.Warn("no backend accepted", "proxy", p.cfg.Name)
		return
	}
	defer b.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	context.AfterFunc(ctx, func() { c.Close(); b.Close() })
	done := make(chan struct{}, 2)
	go func() { carry(ctx, b, c, ph.oneWay, ph.up, ph.bytesUp); done <- struct{}{} }()
	go func() { carry(ctx, c, b, ph.oneWay, ph.down, ph.bytesDown); done <- struct{}{} }()
	<-done // either side closed: the connection is over
	cancel()
	<-done
}

// dial connects to the next backend that accepts, or returns nil.
func (p *Proxy) dial(ctx context.Context) net.Conn {
	n := len(p.cfg.Backends)
	start := int(p.next.Add(1))
	for i := range n {
		be := p.cfg.Backends[(start+i)%n]
		c, err := p.dialContext(ctx, "tcp", be.Addr)
		if err == nil {
			return c
		}
	}
	return nil
}

type chunk struct {
	b   []byte
	due time.Time
}

// carry copies src to dst, each read delivered oneWay after it was read
// and paced by lim; it half-closes dst when src ends.
func carry(ctx context.Context, dst, src net.Conn, oneWay time.Duration, lim *pace.Limiter, count prometheus.Counter) {
	q := make(chan chunk, 64) // about 2 MiB in flight each way
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				select {
				case q <- chunk{buf[:n], time.Now().Add(oneWay)}:
				case <-ctx.Done():
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	for ch := range q {
		if pace.Sleep(ctx, time.Until(ch.due)) != nil {
			return
		}
		if err := lim.Wait(ctx, len(ch.b)); err != nil {
			return
		}
		if _, err := dst.Write(ch.b); err != nil {
			return
		}
		count.Add(float64(len(ch.b)))
	}
	if tc, ok := dst.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
	}
}

// Healthy reports whether any backend's health URL answers 200: the
// cluster is up while one of its nodes is.
func (p *Proxy) Healthy(ctx context.Context) bool {
	for _, be := range p.cfg.Backends {
		if be.Health == "" {
			continue
		}
		if code, err := httpx.Probe(ctx, p.hc, be.Health); err == nil && code == http.StatusOK {
			return true
		}
	}
	return false
}

// Name is the proxy's name.
func (p *Proxy) Name() string { return p.cfg.Name }

// HealthHandler answers GET /health/NAME with 200 while proxy NAME has a
// healthy backend and 503 when it has none: the check a DNS or a global
// load balancer makes of the cluster behind the proxy.
func HealthHandler(proxies []*Proxy) http.Handler {
	byName := map[string]*Proxy{}
	for _, p := range proxies {
		byName[p.Name()] = p
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health/{name}", func(w http.ResponseWriter, r *http.Request) {
		p := byName[r.PathValue("name")]
		if p == nil {
			http.Error(w, "no such proxy", http.StatusNotFound)
			return
		}
		if !p.Healthy(r.Context()) {
			http.Error(w, "no healthy backend", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	return mux
}
