package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/streamcdn/streamcdn/cdndns"
)

// TestEdgeReportsToDNS: "streamcdn edge --dns-admin --cluster" measures
// its clients' RTT on its real listener (TCP_INFO) and reports it, with
// its load, to a real cdndns admin API, authenticated with the admin
// token; the DNS then answers that client prefix by RTT.
func TestEdgeReportsToDNS(t *testing.T) {
	cfg, err := cdndns.LoadConfigFile("../../cdndns/examples/kingcdn.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := cdndns.New(*cfg, cdndns.Options{AdminToken: "dns-secret"})
	if err != nil {
		t.Fatal(err)
	}
	dnsAdmin := httptest.NewServer(d.Admin())
	defer dnsAdmin.Close()
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
		"--dns-admin", dnsAdmin.URL, "--cluster", "ap-south", "--report-interval", "50ms", "--log-level", "info")
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
			if c.Name == "ap-south" && c.RTTMs != nil && c.Utilisation > 0 {
				if ex.Decision.Cluster != "ap-south" || ex.Decision.Reason != "rtt" {
					t.Errorf("with ap-south's measured RTT: %+v", ex.Decision)
				}
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the DNS never got the edge's RTT and load reports")
}
