package edge

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamcdn/streamcdn/internal/dnsapi"
	"github.com/streamcdn/streamcdn/internal/httpx"
	"github.com/streamcdn/streamcdn/internal/tcpinfo"
)

// ReportConfig says where the edge reports what it measures to the CDN's
// front doors, the DNS (cdndns) and the steering service (steer), both
// of which serve internal/dnsapi, so that their answers follow it: the
// RTT of its clients per /24 (/48), measured passively from their TCP
// connections, and its load.
type ReportConfig struct {
	// Targets receive every report.
	Targets []ReportTarget
	// NoRTT sends load reports only: for an edge behind a proxy, whose
	// connections are the proxy's, not the clients'.
	NoRTT bool
	// Interval between reports; if zero, 10 s.
	Interval time.Duration
	// Client sends the reports; nil: a client with a 5 s timeout.
	Client *http.Client
}

// ReportTarget is a receiver of reports.
type ReportTarget struct {
	// URL is its admin base URL, e.g. "http://127.0.0.1:9053".
	URL string
	// Cluster is the name this edge's cluster has there.
	Cluster string
	// Token is its admin bearer token.
	Token string
}

// rttSampleEvery bounds how often one connection's RTT is read.
const rttSampleEvery = time.Second

type connKey struct{}

// clientConn is a client connection, its client's /24 (/48), and the
// time of its last RTT sample.
type clientConn struct {
	net.Conn
	prefix  netip.Prefix // invalid if the peer is not an IP address
	sampled atomic.Int64 // unix nanoseconds
}

// ConnContext is for http.Server.ConnContext: it lets the edge read each
// client connection's RTT from the kernel as it serves requests.
func (s *Server) ConnContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tls.Conn); ok { // TCP_INFO is the TCP connection's
		c = tc.NetConn()
	}
	cc := &clientConn{Conn: c}
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		a := ta.AddrPort().Addr().Unmap()
		bits := 24
		if a.Is6() {
			bits = 48
		}
		cc.prefix, _ = a.Prefix(bits)
	}
	return context.WithValue(ctx, connKey{}, cc)
}

// rttAgg accumulates RTT samples per client prefix between reports, only
// while RunReports runs: nothing else would ever empty it.
type rttAgg struct {
	on    atomic.Bool
	mu    sync.Mutex
	byNet map[netip.Prefix]rttSum
}

type rttSum struct {
	total time.Duration
	n     int
}

// sampleRTT reads the RTT of the request's connection, at most once a
// second per connection.
func (s *Server) sampleRTT(r *http.Request, at time.Time) {
	cc, _ := r.Context().Value(connKey{}).(*clientConn)
	if cc == nil {
		return
	}
	now := at.UnixNano()
	last := cc.sampled.Load()
	if last != 0 && now-last < int64(rttSampleEvery) || !cc.sampled.CompareAndSwap(last, now) {
		return
	}
	rtt, err := tcpinfo.RTT(cc.Conn)
	if err != nil || rtt <= 0 {
		return
	}
	s.metrics.clientRTT.Observe(rtt.Seconds())
	if !s.rtts.on.Load() || !cc.prefix.IsValid() {
		return
	}
	s.rtts.mu.Lock()
	if s.rtts.byNet == nil {
		s.rtts.byNet = map[netip.Prefix]rttSum{}
	}
	sum := s.rtts.byNet[cc.prefix]
	sum.total += rtt
	sum.n++
	s.rtts.byNet[cc.prefix] = sum
	s.rtts.mu.Unlock()
}

// takeRTTs returns the mean RTT per prefix since the last call.
func (s *Server) takeRTTs() map[netip.Prefix]time.Duration {
	s.rtts.mu.Lock()
	byNet := s.rtts.byNet
	s.rtts.byNet = nil
	s.rtts.mu.Unlock()
	out := make(map[netip.Prefix]time.Duration, len(byNet))
	for p, sum := range byNet {
		out[p] = sum.total / time.Duration(sum.n)
	}
	return out
}

// RunReports sends a report to every target every interval until ctx
// ends: the mean RTT per client prefix measured since the last report
// (POST /rtt) and the egress rate in Mbit/s (POST /load), which the
// receiver compares with the cluster's capacity. A failed report is
// logged and counted; the next one carries fresh data.
func (s *Server) RunReports(ctx context.Context, rc ReportConfig) {
	if rc.Interval <= 0 {
		rc.Interval = 10 * time.Second
	}
	if rc.Client == nil {
		rc.Client = &http.Client{Timeout: 5 * time.Second}
	}
	if !rc.NoRTT {
		s.rtts.on.Store(true)
		defer s.rtts.on.Store(false)
	}
	t := time.NewTicker(rc.Interval)
	defer t.Stop()
	last, lastBytes := s.cfg.Now(), s.egress.Load()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now, b := s.cfg.Now(), s.egress.Load()
		mbps := float64(b-lastBytes) * 8 / 1e6 / now.Sub(last).Seconds()
		last, lastBytes = now, b
		rtts := s.takeRTTs()
		for _, tg := range rc.Targets {
			var reports []dnsapi.RTTReport
			for p, rtt := range rtts {
				reports = append(reports, dnsapi.RTTReport{Cluster: tg.Cluster, Client: p.Addr().String(),
					RTTMs: min(max(float64(rtt)/float64(time.Millisecond), 0.001), dnsapi.MaxRTTMs)})
			}
			if len(reports) > 0 {
				s.report(ctx, rc.Client, tg, dnsapi.RTTPath, reports)
			}
			s.report(ctx, rc.Client, tg, dnsapi.LoadPath, []dnsapi.LoadReport{{Cluster: tg.Cluster, Node: s.cfg.Name, Load: mbps}})
		}
	}
}

// report posts body to a target's path; the metrics count it by kind,
// the path's name ("rtt", "load").
func (s *Server) report(ctx context.Context, hc *http.Client, tg ReportTarget, path string, body any) {
	kind := strings.TrimPrefix(path, "/")
	var accepted dnsapi.Accepted // a JSON answer, not any 2xx page
	err := httpx.DoJSON(ctx, hc, http.MethodPost, strings.TrimSuffix(tg.URL, "/")+path, tg.Token, body, &accepted)
	result := "ok"
	if err != nil {
		result = "error"
		if ctx.Err() == nil {
			s.log.Warn("report failed", "to", tg.URL, "kind", kind, "err", err)
		}
	}
	s.metrics.reports.WithLabelValues(kind, result).Inc()
}
