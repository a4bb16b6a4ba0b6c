package cdndns

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// hardServer serves examples/kingcdn.yaml plus a name with 120 addresses
// and one with 30 TXT records, on one loopback port (UDP and TCP).
func hardServer(t *testing.T) string {
	t.Helper()
	cfg, err := LoadConfigFile("examples/kingcdn.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 120 {
		cfg.Zones[0].Records = append(cfg.Zones[0].Records, Record{Name: "many.netcinema.com.", Type: "A", TTL: 60,
			Value: fmt.Sprintf("10.0.%d.%d", i/250, 1+i%250)})
	}
	for i := range 30 {
		cfg.Zones[0].Records = append(cfg.Zones[0].Records, Record{Name: "txt.netcinema.com.", Type: "TXT", TTL: 60,
			Value: `"` + strings.Repeat("t", 50) + fmt.Sprint(i) + `"`})
	}
	s, err := New(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	return serveOnePort(t, s)
}

// exchangeRaw sends wire to addr over network and returns the answer as
// it came and unpacked.
func exchangeRaw(t *testing.T, network, addr string, wire []byte) ([]byte, *dns.Msg) {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 5 * time.Second}
	conn, err := c.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(wire); err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 65535)
	n, err := conn.Read(raw)
	if err != nil {
		t.Fatalf("%s: no answer: %v", network, err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(raw[:n]); err != nil {
		t.Fatalf("%s: answer does not unpack: %v", network, err)
	}
	return raw[:n], r
}

// TestUDPAnswerSize: a UDP answer is at most 1232 bytes whatever the
// client advertises, compressed, and when it does not fit it has TC set
// and whole RRsets only; TCP carries it whole. A TSIG-signed answer to a
// query without EDNS fits 512 bytes with its signature.
func TestUDPAnswerSize(t *testing.T) {
	addr := hardServer(t)
	for _, tc := range []struct {
		name    string
		qtype   uint16
		records int
	}{{"many.netcinema.com.", dns.TypeA, 120}, {"txt.netcinema.com.", dns.TypeTXT, 30}} {
		q := query(tc.name, tc.qtype)
		q.SetEdns0(4096, false)
		wire := pack(t, q)
		raw, r := exchangeRaw(t, "udp", addr, wire)
		n := len(raw)
		if n > 1232 || !r.Truncated || len(r.Answer) != 0 {
			t.Errorf("%s over UDP, EDNS 4096: %d bytes, TC=%v, %d of %d records; want at most 1232 bytes, TC, no partial RRset",
				tc.name, n, r.Truncated, len(r.Answer), tc.records)
		}
		if _, r := exchangeRaw(t, "tcp", addr, wire); r.Truncated || len(r.Answer) != tc.records {
			t.Errorf("%s over TCP: TC=%v, %d records, want %d", tc.name, r.Truncated, len(r.Answer), tc.records)
		}
	}
	// An answer that fits goes compressed (the general path; miekg/dns's
	// Truncate would send it uncompressed).
	q := query("netcinema.com.", dns.TypeNS)
	q.SetEdns0(4096, false)
	raw, r := exchangeRaw(t, "udp", addr, pack(t, q))
	n := len(raw)
	r.Compress = true
	if r.Truncated || n != r.Len() {
		t.Errorf("netcinema.com NS over UDP: %d bytes on the wire, %d compressed, TC=%v", n, r.Len(), r.Truncated)
	}
	// TSIG without EDNS: the signed answer fits 512 bytes.
	q = query("txt.netcinema.com.", dns.TypeTXT)
	q.SetTsig(".", dns.HmacSHA256, 300, time.Now().Unix())
	wire, _, err := dns.TsigGenerate(q, wellKnownSecret, "", false)
	if err != nil {
		t.Fatal(err)
	}
	raw, r = exchangeRaw(t, "udp", addr, wire)
	n = len(raw)
	if n > 512 || !r.Truncated || r.IsTsig() == nil {
		t.Errorf("signed answer without EDNS: %d bytes, TC=%v, TSIG %v; want at most 512, TC, signed", n, r.Truncated, r.IsTsig() != nil)
	}
}

// TestMalformedQueries: FORMERR for two OPT records, an OPT not owned by
// the root, a question without type or class, and a Client Subnet whose
// address is longer or shorter than its source prefix needs (RFC 6891
// §6.1.1, RFC 7871 §6); a Client Subnet of family 0, /0, is accepted;
// zone transfers are REFUSED. Over UDP and TCP.
func TestMalformedQueries(t *testing.T) {
	addr := hardServer(t)
	ecs := func(data string) *dns.Msg {
		q := query("a1105.kingcdn.com.", dns.TypeA)
		b, _ := hex.DecodeString(data)
		o := q.SetEdns0(1232, false).IsEdns0()
		o.Option = append(o.Option, &dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: b})
		return q
	}
	twoOPT := query("a1105.kingcdn.com.", dns.TypeA)
	twoOPT.SetEdns0(1232, false)
	twoOPT.Extra = append(twoOPT.Extra, &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: 1232}})
	namedOPT := query("a1105.kingcdn.com.", dns.TypeA)
	namedOPT.Extra = append(namedOPT.Extra, &dns.OPT{Hdr: dns.RR_Header{Name: "kingcdn.com.", Rrtype: dns.TypeOPT, Class: 1232}})
	noType := query("a1105.kingcdn.com.", 0)
	noClass := query("a1105.kingcdn.com.", dns.TypeA)
	noClass.Question[0].Qclass = 0
	tests := []struct {
		name    string
		m       *dns.Msg
		rcode   int
		answers int
	}{
		{"two OPT records", twoOPT, dns.RcodeFormatError, 0},
		{"OPT not owned by the root", namedOPT, dns.RcodeFormatError, 0},
		{"question without type", noType, dns.RcodeFormatError, 0},
		{"question without class", noClass, dns.RcodeFormatError, 0},
		{"ECS /24 with 4 address octets", ecs("00011800" + "7f000200"), dns.RcodeFormatError, 0},
		{"ECS /24 with 2 address octets", ecs("00011800" + "7f00"), dns.RcodeFormatError, 0},
		{"ECS /24 with 3 address octets", ecs("00011800" + "7f0002"), dns.RcodeSuccess, 1},
		{"ECS family 0, /0", ecs("00000000"), dns.RcodeSuccess, 1},
		{"AXFR", query("netcinema.com.", dns.TypeAXFR), dns.RcodeRefused, 0},
		{"IXFR", query("netcinema.com.", dns.TypeIXFR), dns.RcodeRefused, 0},
	}
	for _, network := range []string{"udp", "tcp"} {
		for _, tc := range tests {
			_, r := exchangeRaw(t, network, addr, pack(t, tc.m))
			if r.Rcode != tc.rcode || len(r.Answer) != tc.answers || len(r.Ns) != 0 && tc.rcode != dns.RcodeSuccess {
				t.Errorf("%s %s: %s with %d answers, %d authority; want %s with %d answers, none in authority",
					network, tc.name, dns.RcodeToString[r.Rcode], len(r.Answer), len(r.Ns), dns.RcodeToString[tc.rcode], tc.answers)
			}
		}
	}
}

