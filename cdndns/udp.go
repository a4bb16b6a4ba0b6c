package cdndns

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// batch is how many datagrams one system call reads or writes.
const batch = 64

// readSize is the largest query read; a longer one is answered FORMERR.
const readSize = 4096

// decisionTTL bounds how long a cached decision is used when nothing it
// depends on is known to have changed (RTT entries age out with time).
const decisionTTL = time.Second

// yieldEvery is how often a UDP worker yields to the scheduler at most
// (see ServeUDP).
const yieldEvery = 5 * time.Millisecond

// maxDecisions bounds a worker's decision cache; when full it starts over.
const maxDecisions = 1 << 16

// ServeUDP answers the queries that arrive on conn's socket until ctx
// ends (then it returns nil) or reading fails. It takes the socket over
// and closes it when it returns; on Linux it closes conn at once and
// serves the socket through a descriptor of its own, read and written in
// batches (recvmmsg and sendmmsg) by a thread that waits in recvmmsg.
//
// The common query, a CDN hostname's A or AAAA with or without EDNS and
// Client Subnet (or the same for a name whose one record is a CNAME to a
// CDN hostname), is answered from its wire form with the cluster
// decision cached per client address for at most a second and dropped
// whenever health, drain, load, RTT or the configuration change; every
// other message takes the general path (ServeDNS), with the admission
// rules ServeTCP has (accept). The answers are the same either way. Run one
// ServeUDP per socket; several sockets may share a port with SO_REUSEPORT.
func (s *Server) ServeUDP(ctx context.Context, conn *net.UDPConn) error {
	w := newUDPWorker(s)
	bc, err := newBatchConn(conn, w.in)
	if err != nil {
		_ = conn.Close()
		return err
	}
	stopped := make(chan struct{})
	stop := context.AfterFunc(ctx, func() { bc.stop(); close(stopped) })
	defer func() {
		if !stop() {
			<-stopped
		}
		_ = bc.close()
	}()
	var yielded time.Time
	for {
		n, err := bc.read()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("dns udp: %w", err)
		}
		if n == 0 {
			continue // interrupted
		}
		// A goroutine that never waits in the scheduler looks stuck to
		// the runtime: after 10 ms it takes the P from under a read
		// under way, which moves the worker to another thread and keeps
		// sysmon polling every 20 µs. A yield now and then prevents it.
		now := s.opts.Now()
		if now.Sub(yielded) > yieldEvery {
			runtime.Gosched()
			yielded = now
		}
		out := w.serve(w.in[:n], now)
		if failed, err := bc.write(out); err != nil {
			s.log.Debug("write", "failed", failed, "err", err)
		}
	}
}

// packet is a datagram and its peer.
type packet struct {
	buf   []byte
	n     int            // the length read
	trunc bool           // longer than buf: cut
	peer  netip.AddrPort //
	scope uint32         // an IPv6 link-local peer's interface index (Linux)
}

// udpWorker is one socket's buffers and decision cache, used by one
// goroutine. The cache holds the decisions of one epoch of the server's
// (see Server.changed): a change empties it, which also lets go of the
// configuration a reload replaced.
type udpWorker struct {
	s         *Server
	in, out   []packet
	name      [256]byte
	epoch     uint64
	decisions map[decisionKey]decision
}

type decisionKey struct {
	h      *host
	client netip.Addr
}

// decision is a cached choice of cluster for a client of a host.
type decision struct {
	c       *cluster
	ttl     uint32
	scope   uint8
	answers prometheus.Counter
	until   time.Time
}

func newUDPWorker(s *Server) *udpWorker {
	w := &udpWorker{s: s, decisions: map[decisionKey]decision{},
		in: make([]packet, batch), out: make([]packet, batch)}
	for i := range w.in {
		w.in[i].buf = make([]byte, readSize)
		w.out[i].buf = make([]byte, 0, 1500)
	}
	return w
}

