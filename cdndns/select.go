package cdndns

import (
	"math"
	"net"
	"net/netip"
	"sync"

	"github.com/miekg/dns"
)

// cluster is a Cluster with its health state.
type cluster struct {
	Cluster
	a, aaaa []net.IP

	mu               sync.Mutex
	up               bool
	failures, passes int
}

func newCluster(c Cluster) *cluster {
	cl := &cluster{Cluster: c, up: true}
	for _, a := range c.IPv4 {
		cl.a = append(cl.a, net.ParseIP(a).To4())
	}
	for _, a := range c.IPv6 {
		cl.aaaa = append(cl.aaaa, net.ParseIP(a))
	}
	return cl
}

func (c *cluster) healthy() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.up
}

// Decision is why an answer went to a cluster.
type Decision struct {
	Cluster string
	// Reason is the deciding policy: "geo" (nearest healthy cluster),
	// "default" (client location unknown: the first healthy cluster), or
	// "all-down" (no cluster is healthy: the best anyway, short TTL).
	Reason string
	TTL    uint32
	// Scope is the ECS scope prefix length of the answer.
	Scope uint8
}

// Decide chooses the cluster for a client of the CDN hostname name.
func (s *Server) Decide(name string, client netip.Addr) (Decision, bool) {
	h := s.hosts[dns.Fqdn(name)]
	if h == nil {
		return Decision{}, false
	}
	c, d := s.choose(h, client)
	d.Cluster = c.Name
	return d, true
}

func (s *Server) choose(h *host, client netip.Addr) (*cluster, Decision) {
	d := Decision{TTL: h.ttl}
	candidates := make([]*cluster, 0, len(h.clusters))
	for _, c := range h.clusters {
		if c.healthy() {
			candidates = append(candidates, c)
		}
	}
	if len(candidates) == 0 {
		candidates, d.Reason, d.TTL = h.clusters, "all-down", min(h.ttl, 5)
	}
	g, ok := s.locate(client)
	if !ok {
		d.Scope = s.unknownScope(client)
		if d.Reason == "" {
			d.Reason = "default"
		}
		return candidates[0], d
	}
	d.Scope = uint8(g.prefix.Bits())
	best, bestKm := candidates[0], math.Inf(1)
	for _, c := range candidates {
		if km := greatCircleKm(g.lat, g.lon, c.Lat, c.Lon); km < bestKm {
			best, bestKm = c, km
		}
	}
	if d.Reason == "" {
		d.Reason = "geo"
	}
	return best, d
}

// selectAnswer answers a CDN hostname with the chosen cluster's addresses.
func (s *Server) selectAnswer(name string, h *host, qtype uint16, client netip.Addr) ([]dns.RR, string, uint8) {
	c, d := s.choose(h, client)
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: d.TTL}
	}
	var rrs []dns.RR
	switch qtype {
	case dns.TypeA, dns.TypeANY:
		for _, ip := range c.a {
			rrs = append(rrs, &dns.A{Hdr: hdr(dns.TypeA), A: ip})
		}
		if qtype == dns.TypeANY && len(rrs) > 1 {
			rrs = rrs[:1] // RFC 8482: a minimal answer
		}
	case dns.TypeAAAA:
		for _, ip := range c.aaaa {
			rrs = append(rrs, &dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: ip})
		}
	default:
		return nil, "", 0
	}
	s.metrics.answers.WithLabelValues(c.Name, d.Reason).Inc()
	return rrs, "", d.Scope
}

// locate returns the most specific configured prefix holding client.
func (s *Server) locate(client netip.Addr) (geoNet, bool) {
	if !client.IsValid() {
		return geoNet{}, false
	}
	for _, g := range s.geo {
		if g.prefix.Contains(client) {
			return g, true
		}
	}
	return geoNet{}, false
}

// unknownScope is the widest prefix around an unlocated client that holds
// no configured prefix, so every address in it gets the same answer; never
// the full address length unless a configured prefix sits right beside it.
func (s *Server) unknownScope(client netip.Addr) uint8 {
	if !client.IsValid() {
		return 0
	}
	for bits := 0; bits <= client.BitLen(); bits++ {
		p, _ := client.Prefix(bits)
		overlaps := false
		for _, g := range s.geo {
			if g.prefix.Overlaps(p) {
				overlaps = true
				break
			}
		}
		if !overlaps {
			return uint8(bits)
		}
	}
	return uint8(client.BitLen())
}

// greatCircleKm is the haversine distance between two points.
func greatCircleKm(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6371.0
	rad := math.Pi / 180
	dLat, dLon := (lat2-lat1)*rad, (lon2-lon1)*rad
	a := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * r * math.Asin(math.Sqrt(a))
}
