package wan

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// start runs a proxy for cfg on 127.0.0.1:0 and returns its address.
func start(t *testing.T, cfg ProxyConfig) (string, *Proxy, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	p, err := newProxy(cfg, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return ln.Addr().String(), p, reg
}

func backend(t *testing.T, body string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, local, url string) (string, time.Duration) {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	c := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}, Timeout: 10 * time.Second}
	start := time.Now()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s from %s: %v", url, local, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), time.Since(start)
}

// TestPaths: each client network gets its own path's delay (at least
// the handshake and the request's round trip: two RTTs) and is counted
// under its label.
func TestPaths(t *testing.T) {
	if testing.Short() {
		t.Skip("wall-clock delays over sockets; TestShapingVirtual has the exact ones")
	}
	be := backend(t, "hello")
	addr, _, reg := start(t, ProxyConfig{Name: "cluster", Backends: []Backend{{Addr: strings.TrimPrefix(be.URL, "http://")}},
		Paths:   []Path{{From: "127.0.2.0/24", Label: "far", RTTMs: 150}, {From: "127.0.1.0/24", Label: "near", RTTMs: 0}},
		Default: Path{RTTMs: 0}})
	body, far := get(t, "127.0.2.100", "http://"+addr+"/")
	if body != "hello" {
		t.Errorf("body %q", body)
	}
	if far < 300*time.Millisecond {
		t.Errorf("a request over a 150 ms path took %v, less than two round trips", far)
	}
	get(t, "127.0.1.100", "http://"+addr+"/")
	for label, want := range map[string]float64{"far": 1, "near": 1, "default": 0} {
		if got := testutil.ToFloat64(mustConns(reg, label)); got != want {
			t.Errorf("connections on %s = %v, want %v", label, got, want)
		}
	}
}

func mustConns(reg *prometheus.Registry, label string) prometheus.Collector {
	fams, _ := reg.Gather()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x", Help: "A placeholder."})
	for _, f := range fams {
		if f.GetName() != "streamcdn_wan_connections_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "path" && l.GetValue() == label {
					g.Set(m.GetCounter().GetValue())
				}
			}
		}
	}
	return g
}

