package cdndns

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

var udpPeer = netip.MustParseAddrPort("127.0.9.9:5353")

// answerBoth answers pkt through the UDP worker and through the general
// path alone; fast tells whether the worker took its fast path.
func answerBoth(t testing.TB, s *Server, w *udpWorker, pkt []byte, peer netip.AddrPort) (worker, general []byte, fast bool) {
	t.Helper()
	_, fast = w.fast(pkt, peer, nil, s.opts.Now())
	worker, _ = w.respond(pkt, false, peer, nil, s.opts.Now())
	general = s.general(pkt, false, net.UDPAddrFromAddrPort(peer), nil)
	return worker, general, fast
}

// sameAnswer fails t unless a and b are the same DNS message.
func sameAnswer(t testing.TB, what string, a, b []byte) {
	t.Helper()
	if (a == nil) != (b == nil) {
		t.Fatalf("%s: one path answered and the other did not: %x / %x", what, a, b)
	}
	if a == nil {
		return
	}
	ma, mb := new(dns.Msg), new(dns.Msg)
	if err := ma.Unpack(a); err != nil {
		t.Fatalf("%s: the answer does not unpack: %v", what, err)
	}
	if err := mb.Unpack(b); err != nil {
		t.Fatalf("%s: the general answer does not unpack: %v", what, err)
	}
	if ma.String() != mb.String() {
		t.Fatalf("%s: the answers differ:\n%s\n---\n%s", what, ma, mb)
	}
}

func pack(t testing.TB, m *dns.Msg) []byte {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fastCase is a query and whether the fast path answers it.
type fastCase struct {
	name string
	m    *dns.Msg
	fast bool
}

// checkFastPath answers each case through w and the general path alone:
// the fast path must take it or leave it as the case says, and both
// answers must be the same.
func checkFastPath(t *testing.T, s *Server, w *udpWorker, cases []fastCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, want, fast := answerBoth(t, s, w, pack(t, tc.m), udpPeer)
			if fast != tc.fast {
				t.Errorf("fast path taken: %v, want %v", fast, tc.fast)
			}
			sameAnswer(t, tc.name, got, want)
		})
	}
}

