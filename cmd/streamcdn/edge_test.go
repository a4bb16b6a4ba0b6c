package main

import (
	"crypto/tls"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/streamcdn/streamcdn/cdndns"
	"github.com/streamcdn/streamcdn/internal/testutil"
	"github.com/streamcdn/streamcdn/manifest"
	"github.com/streamcdn/streamcdn/steer"
)

// TestEdgeReportsToDNS: "streamcdn edge --dns-admin --steer-admin
// --cluster" measures its clients' RTT on its real listener (TCP_INFO)
// and reports it, with its load, to a real cdndns admin API and a real
// steering service's, authenticated with the admin token; the DNS then
// answers that client prefix by RTT, and the steering service has both
// kinds of report.
func TestEdgeReportsToDNS(t *testing.T) {
	cfg, err := cdndns.LoadConfigFile("../../cdndns/examples/kingcdn.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.AdminToken = "dns-secret"
	d, err := cdndns.New(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	dnsAdmin := httptest.NewServer(d.Admin())
	defer dnsAdmin.Close()
	steerAdmin, steerReg := steerReceiver(t, "dns-secret", "ap-south")
	// 100 kB without Content-Length: a chunked fill, whose stored header
	// once raced with the request streaming it.
	body := strings.Repeat("x", 100_000)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, body)
	}))
	defer up.Close()
	t.Setenv("STREAMCDN_ADMIN_TOKEN", "dns-secret")
	waitLog := runLogged(t, "edge", "--upstream", up.URL, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
		"--dns-admin", dnsAdmin.URL, "--steer-admin", steerAdmin.URL, "--cluster", "ap-south", "--report-interval", "50ms", "--log-level", "info")
	addr := regexp.MustCompile(`listen=(\S+)`).FindStringSubmatch(waitLog("edge serving"))[1]

	client := netip.MustParseAddr("127.0.0.1")
	for range 100 { // bounded: 100 × 50 ms
		res, err := http.Get("http://" + addr + "/seg.m4s")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		ex, err := d.Explain("a1105.kingcdn.com", client)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range ex.Clusters {
			if c.Name == "ap-south" && c.RTTMs != nil && c.Utilisation > 0 && len(steerReports(t, steerReg)) == 2 {
				if ex.Decision.Cluster != "ap-south" || ex.Decision.Reason != "rtt" {
					t.Errorf("with ap-south's measured RTT: %+v", ex.Decision)
				}
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the DNS or the steering service (%v) never got the edge's RTT and load reports", steerReports(t, steerReg))
}

// steerReceiver is a real steering service's admin API, taking reports
// for one edge with token, and its metrics.
func steerReceiver(t *testing.T, token, edge string) (*httptest.Server, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	st, err := steer.New(steer.Config{Origin: "http://127.0.0.1:1/", Token: token, Registry: reg,
		Edges: []steer.Edge{{Name: edge, URL: "http://127.0.9.1/", Admin: "http://127.0.9.1:1"}}})
	if err != nil {
		t.Fatal(err)
	}
	admin := httptest.NewServer(st.Admin())
	t.Cleanup(admin.Close)
	return admin, reg
}

// steerReports is the report batches the steering service applied, by
// kind (rtt, load).
func steerReports(t *testing.T, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "streamcdn_steer_edge_reports_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["result"] == "ok" {
				n[labels["kind"]] += m.GetCounter().GetValue()
			}
		}
	}
	return n
}

// TestEdgeReportsLoadOnly: "streamcdn edge --no-report-rtt", as deploy
// runs edges behind its WAN proxies, reports its load to the steering
// service and no client RTT.
func TestEdgeReportsLoadOnly(t *testing.T) {
	admin, reg := steerReceiver(t, "secret", "eu-west")
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "segment")
	}))
	defer up.Close()
	t.Setenv("STREAMCDN_ADMIN_TOKEN", "secret")
	waitLog := runLogged(t, "edge", "--upstream", up.URL, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
		"--steer-admin", admin.URL, "--cluster", "eu-west", "--no-report-rtt", "--report-interval", "50ms", "--log-level", "info")
	addr := regexp.MustCompile(`listen=(\S+)`).FindStringSubmatch(waitLog("edge serving"))[1]
	for range 100 { // bounded: 100 × 50 ms
		if res, err := http.Get("http://" + addr + "/seg.m4s"); err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		if n := steerReports(t, reg); n["load"] >= 3 {
			if n["rtt"] != 0 {
				t.Errorf("%v RTT reports from an edge told not to send them", n["rtt"])
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the steering service got %v", steerReports(t, reg))
}

// TestEdgeHTTPS: "streamcdn edge --tls-cert --tls-key" serves HTTPS with
// HTTP/2 by ALPN on its listener and its admin listener, and fetches from
// an https:// upstream trusted through --upstream-ca.
func TestEdgeHTTPS(t *testing.T) {
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "segment over TLS")
	}))
	defer up.Close()
	dir := t.TempDir()
	caFile := filepath.Join(dir, "upstream-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: up.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	ca := testutil.NewCA(t)
	crt, key := ca.Issue(t, dir, "edge", 7, "edge.example")
	waitLog := runLogged(t, "edge", "--upstream", up.URL, "--upstream-ca", caFile, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
		"--tls-cert", crt, "--tls-key", key, "--log-level", "info")
	line := waitLog("edge serving")
	addr := regexp.MustCompile(`listen=(\S+)`).FindStringSubmatch(line)[1]
	admin := regexp.MustCompile(`admin=(\S+)`).FindStringSubmatch(line)[1]
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Protocols: p,
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool, ServerName: "edge.example"}}}
	for i, want := range []string{"fwd=miss", "hit"} {
		res, err := c.Get("https://" + addr + "/t/1.m4s")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.Proto != "HTTP/2.0" || string(b) != "segment over TLS" || !strings.Contains(res.Header.Get("Cache-Status"), want) ||
			res.TLS.PeerCertificates[0].SerialNumber.Int64() != 7 {
			t.Errorf("request %d: %s %q, Cache-Status %q; want HTTP/2.0, the upstream's body, %s", i+1, res.Proto, b, res.Header.Get("Cache-Status"), want)
		}
	}
	res, err := c.Get("https://" + admin + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Proto != "HTTP/2.0" {
		t.Errorf("admin over TLS: %d %s", res.StatusCode, res.Proto)
	}
	if err := run(t.Context(), []string{"edge", "--upstream", up.URL, "--tls-cert", crt}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "pairs") {
		t.Errorf("a certificate without its key: %v", err)
	}
}

