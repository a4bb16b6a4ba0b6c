package cdndns

import (
	"encoding/binary"
	"net"
	"net/netip"

	"github.com/miekg/dns"
)

// The common query, answered from its wire form: one question for a name
// in the IN class, with no records beyond an optional OPT whose only
// option is an EDNS Client Subnet. parseQuery recognises it; anything
// else (other opcodes, sections, options, escaped names, compression,
// trailing bytes, EDNS versions above 0) is left to the general path,
// which unpacks the message and answers it in full.

// wireQuery is the parsed common query. It points into the packet.
type wireQuery struct {
	id       uint16
	flags    uint16
	question []byte // the question section as sent: the answer repeats it
	qtype    uint16
	edns     bool
	do       bool // DNSSEC OK, copied into the answer (RFC 3225 §3)
	udpSize  uint16
	ecs      []byte // the ECS option's data as sent (family, source, scope, address), or nil
}

// DNS header flags.
const (
	flagQR = 1 << 15
	flagAA = 1 << 10
	flagTC = 1 << 9
	flagRD = 1 << 8
	flagCD = 1 << 4
)

// parseQuery parses p when it is the common query, writing the question
// name lowercased and dotted ("a1105.kingcdn.com.") into name, and
// returns the name's length. ok is false for any other message.
func parseQuery(p []byte, name *[256]byte) (q wireQuery, n int, ok bool) {
	if len(p) < 12 {
		return q, 0, false
	}
	q.id = binary.BigEndian.Uint16(p)
	q.flags = binary.BigEndian.Uint16(p[2:])
	const opcodeAndQR = 0xF<<11 | flagQR
	if q.flags&opcodeAndQR != 0 || // a response, or not a QUERY
		binary.BigEndian.Uint16(p[4:]) != 1 || // QDCOUNT
		binary.BigEndian.Uint16(p[6:]) != 0 || // ANCOUNT
		binary.BigEndian.Uint16(p[8:]) != 0 { // NSCOUNT
		return q, 0, false
	}
	arcount := binary.BigEndian.Uint16(p[10:])
	if arcount > 1 {
		return q, 0, false
	}
	off := 12
	for {
		if off >= len(p) {
			return q, 0, false
		}
		l := int(p[off])
		off++
		if l == 0 {
			break
		}
		// A compression pointer or reserved label type, or a name
		// longer than 255 octets on the wire.
		if l > 63 || off+l > len(p) || n+l+1 > 254 {
			return q, 0, false
		}
		for _, c := range p[off : off+l] {
			switch {
			case c >= 'A' && c <= 'Z':
				c += 'a' - 'A'
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			default:
				return q, 0, false // would be escaped in text form
			}
			name[n] = c
			n++
		}
		name[n] = '.'
		n++
		off += l
	}
	if n == 0 || off+4 > len(p) {
		return q, 0, false // the root, or no type and class
	}
	q.qtype = binary.BigEndian.Uint16(p[off:])
	if binary.BigEndian.Uint16(p[off+2:]) != 1 { // class IN
		return q, 0, false
	}
	off += 4
	q.question = p[12:off]
	if arcount == 0 {
		return q, n, off == len(p)
	}
	// The OPT record: root owner, type 41, no extended rcode, version 0.
	if off+11 > len(p) || p[off] != 0 || binary.BigEndian.Uint16(p[off+1:]) != 41 ||
		p[off+5] != 0 || p[off+6] != 0 {
		return q, 0, false
	}
	q.edns = true
	q.udpSize = binary.BigEndian.Uint16(p[off+3:])
	q.do = p[off+7]&0x80 != 0
	rdlen := int(binary.BigEndian.Uint16(p[off+9:]))
	off += 11
	if off+rdlen != len(p) {
		return q, 0, false
	}
	if rdlen == 0 {
		return q, n, true
	}
	if rdlen < 4 || binary.BigEndian.Uint16(p[off:]) != 8 || int(binary.BigEndian.Uint16(p[off+2:]))+4 != rdlen {
		return q, 0, false // another option, or more than one
	}
	q.ecs = p[off+4:]
	return q, n, true
}

// ecsClient returns the address of an ECS option's data when it is
// well-formed and plain: family 1 or 2, the address in exactly the octets
// the source prefix needs, no bits set beyond it, scope 0.
func ecsClient(ecs []byte) (netip.Addr, bool) {
	if len(ecs) < 4 || ecs[3] != 0 {
		return netip.Addr{}, false
	}
	family, source, addr := binary.BigEndian.Uint16(ecs), int(ecs[2]), ecs[4:]
	if len(addr) != (source+7)/8 {
		return netip.Addr{}, false
	}
	var a netip.Addr
	switch family {
	case 1:
		if source > 32 {
			return netip.Addr{}, false
		}
		var b [4]byte
		copy(b[:], addr)
		a = netip.AddrFrom4(b)
	case 2:
		if source > 128 {
			return netip.Addr{}, false
		}
		var b [16]byte
		copy(b[:], addr)
		a = netip.AddrFrom16(b)
	default:
		return netip.Addr{}, false
	}
	if p, err := a.Prefix(source); err != nil || p.Addr() != a {
		return netip.Addr{}, false
	}
	return a, true
}

