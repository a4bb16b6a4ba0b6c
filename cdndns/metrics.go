package cdndns

import (
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamcdn/streamcdn/internal/metricnames"
	"github.com/streamcdn/streamcdn/internal/promreg"
)

type metrics struct {
	queries *prometheus.CounterVec
	answers *prometheus.CounterVec
	up      *prometheus.GaugeVec
	latency prometheus.Histogram
	// aNoError and aaaaNoError are the queries series of the answers the
	// UDP fast path gives.
	aNoError, aaaaNoError prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, s *Server) (*metrics, error) {
	m := &metrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "streamcdn", Subsystem: "dns", Name: "queries_total",
			Help: "Queries answered, by query type and response code."}, []string{"qtype", "rcode"}),
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricnames.DNSAnswers,
			Help: "CDN hostname answers, by cluster and deciding policy."}, []string{metricnames.Cluster, metricnames.Reason}),
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: metricnames.DNSClusterUp,
			Help: "1 when the cluster passes its health checks."}, []string{metricnames.Cluster}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "streamcdn", Subsystem: "dns", Name: "query_duration_seconds",
			Help: "Time from reading a query to its answer being ready (over UDP, the answer's batch).", Buckets: prometheus.ExponentialBuckets(1e-6, 4, 9)}),
	}
	m.aNoError = m.queries.WithLabelValues("A", "NOERROR")
	m.aaaaNoError = m.queries.WithLabelValues("AAAA", "NOERROR")
	for _, c := range s.state().clusters {
		m.up.WithLabelValues(c.Name).Set(1)
	}
	if reg == nil {
		return m, nil
	}
	rttPrefixes := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "streamcdn", Subsystem: "dns", Name: "rtt_prefixes",
		Help: "Client prefixes with measured RTT."}, func() float64 { n, _ := s.rtt.Stats(s.opts.Now()); return float64(n) })
	rttAge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "streamcdn", Subsystem: "dns", Name: "rtt_oldest_age_seconds",
		Help: "Age of the oldest RTT measurement held."}, func() float64 { _, a := s.rtt.Stats(s.opts.Now()); return a.Seconds() })
	rttDropped := prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "streamcdn", Subsystem: "dns", Name: "rtt_prefixes_dropped_total",
		Help:        "Client prefixes dropped from the RTT table: aged out (stale) or pushed out of a full table (full).",
		ConstLabels: prometheus.Labels{"reason": "stale"}}, func() float64 { stale, _ := s.rtt.Dropped(); return float64(stale) })
	rttFull := prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "streamcdn", Subsystem: "dns", Name: "rtt_prefixes_dropped_total",
		Help:        "Client prefixes dropped from the RTT table: aged out (stale) or pushed out of a full table (full).",
		ConstLabels: prometheus.Labels{"reason": "full"}}, func() float64 { _, full := s.rtt.Dropped(); return float64(full) })
	if err := promreg.Register(reg, m.queries, m.answers, m.up, m.latency, rttPrefixes, rttAge, rttDropped, rttFull); err != nil {
		return nil, err
	}
	return m, nil
}

// knownQtypes bounds the qtype label.
var knownQtypes = map[string]bool{"A": true, "AAAA": true, "CNAME": true, "NS": true, "SOA": true, "ANY": true, "TXT": true, "none": true}

func (m *metrics) observe(qtype string, rcode int, d time.Duration) {
	if !knownQtypes[qtype] {
		qtype = "_other"
	}
	rc, ok := dns.RcodeToString[rcode]
	if !ok {
		rc = "_other"
	}
	m.queries.WithLabelValues(qtype, rc).Inc()
	m.latency.Observe(d.Seconds())
}

// noError is the queries counter of a NOERROR answer to an A or AAAA
// query.
func (m *metrics) noError(qtype uint16) prometheus.Counter {
	if qtype == dns.TypeAAAA {
		return m.aaaaNoError
	}
	return m.aNoError
}

// clustersChanged drops the series of clusters a reload removed and
// starts those of clusters it added.
func (m *metrics) clustersChanged(old, st *state) {
	for _, c := range old.clusters {
		if st.cluster(c.Name) == nil {
			m.up.DeleteLabelValues(c.Name)
		}
	}
	for _, c := range st.clusters {
		c.mu.Lock()
		up := c.up
		c.mu.Unlock()
		m.setUp(c.Name, up)
	}
}

func (m *metrics) setUp(cluster string, up bool) {
	v := 0.0
	if up {
		v = 1
	}
	m.up.WithLabelValues(cluster).Set(v)
}
