package deploy

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/streamcdn/streamcdn/internal/conf"
	"github.com/streamcdn/streamcdn/internal/pace"
	"github.com/streamcdn/streamcdn/internal/units"
	"github.com/streamcdn/streamcdn/player"
)

// Topology is a CDN deployment: regions with their edge clusters, the
// origin and its titles, an optional shield, the DNS zones, the network
// between regions and clients, and the player populations that watch.
// It is read from YAML or JSON with unknown fields refused (Load).
type Topology struct {
	// Name names the deployment: its state directory, its Kubernetes
	// labels. Lower-case letters, digits and dashes.
	Name string `json:"name"`
	// Regions are where edge clusters and clients are, at most 250.
	Regions []Region `json:"regions"`
	// Links are the network paths between two regions.
	Links []Link `json:"links,omitempty"`
	// Origin is where the titles are packaged and served from.
	Origin Origin `json:"origin"`
	// Shield, when set, is a parent cache between the edges and the
	// origin.
	Shield *Shield `json:"shield,omitempty"`
	// DNS is the provider's and the CDN's zones.
	DNS DNS `json:"dns"`
	// Steering, when set, runs the steering service (the Netflix flow)
	// in its region: players of flow "steer" ask it for their edges.
	Steering *Steering `json:"steering,omitempty"`
	// Players are the client populations that watch (the demo, and
	// `deploy play`).
	Players []Players `json:"players,omitempty"`
	// Events are scripted changes during the demo.
	Events []Event `json:"events,omitempty"`
}

// Region is a place: its coordinates, its edge cluster and how its
// clients are connected.
type Region struct {
	// Name, e.g. us-east: lower-case letters, digits and dashes.
	Name string  `json:"name"`
	Lat  float64 `json:"lat"`
	Lon  float64 `json:"lon"`
	// Edge is the region's edge cluster; a region without one has only
	// clients.
	Edge *Cluster `json:"edge,omitempty"`
	// Clients is the access network of the region's clients.
	Clients Access `json:"clients"`
}

// Cluster is a region's edge cluster: Nodes caches behind one address.
type Cluster struct {
	// Nodes is the number of edge processes, 1 to 20.
	Nodes int `json:"nodes"`
	// Memory is each node's memory tier, e.g. 256MiB.
	Memory string `json:"memory"`
	// Disk, when set, gives each node a disk tier of this size.
	Disk string `json:"disk,omitempty"`
	// Pinned is each node's pinned area for pushed titles; if empty, 1GiB.
	Pinned string `json:"pinned,omitempty"`
	// Capacity is the cluster's egress capacity, e.g. 1Gbit: the DNS
	// sheds load above it. Empty: no shedding.
	Capacity string `json:"capacity,omitempty"`
	// Mode is pull, push or hybrid; if empty, hybrid.
	Mode string `json:"mode,omitempty"`
	// PublicIPv4 is the cluster's reserved public address in a cloud
	// (Kubernetes rendering: the edge LoadBalancer's IP, and the DNS's
	// answer). Empty: a documentation address to replace.
	PublicIPv4 string `json:"public_ipv4,omitempty"`
	// DNSIPv4 is the reserved public address of the region's DNS
	// LoadBalancer (Kubernetes rendering: a name server of both zones).
	DNSIPv4 string `json:"dns_ipv4,omitempty"`
}

// EdgeMode is the cluster's mode: Mode, or hybrid when unset.
func (c *Cluster) EdgeMode() string { return cmp.Or(c.Mode, "hybrid") }

// PinnedBudget is each node's pinned area: Pinned, or 1GiB when unset.
func (c *Cluster) PinnedBudget() string { return cmp.Or(c.Pinned, "1GiB") }

// Access is how a region's clients reach the network: the last mile.
type Access struct {
	// RTT is the round trip to the region's own cluster, e.g. 10ms.
	RTT Duration `json:"rtt"`
	// Bandwidth of the downlink, e.g. 50Mbit; shared by the region's
	// clients. Empty: unlimited.
	Bandwidth string `json:"bandwidth,omitempty"`
}

// Link is the network between two regions, both ways.
type Link struct {
	A string `json:"a"`
	B string `json:"b"`
	// RTT is the round-trip time between the regions, e.g. 80ms.
	RTT Duration `json:"rtt"`
	// Bandwidth is the link's rate each way, e.g. 1Gbit. Empty:
	// unlimited.
	Bandwidth string `json:"bandwidth,omitempty"`
}