// appendAnswer appends to b the answer to q: the header, the question as
// sent, al's CNAME when al is not nil (named by a pointer to the
// question's name), one address record per addr (named by a pointer to
// the question's name, or to the CNAME's target), and, when q has EDNS,
// our OPT record echoing q's ECS option with the given scope.
func appendAnswer(b []byte, q wireQuery, al *alias, ttl uint32, rrtype uint16, addrs []net.IP, scope uint8, offer uint16) []byte {
	start := len(b)
	flags := flagQR | flagAA | q.flags&(flagRD|flagCD)
	ancount, arcount := len(addrs), 0
	if al != nil {
		ancount++
	}
	if q.edns {
		arcount = 1
	}
	b = binary.BigEndian.AppendUint16(b, q.id)
	b = binary.BigEndian.AppendUint16(b, uint16(flags))
	b = binary.BigEndian.AppendUint16(b, 1)
	b = binary.BigEndian.AppendUint16(b, uint16(ancount))
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(arcount))
	b = append(b, q.question...)
	ptr := [2]byte{0xC0, 12} // the question's name
	owner := ptr[:]
	if al != nil {
		b = appendRRHeader(b, owner, dns.TypeCNAME, al.ttl, len(al.target))
		off := len(b) - start
		b = append(b, al.target...)
		ptr = [2]byte{0xC0 | byte(off>>8), byte(off)}
		owner = ptr[:]
		if al.owner != nil {
			owner = al.owner
		}
	}
	for _, a := range addrs {
		b = appendRRHeader(b, owner, rrtype, ttl, len(a))
		b = append(b, a...)
	}
	if !q.edns {
		return b
	}
	b = append(b, 0) // root
	b = binary.BigEndian.AppendUint16(b, 41)
	b = binary.BigEndian.AppendUint16(b, offer)
	var do uint32
	if q.do {
		do = 1 << 15
	}
	b = binary.BigEndian.AppendUint32(b, do) // rcode 0, version 0, DO as asked
	if q.ecs == nil {
		return binary.BigEndian.AppendUint16(b, 0)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(4+len(q.ecs)))
	b = binary.BigEndian.AppendUint16(b, 8) // ECS
	b = binary.BigEndian.AppendUint16(b, uint16(len(q.ecs)))
	b = append(b, q.ecs[:3]...) // family, source prefix
	b = append(b, scope)
	return append(b, q.ecs[4:]...)
}

// appendRRHeader appends a record's header: owner (a name in wire form,
// or a compression pointer to one), type, class IN, TTL and data length.
func appendRRHeader(b []byte, owner []byte, rrtype uint16, ttl uint32, rdlen int) []byte {
	b = append(b, owner...)
	b = binary.BigEndian.AppendUint16(b, rrtype)
	b = binary.BigEndian.AppendUint16(b, 1) // IN
	b = binary.BigEndian.AppendUint32(b, ttl)
	return binary.BigEndian.AppendUint16(b, uint16(rdlen))
}

// udpLimit is the largest UDP answer to q: what its sender takes, at
// most ceiling (Options.MaxUDPSize).
func (q wireQuery) udpLimit(ceiling int) int {
	if q.edns {
		return min(max(int(q.udpSize), 512), ceiling)
	}
	return 512
}

// ecsWireOK reports whether every Client Subnet option in the message p
// (as received) carries its address in exactly the octets its source
// prefix needs, none for family 0 (RFC 7871 §6: else FORMERR). miekg/dns
// pads or cuts the address as it unpacks, so this looks at the wire. A
// message that does not parse this far is left to the unpacker.
func ecsWireOK(p []byte) bool { return badECS(p) == nil }

// badECS returns the data of the first Client Subnet option in p whose
// address length does not match its source prefix, or nil.
func badECS(p []byte) []byte {
	if len(p) < 12 {
		return nil
	}
	qd, an, ns, ar := int(binary.BigEndian.Uint16(p[4:])), int(binary.BigEndian.Uint16(p[6:])),
		int(binary.BigEndian.Uint16(p[8:])), int(binary.BigEndian.Uint16(p[10:]))
	off := 12
	for range qd {
		var ok bool
		if off, ok = skipName(p, off); !ok || off+4 > len(p) {
			return nil
		}
		off += 4
	}
	for i := range an + ns + ar {
		var ok bool
		if off, ok = skipName(p, off); !ok || off+10 > len(p) {
			return nil
		}
		rrtype, rdlen := binary.BigEndian.Uint16(p[off:]), int(binary.BigEndian.Uint16(p[off+8:]))
		off += 10
		if off+rdlen > len(p) {
			return nil
		}
		if i >= an+ns && rrtype == dns.TypeOPT {
			for o := p[off : off+rdlen]; len(o) >= 4; {
				code, olen := binary.BigEndian.Uint16(o), int(binary.BigEndian.Uint16(o[2:]))
				if 4+olen > len(o) {
					break
				}
				if d := o[4 : 4+olen]; code == dns.EDNS0SUBNET && len(d) >= 4 && len(d)-4 != (int(d[2])+7)/8 {
					return d
				}
				o = o[4+olen:]
			}
		}
		off += rdlen
	}
	return nil
}

// skipName returns the offset after the name at off in p.
func skipName(p []byte, off int) (int, bool) {
	for off < len(p) {
		l := int(p[off])
		switch {
		case l == 0:
			return off + 1, true
		case l&0xC0 == 0xC0:
			return off + 2, off+2 <= len(p)
		case l&0xC0 != 0:
			return 0, false
		}
		off += 1 + l
	}
	return 0, false
}
