package cdndns

import (
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// Options are the run-time dependencies of a Server.
type Options struct {
	Logger    *slog.Logger          // nil: discard
	Registry  prometheus.Registerer // nil: metrics are not exported
	Transport http.RoundTripper     // for health checks; nil: http.DefaultTransport
	Now       func() time.Time      // nil: time.Now
	// AdminToken is the bearer token of the admin API's writes (RTT, load,
	// drain). Empty: they are refused.
	AdminToken string
}

// Server answers queries for the configured zones. It is a dns.Handler.
type Server struct {
	zones    []*zone // longest origin first
	hosts    map[string]*host
	clusters []*cluster
	geo      []geoNet // longest prefix first
	health   HealthConfig
	rtt      *rttTable
	opts     Options
	log      *slog.Logger
	metrics  *metrics
}

type host struct {
	ttl      uint32
	clusters []*cluster
}

type geoNet struct {
	prefix   netip.Prefix
	lat, lon float64
}

// New compiles cfg, which must have been validated (LoadConfig does).
func New(cfg Config, opts Options) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{hosts: map[string]*host{}, health: cfg.Health, opts: opts, log: opts.Logger.With("component", "dns"),
		rtt: newRTTTable(time.Duration(cfg.RTTMaxAge))}
	if s.rtt.maxAge <= 0 {
		s.rtt.maxAge = 5 * time.Minute
	}
	byName := map[string]*cluster{}
	for _, c := range cfg.Clusters {
		cl := newCluster(c)
		s.clusters = append(s.clusters, cl)
		byName[c.Name] = cl
	}
	var hostNames []string
	for _, h := range cfg.Hosts {
		name := dns.Fqdn(strings.ToLower(h.Name))
		hh := &host{ttl: h.TTL}
		if hh.ttl == 0 {
			hh.ttl = 30
		}
		for _, n := range h.Clusters {
			hh.clusters = append(hh.clusters, byName[n])
		}
		if len(hh.clusters) == 0 {
			hh.clusters = s.clusters
		}
		s.hosts[name] = hh
		hostNames = append(hostNames, name)
	}
	for _, z := range cfg.Zones {
		s.zones = append(s.zones, compileZone(z, hostNames))
	}
	sort.Slice(s.zones, func(i, j int) bool { return len(s.zones[i].origin) > len(s.zones[j].origin) })
	for _, g := range cfg.Geo {
		p, _ := netip.ParsePrefix(g.Prefix)
		s.geo = append(s.geo, geoNet{p.Masked(), g.Lat, g.Lon})
	}
	sort.SliceStable(s.geo, func(i, j int) bool { return s.geo[i].prefix.Bits() > s.geo[j].prefix.Bits() })
	var err error
	if s.metrics, err = newMetrics(opts.Registry, s); err != nil {
		return nil, err
	}
	return s, nil
}

// maxUDP is the payload size we offer (RFC 9715 / DNS flag day 2020).
const maxUDP = 1232

// ServeDNS answers one query.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	start := s.opts.Now()
	m := s.answer(w, req)
	if m == nil {
		return // not worth an answer
	}
	if err := w.WriteMsg(m); err != nil {
		s.log.Debug("write", "err", err)
	}
	qtype := "none"
	if len(req.Question) == 1 {
		qtype = dns.TypeToString[req.Question[0].Qtype]
	}
	s.metrics.observe(qtype, m.Rcode, s.opts.Now().Sub(start))
}

// answer builds the response to req, or nil to drop it.
func (s *Server) answer(w dns.ResponseWriter, req *dns.Msg) *dns.Msg {
	if req.Response {
		return nil // never answer answers
	}
	if req.Opcode != dns.OpcodeQuery {
		m := &dns.Msg{MsgHdr: dns.MsgHdr{Id: req.Id, Response: true, Opcode: req.Opcode, Rcode: dns.RcodeNotImplemented}}
		return m
	}
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative, m.RecursionAvailable, m.AuthenticatedData = true, false, false
	m.Compress = true
	opt := req.IsEdns0()
	if opt != nil && opt.Version() != 0 {
		m.Authoritative = false
		m.SetRcode(req, dns.RcodeBadVers)
		m.SetEdns0(maxUDP, false)
		return m
	}
	if len(req.Question) != 1 {
		m.Authoritative = false
		m.SetRcode(req, dns.RcodeFormatError)
		return m
	}
	q := req.Question[0]
	client, ecs := clientAddr(w, opt)
	scope := s.resolve(m, q, client)
	if opt != nil {
		out := m.SetEdns0(maxUDP, false).IsEdns0()
		if ecs != nil {
			e := *ecs
			e.SourceScope = scope
			out.Option = append(out.Option, &e)
		}
	}
	if _, tcp := w.RemoteAddr().(*net.TCPAddr); !tcp {
		size := dns.MinMsgSize
		if opt != nil {
			size = max(int(opt.UDPSize()), dns.MinMsgSize)
		}
		m.Truncate(size)
	}
	return m
}

