// Package cdndns is an authoritative DNS server for a content provider's
// zone and a CDN's zone: it hands video.<provider> to the CDN by CNAME
// (Kurose & Ross §2.6.3) and answers the CDN hostnames with the address of
// the edge cluster chosen for the client.
//
// Server is a dns.Handler (github.com/miekg/dns) for any message; its
// ServeTCP serves TCP with its own loop (pipelining, a connection cap,
// idle timeouts, clean closes), and its ServeUDP answers a UDP socket in batches (recvmmsg and
// sendmmsg), the common query (a CDN hostname's A or AAAA, with or
// without EDNS Client Subnet, or the same for a name whose one record is
// a CNAME to a CDN hostname) straight from its wire form with no
// allocation, and the rest through the handler. The caller makes the
// sockets; ServeUDP takes its socket over and closes it. It answers as an authoritative server must (RFC 1034,
// RFC 2181, RFC 6891): AA set and RA clear; names outside its zones are
// REFUSED (it is never an open resolver); NXDOMAIN and NODATA carry the
// zone's SOA in the authority section; a CNAME whose target is in one of
// its zones comes with the target's records; EDNS(0) is echoed (the DO
// bit copied, RFC 3225), a UDP answer at most the client's payload size
// and Options.MaxUDPSize (1232), compressed, with TC and whole RRsets
// only when it does not fit (in full over TCP), versions above 0 get
// BADVERS, malformed EDNS or Client Subnet FORMERR, zone transfers
// REFUSED,
// unknown opcodes NOTIMP without the query's flags; ANY gets a minimal
// answer (RFC 8482); names match without regard to case and keep the
// question's case; a query signed (TSIG, RFC 8945) with the well-known
// key gets a signed answer, and any other key the TSIG error.
//
// Cluster selection is a chain: clusters that fail their active HTTP
// health checks (up and down thresholds) or that an operator drained are
// left out (if all are down, the best is answered anyway with a short
// TTL); among the rest, a fresh measured RTT for the client's /24 (/48),
// reported by the edges and EWMA-smoothed, ranks first (the closest
// cluster is not always the fastest); without one, the geographically
// nearest wins (great-circle distance), the client's location coming from
// the configured prefix table by the EDNS Client Subnet option (RFC 7871)
// when present, else by the resolver's address; last, a cluster whose
// reported load is above 85% of its capacity sheds a growing share of
// clients (drawn per /24, so answers are stable) to the next best until it
// falls below 75%. The ECS answer carries the widest scope with the same answer:
// the matched prefix's length, or for an unknown address the widest prefix
// that holds no configured one, never a /32. Every answer records its
// deciding policy in the metrics.
package cdndns