// Origin is the origin: its region and titles.
type Origin struct {
	Region string  `json:"region"`
	Titles []Title `json:"titles"`
}

// Title is a title the origin serves, at /NAME/manifest.mpd.
type Title struct {
	Name string `json:"name"`
	// Source is "sample" (the built-in sample), a directory already
	// packaged, or a video file that ffmpeg can read, packaged at up.
	Source string `json:"source"`
	// Profile is live or ondemand; if empty, live.
	Profile string `json:"profile,omitempty"`
}

// SteeringTTL is the steering manifests' TTL.
func (s *Steering) SteeringTTL() time.Duration { return cmp.Or(s.TTL.D(), 10*time.Second) }

// Steering is the steering service's place.
type Steering struct {
	Region string `json:"region"`
	// TTL is its steering manifests' (DCSM): how often players ask it
	// again; if zero, 10s.
	TTL Duration `json:"ttl,omitempty"`
	// PublicIPv4 is the service's reserved public address in a cloud
	// (Kubernetes rendering: its LoadBalancer's IP, where players ask
	// for MPDs). Empty: a documentation address to replace.
	PublicIPv4 string `json:"public_ipv4,omitempty"`
}

// Shield is the parent cache tier.
type Shield struct {
	Region string `json:"region"`
	Memory string `json:"memory"`
}

// DNS is the provider's zone, which hands its video host to the CDN by
// CNAME, and the CDN's zone, which answers the CDN host with a cluster.
type DNS struct {
	// Provider is the content provider's zone, e.g. netcinema.com.
	Provider string `json:"provider"`
	// CDN is the CDN's zone, e.g. kingcdn.com.
	CDN string `json:"cdn"`
	// Video is the provider's video host, e.g. video.netcinema.com.
	Video string `json:"video"`
	// Host is the CDN host the video host is a CNAME of, e.g.
	// a1105.kingcdn.com.
	Host string `json:"host"`
	// TTL of the CDN host's answers; if zero, 20s.
	TTL Duration `json:"ttl,omitempty"`
	// Health is the clusters' active checks.
	Health Health `json:"health,omitempty"`
}

// Health configures the DNS's checks of the clusters.
type Health struct {
	// Interval between checks; if zero, 1s.
	Interval Duration `json:"interval,omitempty"`
	// Timeout of a check; if zero, 500ms.
	Timeout Duration `json:"timeout,omitempty"`
	// Down is the failures in a row that take a cluster out; if zero, 2.
	Down int `json:"down,omitempty"`
	// Up is the successes in a row that bring it back; if zero, 2.
	Up int `json:"up,omitempty"`
}

// TitleOf is the title population p watches: its own, else the
// origin's first.
func (t *Topology) TitleOf(p Players) string { return cmp.Or(p.Title, t.Origin.Titles[0].Name) }

// Players is a population of players in one region.
type Players struct {
	Region string `json:"region"`
	// Count is the number of players, 1 to 1000.
	Count int `json:"count"`
	// Title watched; if empty, the origin's first.
	Title string `json:"title,omitempty"`
	// ABR is the algorithm (throughput, bba, bola, dynamic, mpc...); if
	// empty, dynamic.
	ABR string `json:"abr,omitempty"`
	// Trace shapes each player's reads: a Sabre JSON or Pensieve text
	// file. Empty: the region's access network only.
	Trace string `json:"trace,omitempty"`
	// Start staggers the players: player k starts at k × Start.
	Start Duration `json:"start,omitempty"`
	// Flow is how the players find their edge: dns (the provider's name,
	// CNAMEd to the CDN, answered with a cluster; the default) or steer
	// (the steering service's MPD and its Content Steering, no DNS;
	// the title must be pushed, as the Netflix flow pushes it).
	Flow string `json:"flow,omitempty"`
}

// Event is a scripted change during a demo run.
type Event struct {
	// At is when, from the players' start. A push at 0s is a fill ahead
	// of demand: it completes before the first player starts.
	At Duration `json:"at"`
	// Action is fail (stop a region's edge nodes), restore (start them
	// again) or push (fill a region's edges, or every region's, with a
	// title).
	Action string `json:"action"`
	// Region the action applies to; for push, empty means every region.
	Region string `json:"region,omitempty"`
	// Title pushed.
	Title string `json:"title,omitempty"`
}

