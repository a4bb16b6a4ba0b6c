package cdndns

import (
	"net"
	"net/netip"
	"strings"
	"sync"

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
	load             *policy.Load // what its nodes report, against Capacity
}

func newCluster(c Cluster) *cluster {
	cl := &cluster{Cluster: c, up: true, load: policy.NewLoad(c.Capacity)}
	for _, a := range c.IPv4 {
		cl.a = append(cl.a, net.ParseIP(a).To4())
	}
	for _, a := range c.IPv6 {
		cl.aaaa = append(cl.aaaa, net.ParseIP(a))
	}
	return cl
}

// carry takes over prev's run-time state: health, drain and load.
func (c *cluster) carry(prev *cluster) {
	prev.mu.Lock()
	defer prev.mu.Unlock()
	c.up, c.failures, c.passes = prev.up, prev.failures, prev.passes
	c.drained = prev.drained
	c.load.Carry(prev.load)
}

func (c *cluster) healthy() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.up && !c.drained
}

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
				Shed: func() float64 { return c.load.Shed(s.opts.Now()) }})
		}
	})
	pc := policy.Client{Addr: client, Locator: st.geo}
	if rtts, prefix, ok := s.rtt.Lookup(client, s.opts.Now(), st.rttAge); ok {
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
