package cdndns

import (
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestRFC8906 runs the checks of RFC 8906 §8 (the queries ISC's DNS
// compliance testing sends, which dig writes as the comment shows)
// against the server on real loopback sockets, UDP through ServeUDP and
// TCP through miekg/dns's server, for the provider's zone and the CDN's.
func TestRFC8906(t *testing.T) {
	addr := serveOnePort(t, exampleServer(t))
	type want struct {
		rcode      int
		soa        bool // the zone's SOA in the answer section
		aa, tc     bool
		opt        bool // an OPT record, version 0
		do         bool // the DO bit in it
		noOptions  bool // no EDNS options echoed
		noDataSOA  bool // an empty answer with the SOA in the authority section
		noQuestion bool
	}
	soa := func(zone string) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion(zone, dns.TypeSOA)
		m.RecursionDesired = false
		return m
	}
	edns := func(m *dns.Msg, version uint8, do bool) *dns.Msg {
		o := m.SetEdns0(4096, do).IsEdns0()
		o.SetVersion(version)
		return m
	}
	tests := []struct {
		name string // the dig command of RFC 8906 §8
		m    func(zone string) *dns.Msg
		tcp  bool
		want want
	}{
		{"dig +noedns +noad +norec soa", soa, false, want{rcode: dns.RcodeSuccess, soa: true, aa: true}},
		{"dig +noedns +noad +norec type1000", func(z string) *dns.Msg { m := soa(z); m.Question[0].Qtype = 1000; return m }, false,
			want{rcode: dns.RcodeSuccess, aa: true, noDataSOA: true}},
		{"dig +noedns +noad +norec +cd soa", func(z string) *dns.Msg { m := soa(z); m.CheckingDisabled = true; return m }, false,
			want{rcode: dns.RcodeSuccess, soa: true, aa: true}},
		{"dig +noedns +norec +ad soa", func(z string) *dns.Msg { m := soa(z); m.AuthenticatedData = true; return m }, false,
			want{rcode: dns.RcodeSuccess, soa: true, aa: true}},
		{"dig +noedns +noad +norec +zflag soa", func(z string) *dns.Msg { m := soa(z); m.Zero = true; return m }, false,
			want{rcode: dns.RcodeSuccess, soa: true, aa: true}},
		{"dig +noedns +noad +opcode=15 +norec +header-only soa", func(z string) *dns.Msg {
			m := soa(z)
			m.Opcode, m.Question = 15, nil
			return m
		}, false, want{rcode: dns.RcodeNotImplemented, noQuestion: true}},
		{"dig +noedns +noad +norec +tcp soa", soa, true, want{rcode: dns.RcodeSuccess, soa: true, aa: true}},
		{"dig +nocookie +edns=0 +noad +norec soa", func(z string) *dns.Msg { return edns(soa(z), 0, false) }, false,
			want{rcode: dns.RcodeSuccess, soa: true, aa: true, opt: true, noOptions: true}},
		{"dig +nocookie +edns=1 +noednsneg +noad +norec soa", func(z string) *dns.Msg { return edns(soa(z), 1, false) }, false,
			want{rcode: dns.RcodeBadVers, opt: true, noOptions: true}},
		{"dig +nocookie +edns=0 +noad +norec +ednsopt=100 soa", func(z string) *dns.Msg {
			m := edns(soa(z), 0, false)
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_LOCAL{Code: 100})
			return m
		}, false, want{rcode: dns.RcodeSuccess, soa: true, aa: true, opt: true, noOptions: true}},
		{"dig +nocookie +edns=0 +noad +norec +ednsflags=0x40 soa", func(z string) *dns.Msg {
			m := edns(soa(z), 0, false)
			m.IsEdns0().Hdr.Ttl |= 0x40 // an unknown EDNS flag: must not be echoed
			return m
		}, false, want{rcode: dns.RcodeSuccess, soa: true, aa: true, opt: true, noOptions: true}},
		{"dig +nocookie +edns=1 +noednsneg +noad +norec +ednsopt=100 soa", func(z string) *dns.Msg {
			m := edns(soa(z), 1, false)
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_LOCAL{Code: 100})
			return m
		}, false, want{rcode: dns.RcodeBadVers, opt: true, noOptions: true}},
		{"dig +nocookie +edns=0 +noad +norec +dnssec +bufsize=512 +ignore dnskey", func(z string) *dns.Msg {
			m := soa(z)
			m.Question[0].Qtype = dns.TypeDNSKEY
			m.SetEdns0(512, true)
			return m
		}, false, want{rcode: dns.RcodeSuccess, aa: true, opt: true, do: true, noOptions: true, noDataSOA: true}},
		{"dig +nocookie +edns=0 +noad +norec +dnssec soa", func(z string) *dns.Msg { return edns(soa(z), 0, true) }, false,
			want{rcode: dns.RcodeSuccess, soa: true, aa: true, opt: true, do: true, noOptions: true}},
		{"dig +nocookie +edns=0 +noad +norec +tcp soa", func(z string) *dns.Msg { return edns(soa(z), 0, false) }, true,
			want{rcode: dns.RcodeSuccess, soa: true, aa: true, opt: true, noOptions: true}},
	}
	for _, zone := range []string{"netcinema.com.", "kingcdn.com."} {
		for _, tc := range tests {
			t.Run(zone+" "+tc.name, func(t *testing.T) {
				q := tc.m(zone)
				c := &dns.Client{Net: "udp", Timeout: 5 * time.Second}
				if tc.tcp {
					c.Net = "tcp"
				}
				r, _, err := c.Exchange(q, addr)
				if err != nil {
					t.Fatalf("no answer: %v", err)
				}
				w := tc.want
				o := r.IsEdns0()
				var got want
				got.rcode, got.aa, got.tc, got.opt = r.Rcode, r.Authoritative, r.Truncated, o != nil && o.Version() == 0
				got.soa = len(r.Answer) == 1 && r.Answer[0].Header().Rrtype == dns.TypeSOA
				got.noDataSOA = len(r.Answer) == 0 && len(r.Ns) == 1 && r.Ns[0].Header().Rrtype == dns.TypeSOA
				got.noQuestion = len(r.Question) == 0
				if o != nil {
					got.do, got.noOptions = o.Do(), len(o.Option) == 0
					if o.Hdr.Ttl&0x7FFF != 0 {
						t.Errorf("EDNS flags beyond DO echoed: %#x", o.Hdr.Ttl&0xFFFF)
					}
				}
				if got != w {
					t.Errorf("got %+v\nwant %+v\n%v", got, w, r)
				}
				// Header bits no answer may carry: RD (not asked for),
				// RA (not a resolver), AD (nothing validated), Z.
				if r.RecursionDesired || r.RecursionAvailable || r.AuthenticatedData || r.Zero {
					t.Errorf("flags rd=%v ra=%v ad=%v z=%v", r.RecursionDesired, r.RecursionAvailable, r.AuthenticatedData, r.Zero)
				}
				if q.CheckingDisabled != r.CheckingDisabled && q.Opcode == dns.OpcodeQuery {
					t.Errorf("CD not copied: %v", r.CheckingDisabled)
				}
			})
		}
	}
}