// TestEdgePlainProtocols: "streamcdn edge" on a plain listener serves
// HTTP/1.1 (internal/h1) and HTTP/2 with prior knowledge (handed to
// net/http) on the same port, the same cache behind both; --http-server
// takes h1 or net only.
func TestEdgePlainProtocols(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "segment")
	}))
	defer up.Close()
	waitLog := runLogged(t, "edge", "--upstream", up.URL, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--log-level", "info")
	addr := regexp.MustCompile(`listen=(\S+)`).FindStringSubmatch(waitLog("edge serving"))[1]
	h1p, h2c := new(http.Protocols), new(http.Protocols)
	h1p.SetHTTP1(true)
	h2c.SetUnencryptedHTTP2(true)
	for i, tc := range []struct {
		p           *http.Protocols
		proto, want string
	}{{h1p, "HTTP/1.1", "fwd=miss"}, {h2c, "HTTP/2.0", "hit"}, {h1p, "HTTP/1.1", "hit"}} {
		tr := &http.Transport{Protocols: tc.p}
		res, err := (&http.Client{Timeout: 10 * time.Second, Transport: tr}).Get("http://" + addr + "/t/1.m4s")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		tr.CloseIdleConnections()
		if res.Proto != tc.proto || string(b) != "segment" || !strings.Contains(res.Header.Get("Cache-Status"), tc.want) {
			t.Errorf("request %d: %s %q, Cache-Status %q; want %s, the upstream's body, %s", i+1, res.Proto, b, res.Header.Get("Cache-Status"), tc.proto, tc.want)
		}
	}
	if err := run(t.Context(), []string{"edge", "--upstream", up.URL, "--http-server", "fast"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "want h1 or net") {
		t.Errorf("--http-server fast: %v", err)
	}
}

// TestEdgeMemoryLimit: "edge --mem 64MiB" sets Go's memory limit to the
// budget, an eighth more for fills in flight, and edgeMemOverhead, less
// what is in memfds (nothing here), unless GOMEMLIMIT is set.
func TestEdgeMemoryLimit(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("GOGC", "")
	before, percent := debug.SetMemoryLimit(-1), debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetMemoryLimit(before); debug.SetGCPercent(percent) }) // after the edge stops
	up := httptest.NewServer(http.NotFoundHandler())
	defer up.Close()
	waitLog := runLogged(t, "edge", "--upstream", up.URL, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--mem", "64MiB", "--log-level", "info")
	waitLog("edge serving")
	if got, want := debug.SetMemoryLimit(-1), int64(64<<20+8<<20+edgeMemOverhead); got != want {
		t.Errorf("memory limit %d, want %d", got, want)
	}
}

// TestRealPlayersOverHTTPS: dash.js and shaka-player in headless Chromium
// play the sample from "streamcdn edge" over HTTPS, its certificate
// issued by a CA made in the test that Chromium trusts as a user's
// installed CA would be; the edge fills from a real origin.
func TestRealPlayersOverHTTPS(t *testing.T) {
	o := newPushOrigin(t, manifest.ProfileLive, "sample")
	dir := t.TempDir()
	ca := testutil.NewCA(t)
	crt, key := ca.Issue(t, dir, "edge", 9, "127.0.0.1")
	waitLog := runLogged(t, "edge", "--upstream", o.pub.URL, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
		"--tls-cert", crt, "--tls-key", key, "--log-level", "info")
	mpd := "https://" + regexp.MustCompile(`listen=(\S+)`).FindStringSubmatch(waitLog("edge serving"))[1] + "/sample/manifest.mpd"
	caPEM := ca.WritePEM(t, dir)
	for _, p := range []string{"dashjs", "shaka"} {
		t.Run(p, func(t *testing.T) {
			v := testutil.DashCheckWith(t, mpd, p, testutil.DashCheckOptions{CAPEM: caPEM})
			if !v.OK || v.Stalls.Count != 0 {
				t.Errorf("%s over HTTPS: ok %v, %d stalls: %v", p, v.OK, v.Stalls.Count, v.FailReasons)
			}
		})
	}
}
