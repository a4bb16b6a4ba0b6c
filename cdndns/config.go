package cdndns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/miekg/dns"
	"github.com/streamcdn/streamcdn/internal/conf"
)

// Config is the DNS server's configuration, read from YAML or JSON with
// unknown fields refused (LoadConfig).
type Config struct {
	// Zones are the zones served, e.g. netcinema.com and kingcdn.com.
	Zones []Zone `json:"zones"`
	// Clusters are the CDN's edge clusters.
	Clusters []Cluster `json:"clusters"`
	// Hosts are the CDN hostnames answered by cluster selection, e.g.
	// a1105.kingcdn.com; each must lie in one of Zones.
	Hosts []Host `json:"hosts"`
	// GeoDB is the path of a MaxMind-format city database (GeoLite2-City,
	// or one built by WriteGeoDB) that locates clients. LoadConfigFile
	// resolves a relative path against the configuration's directory.
	GeoDB string `json:"geo_db,omitempty"`
	// Geo maps client prefixes to locations ahead of GeoDB: an operator's
	// own networks.
	Geo []GeoNet `json:"geo,omitempty"`
	// Health configures the active health checks.
	Health HealthConfig `json:"health"`
	// RTTMaxAge is how long a measured RTT stays fresh; if zero, 5m.
	RTTMaxAge Duration `json:"rtt_max_age,omitempty"`
}

// Zone is one zone with its SOA, NS and static records.
type Zone struct {
	Origin  string   `json:"origin"`
	SOA     SOA      `json:"soa"`
	NS      []NS     `json:"ns"`
	Records []Record `json:"records"`
}

// SOA holds the zone's SOA fields. Zero timers get RFC 1912 defaults.
type SOA struct {
	MName   string `json:"mname"`
	RName   string `json:"rname"`
	Serial  uint32 `json:"serial"`
	Refresh uint32 `json:"refresh"`
	Retry   uint32 `json:"retry"`
	Expire  uint32 `json:"expire"`
	Minimum uint32 `json:"minimum"` // negative-caching TTL
}

// NS is a name server of the zone, with its glue address when in-zone.
type NS struct {
	Name string `json:"name"`
	IPv4 string `json:"ipv4,omitempty"`
}

// Record is a static record in presentation format, e.g.
// {"name": "video.netcinema.com.", "type": "CNAME", "ttl": 300, "value": "a1105.kingcdn.com."}.
type Record struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	TTL   uint32 `json:"ttl"`
	Value string `json:"value"`
}

// Cluster is an edge cluster.
type Cluster struct {
	Name   string   `json:"name"`
	Region string   `json:"region"`
	Lat    float64  `json:"lat"`
	Lon    float64  `json:"lon"`
	IPv4   []string `json:"ipv4"`
	IPv6   []string `json:"ipv6,omitempty"`
	// Capacity is what the cluster can serve, in the unit its load is
	// reported in: streamcdn edges report egress in Mbit/s. Zero: no
	// load shedding.
	Capacity  float64 `json:"capacity,omitempty"`
	HealthURL string  `json:"health_url,omitempty"`
}

// Host is a CDN hostname answered by selection.
type Host struct {
	Name string `json:"name"`
	// TTL of the answers; if zero, defaults to 30 s.
	TTL uint32 `json:"ttl"`
	// Clusters that may serve it; empty means all.
	Clusters []string `json:"clusters,omitempty"`
}

// GeoNet locates the clients of one prefix.
type GeoNet struct {
	Prefix string  `json:"prefix"`
	Lat    float64 `json:"lat"`
	Lon    float64 `json:"lon"`
	// Location names the place for explain, e.g. "Paris office".
	Location string `json:"location,omitempty"`
}

// HealthConfig configures the active checks of clusters' HealthURL.
type HealthConfig struct {
	// Interval between checks; if zero, 2s.
	Interval Duration `json:"interval"`
	// Timeout of one check; if zero, 1s.
	Timeout Duration `json:"timeout"`
	// Down is the failures in a row that take a cluster out; if zero, 2.
	Down int `json:"down"`
	// Up is the successes in a row that bring it back; if zero, 2.
	Up int `json:"up"`
}

// Duration is a time.Duration written as "2s" in YAML and JSON.
type Duration = conf.Duration

// LoadConfigFile reads a YAML or JSON configuration (LoadConfig) and
// resolves its relative geo_db path against the file's directory.
func LoadConfigFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := LoadConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if c.GeoDB != "" && !filepath.IsAbs(c.GeoDB) {
		c.GeoDB = filepath.Join(filepath.Dir(path), c.GeoDB)
	}
	return c, nil
}

