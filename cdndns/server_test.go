package cdndns

import (
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// recorder is a dns.ResponseWriter that keeps the answer, with a
// settable remote address (CoreDNS's dnstest recorder).
type recorder struct {
	remote net.Addr
	msg    *dns.Msg
}

func (r *recorder) LocalAddr() net.Addr       { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 53), Port: 53} }
func (r *recorder) RemoteAddr() net.Addr      { return r.remote }
func (r *recorder) WriteMsg(m *dns.Msg) error { r.msg = m; return nil }
func (r *recorder) Write([]byte) (int, error) { return 0, nil }
func (r *recorder) Close() error              { return nil }
func (r *recorder) TsigStatus() error         { return nil }
func (r *recorder) TsigTimersOnly(bool)       {}
func (r *recorder) Hijack()                   {}

func exampleServer(t testing.TB) *Server {
	t.Helper()
	cfg, err := LoadConfigFile("examples/kingcdn.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var udpAddr = &net.UDPAddr{IP: net.IPv4(127, 0, 9, 9), Port: 5353}

func ask(s *Server, from string, m *dns.Msg) *dns.Msg {
	w := &recorder{remote: &net.UDPAddr{IP: net.ParseIP(from), Port: 5353}}
	s.ServeDNS(w, m)
	return w.msg
}

func query(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = true
	return m
}

func withECS(m *dns.Msg, prefix string) *dns.Msg {
	p := netip.MustParsePrefix(prefix)
	family := uint16(1)
	if p.Addr().Is6() {
		family = 2
	}
	o := m.SetEdns0(1232, false).IsEdns0()
	o.Option = append(o.Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: family,
		SourceNetmask: uint8(p.Bits()), Address: p.Addr().AsSlice()})
	return m
}

func answerText(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		f := strings.Fields(rr.String())
		out = append(out, f[0]+" "+f[3]+" "+strings.Join(f[4:], " "))
	}
	return out
}

func TestAuthoritative(t *testing.T) {
	s := exampleServer(t)
	tests := []struct {
		name    string
		from    string
		msg     *dns.Msg
		rcode   int
		answer  []string
		soa     bool // SOA in authority
		checkFn func(t *testing.T, m *dns.Msg)
	}{
		{name: "CDN host by resolver address, region 2", from: "127.0.2.9", msg: query("a1105.kingcdn.com.", dns.TypeA),
			answer: []string{"a1105.kingcdn.com. A 127.0.2.1"}},
		{name: "CNAME handoff with the target in the same answer", from: "127.0.3.7", msg: query("video.netcinema.com.", dns.TypeA),
			answer: []string{"video.netcinema.com. CNAME a1105.kingcdn.com.", "a1105.kingcdn.com. A 127.0.3.1"}},
		{name: "AAAA", from: "127.0.1.5", msg: query("a1105.kingcdn.com.", dns.TypeAAAA), answer: []string{"a1105.kingcdn.com. AAAA fd00:1::1"}},
		{name: "case is preserved", from: "127.0.1.5", msg: query("A1105.KingCDN.com.", dns.TypeA), answer: []string{"A1105.KingCDN.com. A 127.0.1.1"}},
		{name: "static record", from: "127.0.0.1", msg: query("www.netcinema.com.", dns.TypeA), answer: []string{"www.netcinema.com. A 127.0.0.80"}},
		{name: "NXDOMAIN with SOA", from: "127.0.0.1", msg: query("nope.netcinema.com.", dns.TypeA), rcode: dns.RcodeNameError, soa: true},
		{name: "NODATA with SOA", from: "127.0.0.1", msg: query("www.netcinema.com.", dns.TypeMX), soa: true},
		{name: "apex SOA", from: "127.0.0.1", msg: query("kingcdn.com.", dns.TypeSOA), checkFn: func(t *testing.T, m *dns.Msg) {
			t.Helper()
			if len(m.Answer) != 1 || m.Answer[0].Header().Rrtype != dns.TypeSOA {
				t.Errorf("answer %v", m.Answer)
			}
		}},
		{name: "apex NS", from: "127.0.0.1", msg: query("netcinema.com.", dns.TypeNS), answer: []string{"netcinema.com. NS ns1.netcinema.com."}},
		{name: "outside our zones: REFUSED", from: "127.0.0.1", msg: query("example.org.", dns.TypeA), rcode: dns.RcodeRefused},
		{name: "ANY is minimal", from: "127.0.0.1", msg: query("www.netcinema.com.", dns.TypeANY), answer: []string{`www.netcinema.com. HINFO "RFC8482" ""`}},
		{name: "TC bit in a query is answered", from: "127.0.2.1", msg: func() *dns.Msg { m := query("a1105.kingcdn.com.", dns.TypeA); m.Truncated = true; return m }(),
			answer: []string{"a1105.kingcdn.com. A 127.0.2.1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := ask(s, tc.from, tc.msg)
			if m.Rcode != tc.rcode {
				t.Fatalf("rcode %s, want %s", dns.RcodeToString[m.Rcode], dns.RcodeToString[tc.rcode])
			}
			if tc.rcode != dns.RcodeRefused && (!m.Authoritative || m.RecursionAvailable) {
				t.Errorf("AA=%v RA=%v, want AA set and RA clear", m.Authoritative, m.RecursionAvailable)
			}
			if m.Id != tc.msg.Id || !m.Response || !m.RecursionDesired {
				t.Errorf("header id=%d qr=%v rd=%v", m.Id, m.Response, m.RecursionDesired)
			}
			if tc.answer != nil {
				if got := strings.Join(answerText(m), "|"); got != strings.Join(tc.answer, "|") {
					t.Errorf("answer %q, want %q", got, strings.Join(tc.answer, "|"))
				}
			}
			if hasSOA := len(m.Ns) == 1 && m.Ns[0].Header().Rrtype == dns.TypeSOA; hasSOA != tc.soa {
				t.Errorf("authority %v, want SOA=%v", m.Ns, tc.soa)
			}
			if tc.checkFn != nil {
				tc.checkFn(t, m)
			}
		})
	}
}