// TestFastPathMatchesGeneral: every query the fast path answers gets the
// answer the general path gives, byte for byte after unpacking; the rest
// are left to the general path.
func TestFastPathMatchesGeneral(t *testing.T) {
	s := exampleServer(t)
	w := newUDPWorker(s)
	flags := func(m *dns.Msg) *dns.Msg {
		m.RecursionDesired, m.CheckingDisabled, m.AuthenticatedData = false, true, true
		return m
	}
	badECS := func(source, scope uint8, addr string) *dns.Msg {
		m := query("a1105.kingcdn.com.", dns.TypeA)
		o := m.SetEdns0(1232, false).IsEdns0()
		o.Option = append(o.Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: source, SourceScope: scope,
			Address: netip.MustParseAddr(addr).AsSlice()})
		return m
	}
	cookie := withECS(query("a1105.kingcdn.com.", dns.TypeA), "127.0.2.0/24")
	cookie.IsEdns0().Option = append(cookie.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0123456789abcdef"})
	tests := []fastCase{
		{"A from the resolver's address", query("a1105.kingcdn.com.", dns.TypeA), true},
		{"AAAA", query("a1105.kingcdn.com.", dns.TypeAAAA), true},
		{"mixed case", query("A1105.KingCDN.com.", dns.TypeA), true},
		{"flags", flags(query("a1105.kingcdn.com.", dns.TypeA)), true},
		{"EDNS, no ECS", func() *dns.Msg { m := query("a1105.kingcdn.com.", dns.TypeA); m.SetEdns0(4096, true); return m }(), true},
		{"ECS eu-west", withECS(query("a1105.kingcdn.com.", dns.TypeA), "127.0.2.0/24"), true},
		{"ECS /25", withECS(query("a1105.kingcdn.com.", dns.TypeA), "127.0.2.128/25"), true},
		{"ECS /0", withECS(query("a1105.kingcdn.com.", dns.TypeA), "0.0.0.0/0"), true},
		{"ECS IPv6", withECS(query("a1105.kingcdn.com.", dns.TypeAAAA), "2001:db8:1:2::/64"), true},
		{"ECS unknown", withECS(query("a1105.kingcdn.com.", dns.TypeA), "192.0.2.0/24"), true},
		{"ECS bits beyond the prefix", badECS(0, 24, "127.0.2.0"), false},
		{"ECS scope set in a query", badECS(24, 24, "127.0.2.0"), false},
		{"another EDNS option", cookie, false},
		{"CNAME handoff", query("video.netcinema.com.", dns.TypeA), true},
		{"CNAME handoff, AAAA", query("video.netcinema.com.", dns.TypeAAAA), true},
		{"CNAME handoff, mixed case", query("Video.NetCinema.COM.", dns.TypeA), true},
		{"CNAME handoff, ECS", withECS(query("video.netcinema.com.", dns.TypeA), "127.0.3.0/24"), true},
		{"CNAME handoff, ECS IPv6", withECS(query("video.netcinema.com.", dns.TypeAAAA), "2001:db8::/56"), true},
		{"CNAME handoff, CNAME", query("video.netcinema.com.", dns.TypeCNAME), false},
		{"static A", query("www.netcinema.com.", dns.TypeA), false},
		{"ANY", query("a1105.kingcdn.com.", dns.TypeANY), false},
		{"TXT of the host", query("a1105.kingcdn.com.", dns.TypeTXT), false},
		{"not ours", query("www.example.org.", dns.TypeA), false},
		{"zone apex", query("kingcdn.com.", dns.TypeSOA), false},
		{"no such name", query("nope.kingcdn.com.", dns.TypeA), false},
		{"EDNS version 1", func() *dns.Msg {
			m := query("a1105.kingcdn.com.", dns.TypeA)
			m.SetEdns0(1232, false).IsEdns0().SetVersion(1)
			return m
		}(), false},
		{"NOTIFY", func() *dns.Msg { m := query("a1105.kingcdn.com.", dns.TypeA); m.Opcode = dns.OpcodeNotify; return m }(), false},
		{"opcode 7", func() *dns.Msg { m := query("a1105.kingcdn.com.", dns.TypeA); m.Opcode = 7; return m }(), false},
		{"a response", func() *dns.Msg { m := query("a1105.kingcdn.com.", dns.TypeA); m.Response = true; return m }(), false},
		{"two questions", func() *dns.Msg {
			m := query("a1105.kingcdn.com.", dns.TypeA)
			m.Question = append(m.Question, m.Question[0])
			return m
		}(), false},
		{"class CH", func() *dns.Msg {
			m := query("a1105.kingcdn.com.", dns.TypeA)
			m.Question[0].Qclass = dns.ClassCHAOS
			return m
		}(), false},
		{"escaped name", query(`a1105\.x.kingcdn.com.`, dns.TypeA), false},
	}
	checkFastPath(t, s, w, tests)
	// Cut and malformed datagrams.
	full := pack(t, withECS(query("a1105.kingcdn.com.", dns.TypeA), "127.0.2.0/24"))
	for _, n := range []int{0, 5, 12, 20, len(full) - 3, len(full) - 1} {
		got, want, _ := answerBoth(t, s, w, full[:n], udpPeer)
		sameAnswer(t, "cut", got, want)
	}
	if got, _ := w.respond(full, true, udpPeer, nil, s.opts.Now()); got == nil || dnsRcode(t, got) != dns.RcodeFormatError {
		t.Errorf("a datagram longer than the buffer: %x, want FORMERR", got)
	}
}

func dnsRcode(t *testing.T, b []byte) int {
	t.Helper()
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatal(err)
	}
	return m.Rcode
}

