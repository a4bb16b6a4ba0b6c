package cdndns

import (
	"testing"

	"github.com/miekg/dns"
)

// BenchmarkServeDNS answers a geo + ECS query for the CDN hostname,
// handler only (no sockets), as dnsperf's load does.
func BenchmarkServeDNS(b *testing.B) {
	s := exampleServer(b)
	q := withECS(query("a1105.kingcdn.com.", dns.TypeA), "127.0.2.0/24")
	w := &recorder{remote: udpAddr}
	b.ReportAllocs()
	for b.Loop() {
		s.ServeDNS(w, q)
	}
}