func TestProtocolEdges(t *testing.T) {
	s := exampleServer(t)
	// EDNS version 1: BADVERS with an OPT of version 0.
	m := query("a1105.kingcdn.com.", dns.TypeA)
	m.SetEdns0(1232, false).IsEdns0().SetVersion(1)
	r := ask(s, "127.0.0.1", m)
	if r.Rcode != dns.RcodeBadVers || r.IsEdns0() == nil || r.IsEdns0().Version() != 0 {
		t.Errorf("EDNS version 1: rcode %d, opt %v", r.Rcode, r.IsEdns0())
	}
	// Unknown opcode: NOTIMP without the query's flags.
	m = query("a1105.kingcdn.com.", dns.TypeA)
	m.Opcode, m.CheckingDisabled = 7, true
	r = ask(s, "127.0.0.1", m)
	if r.Rcode != dns.RcodeNotImplemented || r.RecursionDesired || r.CheckingDisabled || r.Opcode != 7 || len(r.Question) != 0 {
		t.Errorf("opcode 7: %v", r.MsgHdr)
	}
	// EDNS echoed with our payload size; no OPT without one in the query.
	if r := ask(s, "127.0.0.1", withECS(query("a1105.kingcdn.com.", dns.TypeA), "127.0.1.0/24")); r.IsEdns0() == nil || r.IsEdns0().UDPSize() != maxUDP {
		t.Errorf("OPT not echoed: %v", r.Extra)
	}
	if r := ask(s, "127.0.0.1", query("a1105.kingcdn.com.", dns.TypeA)); r.IsEdns0() != nil {
		t.Errorf("OPT added to a query without one")
	}
	// Answers are not answered.
	m = query("a1105.kingcdn.com.", dns.TypeA)
	m.Response = true
	if r := ask(s, "127.0.0.1", m); r != nil {
		t.Errorf("answered a response: %v", r)
	}
}

