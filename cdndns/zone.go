package cdndns

import (
	"strings"

	"github.com/miekg/dns"
)

// zone is a compiled Zone: its records by lower-cased owner name.
type zone struct {
	origin string
	soa    *dns.SOA
	ns     []dns.RR
	glue   []dns.RR
	rrs    map[string][]dns.RR
	// names holds every owner name and every name above one (empty
	// non-terminals), for telling NODATA from NXDOMAIN.
	names map[string]bool
}

func compileZone(z Zone, hosts []string) *zone {
	c := &zone{origin: dns.Fqdn(strings.ToLower(z.Origin)), rrs: map[string][]dns.RR{}, names: map[string]bool{}}
	c.soa = &dns.SOA{
		Hdr: dns.RR_Header{Name: c.origin, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 3600},
		Ns:  dns.Fqdn(z.SOA.MName), Mbox: dns.Fqdn(z.SOA.RName), Serial: z.SOA.Serial,
		Refresh: orDefault(z.SOA.Refresh, 86400), Retry: orDefault(z.SOA.Retry, 7200),
		Expire: orDefault(z.SOA.Expire, 3600000), Minttl: orDefault(z.SOA.Minimum, 60),
	}
	for _, ns := range z.NS {
		name := dns.Fqdn(ns.Name)
		c.ns = append(c.ns, &dns.NS{Hdr: dns.RR_Header{Name: c.origin, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: 3600}, Ns: name})
		if ns.IPv4 != "" {
			a, _ := dns.NewRR(name + " 3600 IN A " + ns.IPv4)
			c.glue = append(c.glue, a)
			c.add(a)
		}
	}
	for _, r := range z.Records {
		rr, _ := r.rr() // validated
		c.add(rr)
	}
	c.mark(c.origin)
	for _, h := range hosts {
		if dns.IsSubDomain(c.origin, h) {
			c.mark(h)
		}
	}
	return c
}

func orDefault(v, d uint32) uint32 {
	if v == 0 {
		return d
	}
	return v
}

func (z *zone) add(rr dns.RR) {
	name := strings.ToLower(rr.Header().Name)
	z.rrs[name] = append(z.rrs[name], rr)
	z.mark(name)
}

// mark records name and the names between it and the origin.
func (z *zone) mark(name string) {
	for n := name; dns.IsSubDomain(z.origin, n); {
		z.names[n] = true
		i, end := dns.NextLabel(n, 0)
		if end || n == z.origin {
			return
		}
		n = n[i:]
	}
}

// soaAuthority is the SOA for the authority section of negative answers,
// with the TTL of RFC 2308: the SOA's minimum.
func (z *zone) soaAuthority() dns.RR {
	soa := *z.soa
	soa.Hdr.Ttl = z.soa.Minttl
	return &soa
}