// TestFastPathAliases: the fast path answers a name whose one record is a
// CNAME to one of our hosts, as the general path does, and leaves every
// other CNAME to it.
func TestFastPathAliases(t *testing.T) {
	cfg, err := LoadConfigFile("examples/kingcdn.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Clusters[0].IPv6 = append(cfg.Clusters[0].IPv6, "fd00:1::2")
	cfg.Clusters[1].IPv6 = nil // eu-west has no AAAA
	cfg.Zones[0].Records = append(cfg.Zones[0].Records,
		Record{Name: "upper.netcinema.com.", Type: "CNAME", TTL: 60, Value: "A1105.KingCDN.com."},
		Record{Name: "www2.netcinema.com.", Type: "CNAME", TTL: 60, Value: "www.netcinema.com."},
		Record{Name: "chain.netcinema.com.", Type: "CNAME", TTL: 60, Value: "video.netcinema.com."},
		Record{Name: "away.netcinema.com.", Type: "CNAME", TTL: 60, Value: "cdn.example.net."},
		Record{Name: "nohost.netcinema.com.", Type: "CNAME", TTL: 60, Value: "nope.kingcdn.com."},
	)
	s, err := New(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := newUDPWorker(s)
	tests := []fastCase{
		{"to a host", withECS(query("video.netcinema.com.", dns.TypeA), "127.0.1.0/24"), true},
		{"to a host written in capitals", withECS(query("upper.netcinema.com.", dns.TypeA), "127.0.1.0/24"), true},
		{"to a host written in capitals, two addresses", withECS(query("upper.netcinema.com.", dns.TypeAAAA), "127.0.1.0/24"), true},
		{"AAAA of a cluster without IPv6", withECS(query("video.netcinema.com.", dns.TypeAAAA), "127.0.2.0/24"), false},
		{"to a static name", query("www2.netcinema.com.", dns.TypeA), false},
		{"a chain", withECS(query("chain.netcinema.com.", dns.TypeA), "127.0.3.0/24"), false},
		{"to someone else's name", query("away.netcinema.com.", dns.TypeA), false},
		{"to no such name", query("nohost.netcinema.com.", dns.TypeA), false},
	}
	checkFastPath(t, s, w, tests)
}

// TestTransportsAgree: a message the admission rules refuse, or with an
// unknown opcode, gets the same answer over UDP (ServeUDP) as over TCP
// (ServeTCP, miekg/dns's server).
func TestTransportsAgree(t *testing.T) {
	addr := serveOnePort(t, exampleServer(t))
	flags := func(m *dns.Msg) *dns.Msg {
		m.RecursionDesired, m.RecursionAvailable, m.AuthenticatedData, m.CheckingDisabled, m.Zero = true, true, true, true, true
		return m
	}
	twoQuestions := flags(query("a1105.kingcdn.com.", dns.TypeA))
	twoQuestions.Question = append(twoQuestions.Question, twoQuestions.Question[0])
	notify := flags(query("kingcdn.com.", dns.TypeSOA))
	notify.Opcode = dns.OpcodeNotify
	update := flags(query("kingcdn.com.", dns.TypeSOA))
	update.Opcode = dns.OpcodeUpdate
	threeExtra := flags(query("a1105.kingcdn.com.", dns.TypeA))
	for _, ip := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"} {
		threeExtra.Extra = append(threeExtra.Extra, &dns.A{Hdr: dns.RR_Header{Name: "x.", Rrtype: dns.TypeA, Class: dns.ClassINET}, A: net.ParseIP(ip)})
	}
	tests := []struct {
		name  string
		m     *dns.Msg
		rcode int
	}{
		{"two questions", twoQuestions, dns.RcodeFormatError},
		{"three additional records", threeExtra, dns.RcodeFormatError},
		{"NOTIFY", notify, dns.RcodeNotImplemented},
		{"UPDATE", update, dns.RcodeNotImplemented},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var answers [2]*dns.Msg
			for i, network := range []string{"udp", "tcp"} {
				c := &dns.Client{Net: network, Timeout: 5 * time.Second}
				r, _, err := c.Exchange(tc.m, addr)
				if err != nil {
					t.Fatalf("%s: %v", network, err)
				}
				if r.Rcode != tc.rcode {
					t.Errorf("%s: rcode %s, want %s", network, dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
				}
				answers[i] = r
			}
			if u, c := answers[0].String(), answers[1].String(); u != c {
				t.Errorf("UDP and TCP differ:\n%s\n---\n%s", u, c)
			}
		})
	}
}

