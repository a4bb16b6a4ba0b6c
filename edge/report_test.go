package edge_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/streamcdn/streamcdn/cdndns"
	"github.com/streamcdn/streamcdn/edge"
)

// TestReportsSteerDNS: an edge measures its clients' RTT passively
// (TCP_INFO) and reports it with its load to a real cdndns admin API; the
// DNS then answers that client prefix by RTT, and the cluster's
// utilisation shows the edge's egress.
func TestReportsSteerDNS(t *testing.T) {
	cfg, err := cdndns.LoadConfigFile("../cdndns/examples/kingcdn.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dns, err := cdndns.New(*cfg, cdndns.Options{AdminToken: "dns-secret"})
	if err != nil {
		t.Fatal(err)
	}
	dnsAdmin := httptest.NewServer(dns.Admin())
	defer dnsAdmin.Close()

	body := strings.Repeat("x", 100_000)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, body)
	}))
	defer up.Close()
	e, err := edge.New(edge.Config{Upstream: up.URL, Name: "ap-south-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	es := httptest.NewUnstartedServer(e)
	es.Config.ConnContext = e.ConnContext
	es.Start()
	defer es.Close()

	ctx := t.Context()
	go e.RunReports(ctx, edge.ReportConfig{URL: dnsAdmin.URL, Cluster: "ap-south", Token: "dns-secret", Interval: 50 * time.Millisecond})

	client := netip.MustParseAddr("127.0.0.1") // the test's own connections
	for range 100 {                            // bounded: 100 × 50 ms
		res, err := http.Get(es.URL + "/seg.m4s")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		ex, err := dns.Explain("a1105.kingcdn.com", client)
		if err != nil {
			t.Fatal(err)
		}
		var rtt, util bool
		for _, c := range ex.Clusters {
			if c.Name == "ap-south" {
				rtt, util = c.RTTMs != nil, c.Utilisation > 0
			}
		}
		if rtt && util {
			if ex.Decision.Cluster != "ap-south" || ex.Decision.Reason != "rtt" || ex.Decision.Ranked[0] != "ap-south" {
				t.Errorf("with a measured RTT from ap-south only: %+v", ex.Decision)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the DNS never got the edge's RTT and load reports")
}