// serve answers the datagrams in, read at time read, returning the
// answers to send: a slice of w.out, valid until the next call.
func (w *udpWorker) serve(in []packet, read time.Time) []packet {
	k, fast := 0, 0
	for i := range in {
		p := &in[i]
		if !p.peer.IsValid() {
			continue
		}
		resp, isFast := w.respond(p.buf[:p.n], p.trunc, p.peer, w.out[k].buf[:0], read)
		if isFast {
			fast++
		}
		if resp == nil {
			continue
		}
		w.out[k].buf, w.out[k].peer, w.out[k].scope = resp, p.peer, p.scope
		k++
	}
	// A fast answer is ready when its batch is: the batch's time is
	// each one's latency. (The general path times its own.)
	if fast > 0 {
		took := w.s.opts.Now().Sub(read).Seconds()
		for range fast {
			w.s.metrics.latency.Observe(took)
		}
	}
	return w.out[:k]
}

// respond returns the answer to pkt from peer, read at now, appended to
// buf, or nil to send none, and whether the fast path gave it. trunc is
// true when pkt was cut at readSize.
func (w *udpWorker) respond(pkt []byte, trunc bool, peer netip.AddrPort, buf []byte, now time.Time) ([]byte, bool) {
	if !trunc {
		if resp, ok := w.fast(pkt, peer, buf, now); ok {
			return resp, true
		}
	}
	return w.s.general(pkt, trunc, net.UDPAddrFromAddrPort(peer), buf), false
}

// fast answers the common query, or returns false to leave pkt to the
// general path.
func (w *udpWorker) fast(pkt []byte, peer netip.AddrPort, buf []byte, now time.Time) ([]byte, bool) {
	q, n, ok := parseQuery(pkt, &w.name)
	if !ok || (q.qtype != dns.TypeA && q.qtype != dns.TypeAAAA) {
		return nil, false
	}
	st := w.s.state()
	h := st.hosts[string(w.name[:n])]
	var al *alias
	if h == nil {
		if al = st.aliases[string(w.name[:n])]; al != nil {
			h = al.h
		}
	}
	if h == nil || !h.zoned {
		return nil, false
	}
	var client netip.Addr
	if q.ecs != nil {
		if client, ok = ecsClient(q.ecs); !ok {
			return nil, false
		}
	} else {
		client = peer.Addr().Unmap()
	}
	d := w.decide(st, h, client, now)
	addrs := d.c.a
	if q.qtype == dns.TypeAAAA {
		addrs = d.c.aaaa
	}
	if len(addrs) == 0 {
		return nil, false // NODATA, with the SOA: the general path
	}
	resp := appendAnswer(buf, q, al, d.ttl, q.qtype, addrs, d.scope, uint16(w.s.opts.MaxUDPSize))
	if len(resp) > q.udpLimit(w.s.opts.MaxUDPSize) {
		return nil, false // truncated: the general path
	}
	d.answers.Inc()
	w.s.metrics.noError(q.qtype).Inc()
	return resp, true
}

// decide returns the cluster decision for client of h, cached.
func (w *udpWorker) decide(st *state, h *host, client netip.Addr, now time.Time) decision {
	if epoch := w.s.epoch.Load(); epoch != w.epoch || len(w.decisions) >= maxDecisions {
		clear(w.decisions)
		w.epoch = epoch
	}
	key := decisionKey{h, client}
	if d, ok := w.decisions[key]; ok && now.Before(d.until) {
		return d
	}
	c, why := w.s.choose(st, h, client)
	d := decision{c: c, ttl: why.TTL, scope: why.Scope, until: now.Add(decisionTTL),
		answers: w.s.metrics.answers.WithLabelValues(c.Name, why.Reason)}
	w.decisions[key] = d
	return d
}

