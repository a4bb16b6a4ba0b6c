package cdndns

import (
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestReload: queries answered while the configuration is replaced all
// succeed; the new configuration takes effect; clusters keep their
// health, drain and load; the geo database is read again; a bad
// configuration is refused and the running one stays; the metrics follow
// the clusters without being registered twice.
func TestReload(t *testing.T) {
	cfg, err := LoadConfigFile("examples/kingcdn.yaml")
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	cfg.Registry = reg
	s, err := New(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.state().cluster("us-east").drained = true
	s.state().cluster("eu-west").load.Report("eu-west-1", 900, time.Now()) // 90% of 1000: shedding
	s.record(HealthConfig{}, s.state().cluster("eu-west"), false)
	s.record(HealthConfig{}, s.state().cluster("eu-west"), false) // down

	// The new configuration: ap-south gone, a new cluster, a new record.
	next := *cfg
	next.Clusters = append([]Cluster{}, cfg.Clusters[:2]...)
	next.Clusters = append(next.Clusters, Cluster{Name: "ap-east", Lat: 22.3, Lon: 114.2, IPv4: []string{"127.0.4.1"}})
	next.Zones = append([]Zone{}, cfg.Zones...)
	next.Zones[0].Records = append(append([]Record{}, cfg.Zones[0].Records...), Record{Name: "new.netcinema.com.", Type: "A", TTL: 60, Value: "127.0.0.81"})

	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				from := []string{"127.0.1.9", "127.0.2.9", "127.0.3.9"}[(w+i)%3]
				r := ask(s, from, query("video.netcinema.com.", dns.TypeA))
				if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 {
					mu.Lock()
					failures = append(failures, r.String())
					mu.Unlock()
				}
			}
		}()
	}
	for i := range 20 {
		c := cfg
		if i%2 == 0 {
			c = &next
		}
		if err := s.Reload(*c); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d queries failed during reloads, first:\n%s", len(failures), failures[0])
	}

	if err := s.Reload(next); err != nil {
		t.Fatal(err)
	}
	if r := ask(s, "127.0.0.1", query("new.netcinema.com.", dns.TypeA)); len(r.Answer) != 1 {
		t.Errorf("new record not served after reload: %v", r)
	}
	if d, _ := s.Decide("a1105.kingcdn.com.", netip.MustParseAddr("127.0.3.9")); d.Cluster == "ap-south" {
		t.Errorf("removed cluster still answered: %+v", d)
	}
	if d, _ := s.Decide("a1105.kingcdn.com.", netip.MustParseAddr("127.0.1.9")); d.Cluster == "us-east" {
		t.Errorf("drain lost across reloads: %+v", d)
	}
	if c := s.state().cluster("eu-west"); c.load.Shed(time.Now()) == 0 {
		t.Errorf("eu-west's reported load lost across reloads")
	}
	if n := testutil.CollectAndCount(s.metrics.up); n != 3 {
		t.Errorf("cluster_up series = %d, want 3 (ap-south dropped, ap-east added)", n)
	}

	if s.state().cluster("eu-west").healthy() {
		t.Errorf("eu-west's failed health checks lost across reloads")
	}

	// The geo database is read again: without it, 127.0.2.9 is unknown.
	noDB := next
	noDB.GeoDB = ""
	if err := s.Reload(noDB); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Decide("a1105.kingcdn.com.", netip.MustParseAddr("127.0.2.9")); d.Reason != "default" {
		t.Errorf("after reloading without geo_db: %+v, want reason default", d)
	}
	if err := s.Reload(next); err != nil {
		t.Fatal(err)
	}

	bad := next
	bad.Hosts = []Host{{Name: "a1105.elsewhere.net."}}
	if err := s.Reload(bad); err == nil || !strings.Contains(err.Error(), "hosts[0].name") {
		t.Errorf("bad config: %v, want an error naming hosts[0].name", err)
	}
	if r := ask(s, "127.0.0.1", query("new.netcinema.com.", dns.TypeA)); len(r.Answer) != 1 {
		t.Errorf("the running configuration was lost with a refused reload")
	}
	if _, err := reg.Gather(); err != nil {
		t.Errorf("metrics after reloads: %v", err)
	}
}