// clientAddr returns the address to locate: the ECS subnet when the query
// has one, else the resolver's own address.
func clientAddr(w dns.ResponseWriter, opt *dns.OPT) (netip.Addr, *dns.EDNS0_SUBNET) {
	if opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_SUBNET); ok {
				if a, ok := netip.AddrFromSlice(e.Address); ok {
					bits := int(e.SourceNetmask)
					if p, err := a.Unmap().Prefix(bits); err == nil {
						return p.Addr(), e
					}
				}
				return netip.Addr{}, e
			}
		}
	}
	var ip net.IP
	switch a := w.RemoteAddr().(type) {
	case *net.UDPAddr:
		ip = a.IP
	case *net.TCPAddr:
		ip = a.IP
	}
	addr, _ := netip.AddrFromSlice(ip)
	return addr.Unmap(), nil
}

// resolve fills m for question q from client and returns the ECS scope.
func (s *Server) resolve(m *dns.Msg, q dns.Question, client netip.Addr) uint8 {
	name := strings.ToLower(q.Name)
	z := s.zoneFor(name)
	if z == nil || (q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY) {
		m.Authoritative = false
		m.Rcode = dns.RcodeRefused
		return 0
	}
	var scope uint8
	for depth := 0; depth < 8; depth++ { // follow CNAMEs within our zones
		rrs, target, sc := s.lookup(z, name, q.Qtype, client)
		scope = max(scope, sc)
		for _, rr := range rrs {
			rr = dns.Copy(rr)
			if depth == 0 && strings.EqualFold(rr.Header().Name, q.Name) {
				rr.Header().Name = q.Name // keep the question's case
			}
			m.Answer = append(m.Answer, rr)
		}
		if target == "" {
			break
		}
		if z = s.zoneFor(target); z == nil {
			break // the target is someone else's: the resolver follows it
		}
		name = target
	}
	if len(m.Answer) == 0 {
		if !z.names[name] {
			m.Rcode = dns.RcodeNameError
		}
		m.Ns = append(m.Ns, z.soaAuthority())
	}
	return scope
}

func (s *Server) zoneFor(name string) *zone {
	for _, z := range s.zones {
		if dns.IsSubDomain(z.origin, name) {
			return z
		}
	}
	return nil
}

// lookup answers name/qtype from zone z: the records, a CNAME target to
// follow, and the ECS scope of a selected answer.
func (s *Server) lookup(z *zone, name string, qtype uint16, client netip.Addr) (rrs []dns.RR, cname string, scope uint8) {
	if h := s.hosts[name]; h != nil {
		return s.selectAnswer(name, h, qtype, client)
	}
	if qtype == dns.TypeANY && z.names[name] {
		return []dns.RR{rfc8482(name)}, "", 0
	}
	if name == z.origin {
		switch qtype {
		case dns.TypeSOA:
			return []dns.RR{z.soa}, "", 0
		case dns.TypeNS:
			return z.ns, "", 0
		}
	}
	for _, rr := range z.rrs[name] {
		switch {
		case rr.Header().Rrtype == qtype:
			rrs = append(rrs, rr)
		case rr.Header().Rrtype == dns.TypeCNAME:
			return []dns.RR{rr}, strings.ToLower(rr.(*dns.CNAME).Target), 0
		}
	}
	return rrs, "", 0
}

// rfc8482 is the minimal answer to ANY.
func rfc8482(name string) dns.RR {
	return &dns.HINFO{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeHINFO, Class: dns.ClassINET, Ttl: 3600}, Cpu: "RFC8482"}
}
