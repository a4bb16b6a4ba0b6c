package deploy

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/streamcdn/streamcdn/cdndns"
	"github.com/streamcdn/streamcdn/deploy/wan"
	"github.com/streamcdn/streamcdn/internal/geo"
	"github.com/streamcdn/streamcdn/internal/pace"
	"github.com/streamcdn/streamcdn/steer"
)

// configured writes the flags of component name, a streamcdn command,
// as its configuration file (NAME.json under Dir, keyed by flag name:
// what "streamcdn CMD --config" reads) and returns the command line that
// runs it. flags are name, value pairs.
func (p *Plan) configured(cmd, name string, flags ...string) []string {
	values := map[string]string{}
	for i := 0; i+1 < len(flags); i += 2 {
		values[flags[i]] = flags[i+1]
	}
	b, _ := json.MarshalIndent(values, "", "  ") // a map of strings always marshals
	file := filepath.Join(p.Dir, name+".json")
	p.Files[file] = append(b, '\n')
	return []string{cmd, "--config", file}
}

// Addresses on one machine: region R (numbered from 1) is 127.0.R.0/24.
//
//	127.0.R.1       the cluster's address, which the DNS answers: the WAN proxy
//	127.0.R.2       the region's WAN proxies' admin (/health/cluster, /metrics)
//	127.0.R.3       the uplink: edges to their parent, over the WAN
//	127.0.R.4       the origin, in its region
//	127.0.R.5       the shield, in its region; 127.0.R.6 its uplink to the origin
//	127.0.R.7       the steering service, in its region
//	127.0.R.10+n    edge node n
//	127.0.R.100-199 players, as the region's clients
//	127.0.0.53      the DNS; 127.0.0.90 Prometheus
const (
	hostVIP      = 1
	hostWANAdmin = 2
	hostUplink   = 3
	hostOrigin   = 4
	hostShield   = 5
	hostShieldUp = 6
	hostSteer    = 7
	hostEdge     = 10
	hostPlayer   = 100
	dnsIP        = "127.0.0.53"
	promIP       = "127.0.0.90"
)

// Component kinds.
const (
	KindOrigin     = "origin"
	KindShield     = "shield"
	KindEdge       = "edge"
	KindWAN        = "wan"
	KindDNS        = "dns"
	KindSteer      = "steer"
	KindPrometheus = "prometheus"
)

// Component is one process of a local deployment.
type Component struct {
	// Name is unique: origin, shield, edge-us-east-1, wan-us-east, dns.
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Region string `json:"region,omitempty"`
	// Program is "streamcdn" (the deploying binary) or another program,
	// e.g. prometheus.
	Program string   `json:"program"`
	Args    []string `json:"args"`
	// Listen is the service address, Admin the address of /metrics and
	// /healthz.
	Listen string `json:"listen,omitempty"`
	Admin  string `json:"admin"`
	// Ready is the URL that answers 200 once the component serves.
	Ready string `json:"ready"`
	// Metrics is the path Prometheus scrapes on Admin.
	Metrics string `json:"metrics"`
}

// Plan is a topology laid out on one machine: every component's
// addresses and command line, and the files they read.
type Plan struct {
	Topology *Topology `json:"-"`
	// Dir holds the generated files, the titles, caches and logs.
	Dir        string      `json:"dir"`
	Components []Component `json:"components"`
	// Files are the generated configurations, by path under Dir.
	Files map[string][]byte `json:"-"`
	// EdgePort is the port of every cluster's address.
	EdgePort int `json:"edge_port"`
	// DNS is the authoritative server's address (UDP and TCP).
	DNS string `json:"dns"`
	// DNSAdmin is its admin URL.
	DNSAdmin string `json:"dns_admin"`
	// Prometheus is its URL, when one runs.
	Prometheus string `json:"prometheus,omitempty"`
	// Steer is the steering service's base URL, when one runs.
	Steer string `json:"steer,omitempty"`
}

// PortFunc returns a free port on ip, for TCP (and UDP too when udp).
type PortFunc func(ip string, udp bool) (int, error)