// TestActiveConnections: streamcdn_wan_connections counts a connection
// while it is open through the proxy, and no longer once it closed.
func TestActiveConnections(t *testing.T) {
	be := backend(t, "hello")
	addr, p, _ := start(t, ProxyConfig{Name: "cluster", Backends: []Backend{{Addr: strings.TrimPrefix(be.URL, "http://")}}})
	waitFor := func(want float64) {
		t.Helper()
		for range 500 { // 5 s
			if testutil.ToFloat64(p.active) == want {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("connections open = %v, want %v", testutil.ToFloat64(p.active), want)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(1)
	c.Close()
	waitFor(0)
}

// TestRate: a path's rate paces what flows to the client.
func TestRate(t *testing.T) {
	if testing.Short() {
		t.Skip("wall-clock pacing over sockets; TestShapingVirtual has the exact figure")
	}
	big := strings.Repeat("x", 500_000)
	be := backend(t, big)
	addr, _, _ := start(t, ProxyConfig{Name: "slow", Backends: []Backend{{Addr: strings.TrimPrefix(be.URL, "http://")}},
		Default: Path{RateBPS: 8e6}}) // 1 MB/s
	body, took := get(t, "127.0.0.1", "http://"+addr+"/")
	if len(body) != len(big) {
		t.Fatalf("got %d bytes", len(body))
	}
	// 500 kB at 1 MB/s cannot take less than 0.5 s minus one 50 ms burst.
	if took < 400*time.Millisecond {
		t.Errorf("500 kB at 8 Mbit/s took %v", took)
	}
}

// TestFailoverAndHealth: a dead backend is skipped; the cluster is
// healthy while one backend is, and not when none is.
func TestFailoverAndHealth(t *testing.T) {
	be := backend(t, "alive")
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer healthy.Close()
	addr, p, _ := start(t, ProxyConfig{Name: "cluster", Backends: []Backend{
		{Addr: deadAddr, Health: "http://" + deadAddr + "/healthz"},
		{Addr: strings.TrimPrefix(be.URL, "http://"), Health: healthy.URL + "/healthz"}}})
	for range 4 { // whichever backend comes first
		if body, _ := get(t, "127.0.0.1", "http://"+addr+"/"); body != "alive" {
			t.Fatalf("body %q", body)
		}
	}
	h := httptest.NewServer(HealthHandler([]*Proxy{p}))
	defer h.Close()
	status := func() int {
		resp, err := http.Get(h.URL + "/health/cluster")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := status(); s != http.StatusOK {
		t.Errorf("health with one node up = %d", s)
	}
	healthy.Close()
	if s := status(); s != http.StatusServiceUnavailable {
		t.Errorf("health with no node up = %d", s)
	}
	resp, err := http.Get(h.URL + "/health/nope")
	if err == nil {
		resp.Body.Close()
	}
	if err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown proxy: %v %v", resp, err)
	}
}

func TestNewRefuses(t *testing.T) {
	m, _ := NewMetrics(nil)
	for _, cfg := range []ProxyConfig{
		{Backends: []Backend{{Addr: "x:1"}}},
		{Name: "n"},
		{Name: "n", Backends: []Backend{{Addr: "x:1"}}, Paths: []Path{{From: "nonsense"}}},
		{Name: "n", Backends: []Backend{{Addr: "x:1"}}, Paths: []Path{{Label: "no prefix"}}},
		{Name: "n", Backends: []Backend{{Addr: "x:1"}}, Default: Path{RTTMs: -1}},
	} {
		if _, err := newProxy(cfg, m, nil); err == nil {
			t.Errorf("New(%+v): no error", cfg)
		}
	}
}

// TestWAN: New makes a region's proxies from one Config, Listen binds
// them, Serve carries them until its context ends, Health answers for
// each by name; a bad proxy fails New, a taken address Listen.
func TestWAN(t *testing.T) {
	be := backend(t, "hello")
	backends := []Backend{{Addr: strings.TrimPrefix(be.URL, "http://"), Health: be.URL}}
	reg := prometheus.NewRegistry()
	w, err := New(Config{Registry: reg, Proxies: []ProxyConfig{
		{Name: "a", Listen: "127.0.0.1:0", Backends: backends}, {Name: "b", Listen: "127.0.0.1:0", Backends: backends}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Serve(t.Context()); err == nil {
		t.Error("Serve before Listen: no error")
	}
	if err := w.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Serve(ctx) }()
	for _, ln := range w.lns {
		if body, _ := get(t, "127.0.0.1", "http://"+ln.Addr().String()+"/"); body != "hello" {
			t.Errorf("through %s: %q", ln.Addr(), body)
		}
	}
	for path, code := range map[string]int{"/health/a": 200, "/health/b": 200, "/health/c": 404} {
		rec := httptest.NewRecorder()
		w.Health().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != code {
			t.Errorf("GET %s: %d, want %d", path, rec.Code, code)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve after cancel: %v", err)
	}
	if n := testutil.ToFloat64(w.proxies[0].active); n != 0 {
		t.Errorf("connections open after Serve returned: %v", n)
	}

	if _, err := New(Config{Proxies: []ProxyConfig{{Name: "x"}}}); err == nil {
		t.Error("a proxy without backends: no error")
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	w2, err := New(Config{Proxies: []ProxyConfig{{Name: "a", Listen: taken.Addr().String(), Backends: backends}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w2.Listen(); err == nil {
		t.Error("Listen on a taken address: no error")
	}
	w2.Close()
}

// TestShapingVirtual carries a request and a 1 MB answer through a
// proxy on virtual time, over in-memory connections: the handshake costs
// one round trip, the request one way, the answer one way plus its size
// at the path's rate (less the one burst the rate allows), to the
// millisecond; a second connection to a backend that refuses gets
// nothing.
func TestShapingVirtual(t *testing.T) {
	const size = 1 << 20
	for _, tc := range []struct {
		name    string
		rttMs   float64
		rateBPS float64
		want    time.Duration
	}{
		// 1 RTT handshake + 1/2 RTT request + 1/2 RTT answer + 1 MiB at 1 MB/s - 50 ms burst.
		{"80ms 8Mbit", 80, 8e6, 160*time.Millisecond + time.Duration(size)*time.Second/1e6 - 50*time.Millisecond},
		{"200ms unlimited", 200, 0, 400 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m, _ := NewMetrics(nil)
				p, err := newProxy(ProxyConfig{Name: "c", Backends: []Backend{{Addr: "node"}},
					Default: Path{RTTMs: tc.rttMs, RateBPS: tc.rateBPS}}, m, nil)
				if err != nil {
					t.Fatal(err)
				}
				p.dialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
					srv, cli := net.Pipe()
					go func() { // the node: a request line in, size bytes out
						defer srv.Close()
						if _, err := bufio.NewReader(srv).ReadString('\n'); err != nil {
							return
						}
						srv.Write(make([]byte, size))
					}()
					return cli, nil
				}
				client, proxied := net.Pipe()
				go p.handle(t.Context(), proxied)
				start := time.Now()
				if _, err := client.Write([]byte("GET\n")); err != nil {
					t.Fatal(err)
				}
				n, err := io.Copy(io.Discard, client)
				took := time.Since(start)
				client.Close()
				if n != size || err != nil {
					t.Fatalf("read %d bytes (%v), want %d", n, err, size)
				}
				// The handshake's round trip passes before the client's
				// first write is read.
				if d := took - tc.want; d < -time.Millisecond || d > time.Millisecond {
					t.Errorf("took %v of virtual time, want %v", took, tc.want)
				}
			})
		})
	}
}
