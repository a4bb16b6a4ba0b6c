package cdndns

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/streamcdn/streamcdn/internal/geo"
	"github.com/streamcdn/streamcdn/internal/policy"
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
	// MaxUDPSize caps a UDP answer, whatever the client advertises
	// (RFC 9715, DNS Flag Day 2020): an answer that does not fit has TC
	// set and the client asks again over TCP. It is also the payload size
	// our OPT offers. Zero: 1232; at least 512.
	MaxUDPSize int
	// MaxRTTPrefixes bounds the client prefixes the RTT table holds;
	// when full, the one updated longest ago is dropped. Zero: 65,536.
	MaxRTTPrefixes int
	// MaxTCPConns caps the TCP connections ServeTCP holds open; at the
	// cap a new one closes the idlest. Zero: three quarters of the
	// process's descriptor limit, less a reserve.
	MaxTCPConns int
	// TCPIdleTimeout closes a TCP connection that sends no query for
	// that long (an empty frame is not a query). Zero: 10 s.
	TCPIdleTimeout time.Duration
}

// Server answers queries for the configured zones. It is a dns.Handler.
// Its configuration can be replaced while it answers (Reload).
type Server struct {
	st  atomic.Pointer[state]
	rtt *policy.RTTTable
	// epoch counts the changes a cluster decision depends on (health,
	// drain, load, RTT, configuration): cached decisions of an older
	// epoch are not used.
	epoch   atomic.Uint64
	opts    Options
	log     *slog.Logger
	metrics *metrics
	mu      sync.Mutex // serializes Reload
}

// state is everything compiled from a Config. It is replaced whole by
// Reload; a query reads one state from start to end.
type state struct {
	zones    []*zone // longest origin first
	hosts    map[string]*host
	aliases  map[string]*alias
	clusters []*cluster
	geo      *geo.Locator
	health   HealthConfig
	rttAge   time.Duration
}

type host struct {
	ttl      uint32
	clusters []*cluster
	zoned    bool // in one of our zones (else queries for it are refused)

	sitesOnce sync.Once
	sites     []policy.Site // the clusters as the policy sees them, made once
}

// alias is a name whose one record is a CNAME to one of our hosts: the
// provider's handoff (video.netcinema.com → a1105.kingcdn.com) when one
// process serves both zones. The UDP fast path answers it with the CNAME
// and the host's addresses, as resolve does.
type alias struct {
	ttl    uint32
	target []byte // the CNAME's target in wire form, as configured
	// owner is the addresses' owner name in wire form (the target,
	// lowercased), or nil when it is target itself (then a compression
	// pointer to the CNAME's data names them).
	owner []byte
	h     *host
}

// New compiles cfg, which must be valid (LoadConfig checks it).
func New(cfg Config) (*Server, error) {
	opts := cfg.Options
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxUDPSize == 0 {
		opts.MaxUDPSize = maxUDP
	}
	if opts.MaxUDPSize < dns.MinMsgSize || opts.MaxUDPSize > 65535 {
		return nil, fmt.Errorf("cdndns: max UDP size %d: want 512 to 65535", opts.MaxUDPSize)
	}
	if opts.TCPIdleTimeout <= 0 {
		opts.TCPIdleTimeout = 10 * time.Second
	}
	if opts.MaxTCPConns <= 0 {
		opts.MaxTCPConns = defaultTCPConns()
	}
	if opts.MaxRTTPrefixes <= 0 {
		opts.MaxRTTPrefixes = policy.DefaultRTTPrefixes
	}
	s := &Server{opts: opts, log: opts.Logger.With("component", "dns"), rtt: policy.NewRTTTable(opts.MaxRTTPrefixes)}
	st, err := compile(cfg, nil)
	if err != nil {
		return nil, err
	}
	s.st.Store(st)
	if s.metrics, err = newMetrics(opts.Registry, s); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload replaces the configuration without dropping a query: queries in
// flight finish with the old one. Clusters keep their health, drain and
// load state by name; measured RTTs are kept. An invalid cfg is refused
// and the old configuration stays.
func (s *Server) Reload(cfg Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.state()
	st, err := compile(cfg, old)
	if err != nil {
		return err
	}
	s.st.Store(st)
	s.changed()
	s.metrics.clustersChanged(old, st)
	s.log.Info("config reloaded", "zones", len(st.zones), "clusters", len(st.clusters), "hosts", len(st.hosts))
	return nil
}

func (s *Server) state() *state { return s.st.Load() }

// changed records a change that cluster decisions depend on.
func (s *Server) changed() { s.epoch.Add(1) }

// compile builds the state of cfg, carrying run-time cluster state over
// from old (nil at start).
func compile(cfg Config, old *state) (*state, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st := &state{hosts: map[string]*host{}, health: cfg.Health, rttAge: time.Duration(cfg.RTTMaxAge)}
	if st.rttAge <= 0 {
		st.rttAge = 5 * time.Minute
	}
	var db []byte
	if cfg.GeoDB != "" {
		var err error
		if db, err = os.ReadFile(cfg.GeoDB); err != nil {
			return nil, fmt.Errorf("config: geo_db: %w", err)
		}
	}
	overrides, err := geo.Places(cfg.Geo)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if st.geo, err = geo.New(overrides, db); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	byName := map[string]*cluster{}
	for _, c := range cfg.Clusters {
		cl := newCluster(c)
		if old != nil {
			if prev := old.cluster(c.Name); prev != nil {
				cl.carry(prev)
			}
		}
		st.clusters = append(st.clusters, cl)
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
			hh.clusters = st.clusters
		}
		st.hosts[name] = hh
		hostNames = append(hostNames, name)
	}
	for _, z := range cfg.Zones {
		st.zones = append(st.zones, compileZone(z, hostNames))
	}
	sort.Slice(st.zones, func(i, j int) bool { return len(st.zones[i].origin) > len(st.zones[j].origin) })
	for name, h := range st.hosts {
		h.zoned = st.zoneFor(name) != nil
	}
	st.aliases = st.findAliases()
	return st, nil
}

