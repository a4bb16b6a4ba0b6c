package cdndns

import (
	"strconv"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestTSIG: a query signed with the well-known key gets a signed answer
// (verified with the query's MAC); any other key, a bad MAC or a clock
// outside the fudge gets NOTAUTH and the TSIG error of RFC 8945 §5.2,
// signed only for BADTIME; a TSIG record not last is a FORMERR. Over UDP
// (ServeUDP) and TCP (ServeTCP).
func TestTSIG(t *testing.T) {
	addr := serveOnePort(t, exampleServer(t))
	otherSecret := "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI="
	tests := []struct {
		name     string
		key      string // key name
		alg      string
		secret   string
		skew     time.Duration // of the time signed
		notLast  bool
		rcode    int
		tsigErr  uint16
		verified bool // the answer's TSIG verifies with the well-known key
	}{
		{"well-known key", ".", dns.HmacSHA256, wellKnownSecret, 0, false, dns.RcodeSuccess, 0, true},
		{"another key", "other.", dns.HmacSHA256, otherSecret, 0, false, dns.RcodeNotAuth, dns.RcodeBadKey, false},
		{"another algorithm", ".", dns.HmacSHA512, wellKnownSecret, 0, false, dns.RcodeNotAuth, dns.RcodeBadKey, false},
		{"bad MAC", ".", dns.HmacSHA256, otherSecret, 0, false, dns.RcodeNotAuth, dns.RcodeBadSig, false},
		{"an hour slow", ".", dns.HmacSHA256, wellKnownSecret, -time.Hour, false, dns.RcodeNotAuth, dns.RcodeBadTime, true},
		{"TSIG not last", ".", dns.HmacSHA256, wellKnownSecret, 0, true, dns.RcodeFormatError, 0, false},
	}
	for _, network := range []string{"udp", "tcp"} {
		for _, tc := range tests {
			t.Run(network+" "+tc.name, func(t *testing.T) {
				q := query("kingcdn.com.", dns.TypeSOA)
				q.RecursionDesired = false
				signedAt := time.Now().Add(tc.skew).Unix()
				q.SetTsig(tc.key, tc.alg, 300, signedAt)
				wire, mac, err := dns.TsigGenerate(q, tc.secret, "", false)
				if err != nil {
					t.Fatal(err)
				}
				if tc.notLast {
					m := new(dns.Msg)
					if err := m.Unpack(wire); err != nil {
						t.Fatal(err)
					}
					m.SetEdns0(1232, false)
					if wire, err = m.Pack(); err != nil {
						t.Fatal(err)
					}
				}
				raw, r := exchangeRaw(t, network, addr, wire)
				if r.Rcode != tc.rcode {
					t.Errorf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
				}
				rt := r.IsTsig()
				if tc.notLast {
					if rt != nil {
						t.Errorf("a TSIG in the FORMERR: %v", rt)
					}
					return
				}
				if rt == nil {
					t.Fatalf("no TSIG in the answer:\n%v", r)
				}
				if rt.Error != tc.tsigErr || rt.Hdr.Name != tc.key || rt.OrigId != q.Id {
					t.Errorf("TSIG error %d, key %s, original ID %d; want %d, %s, %d", rt.Error, rt.Hdr.Name, rt.OrigId, tc.tsigErr, tc.key, q.Id)
				}
				err = dns.TsigVerify(raw, wellKnownSecret, mac, false)
				switch {
				case tc.tsigErr == dns.RcodeBadTime:
					// Signed (miekg/dns verifies no NOTAUTH message),
					// with the client's time and ours in the other data.
					ours, _ := strconv.ParseUint(rt.OtherData, 16, 64)
					if rt.MACSize != 32 || rt.TimeSigned != uint64(signedAt) ||
						rt.OtherLen != 6 || time.Since(time.Unix(int64(ours), 0)).Abs() > time.Minute {
						t.Errorf("BADTIME answer: MAC size %d, time signed %d, other data %q", rt.MACSize, rt.TimeSigned, rt.OtherData)
					}
				case tc.verified && err != nil:
					t.Errorf("the answer's TSIG does not verify: %v", err)
				case !tc.verified && rt.MACSize != 0:
					t.Errorf("a %s answer signed: MAC %s", dns.RcodeToString[int(tc.tsigErr)], rt.MAC)
				}
				if tc.rcode == dns.RcodeSuccess && (len(r.Answer) != 1 || !r.Authoritative) {
					t.Errorf("not the SOA answer:\n%v", r)
				}
			})
		}
	}
}