// TestAmplification reports the largest UDP answer-to-query ratio for
// every name in the example configurations and the stress names, with
// the largest buffer a client may advertise; no answer exceeds 1232.
func TestAmplification(t *testing.T) {
	addr := hardServer(t)
	names := []string{"many.netcinema.com.", "txt.netcinema.com.", "video.netcinema.com.", "netcinema.com.", "kingcdn.com.",
		"a1105.kingcdn.com.", "www.netcinema.com.", "nope.kingcdn.com."}
	worst, worstQ := 0.0, ""
	for _, name := range names {
		for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeTXT, dns.TypeANY, dns.TypeNS, dns.TypeSOA} {
			q := query(name, qt)
			q.SetEdns0(65535, false)
			wire := pack(t, q)
			raw, _ := exchangeRaw(t, "udp", addr, wire)
			n := len(raw)
			if n > 1232 {
				t.Errorf("%s %s: %d-byte UDP answer", name, dns.TypeToString[qt], n)
			}
			if f := float64(n) / float64(len(wire)); f > worst {
				worst, worstQ = f, fmt.Sprintf("%s %s: %d bytes for %d", name, dns.TypeToString[qt], n, len(wire))
			}
		}
	}
	t.Logf("largest UDP amplification: %.1fx (%s)", worst, worstQ)
}