// findAliases returns the names that resolve answers with one CNAME to
// one of our hosts, by owner name.
func (st *state) findAliases() map[string]*alias {
	aliases := map[string]*alias{}
	for _, z := range st.zones {
		for name, rrs := range z.rrs {
			if len(rrs) != 1 || name == z.origin || st.hosts[name] != nil || st.zoneFor(name) != z {
				continue
			}
			c, ok := rrs[0].(*dns.CNAME)
			if !ok {
				continue
			}
			lower := strings.ToLower(c.Target)
			h := st.hosts[lower]
			if h == nil || !h.zoned {
				continue
			}
			target, owner := wireName(c.Target), wireName(lower)
			if bytes.Equal(target, owner) {
				owner = nil
			}
			aliases[name] = &alias{ttl: c.Hdr.Ttl, target: target, owner: owner, h: h}
		}
	}
	return aliases
}

// wireName is the uncompressed wire form of name, a valid domain name.
func wireName(name string) []byte {
	b := make([]byte, 255)
	n, _ := dns.PackDomainName(dns.Fqdn(name), b, 0, nil, false)
	return b[:n]
}

// cluster returns the named cluster, or nil.
func (st *state) cluster(name string) *cluster {
	for _, c := range st.clusters {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// maxUDP is the default UDP payload size (RFC 9715 / DNS flag day 2020).
const maxUDP = 1232

// ServeDNS answers one query.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	start := s.opts.Now()
	m := s.answer(w, req)
	if m == nil {
		return // not worth an answer
	}
	if t := req.IsTsig(); t != nil && m.Rcode != dns.RcodeFormatError {
		m = signed(w, req, m, t, start)
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
	// The DO bit is copied into the answer (RFC 3225 §3); the other EDNS
	// flags are not.
	do := opt != nil && opt.Do()
	if opt != nil && opt.Version() != 0 {
		m.Authoritative = false
		m.SetRcode(req, dns.RcodeBadVers)
		m.SetEdns0(uint16(s.opts.MaxUDPSize), do)
		return m
	}
	if len(req.Question) != 1 || tsigNotLast(req) || !wellFormedEDNS(req) || req.Question[0].Qtype == 0 || req.Question[0].Qclass == 0 {
		m.Authoritative = false
		m.SetRcode(req, dns.RcodeFormatError)
		return m
	}
	q := req.Question[0]
	client, ecs, ok := clientAddr(w, opt)
	if !ok {
		// RFC 7871 §6: address bits beyond SOURCE PREFIX-LENGTH, or an
		// unknown family, are a malformed option.
		m.Authoritative = false
		m.SetRcode(req, dns.RcodeFormatError)
		m.SetEdns0(uint16(s.opts.MaxUDPSize), do)
		return m
	}
	var scope uint8
	if q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR {
		// Zone transfers are not offered: REFUSED, no records, over UDP
		// and TCP alike (RFC 5936 §2.2.1 allows it).
		m.Authoritative = false
		m.Rcode = dns.RcodeRefused
	} else {
		scope = s.resolve(s.state(), m, q, client)
	}
	if opt != nil {
		out := m.SetEdns0(uint16(s.opts.MaxUDPSize), do).IsEdns0()
		if ecs != nil {
			e := *ecs
			e.SourceScope = scope
			out.Option = append(out.Option, &e)
		}
	}
	if _, tcp := w.RemoteAddr().(*net.TCPAddr); !tcp {
		fit(m, udpLimit(opt, s.opts.MaxUDPSize)-tsigReserve(req))
	}
	return m
}

// udpLimit is the largest UDP answer for a query with opt (nil: no
// EDNS): what it advertises (512 at least, RFC 6891 §6.2.5), at most
// ceiling.
func udpLimit(opt *dns.OPT, ceiling int) int {
	if opt == nil {
		return dns.MinMsgSize
	}
	return min(max(int(opt.UDPSize()), dns.MinMsgSize), ceiling)
}

// fit makes m, compressed, at most size bytes long: if it is longer, it
// sets TC and keeps the question, the OPT record and as many whole
// answer RRsets as fit (never part of one, RFC 2181 §9); the client asks
// again over TCP. Unlike miekg/dns's Truncate it never sends a message
// uncompressed, and it keeps a size below 512 (a TSIG signature's room).
func fit(m *dns.Msg, size int) {
	m.Compress = false // measured uncompressed first: cheap, and compressed is never longer
	fits := m.Len() <= size
	m.Compress = true
	if fits || m.Len() <= size {
		return
	}
	m.Truncated = true
	var opt []dns.RR
	for _, rr := range m.Extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			opt = append(opt, rr)
		}
	}
	answer := m.Answer
	m.Answer, m.Ns, m.Extra = nil, nil, opt
	for len(answer) > 0 {
		n := 1
		for n < len(answer) && sameRRset(answer[0], answer[n]) {
			n++
		}
		m.Answer = append(m.Answer, answer[:n]...)
		if m.Len() > size {
			m.Answer = m.Answer[:len(m.Answer)-n]
			return
		}
		answer = answer[n:]
	}
}

