package cdndns

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/streamcdn/streamcdn/internal/policy"
)

// cluster is a Cluster with its health state.
type cluster struct {
	Cluster
	a, aaaa []net.IP

	mu               sync.Mutex
	up               bool
	failures, passes int
	drained          bool
	nodeLoads        map[string]nodeLoad // the last load reported by each node
	shedding         bool                // above the high water mark, until below the low one
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

// nodeLoad is a node's last load report, in the unit of Capacity, and
// when it came.
type nodeLoad struct {
	load float64
	at   time.Time
}

// loadMaxAge is how long a node's load report counts: a node that stops
// reporting (gone, or cut off) stops adding to its cluster's load.
const loadMaxAge = time.Minute

// maxLoad bounds one report, so that a sum of them stays finite.
const maxLoad = 1e12

// setLoad records a node's load report ("" for the cluster as a whole)
// at now, and forgets the reports older than loadMaxAge.
func (c *cluster) setLoad(node string, load float64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nodeLoads == nil {
		c.nodeLoads = map[string]nodeLoad{}
	}
	for n, l := range c.nodeLoads {
		if now.Sub(l.at) > loadMaxAge {
			delete(c.nodeLoads, n)
		}
	}
	c.nodeLoads[node] = nodeLoad{load, now}
}

// utilisation is the cluster's load (the sum of its nodes' reports of
// the last loadMaxAge) over its capacity; c.mu must be held.
func (c *cluster) utilisation(now time.Time) float64 {
	if c.Capacity <= 0 {
		return 0
	}
	load := 0.0
	for _, l := range c.nodeLoads {
		if now.Sub(l.at) <= loadMaxAge {
			load += l.load
		}
	}
	return load / c.Capacity
}

// carry takes over prev's run-time state: health, drain and load.
func (c *cluster) carry(prev *cluster) {
	prev.mu.Lock()
	defer prev.mu.Unlock()
	c.up, c.failures, c.passes = prev.up, prev.failures, prev.passes
	c.drained, c.shedding, c.nodeLoads = prev.drained, prev.shedding, prev.nodeLoads
}

func (c *cluster) healthy() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.up && !c.drained
}

// shedShare is the share of new answers that cluster c passes to the
// next-best cluster: 0 below the high water mark, then growing linearly
// with utilisation to all of them at 100%. Once shedding, c keeps
// shedding until it falls below the low water mark (hysteresis), so that
// answers do not flap.
func (c *cluster) shedShare(now time.Time) float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.Capacity <= 0 {
		return 0
	}
	u := c.utilisation(now)
	switch {
	case u >= shedHigh:
		c.shedding = true
	case u < shedLow:
		c.shedding = false
	}
	if !c.shedding {
		return 0
	}
	return min(1, max(0.05, (u-shedLow)/(1-shedLow)))
}

// Load shedding water marks, as utilisation (load / capacity).
const (
	shedHigh = 0.85
	shedLow  = 0.75
)

// Decision is why an answer went to a cluster.
type Decision struct {
	Cluster string `json:"cluster"`
	// Reason is the deciding policy: "rtt" (lowest fresh measured RTT for
	// the client's prefix), "geo" (nearest healthy cluster), "health"
	// (the cluster RTT or geography would pick is down or drained: the
	// next best healthy one, by Ranking), "load" (the best cluster sheds
	// this client to the next best), "default" (client location unknown:
	// the first healthy cluster), or "all-down" (no cluster is healthy:
	// the best anyway, short TTL).
	Reason string `json:"reason"`
	// Ranking is how the candidates were ranked: rtt, geo or default.
	Ranking string `json:"ranking,omitempty"`
	// Down are the clusters left out as unhealthy or drained.
	Down []string `json:"down,omitempty"`
	TTL  uint32   `json:"ttl"`
	// Scope is the ECS scope prefix length of the answer.
	Scope uint8 `json:"ecs_scope"`
	// Ranked lists the candidates best first, as the policy ranked them.
	Ranked []string `json:"ranked"`
}

// Decide chooses the cluster for a client of the CDN hostname name.
func (s *Server) Decide(name string, client netip.Addr) (Decision, bool) {
	return s.decide(s.state(), name, client)
}

func (s *Server) decide(st *state, name string, client netip.Addr) (Decision, bool) {
	h := st.hosts[dns.Fqdn(strings.ToLower(name))]
	if h == nil {
		return Decision{}, false
	}
	c, d := s.choose(st, h, client)
	d.Cluster = c.Name
	return d, true
}

// choose runs the policy (package policy): health, then RTT when fresh,
// else geography, then load.
func (s *Server) choose(st *state, h *host, client netip.Addr) (*cluster, Decision) {
	// The sites are made once per host, not per answer: their health
	// and load are read through them when the policy asks.
	h.sitesOnce.Do(func() {
		for _, c := range h.clusters {
			h.sites = append(h.sites, policy.Site{Name: c.Name, Lat: c.Lat, Lon: c.Lon, Healthy: c.healthy,
				Shed: func() float64 { return c.shedShare(s.opts.Now()) }})
		}
	})
	pc := policy.Client{Addr: client, Locator: st.geo}
	if rtts, prefix, ok := s.rtt.lookup(client, s.opts.Now(), st.rttAge); ok {
		pc.RTTs, pc.RTTPrefix = rtts, prefix
	}
	pd := policy.Choose(h.sites, pc)
	d := Decision{Reason: pd.Reason, Ranking: pd.Ranking, Down: pd.Down, Ranked: pd.Ranked, Scope: pd.Scope, TTL: h.ttl}
	if pd.Reason == policy.ReasonAllDown {
		d.TTL = min(h.ttl, 5)
	}
	return h.clusters[pd.Site], d
}

// selectAnswer answers a CDN hostname with the chosen cluster's addresses.
func (s *Server) selectAnswer(st *state, name string, h *host, qtype uint16, client netip.Addr) ([]dns.RR, string, uint8) {
	c, d := s.choose(st, h, client)
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