// general answers pkt as ServeTCP's server does: a message whose header
// does not parse gets no answer (it could be used to amplify), responses
// are ignored, one the admission rules (accept) refuse or that does not
// unpack gets FORMERR with the header alone, and the rest is answered by
// ServeDNS.
func (s *Server) general(pkt []byte, trunc bool, from net.Addr, buf []byte) []byte {
	if len(pkt) < 12 {
		return nil
	}
	hdr := dns.Header{
		Id: binary.BigEndian.Uint16(pkt), Bits: binary.BigEndian.Uint16(pkt[2:]),
		Qdcount: binary.BigEndian.Uint16(pkt[4:]), Ancount: binary.BigEndian.Uint16(pkt[6:]),
		Nscount: binary.BigEndian.Uint16(pkt[8:]), Arcount: binary.BigEndian.Uint16(pkt[10:]),
	}
	action := accept(hdr)
	req := &dns.Msg{MsgHdr: msgHdr(hdr.Id, hdr.Bits)}
	switch action {
	case dns.MsgIgnore:
		return nil
	case dns.MsgAccept:
		if !trunc && ecsWireOK(pkt) {
			if err := req.Unpack(pkt); err == nil {
				w := &packetWriter{remote: from, buf: buf}
				if t := req.IsTsig(); t != nil {
					w.tsigStatus = dns.TsigVerifyWithProvider(pkt, wellKnownKey{}, "", false)
					w.requestMAC = t.MAC
				}
				s.ServeDNS(w, req)
				return w.out
			}
		}
	}
	out, err := formErr(req.MsgHdr).PackBuffer(buf)
	if err != nil {
		return nil
	}
	return out
}

// formErr is the FORMERR answer, the header alone, to a query with
// header h, as miekg/dns's server (ServeTCP) gives it: the query's flags
// copied, Z cleared.
func formErr(h dns.MsgHdr) *dns.Msg {
	m := &dns.Msg{MsgHdr: h}
	m.SetRcodeFormatError(m)
	m.Zero = false
	return m
}

// msgHdr decodes a header's flag bits.
func msgHdr(id, bits uint16) dns.MsgHdr {
	return dns.MsgHdr{
		Id: id, Response: bits&flagQR != 0, Opcode: int(bits>>11) & 0xF,
		Authoritative: bits&flagAA != 0, Truncated: bits&flagTC != 0,
		RecursionDesired: bits&flagRD != 0, RecursionAvailable: bits&(1<<7) != 0,
		Zero: bits&(1<<6) != 0, AuthenticatedData: bits&(1<<5) != 0,
		CheckingDisabled: bits&flagCD != 0, Rcode: int(bits & 0xF),
	}
}

// packetWriter is the dns.ResponseWriter of one message (a datagram, or
// a TCP frame): it packs the answer into buf.
type packetWriter struct {
	remote net.Addr // a *net.TCPAddr for a TCP message: ServeDNS does not truncate it
	buf    []byte
	out    []byte
	// The query's TSIG verification and MAC, when it is signed.
	tsigStatus error
	requestMAC string
}

func (w *packetWriter) LocalAddr() net.Addr  { return nil }
func (w *packetWriter) RemoteAddr() net.Addr { return w.remote }
func (w *packetWriter) WriteMsg(m *dns.Msg) error {
	if m.IsTsig() != nil {
		out, _, err := dns.TsigGenerateWithProvider(m, wellKnownKey{}, w.requestMAC, false)
		if err != nil {
			return err
		}
		w.out = append(w.buf, out...)
		return nil
	}
	out, err := m.PackBuffer(w.buf)
	if err != nil {
		return err
	}
	w.out = out
	return nil
}
func (w *packetWriter) Write(b []byte) (int, error) { w.out = append(w.buf, b...); return len(b), nil }
func (w *packetWriter) Close() error                { return nil }
func (w *packetWriter) TsigStatus() error           { return w.tsigStatus }
func (w *packetWriter) TsigTimersOnly(bool)         {}
func (w *packetWriter) Hijack()                     {}