// PlanConfig says how to lay out a topology.
type PlanConfig struct {
	Dir string
	// Ports picks ports; nil: FreePort.
	Ports PortFunc
	// EdgePort, when set, is the clusters' port; otherwise one free on
	// every cluster address is picked.
	EdgePort int
	// Prometheus adds a Prometheus server scraping every component.
	Prometheus bool
	// Controller, when set, is the controller's address (host:port),
	// which Prometheus scrapes too.
	Controller string
}

// RegionIP is host h of region number r.
func RegionIP(r, h int) string { return fmt.Sprintf("127.0.%d.%d", r, h) }

// ClusterIP is the address of region number r's edge cluster, which the
// DNS answers and the steering service offers.
func ClusterIP(r int) string { return RegionIP(r, hostVIP) }

// PlayerIP is the source address of player k of region number r.
func PlayerIP(r, k int) string { return RegionIP(r, hostPlayer+k%100) }

// NewPlan lays t out under cfg.Dir.
func NewPlan(t *Topology, cfg PlanConfig) (*Plan, error) {
	pl := &planner{t: t, cfg: cfg, ports: cfg.Ports, p: &Plan{Topology: t, Dir: cfg.Dir, Files: map[string][]byte{}},
		tokenFile: filepath.Join(cfg.Dir, TokenFile), wans: map[string]*wan.Config{}}
	if pl.ports == nil {
		pl.ports = FreePort
	}
	if fixed := cfg.EdgePort; fixed > 0 {
		// The clusters' port is taken on the edges' addresses: no other
		// listener gets it.
		free := pl.ports
		pl.ports = func(ip string, udp bool) (int, error) {
			for range 100 {
				port, err := free(ip, udp)
				if err != nil || port != fixed {
					return port, err
				}
			}
			return 0, fmt.Errorf("deploy: no free port on %s but %d", ip, fixed)
		}
	}
	p := pl.p
	p.EdgePort = cfg.EdgePort
	if p.EdgePort == 0 {
		var ips []string // every address that listens on EdgePort
		for i, r := range t.Regions {
			if r.Edge != nil {
				ips = append(ips, RegionIP(i+1, hostVIP))
				for n := range r.Edge.Nodes {
					ips = append(ips, RegionIP(i+1, hostEdge+n))
				}
			}
		}
		port, err := commonPort(ips, pl.ports)
		if err != nil {
			return nil, err
		}
		p.EdgePort = port
	}
	// The order is the start order: each tier after its parent.
	// The front doors' addresses come first: the edges report to them.
	steps := []func() error{pl.frontDoors, pl.origin, pl.shield, pl.clusters, pl.wanProcesses, pl.dns, pl.steer}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	for i := range p.Components {
		c := &p.Components[i]
		c.Ready, c.Metrics = "http://"+c.Admin+"/healthz", "/metrics"
	}
	if cfg.Prometheus {
		if err := pl.prometheus(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// planner lays a topology out as NewPlan does, tier by tier.
type planner struct {
	t         *Topology
	cfg       PlanConfig
	ports     PortFunc
	p         *Plan
	tokenFile string
	// parent is the tier the edges fill from: the shield, else the
	// origin; its service and admin addresses and its region.
	parent, parentAdmin, parentRegion string
	wans                              map[string]*wan.Config // by region
	dnsClusters                       []cdndns.Cluster
	steerEdges                        []steer.Edge // the clusters, for the steering service
	steerListen, steerAdmin           string       // when the topology has the service
}

// frontDoors picks the DNS's and the steering service's addresses.
func (pl *planner) frontDoors() error {
	p, t := pl.p, pl.t
	dport, err := pl.ports(dnsIP, true)
	if err != nil {
		return err
	}
	p.DNS = net.JoinHostPort(dnsIP, strconv.Itoa(dport))
	dadmin, err := pl.addr(dnsIP)
	if err != nil {
		return err
	}
	p.DNSAdmin = "http://" + dadmin
	if t.Steering != nil {
		_, R := t.Region(t.Steering.Region)
		if pl.steerListen, pl.steerAdmin, err = pl.pair(RegionIP(R, hostSteer)); err != nil {
			return err
		}
		p.Steer = "http://" + pl.steerListen
	}
	return nil
}

// addr is a free address on ip.
func (pl *planner) addr(ip string) (string, error) {
	port, err := pl.ports(ip, false)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(ip, strconv.Itoa(port)), nil
}

// pair is a service address and an admin address on ip.
func (pl *planner) pair(ip string) (listen, admin string, err error) {
	if listen, err = pl.addr(ip); err != nil {
		return "", "", err
	}
	admin, err = pl.addr(ip)
	return listen, admin, err
}

// uplink is the WAN proxy at listen by which a tier in region from
// reaches its parent in region to, at toListen.
func (pl *planner) uplink(name, listen, toListen, toAdmin, from, to string) wan.ProxyConfig {
	rtt, bps := pl.t.Path(from, to)
	return wan.ProxyConfig{Name: name, Listen: listen,
		Backends: []wan.Backend{{Addr: toListen, Health: "http://" + toAdmin + "/healthz"}},
		Default:  wan.Path{Label: to, RTTMs: ms(rtt), RateBPS: bps}}
}

// wanOf is region's WAN process configuration, made on first use.
func (pl *planner) wanOf(region string) *wan.Config {
	if pl.wans[region] == nil {
		pl.wans[region] = &wan.Config{}
	}
	return pl.wans[region]
}

func (pl *planner) origin() error {
	t := pl.t
	_, o := t.Region(t.Origin.Region)
	listen, admin, err := pl.pair(RegionIP(o, hostOrigin))
	if err != nil {
		return err
	}
	pl.p.Components = append(pl.p.Components, Component{
		Name: "origin", Kind: KindOrigin, Region: t.Origin.Region, Program: "streamcdn",
		Args: pl.p.configured("origin", "origin", "dir", filepath.Join(pl.cfg.Dir, "titles"), "listen", listen,
			"admin", admin, "log-level", "warn"),
		Listen: listen, Admin: admin,
	})
	pl.parent, pl.parentAdmin, pl.parentRegion = listen, admin, t.Origin.Region
	return nil
}

// shield adds the shield, if the topology has one, behind its uplink to
// the origin; it becomes the edges' parent.
func (pl *planner) shield() error {
	t := pl.t
	if t.Shield == nil {
		return nil
	}
	_, s := t.Region(t.Shield.Region)
	listen, admin, err := pl.pair(RegionIP(s, hostShield))
	if err != nil {
		return err
	}
	up, err := pl.addr(RegionIP(s, hostShieldUp))
	if err != nil {
		return err
	}
	wc := pl.wanOf(t.Shield.Region)
	wc.Proxies = append(wc.Proxies, pl.uplink("shield-uplink", up, pl.parent, pl.parentAdmin, t.Shield.Region, t.Origin.Region))
	pl.p.Components = append(pl.p.Components, Component{
		Name: "shield", Kind: KindShield, Region: t.Shield.Region, Program: "streamcdn",
		Args: pl.p.configured("edge", "shield", "upstream", "http://"+up, "listen", listen, "admin", admin,
			"name", "shield", "region", t.Shield.Region, "mem", t.Shield.Memory, "mode", "pull",
			"token-file", pl.tokenFile, "log-level", "warn"),
		Listen: listen, Admin: admin,
	})
	pl.parent, pl.parentAdmin, pl.parentRegion = listen, admin, t.Shield.Region
	return nil
}

// clusters adds each region's edge nodes, its uplink to the parent and
// the cluster proxy in front of the nodes, with a path from every
// region's clients.
func (pl *planner) clusters() error {
	for i, r := range pl.t.Regions {
		if r.Edge == nil {
			continue
		}
		if err := pl.cluster(i+1, r); err != nil {
			return err
		}
	}
	return nil
}

func (pl *planner) cluster(R int, r Region) error {
	t, p := pl.t, pl.p
	wc := pl.wanOf(r.Name)
	vip := net.JoinHostPort(RegionIP(R, hostVIP), strconv.Itoa(p.EdgePort))
	up, err := pl.addr(RegionIP(R, hostUplink))
	if err != nil {
		return err
	}
	wc.Proxies = append(wc.Proxies, pl.uplink("uplink", up, pl.parent, pl.parentAdmin, r.Name, pl.parentRegion))
	cluster := wan.ProxyConfig{Name: "cluster", Listen: vip}
	for n := range r.Edge.Nodes {
		ip := RegionIP(R, hostEdge+n)
		listen := net.JoinHostPort(ip, strconv.Itoa(p.EdgePort))
		admin, err := pl.addr(ip)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("edge-%s-%d", r.Name, n+1)
		flags := []string{"upstream", "http://" + up, "listen", listen, "admin", admin,
			"name", name, "region", r.Name, "mem", r.Edge.Memory,
			"pinned", filepath.Join(pl.cfg.Dir, "cache", name, "pinned"), "pinned-size", r.Edge.PinnedBudget(),
			"mode", r.Edge.EdgeMode(), "token-file", pl.tokenFile, "log-level", "warn",
			// Load reports to the front doors each second; no RTTs: the
			// edges see the WAN proxy's connections, not the clients'.
			"dns-admin", p.DNSAdmin, "cluster", r.Name, "report-interval", "1s", "no-report-rtt", "true"}
		if t.Steering != nil {
			flags = append(flags, "steer-admin", "http://"+pl.steerAdmin)
		}
		if r.Edge.Disk != "" {
			flags = append(flags, "disk", filepath.Join(pl.cfg.Dir, "cache", name, "disk"), "disk-size", r.Edge.Disk)
		}
		p.Components = append(p.Components, Component{Name: name, Kind: KindEdge, Region: r.Name,
			Program: "streamcdn", Args: p.configured("edge", name, flags...), Listen: listen, Admin: admin})
		cluster.Backends = append(cluster.Backends, wan.Backend{Addr: listen, Health: "http://" + admin + "/healthz"})
	}
	for j, c := range t.Regions {
		rtt, bps := t.Path(c.Name, r.Name)
		rtt += c.Clients.RTT.D()
		if abps, _ := pace.ParseRate(c.Clients.Bandwidth); abps > 0 && (bps == 0 || abps < bps) {
			bps = abps
		}
		cluster.Paths = append(cluster.Paths, wan.Path{From: netip.PrefixFrom(netip.MustParseAddr(RegionIP(j+1, 0)), 24).String(),
			Label: c.Name, RTTMs: ms(rtt), RateBPS: bps})
	}
	wc.Proxies = append(wc.Proxies, cluster)
	capacity, _ := pace.ParseRate(r.Edge.Capacity)
	pl.dnsClusters = append(pl.dnsClusters, cdndns.Cluster{Name: r.Name, Region: r.Name, Lat: r.Lat, Lon: r.Lon,
		IPv4: []string{RegionIP(R, hostVIP)}, Capacity: capacity / 1e6})
	pl.steerEdges = append(pl.steerEdges, steer.Edge{Name: r.Name, URL: "http://" + vip + "/",
		Admin: "http://" + p.Components[len(p.Components)-int(r.Edge.Nodes)].Admin, Lat: r.Lat, Lon: r.Lon, Capacity: capacity / 1e6})
	return nil
}

// steer adds the steering service, if the topology has one: its edges
// are the clusters, each by its address and its first node's admin API
// (health and holdings).
func (pl *planner) steer() error {
	t, p := pl.t, pl.p
	if t.Steering == nil {
		return nil
	}
	listen, admin := pl.steerListen, pl.steerAdmin
	o, _ := p.Component("origin")
	cfg := steer.Config{Origin: "http://" + o.Listen + "/", Edges: pl.steerEdges}
	cfg.Geo = t.regionNets()
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	file := filepath.Join(pl.cfg.Dir, "steer.json")
	p.Files[file] = append(b, '\n')
	p.Components = append(p.Components, Component{Name: "steer", Kind: KindSteer, Region: t.Steering.Region, Program: "streamcdn",
		Args: []string{"steer", "--config", file, "--listen", listen, "--admin", admin, "--token-file", pl.tokenFile, "--log-level", "warn",
			"--ttl", t.Steering.SteeringTTL().String()},
		Listen: listen, Admin: admin})
	return nil
}

// wanProcesses adds the WAN processes, one per region that has proxies;
// each region's cluster is healthy as its WAN process says.
func (pl *planner) wanProcesses() error {
	for i, r := range pl.t.Regions {
		wc := pl.wans[r.Name]
		if wc == nil {
			continue
		}
		admin, err := pl.addr(RegionIP(i+1, hostWANAdmin))
		if err != nil {
			return err
		}
		file := filepath.Join(pl.cfg.Dir, "wan-"+r.Name+".json")
		b, err := json.MarshalIndent(wc, "", "  ")
		if err != nil {
			return err
		}
		pl.p.Files[file] = append(b, '\n')
		pl.p.Components = append(pl.p.Components, Component{Name: "wan-" + r.Name, Kind: KindWAN, Region: r.Name,
			Program: "streamcdn", Args: []string{"wan", "--config", file, "--admin", admin, "--log-level", "warn"}, Admin: admin})
		for k := range pl.dnsClusters {
			if pl.dnsClusters[k].Name == r.Name {
				pl.dnsClusters[k].HealthURL = "http://" + admin + "/health/cluster"
			}
		}
	}
	return nil
}

// dns adds the CDN's DNS, configured with the clusters.
func (pl *planner) dns() error {
	p := pl.p
	dadmin := strings.TrimPrefix(p.DNSAdmin, "http://")
	b, err := json.MarshalIndent(pl.t.DNSConfig(pl.dnsClusters, []string{dnsIP}), "", "  ")
	if err != nil {
		return err
	}
	dfile := filepath.Join(pl.cfg.Dir, "dns.json")
	p.Files[dfile] = append(b, '\n')
	p.Components = append(p.Components, Component{Name: "dns", Kind: KindDNS, Program: "streamcdn",
		Args:   []string{"dns", "--config", dfile, "--listen", p.DNS, "--admin", dadmin, "--token-file", pl.tokenFile, "--log-level", "warn"},
		Listen: p.DNS, Admin: dadmin})
	return nil
}

// prometheus adds a Prometheus that scrapes every component (and the
// controller, when given).
func (pl *planner) prometheus() error {
	p := pl.p
	padmin, err := pl.addr(promIP)
	if err != nil {
		return err
	}
	p.Prometheus = "http://" + padmin
	pfile := filepath.Join(pl.cfg.Dir, "prometheus.yml")
	var extra []string
	if pl.cfg.Controller != "" {
		extra = append(extra, pl.cfg.Controller)
	}
	if p.Files[pfile], err = PrometheusConfig(p.Components, pl.t.Name, extra...); err != nil {
		return err
	}
	p.Components = append(p.Components, Component{Name: "prometheus", Kind: KindPrometheus, Program: "prometheus",
		Args: []string{"--config.file=" + pfile, "--storage.tsdb.path=" + filepath.Join(pl.cfg.Dir, "prometheus"),
			"--web.listen-address=" + padmin, "--storage.tsdb.retention.time=1d", "--log.level=warn"},
		Admin: padmin, Ready: "http://" + padmin + "/-/ready", Metrics: "/metrics"})
	return nil
}

// DNSConfig is the DNS's configuration for clusters: the provider's
// zone with the CNAME handoff, the CDN's zone answering the CDN host by
// selection among clusters, and each region's networks (127.0.R.0/24)
// located at its coordinates. nsIPs are the name servers' addresses,
// ns1, ns2... of each zone.
func (t *Topology) DNSConfig(clusters []cdndns.Cluster, nsIPs []string) cdndns.Config {
	d := t.DNS
	fq := func(s string) string { return strings.TrimSuffix(s, ".") + "." }
	zone := func(origin string) cdndns.Zone {
		z := cdndns.Zone{Origin: fq(origin),
			SOA: cdndns.SOA{MName: "ns1." + fq(origin), RName: "hostmaster." + fq(origin), Serial: 1, Minimum: 30}}
		for i, ip := range nsIPs {
			z.NS = append(z.NS, cdndns.NS{Name: fmt.Sprintf("ns%d.%s", i+1, fq(origin)), IPv4: ip})
		}
		return z
	}
	provider, cdn := zone(d.Provider), zone(d.CDN)
	provider.Records = []cdndns.Record{{Name: fq(d.Video), Type: "CNAME", TTL: 300, Value: fq(d.Host)}}
	ttl := cmp.Or(d.TTL.D(), 20*time.Second)
	cfg := cdndns.Config{
		Zones:    []cdndns.Zone{provider, cdn},
		Clusters: clusters,
		Hosts:    []cdndns.Host{{Name: fq(d.Host), TTL: uint32(ttl.Seconds())}},
		Health:   t.health(),
	}
	cfg.Geo = t.regionNets()
	return cfg
}

// regionNets place each region's clients, 127.0.R.0/24, at the region,
// for the DNS and the steering service alike.
func (t *Topology) regionNets() []geo.Net {
	var nets []geo.Net
	for i, r := range t.Regions {
		nets = append(nets, geo.Net{Prefix: RegionIP(i+1, 0) + "/24", Lat: r.Lat, Lon: r.Lon, Location: r.Name})
	}
	return nets
}

// health is the DNS's health checks: the topology's, with the defaults
// (1 s apart, 500 ms timeout, 2 down, 2 up).
func (t *Topology) health() cdndns.HealthConfig {
	h := t.DNS.Health
	return cdndns.HealthConfig{Interval: cmp.Or(h.Interval, Duration(time.Second)),
		Timeout: cmp.Or(h.Timeout, Duration(500*time.Millisecond)), Down: cmp.Or(h.Down, 2), Up: cmp.Or(h.Up, 2)}
}

// HealthBound is how long after a cluster fails the DNS stops answering
// with it, at most: down-threshold checks, one interval apart, each up
// to the timeout, plus the interval until the first.
func (t *Topology) HealthBound() (bound, interval time.Duration) {
	h := t.health()
	return time.Duration(h.Down)*(h.Interval.D()+h.Timeout.D()) + h.Interval.D(), h.Interval.D()
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// FreePort returns a port free on ip now (TCP, and UDP when udp), tried
// by binding it. It is picked below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range): a port from that range, free when
// checked, can be taken by any outgoing connection before the component
// binds it, and at scale one is.
func FreePort(ip string, udp bool) (int, error) {
	low := ephemeralLow()
	for range 200 {
		port := 10000 + rand.IntN(low-10000)
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
		if err != nil {
			continue
		}
		ln.Close()
		if !udp {
			return port, nil
		}
		pc, err := net.ListenPacket("udp", net.JoinHostPort(ip, strconv.Itoa(port)))
		if err == nil {
			_ = pc.Close()
			return port, nil
		}
	}
	return 0, fmt.Errorf("free port on %s: none of 200 tried below %d is free", ip, low)
}

// ephemeralLow is the first port of the kernel's ephemeral range, or
// 32768 where it cannot be read.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	low, err := strconv.Atoi(f[0])
	if err != nil || low <= 11000 {
		return 32768
	}
	return low
}

// commonPort is a port free on every address in ips.
func commonPort(ips []string, ports PortFunc) (int, error) {
	for range 20 {
		port, err := ports(ips[0], false)
		if err != nil {
			return 0, err
		}
		ok := true
		for _, ip := range ips[1:] {
			ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
			if err != nil {
				ok = false
				break
			}
			ln.Close()
		}
		if ok {
			return port, nil
		}
	}
	return 0, fmt.Errorf("no port free on all of %s", strings.Join(ips, ", "))
}
