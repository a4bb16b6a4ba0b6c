package cdndns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/miekg/dns"
	"github.com/streamcdn/streamcdn/internal/conf"
	"github.com/streamcdn/streamcdn/internal/geo"
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
	// Options are the process's settings, not read from the file; Reload
	// keeps New's.
	Options `json:"-"`
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
type GeoNet = geo.Net

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
		return nil, withLine(data, err)
	}
	return &c, nil
}

// fieldPath is one segment of a field path in a validation error:
// "zones[0]", "records[3]", "soa.rname".
var fieldPath = regexp.MustCompile(`^[a-z_0-9]+(\[\d+\])*(\.[a-z_0-9]+(\[\d+\])*)*$`)

// withLine rewrites a validation error "config: zones[0]: records[3]:
// ttl: ..." as "config: zones[0].records[3].ttl (line 17): ...", with the
// line of that field in data (when data is YAML or JSON that has it).
func withLine(data []byte, err error) error {
	msg, ok := strings.CutPrefix(err.Error(), "config: ")
	if !ok {
		return err
	}
	var path []string
	for {
		seg, rest, found := strings.Cut(msg, ": ")
		if !found || !fieldPath.MatchString(seg) {
			break
		}
		path, msg = append(path, seg), rest
	}
	if len(path) == 0 {
		return err
	}
	p := strings.Join(path, ".")
	if line := conf.Line(data, p); line > 0 {
		return fmt.Errorf("config: %s (line %d): %s", p, line, msg)
	}
	return fmt.Errorf("config: %s: %s", p, msg)
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
		o := dns.Fqdn(strings.ToLower(z.Origin))
		if slices.Contains(origins, o) {
			return fmt.Errorf("config: zones[%d]: origin: %q is another zone's too", i, z.Origin)
		}
		origins = append(origins, o)
	}
	if err := c.checkNames(origins); err != nil {
		return err
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

// checkNames rejects what would change answers without a word: a CNAME
// beside other data at one name or at a zone's apex (RFC 1034 §3.6.2),
// a chain of CNAMEs that loops within the zones, and a CDN hostname that
// also has static records (which would be answered by selection, the
// records never).
func (c *Config) checkNames(origins []string) error {
	type at struct{ zone, rec int }
	byName := map[string][]at{}
	cname := map[string]string{}
	for zi, z := range c.Zones {
		origin := dns.Fqdn(strings.ToLower(z.Origin))
		for ri, r := range z.Records {
			name := dns.Fqdn(strings.ToLower(r.Name))
			byName[name] = append(byName[name], at{zi, ri})
			if strings.EqualFold(r.Type, "CNAME") {
				if name == origin {
					return fmt.Errorf("config: zones[%d]: records[%d]: type: a CNAME at the zone's apex %s (it has SOA and NS)", zi, ri, origin)
				}
				cname[name] = dns.Fqdn(strings.ToLower(r.Value))
			}
		}
	}
	for name, recs := range byName {
		if _, ok := cname[name]; ok && len(recs) > 1 {
			r := recs[1]
			return fmt.Errorf("config: zones[%d]: records[%d]: name: %s has a CNAME and other records; a CNAME must be alone", r.zone, r.rec, name)
		}
	}
	for name := range cname {
		seen := map[string]bool{name: true}
		for n := cname[name]; ; {
			next, ok := cname[n]
			if !ok {
				break
			}
			if seen[n] {
				r := byName[name][0]
				return fmt.Errorf("config: zones[%d]: records[%d]: value: the CNAME chain from %s loops at %s", r.zone, r.rec, name, n)
			}
			seen[n] = true
			n = next
		}
	}
	for i, h := range c.Hosts {
		if recs, ok := byName[dns.Fqdn(strings.ToLower(h.Name))]; ok {
			r := recs[0]
			return fmt.Errorf("config: hosts[%d]: name: %q also has static records (zones[%d].records[%d]); a CDN hostname is answered by selection only", i, h.Name, r.zone, r.rec)
		}
	}
	return nil
}

func (z Zone) validate() error {
	if _, ok := dns.IsDomainName(z.Origin); !ok || z.Origin == "" {
		return fmt.Errorf("origin: %q is not a domain name", z.Origin)
	}
	if dns.CountLabel(z.Origin) < 2 {
		return fmt.Errorf("origin: %q would make this server authoritative for the root or a whole top-level domain; want a zone below one, such as netcinema.com", z.Origin)
	}
	if _, ok := dns.IsDomainName(z.SOA.MName); !ok || z.SOA.MName == "" {
		return fmt.Errorf("soa.mname: %q is not a domain name", z.SOA.MName)
	}
	if strings.Contains(z.SOA.RName, "@") {
		return fmt.Errorf("soa.rname: %q: write the mailbox as a name, its @ a dot (hostmaster.netcinema.com.)", z.SOA.RName)
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