func sameRRset(a, b dns.RR) bool {
	ha, hb := a.Header(), b.Header()
	return ha.Rrtype == hb.Rrtype && ha.Class == hb.Class && strings.EqualFold(ha.Name, hb.Name)
}

// wellFormedEDNS reports whether req has at most one OPT record, owned
// by the root (RFC 6891 §6.1.1: else FORMERR).
func wellFormedEDNS(req *dns.Msg) bool {
	n := 0
	for _, rr := range req.Extra {
		if h := rr.Header(); h.Rrtype == dns.TypeOPT {
			if n++; n > 1 || h.Name != "." {
				return false
			}
		}
	}
	return true
}

// clientAddr returns the address to locate: the ECS subnet when the query
// has one, else the resolver's own address. ok is false for a malformed
// ECS option: an unknown family, or address bits set beyond the source
// prefix.
func clientAddr(w dns.ResponseWriter, opt *dns.OPT) (addr netip.Addr, ecs *dns.EDNS0_SUBNET, ok bool) {
	if opt != nil {
		for _, o := range opt.Option {
			if e, isECS := o.(*dns.EDNS0_SUBNET); isECS {
				if e.Family == 0 && e.SourceNetmask == 0 {
					// Family 0, /0: "no subnet" as dig sends it; BIND
					// accepts it. The resolver's address decides, and
					// the option is echoed with scope 0.
					ecs = e
					break
				}
				a, ok := netip.AddrFromSlice(e.Address)
				if !ok || (e.Family != 1 && e.Family != 2) {
					return netip.Addr{}, e, false
				}
				if e.Family == 1 {
					a = a.Unmap()
				}
				p, err := a.Prefix(int(e.SourceNetmask))
				return a, e, err == nil && p.Addr() == a
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
	addr, _ = netip.AddrFromSlice(ip)
	return addr.Unmap(), ecs, true
}

// resolve fills m for question q from client and returns the ECS scope.
func (s *Server) resolve(st *state, m *dns.Msg, q dns.Question, client netip.Addr) uint8 {
	name := strings.ToLower(q.Name)
	z := st.zoneFor(name)
	if z == nil || (q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY) {
		m.Authoritative = false
		m.Rcode = dns.RcodeRefused
		return 0
	}
	var scope uint8
	for depth := 0; depth < 8; depth++ { // follow CNAMEs within our zones
		rrs, target, sc := s.lookup(st, z, name, q.Qtype, client)
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
		if z = st.zoneFor(target); z == nil {
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

func (st *state) zoneFor(name string) *zone {
	for _, z := range st.zones {
		if dns.IsSubDomain(z.origin, name) {
			return z
		}
	}
	return nil
}

// lookup answers name/qtype from zone z: the records, a CNAME target to
// follow, and the ECS scope of a selected answer.
func (s *Server) lookup(st *state, z *zone, name string, qtype uint16, client netip.Addr) (rrs []dns.RR, cname string, scope uint8) {
	if h := st.hosts[name]; h != nil {
		return s.selectAnswer(st, name, h, qtype, client)
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