// LoadConfig decodes one YAML or JSON configuration strictly (an unknown
// field is an error) and validates it.
func LoadConfig(data []byte) (*Config, error) {
	var c Config
	if err := conf.Decode(data, &c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate checks every field and names the first one at fault.
func (c *Config) Validate() error {
	if len(c.Zones) == 0 {
		return errors.New("config: zones: at least one zone is required")
	}
	var origins []string
	for i, z := range c.Zones {
		if err := z.validate(); err != nil {
			return fmt.Errorf("config: zones[%d]: %w", i, err)
		}
		origins = append(origins, dns.Fqdn(strings.ToLower(z.Origin)))
	}
	names := map[string]bool{}
	for i, cl := range c.Clusters {
		if err := cl.validate(); err != nil {
			return fmt.Errorf("config: clusters[%d]: %w", i, err)
		}
		if names[cl.Name] {
			return fmt.Errorf("config: clusters[%d].name: %q repeated", i, cl.Name)
		}
		names[cl.Name] = true
	}
	for i, h := range c.Hosts {
		if _, ok := dns.IsDomainName(h.Name); !ok || !inZones(dns.Fqdn(strings.ToLower(h.Name)), origins) {
			return fmt.Errorf("config: hosts[%d].name: %q is not a name in the zones served", i, h.Name)
		}
		if len(c.Clusters) == 0 {
			return fmt.Errorf("config: hosts[%d]: no clusters to answer with", i)
		}
		for _, n := range h.Clusters {
			if !names[n] {
				return fmt.Errorf("config: hosts[%d].clusters: unknown cluster %q", i, n)
			}
		}
	}
	for i, g := range c.Geo {
		if _, err := netip.ParsePrefix(g.Prefix); err != nil {
			return fmt.Errorf("config: geo[%d].prefix: %w", i, err)
		}
		if err := checkLatLon(g.Lat, g.Lon); err != nil {
			return fmt.Errorf("config: geo[%d]: %w", i, err)
		}
	}
	if c.Health.Down < 0 || c.Health.Up < 0 {
		return errors.New("config: health: up and down must not be negative")
	}
	return nil
}

func (z Zone) validate() error {
	if _, ok := dns.IsDomainName(z.Origin); !ok || z.Origin == "" {
		return fmt.Errorf("origin: %q is not a domain name", z.Origin)
	}
	if _, ok := dns.IsDomainName(z.SOA.MName); !ok || z.SOA.MName == "" {
		return fmt.Errorf("soa.mname: %q is not a domain name", z.SOA.MName)
	}
	if _, ok := dns.IsDomainName(z.SOA.RName); !ok || z.SOA.RName == "" {
		return fmt.Errorf("soa.rname: %q is not a domain name", z.SOA.RName)
	}
	if len(z.NS) == 0 {
		return errors.New("ns: at least one name server is required")
	}
	for i, ns := range z.NS {
		if _, ok := dns.IsDomainName(ns.Name); !ok || ns.Name == "" {
			return fmt.Errorf("ns[%d].name: %q is not a domain name", i, ns.Name)
		}
		if ns.IPv4 != "" && net.ParseIP(ns.IPv4).To4() == nil {
			return fmt.Errorf("ns[%d].ipv4: %q is not an IPv4 address", i, ns.IPv4)
		}
	}
	origin := dns.Fqdn(strings.ToLower(z.Origin))
	for i, r := range z.Records {
		if !inZones(dns.Fqdn(strings.ToLower(r.Name)), []string{origin}) {
			return fmt.Errorf("records[%d].name: %q is outside %s", i, r.Name, origin)
		}
		if _, err := r.rr(); err != nil {
			return fmt.Errorf("records[%d]: %w", i, err)
		}
	}
	return nil
}

// rr parses the record in presentation format.
func (r Record) rr() (dns.RR, error) {
	switch strings.ToUpper(r.Type) {
	case "A", "AAAA", "CNAME", "TXT", "MX", "NS", "SRV", "CAA":
	default:
		return nil, fmt.Errorf("type: %q is not one of A, AAAA, CNAME, TXT, MX, NS, SRV, CAA", r.Type)
	}
	rr, err := dns.NewRR(fmt.Sprintf("%s %d IN %s %s", dns.Fqdn(r.Name), r.TTL, strings.ToUpper(r.Type), r.Value))
	if err != nil || rr == nil {
		return nil, fmt.Errorf("value: %q is not a valid %s record: %v", r.Value, r.Type, err)
	}
	return rr, nil
}

func (cl Cluster) validate() error {
	if cl.Name == "" {
		return errors.New("name: required")
	}
	if len(cl.IPv4) == 0 && len(cl.IPv6) == 0 {
		return errors.New("ipv4: a cluster needs at least one address")
	}
	for i, a := range cl.IPv4 {
		if ip := net.ParseIP(a); ip == nil || ip.To4() == nil {
			return fmt.Errorf("ipv4[%d]: %q is not an IPv4 address", i, a)
		}
	}
	for i, a := range cl.IPv6 {
		if ip := net.ParseIP(a); ip == nil || ip.To4() != nil {
			return fmt.Errorf("ipv6[%d]: %q is not an IPv6 address", i, a)
		}
	}
	if err := checkLatLon(cl.Lat, cl.Lon); err != nil {
		return err
	}
	if cl.HealthURL != "" {
		if u, err := url.Parse(cl.HealthURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			return fmt.Errorf("health_url: %q is not an http(s) URL", cl.HealthURL)
		}
	}
	return nil
}

func checkLatLon(lat, lon float64) error {
	if lat < -90 || lat > 90 {
		return fmt.Errorf("lat: %v is outside -90..90", lat)
	}
	if lon < -180 || lon > 180 {
		return fmt.Errorf("lon: %v is outside -180..180", lon)
	}
	return nil
}

func inZones(name string, origins []string) bool {
	for _, o := range origins {
		if dns.IsSubDomain(o, name) {
			return true
		}
	}
	return false
}