// Duration is a time.Duration written as "80ms".
type Duration = conf.Duration

// LoadFile reads a topology file (Load).
func LoadFile(path string) (*Topology, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	t, err := Load(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Load decodes a YAML or JSON topology strictly (an unknown field is an
// error naming it) and validates it.
func Load(data []byte) (*Topology, error) {
	var t Topology
	if err := conf.Decode(data, &t); err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return &t, nil
}

// MaxRegions is the most regions a topology has: region R's addresses
// are 127.0.R.0/24, R from 1.
const MaxRegions = 250

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)

// fieldError is a validation error at a field path.
type fieldError struct {
	path, msg string
}

func (e *fieldError) Error() string { return "topology: " + e.path + ": " + e.msg }

func bad(path, format string, a ...any) error {
	return &fieldError{path, fmt.Sprintf(format, a...)}
}

// Validate checks every field and names the first one at fault.
func (t *Topology) Validate() error {
	if !nameRE.MatchString(t.Name) {
		return bad("name", "%q: want lower-case letters, digits and dashes, at most 32", t.Name)
	}
	regions, err := t.validateRegions()
	if err != nil {
		return err
	}
	if err := t.validateLinks(regions); err != nil {
		return err
	}
	titles, err := t.validateOrigin(regions)
	if err != nil {
		return err
	}
	if t.Shield != nil {
		if regions[t.Shield.Region] == nil {
			return bad("shield.region", "%q is not a region", t.Shield.Region)
		}
		if err := size("shield.memory", t.Shield.Memory, true); err != nil {
			return err
		}
	}
	if err := t.DNS.validate(); err != nil {
		return err
	}
	if t.Steering != nil {
		if regions[t.Steering.Region] == nil {
			return bad("steering.region", "%q is not a region", t.Steering.Region)
		}
		if ttl := t.Steering.TTL.D(); ttl < 0 || ttl > 0 && ttl < time.Second {
			return bad("steering.ttl", "%s: want at least 1s", ttl)
		}
		if v := t.Steering.PublicIPv4; v != "" {
			if a, err := netip.ParseAddr(v); err != nil || !a.Is4() {
				return bad("steering.public_ipv4", "%q: want an IPv4 address", v)
			}
		}
	}
	if err := t.validatePlayers(regions, titles); err != nil {
		return err
	}
	return t.validateEvents(regions, titles)
}

// validateRegions checks the regions and returns them by name.
func (t *Topology) validateRegions() (map[string]*Region, error) {
	if len(t.Regions) == 0 {
		return nil, bad("regions", "at least one region is required")
	}
	if len(t.Regions) > MaxRegions {
		return nil, bad("regions", "%d regions: at most %d", len(t.Regions), MaxRegions)
	}
	regions := map[string]*Region{}
	edges := 0
	for i := range t.Regions {
		r := &t.Regions[i]
		p := fmt.Sprintf("regions[%d]", i)
		if !nameRE.MatchString(r.Name) {
			return nil, bad(p+".name", "%q: want lower-case letters, digits and dashes, at most 32", r.Name)
		}
		if regions[r.Name] != nil {
			return nil, bad(p+".name", "%q repeated", r.Name)
		}
		regions[r.Name] = r
		if math.IsNaN(r.Lat) || r.Lat < -90 || r.Lat > 90 {
			return nil, bad(p+".lat", "%v: want -90 to 90", r.Lat)
		}
		if math.IsNaN(r.Lon) || r.Lon < -180 || r.Lon > 180 {
			return nil, bad(p+".lon", "%v: want -180 to 180", r.Lon)
		}
		if err := rate(p+".clients.bandwidth", r.Clients.Bandwidth); err != nil {
			return nil, err
		}
		if r.Clients.RTT.D() > 10*time.Second {
			return nil, bad(p+".clients.rtt", "%s: at most 10s", r.Clients.RTT.D())
		}
		if r.Edge == nil {
			continue
		}
		edges++
		if err := r.Edge.validate(p + ".edge"); err != nil {
			return nil, err
		}
	}
	if edges == 0 {
		return nil, bad("regions", "no region has an edge cluster")
	}
	return regions, nil
}

// validateLinks checks the links between regions.
func (t *Topology) validateLinks(regions map[string]*Region) error {
	pairs := map[[2]string]bool{}
	for i, l := range t.Links {
		p := fmt.Sprintf("links[%d]", i)
		if regions[l.A] == nil {
			return bad(p+".a", "%q is not a region", l.A)
		}
		if regions[l.B] == nil {
			return bad(p+".b", "%q is not a region", l.B)
		}
		if l.A == l.B {
			return bad(p+".b", "a link joins two different regions")
		}
		key := [2]string{min(l.A, l.B), max(l.A, l.B)}
		if pairs[key] {
			return bad(p, "%s-%s repeated", key[0], key[1])
		}
		pairs[key] = true
		if l.RTT.D() > 10*time.Second {
			return bad(p+".rtt", "%s: at most 10s", l.RTT.D())
		}
		if err := rate(p+".bandwidth", l.Bandwidth); err != nil {
			return err
		}
	}
	return nil
}

// validateOrigin checks the origin and returns its titles.
func (t *Topology) validateOrigin(regions map[string]*Region) (map[string]bool, error) {
	if regions[t.Origin.Region] == nil {
		return nil, bad("origin.region", "%q is not a region", t.Origin.Region)
	}
	if len(t.Origin.Titles) == 0 {
		return nil, bad("origin.titles", "at least one title is required")
	}
	titles := map[string]bool{}
	for i, ti := range t.Origin.Titles {
		p := fmt.Sprintf("origin.titles[%d]", i)
		if !nameRE.MatchString(ti.Name) {
			return nil, bad(p+".name", "%q: want lower-case letters, digits and dashes", ti.Name)
		}
		if titles[ti.Name] {
			return nil, bad(p+".name", "%q repeated", ti.Name)
		}
		titles[ti.Name] = true
		if ti.Source == "" {
			return nil, bad(p+".source", `required: "sample", a packaged directory or a video file`)
		}
		if ti.Profile != "" && ti.Profile != "live" && ti.Profile != "ondemand" {
			return nil, bad(p+".profile", "%q: want live or ondemand", ti.Profile)
		}
	}
	return titles, nil
}

// validatePlayers checks the player populations.
func (t *Topology) validatePlayers(regions map[string]*Region, titles map[string]bool) error {
	for i, pl := range t.Players {
		p := fmt.Sprintf("players[%d]", i)
		if regions[pl.Region] == nil {
			return bad(p+".region", "%q is not a region", pl.Region)
		}
		if pl.Count < 1 || pl.Count > 1000 {
			return bad(p+".count", "%d: want 1 to 1000", pl.Count)
		}
		if pl.Title != "" && !titles[pl.Title] {
			return bad(p+".title", "%q is not one of origin.titles", pl.Title)
		}
		if pl.ABR != "" {
			if err := player.Known(pl.ABR); err != nil {
				return bad(p+".abr", "%v", err)
			}
		}
		switch pl.Flow {
		case "", "dns":
		case "steer":
			if t.Steering == nil {
				return bad(p+".flow", "steer needs the topology's steering service")
			}
		default:
			return bad(p+".flow", "%q: want dns or steer", pl.Flow)
		}
	}
	return nil
}

// validateEvents checks the scripted events.
func (t *Topology) validateEvents(regions map[string]*Region, titles map[string]bool) error {
	for i, e := range t.Events {
		p := fmt.Sprintf("events[%d]", i)
		switch e.Action {
		case "fail", "restore":
			if r := regions[e.Region]; r == nil || r.Edge == nil {
				return bad(p+".region", "%q is not a region with an edge cluster", e.Region)
			}
		case "push":
			if e.Region != "" {
				if r := regions[e.Region]; r == nil || r.Edge == nil {
					return bad(p+".region", "%q is not a region with an edge cluster", e.Region)
				}
			}
			if !titles[e.Title] {
				return bad(p+".title", "%q is not one of origin.titles", e.Title)
			}
		default:
			return bad(p+".action", "%q: want fail, restore or push", e.Action)
		}
	}
	return nil
}

func (c *Cluster) validate(p string) error {
	if c.Nodes < 1 || c.Nodes > 20 {
		return bad(p+".nodes", "%d: want 1 to 20", c.Nodes)
	}
	if err := size(p+".memory", c.Memory, true); err != nil {
		return err
	}
	if err := size(p+".disk", c.Disk, false); err != nil {
		return err
	}
	if err := size(p+".pinned", c.Pinned, false); err != nil {
		return err
	}
	if err := rate(p+".capacity", c.Capacity); err != nil {
		return err
	}
	switch c.Mode {
	case "", "pull", "push", "hybrid":
	default:
		return bad(p+".mode", "%q: want pull, push or hybrid", c.Mode)
	}
	for _, f := range []struct{ path, v string }{{p + ".public_ipv4", c.PublicIPv4}, {p + ".dns_ipv4", c.DNSIPv4}} {
		if f.v == "" {
			continue
		}
		if a, err := netip.ParseAddr(f.v); err != nil || !a.Is4() {
			return bad(f.path, "%q: want an IPv4 address", f.v)
		}
	}
	return nil
}

func (d *DNS) validate() error {
	host := regexp.MustCompile(`^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$`)
	for _, f := range []struct{ path, v string }{
		{"dns.provider", d.Provider}, {"dns.cdn", d.CDN}, {"dns.video", d.Video}, {"dns.host", d.Host},
	} {
		if !host.MatchString(strings.TrimSuffix(f.v, ".")) {
			return bad(f.path, "%q: want a lower-case domain name such as netcinema.com", f.v)
		}
	}
	trim := func(s string) string { return strings.TrimSuffix(s, ".") }
	if trim(d.Provider) == trim(d.CDN) {
		return bad("dns.cdn", "the CDN's zone must differ from the provider's")
	}
	if !strings.HasSuffix(trim(d.Video), "."+trim(d.Provider)) {
		return bad("dns.video", "%q is not in the provider's zone %q", d.Video, d.Provider)
	}
	if !strings.HasSuffix(trim(d.Host), "."+trim(d.CDN)) {
		return bad("dns.host", "%q is not in the CDN's zone %q", d.Host, d.CDN)
	}
	if d.TTL.D() != 0 && (d.TTL.D() < time.Second || d.TTL.D() > time.Hour) {
		return bad("dns.ttl", "%s: want 1s to 1h", d.TTL.D())
	}
	if d.Health.Down < 0 || d.Health.Up < 0 {
		return bad("dns.health", "down and up are counts of checks, not negative")
	}
	return nil
}

func size(path, s string, required bool) error {
	if s == "" {
		if required {
			return bad(path, "required, e.g. 256MiB")
		}
		return nil
	}
	if _, err := units.ParseSize(s); err != nil {
		return bad(path, "%v", err)
	}
	return nil
}

func rate(path, s string) error {
	if _, err := pace.ParseRate(s); err != nil {
		return bad(path, "%v", err)
	}
	return nil
}

// PlayerCount is the number of players of all populations.
func (t *Topology) PlayerCount() int {
	n := 0
	for _, p := range t.Players {
		n += p.Count
	}
	return n
}

// Region returns the region named name and its number R (its addresses
// are 127.0.R.0/24), or nil.
func (t *Topology) Region(name string) (*Region, int) {
	for i := range t.Regions {
		if t.Regions[i].Name == name {
			return &t.Regions[i], i + 1
		}
	}
	return nil, 0
}

// Path is the network from region a to region b: its round-trip time and
// rate in bits per second (0: unlimited). Without a link between them,
// the RTT is estimated from their great-circle distance (light in fibre,
// 200 km/ms, over a path 1.5 times the distance).
func (t *Topology) Path(a, b string) (time.Duration, float64) {
	if a == b {
		return 0, 0
	}
	for _, l := range t.Links {
		if (l.A == a && l.B == b) || (l.A == b && l.B == a) {
			bps, _ := pace.ParseRate(l.Bandwidth)
			return l.RTT.D(), bps
		}
	}
	ra, _ := t.Region(a)
	rb, _ := t.Region(b)
	if ra == nil || rb == nil {
		return 0, 0
	}
	km := GreatCircleKm(ra.Lat, ra.Lon, rb.Lat, rb.Lon)
	return time.Duration(2 * 1.5 * km / 200 * float64(time.Millisecond)), 0
}

// GreatCircleKm is the distance between two points on the Earth.
func GreatCircleKm(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6371.0
	rad := math.Pi / 180
	dlat, dlon := (lat2-lat1)*rad, (lon2-lon1)*rad
	h := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(h)))
}
