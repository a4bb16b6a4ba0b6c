package deploy

import (
	"encoding/json"
	"flag"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/streamcdn/streamcdn/cdndns"
	"github.com/streamcdn/streamcdn/deploy/examples"
	"github.com/streamcdn/streamcdn/deploy/wan"
	"github.com/streamcdn/streamcdn/internal/testutil"
)

// fixedPorts hands out ports 20000, 20001... so that plans are
// reproducible.
func fixedPorts() PortFunc {
	next := 20000
	return func(string, bool) (int, error) { next++; return next, nil }
}

func examplePlan(t *testing.T, data []byte, prom bool) *Plan {
	t.Helper()
	top, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(top, PlanConfig{Dir: t.TempDir(), EdgePort: 8080, Ports: fixedPorts(), Prometheus: prom, Controller: "127.0.0.1:9999"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPlanLayout(t *testing.T) {
	p := examplePlan(t, examples.World, false)
	kinds := map[string]int{}
	for _, c := range p.Components {
		kinds[c.Kind]++
		if c.Ready == "" || c.Admin == "" {
			t.Errorf("%s: no admin or ready URL", c.Name)
		}
	}
	// 4 regions with 2 nodes each; WAN in those 4 (sa-east has clients
	// only); one origin, shield and DNS.
	want := map[string]int{KindEdge: 8, KindWAN: 4, KindOrigin: 1, KindShield: 1, KindDNS: 1}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d %s components, want %d", kinds[k], k, n)
		}
	}
	c, ok := p.Component("edge-ap-south-2")
	if !ok || c.Listen != "127.0.4.11:8080" {
		t.Errorf("edge-ap-south-2 = %+v", c)
	}
	file := filepath.Join(p.Dir, "edge-ap-south-2.json")
	if strings.Join(c.Args, " ") != "edge --config "+file {
		t.Errorf("edge args %q, want its configuration file", c.Args)
	}
	var flags map[string]string
	if err := json.Unmarshal(p.Files[file], &flags); err != nil || flags["disk"] != filepath.Join(p.Dir, "cache", "edge-ap-south-2", "disk") {
		t.Errorf("edge configuration %s lacks its own disk tier (%v)", p.Files[file], err)
	}
}

// TestPlanDNS: the generated DNS configuration is one the DNS server
// accepts, hands the video host to the CDN, and locates each region.
func TestPlanDNS(t *testing.T) {
	p := examplePlan(t, examples.ThreeRegion, false)
	b := p.Files[filepath.Join(p.Dir, "dns.json")]
	cfg, err := cdndns.LoadConfig(b)
	if err != nil {
		t.Fatalf("generated DNS configuration refused: %v\n%s", err, b)
	}
	if len(cfg.Clusters) != 3 || cfg.Clusters[1].IPv4[0] != "127.0.2.1" || !strings.HasSuffix(cfg.Clusters[1].HealthURL, "/health/cluster") {
		t.Errorf("clusters = %+v", cfg.Clusters)
	}
	if got := cfg.Zones[0].Records[0]; got.Type != "CNAME" || got.Name != "video.netcinema.com." || got.Value != "a1105.kingcdn.com." {
		t.Errorf("handoff record = %+v", got)
	}
	if len(cfg.Geo) != 3 || cfg.Geo[2].Prefix != "127.0.3.0/24" || cfg.Geo[2].Location != "ap-south" {
		t.Errorf("geo = %+v", cfg.Geo)
	}
}

// TestPlanWAN: a cluster's proxy adds each client region's access RTT
// plus the path between the regions, at the narrower rate.
func TestPlanWAN(t *testing.T) {
	p := examplePlan(t, examples.ThreeRegion, false)
	var cfg wan.Config
	if err := json.Unmarshal(p.Files[filepath.Join(p.Dir, "wan-eu-west.json")], &cfg); err != nil {
		t.Fatal(err)
	}
	var cluster, uplink *wan.ProxyConfig
	for i := range cfg.Proxies {
		switch cfg.Proxies[i].Name {
		case "cluster":
			cluster = &cfg.Proxies[i]
		case "uplink":
			uplink = &cfg.Proxies[i]
		}
	}
	if cluster == nil || uplink == nil {
		t.Fatalf("proxies = %+v", cfg.Proxies)
	}
	want := map[string]wan.Path{
		"us-east":  {From: "127.0.1.0/24", Label: "us-east", RTTMs: 80, RateBPS: 100e6},  // 10 ms access + 70 ms link, access 100 Mbit/s
		"eu-west":  {From: "127.0.2.0/24", Label: "eu-west", RTTMs: 10, RateBPS: 100e6},  // its own region: access only
		"ap-south": {From: "127.0.3.0/24", Label: "ap-south", RTTMs: 140, RateBPS: 50e6}, // 20 + 120 ms, access 50 Mbit/s
	}
	for _, ph := range cluster.Paths {
		if ph != want[ph.Label] {
			t.Errorf("path %s = %+v, want %+v", ph.Label, ph, want[ph.Label])
		}
	}
	// eu-west's edges reach the shield in us-east over the 70 ms link.
	if uplink.Default.RTTMs != 70 || uplink.Default.RateBPS != 1e9 || uplink.Backends[0].Addr != "127.0.1.5:20007" {
		t.Errorf("uplink = %+v", uplink)
	}
}

// TestPrometheusConfig: promtool accepts the generated configuration.
func TestPrometheusConfig(t *testing.T) {
	p := examplePlan(t, examples.World, true)
	b := p.Files[filepath.Join(p.Dir, "prometheus.yml")]
	for _, want := range []string{"job_name: edge", "job_name: dns", "job_name: wan", "job_name: deploy", "127.0.0.1:9999", "region: ap-south"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("prometheus.yml lacks %q:\n%s", want, b)
		}
	}
	promtool := testutil.RequireTool(t, "promtool")
	path := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "config", path).CombinedOutput(); err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
}