// TestECS: the client subnet decides over the resolver's address, and the
// scope is the widest prefix with the same answer.
func TestECS(t *testing.T) {
	s := exampleServer(t)
	tests := []struct {
		subnet, want string
		scope        uint8
	}{
		{"127.0.1.0/24", "127.0.1.1", 24},
		{"127.0.2.128/25", "127.0.2.1", 24},
		{"127.0.3.0/24", "127.0.3.1", 24},
		{"198.51.100.0/24", "127.0.2.1", 24}, // London: eu-west
		{"203.0.113.0/24", "127.0.3.1", 24},  // Singapore: ap-south (Mumbai)
		{"2001:db8:1:2::/64", "127.0.1.1", 48},
		// Unknown: the default cluster, with the widest scope holding no
		// configured prefix (192.0.0.0/6; /5 would hold 198.51.100.0/24).
		{"192.0.2.0/24", "127.0.1.1", 6},
	}
	for _, tc := range tests {
		r := ask(s, "127.0.9.9", withECS(query("a1105.kingcdn.com.", dns.TypeA), tc.subnet))
		if got := answerText(r); len(got) != 1 || !strings.HasSuffix(got[0], tc.want) {
			t.Errorf("ECS %s: answer %v, want %s", tc.subnet, got, tc.want)
		}
		var scope uint8 = 255
		for _, o := range r.IsEdns0().Option {
			if e, ok := o.(*dns.EDNS0_SUBNET); ok {
				scope = e.SourceScope
			}
		}
		if scope != tc.scope {
			t.Errorf("ECS %s: scope /%d, want /%d", tc.subnet, scope, tc.scope)
		}
	}
	// Address bits beyond the source prefix: FORMERR (RFC 7871 §6), as
	// dnsperf's "-E 8:000100187f0002" (source /0, scope /24) sends.
	m := query("a1105.kingcdn.com.", dns.TypeA)
	o := m.SetEdns0(1232, false).IsEdns0()
	o.Option = append(o.Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 0, SourceScope: 24,
		Address: netip.MustParseAddr("127.0.2.0").AsSlice()})
	if r := ask(s, "127.0.9.9", m); r.Rcode != dns.RcodeFormatError || len(r.Answer) != 0 || r.IsEdns0() == nil {
		t.Errorf("malformed ECS: %v, want FORMERR with an OPT", r)
	}
}

// TestTruncationAndTCP serves over real loopback sockets: an answer larger
// than the query's UDP size has TC set, and comes whole over TCP.
func TestTruncationAndTCP(t *testing.T) {
	cfg, err := LoadConfigFile("examples/kingcdn.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		cfg.Zones[0].Records = append(cfg.Zones[0].Records, Record{Name: "big.netcinema.com.", Type: "TXT", TTL: 60,
			Value: `"` + strings.Repeat("x", 60) + string(rune('a'+i%26)) + `"`})
	}
	s, err := New(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr := serveOnePort(t, s)
	c := &dns.Client{Net: "udp"}
	r, _, err := c.Exchange(query("big.netcinema.com.", dns.TypeTXT), addr)
	if err != nil {
		t.Fatal(err)
	}
	r.Compress = true // as it was on the wire
	if !r.Truncated || r.Len() > dns.MinMsgSize {
		t.Errorf("UDP answer: TC=%v, %d bytes", r.Truncated, r.Len())
	}
	c = &dns.Client{Net: "tcp"}
	r, _, err = c.Exchange(query("big.netcinema.com.", dns.TypeTXT), addr)
	if err != nil {
		t.Fatal(err)
	}
	if r.Truncated || len(r.Answer) != 40 {
		t.Errorf("TCP answer: TC=%v, %d records, want 40", r.Truncated, len(r.Answer))
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzServeDNS(f *testing.F) {
	for _, m := range []*dns.Msg{query("video.netcinema.com.", dns.TypeA), withECS(query("a1105.kingcdn.com.", dns.TypeAAAA), "127.0.1.0/24"),
		query("x.example.", dns.TypeANY)} {
		b, _ := m.Pack()
		f.Add(b)
	}
	s := exampleServer(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		m := new(dns.Msg)
		if err := m.Unpack(data); err != nil {
			return // the server drops what does not unpack
		}
		r := ask(s, "127.0.2.2", m)
		if r == nil {
			return
		}
		if _, err := r.Pack(); err != nil {
			t.Fatalf("answer does not pack: %v\n%v", err, r)
		}
	})
}