// TestFastPathTruncates: an answer larger than the query's UDP size goes
// to the general path, which sets TC.
func TestFastPathTruncates(t *testing.T) {
	cfg, err := LoadConfigFile("examples/kingcdn.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		cfg.Clusters[1].IPv4 = append(cfg.Clusters[1].IPv4, netip.AddrFrom4([4]byte{127, 0, 2, byte(10 + i)}).String())
	}
	s, err := New(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := newUDPWorker(s)
	got, want, fast := answerBoth(t, s, w, pack(t, query("a1105.kingcdn.com.", dns.TypeA)), netip.MustParseAddrPort("127.0.2.9:53"))
	if fast {
		t.Error("the fast path answered beyond 512 octets")
	}
	sameAnswer(t, "truncated", got, want)
	m := new(dns.Msg)
	if m.Unpack(got) != nil || !m.Truncated {
		t.Errorf("want TC: %v", m)
	}
}

// TestFastPathFollowsChanges: a cached decision gives way at once to a
// drain, an RTT report, a load report, a health check's verdict and a
// reload, and a stale RTT falls back to geography within the decision's
// lifetime.
func TestFastPathFollowsChanges(t *testing.T) {
	s, clock, admin := policyServer(t)
	w := newUDPWorker(s)
	pkt := pack(t, withECS(query("a1105.kingcdn.com.", dns.TypeA), "127.0.2.0/24"))
	answer := func() string {
		t.Helper()
		b, ok := w.fast(pkt, udpPeer, nil, clock.Now())
		if !ok {
			t.Fatal("the fast path did not answer")
		}
		m := new(dns.Msg)
		if err := m.Unpack(b); err != nil || len(m.Answer) != 1 {
			t.Fatalf("%v %v", err, m)
		}
		return m.Answer[0].(*dns.A).A.String()
	}
	health := func(ok bool) {
		st := s.state()
		for range 2 {
			s.record(st.health, st.cluster("eu-west"), ok)
		}
	}
	steps := []struct {
		do   func()
		want string
	}{
		{func() {}, "127.0.2.1"},
		{func() { post(t, admin+"/drain?cluster=eu-west&on=true", "secret", "") }, "127.0.1.1"},
		{func() { post(t, admin+"/drain?cluster=eu-west&on=false", "secret", "") }, "127.0.2.1"},
		{func() {
			post(t, admin+"/rtt", "secret", `[{"cluster": "ap-south", "client": "127.0.2.1", "rtt_ms": 2}]`)
		}, "127.0.3.1"},
		{func() { clock.Advance(10 * time.Minute) }, "127.0.2.1"}, // the RTT is stale
		{func() { post(t, admin+"/load", "secret", `[{"cluster": "eu-west", "load": 1000}]`) }, "127.0.1.1"},
		{func() { post(t, admin+"/load", "secret", `[{"cluster": "eu-west", "load": 0}]`) }, "127.0.2.1"},
		{func() { health(false) }, "127.0.1.1"}, // down after two failed checks
		{func() { health(true) }, "127.0.2.1"},  // up after two passed ones
		{func() {
			cfg, err := LoadConfigFile("examples/kingcdn.yaml")
			if err != nil {
				t.Fatal(err)
			}
			cfg.Geo = append(cfg.Geo, GeoNet{Prefix: "100.64.0.0/10", Lat: 48.86, Lon: 2.35})
			cfg.Clusters[1].IPv4 = []string{"127.0.2.77"}
			if err := s.Reload(*cfg); err != nil {
				t.Fatal(err)
			}
		}, "127.0.2.77"},
	}
	for i, st := range steps {
		st.do()
		if got := answer(); got != st.want {
			t.Errorf("step %d: answered %s, want %s", i, got, st.want)
		}
	}
}

// TestServeUDP serves over a real loopback socket: a burst of queries,
// larger than a batch, each answered with its ID and region; a datagram
// too short for a header is not answered; one longer than the read
// buffer gets FORMERR; cancelling stops the server.
func TestServeUDP(t *testing.T) {
	s := exampleServer(t)
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.ServeUDP(ctx, pc) }()

	client, err := net.DialUDP("udp", nil, pc.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := client.Write([]byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	const n = 3*batch + 5
	for i := range n {
		m := withECS(query("a1105.kingcdn.com.", dns.TypeA), "127.0."+string(rune('1'+i%3))+".0/24")
		m.Id = uint16(1000 + i)
		if _, err := client.Write(pack(t, m)); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[uint16]bool{}
	buf := make([]byte, 1500)
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	for len(seen) < n {
		k, err := client.Read(buf)
		if err != nil {
			t.Fatalf("after %d answers: %v", len(seen), err)
		}
		m := new(dns.Msg)
		if err := m.Unpack(buf[:k]); err != nil {
			t.Fatal(err)
		}
		i := int(m.Id) - 1000
		if i < 0 || i >= n || seen[m.Id] {
			t.Fatalf("answer with ID %d: unasked or twice", m.Id)
		}
		seen[m.Id] = true
		want := "127.0." + string(rune('1'+i%3)) + ".1"
		if got := answerText(m); len(got) != 1 || !strings.HasSuffix(got[0], want) {
			t.Errorf("query %d: %v, want %s", i, got, want)
		}
	}
	client.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if k, err := client.Read(buf); !errors.Is(err, context.DeadlineExceeded) && !isTimeout(err) {
		t.Errorf("an extra datagram (%d bytes, %v): the 3-byte one was answered?", k, err)
	}
	// A datagram longer than the read buffer arrives cut, and is not
	// answered as if whole: a query followed by more octets than the
	// buffer holds (which unpacking alone would ignore) gets FORMERR.
	long := query("a1105.kingcdn.com.", dns.TypeA)
	long.Id = 7
	if _, err := client.Write(append(pack(t, long), make([]byte, readSize)...)); err != nil {
		t.Fatal(err)
	}
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	k, err := client.Read(buf)
	if err != nil {
		t.Fatalf("no answer to a datagram longer than %d octets: %v", readSize, err)
	}
	if m := new(dns.Msg); m.Unpack(buf[:k]) != nil || m.Id != 7 || m.Rcode != dns.RcodeFormatError || len(m.Answer) != 0 {
		t.Errorf("a datagram cut at %d octets: %v, want FORMERR", readSize, m)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ServeUDP: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServeUDP did not return after cancel")
	}
	// It has closed the socket. (Binding the port again would say so
	// too, but another process may take a freed port at any moment.)
	if err := pc.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("the socket was left open: closing it again gave %v, want %v", err, net.ErrClosed)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// FuzzServeUDP feeds arbitrary datagrams to the UDP worker: it never
// panics, and whenever the fast path answers, the general path gives the
// same answer.
func FuzzServeUDP(f *testing.F) {
	for _, m := range []*dns.Msg{query("a1105.kingcdn.com.", dns.TypeA), withECS(query("a1105.kingcdn.com.", dns.TypeAAAA), "127.0.1.0/24"),
		withECS(query("A1105.kingcdn.com.", dns.TypeA), "2001:db8::/32"), query("video.netcinema.com.", dns.TypeA),
		withECS(query("Video.netcinema.com.", dns.TypeAAAA), "127.0.3.0/24")} {
		b, _ := m.Pack()
		f.Add(b)
	}
	signed := query("kingcdn.com.", dns.TypeSOA)
	signed.SetTsig(".", dns.HmacSHA256, 300, time.Now().Unix())
	b, _, err := dns.TsigGenerate(signed, wellKnownSecret, "", false)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	s := exampleServer(f)
	w := newUDPWorker(s)
	f.Fuzz(func(t *testing.T, data []byte) {
		got, want, fast := answerBoth(t, s, w, data, udpPeer)
		if fast {
			sameAnswer(t, "fuzz", got, want)
		}
	})
}

// BenchmarkFastPath answers a geo + ECS query on the UDP fast path,
// sockets aside: for the CDN hostname, and for the provider's name that
// hands it over by CNAME.
func BenchmarkFastPath(b *testing.B) {
	s := exampleServer(b)
	w := newUDPWorker(s)
	for _, name := range []string{"a1105.kingcdn.com.", "video.netcinema.com."} {
		b.Run(strings.TrimSuffix(name, "."), func(b *testing.B) {
			pkt := pack(b, withECS(query(name, dns.TypeA), "127.0.2.0/24"))
			buf := make([]byte, 0, 512)
			read := time.Now() // one clock reading a batch, as ServeUDP does
			b.ReportAllocs()
			for b.Loop() {
				if resp, fast := w.respond(pkt, false, udpPeer, buf, read); resp == nil || !fast {
					b.Fatal("no fast answer")
				}
			}
		})
	}
}