// TestFreePort: the ports picked are free, on both protocols when asked,
// and outside the ephemeral range outgoing connections take theirs from.
func TestFreePort(t *testing.T) {
	low := ephemeralLow()
	for range 20 {
		port, err := FreePort("127.0.0.1", true)
		if err != nil {
			t.Fatal(err)
		}
		if port < 10000 || port >= low {
			t.Fatalf("port %d: want 10000 <= port < %d", port, low)
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			t.Fatalf("port %d not free for TCP: %v", port, err)
		}
		ln.Close()
	}
}

// TestEnsureToken: the admin token is a secret: a new one is written
// 0600, and one an earlier version left 0644 is narrowed, not replaced.
func TestEnsureToken(t *testing.T) {
	dir := t.TempDir()
	fresh := filepath.Join(dir, "fresh")
	if err := ensureToken(fresh); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, "old")
	if err := os.WriteFile(old, []byte("kept\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ensureToken(old); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fresh, old} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s: mode %v, want 0600", filepath.Base(p), perm)
		}
	}
	if b, _ := os.ReadFile(old); string(b) != "kept\n" {
		t.Errorf("an existing token was replaced: %q", b)
	}
	if b, _ := os.ReadFile(fresh); len(b) < 16 {
		t.Errorf("new token %q is too short", b)
	}
}

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestPlanConfigFiles pins the configuration files a plan writes for the
// streamcdn components of the three-region example (what each reads with
// --config), with the plan's directory as /srv/streamcdn; go test
// ./deploy -update rewrites them.
func TestPlanConfigFiles(t *testing.T) {
	top, err := Load(examples.ThreeRegion)
	if err != nil {
		t.Fatal(err)
	}
	const dir = "/srv/streamcdn"
	p, err := NewPlan(top, PlanConfig{Dir: dir, EdgePort: 8080, Ports: fixedPorts(), Controller: "127.0.0.1:9999"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range p.Components {
		if c.Program != "streamcdn" || (c.Kind != KindEdge && c.Kind != KindShield && c.Kind != KindOrigin) {
			continue
		}
		n++
		file := filepath.Join(dir, c.Name+".json")
		if want := []string{c.Args[0], "--config", file}; !slices.Equal(c.Args, want) {
			t.Errorf("%s runs %q, want %q", c.Name, c.Args, want)
		}
		golden := filepath.Join("testdata", "plan", c.Name+".json")
		if *updateGolden {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, p.Files[file], 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if string(p.Files[file]) != string(want) {
			t.Errorf("%s differs from %s:\n%s", file, golden, p.Files[file])
		}
	}
	if n != 5 {
		t.Errorf("%d edge, shield and origin components, want 5", n)
	}
}

// TestPlanFixedEdgePort: with the clusters on a fixed port, no other
// listener is given that port, even when the port picker offers it.
func TestPlanFixedEdgePort(t *testing.T) {
	top, err := Load(examples.ThreeRegion)
	if err != nil {
		t.Fatal(err)
	}
	next, offer := 20000, false
	ports := func(string, bool) (int, error) { // every other port offered is the clusters'
		offer = !offer
		if offer {
			return 8080, nil
		}
		next++
		return next, nil
	}
	p, err := NewPlan(top, PlanConfig{Dir: t.TempDir(), EdgePort: 8080, Ports: ports, Controller: "127.0.0.1:9999"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range p.Components {
		if strings.HasSuffix(c.Admin, ":8080") || c.Kind != KindEdge && strings.HasSuffix(c.Listen, ":8080") {
			t.Errorf("%s: listen %s, admin %s: the clusters' port given to another listener", c.Name, c.Listen, c.Admin)
		}
	}
	if strings.HasSuffix(p.DNS, ":8080") || strings.HasSuffix(p.DNSAdmin, ":8080") || strings.HasSuffix(p.Steer, ":8080") {
		t.Errorf("DNS %s, admin %s, steering %s: the clusters' port given to another listener", p.DNS, p.DNSAdmin, p.Steer)
	}
}
