package edge

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/streamcdn/streamcdn/internal/httpx"
	"github.com/streamcdn/streamcdn/internal/metricnames"
)

type metrics struct {
	requests         *prometheus.CounterVec
	bytes            *prometheus.CounterVec
	upstreamRequests *prometheus.CounterVec
	upstreamBytes    prometheus.Counter
	upstreamLatency  prometheus.Histogram
	coalesced        prometheus.Counter
	evictions        *prometheus.CounterVec
	corrupt          prometheus.Counter
	purged           prometheus.Counter
	clientRTT        prometheus.Histogram
	reports          *prometheus.CounterVec
	pushedObjects    prometheus.Counter
	pushedBytes      prometheus.Counter
	pushFailures     *prometheus.CounterVec

	// The requests and bytes counters by cache status (and status
	// class), as resolved by observe.
	byStatus [len(cacheStatuses)][6]atomic.Pointer[counterRef]
	bytesBy  [len(cacheStatuses)]atomic.Pointer[counterRef]
}

func newMetrics(reg prometheus.Registerer, s *Server) (*metrics, error) {
	opts := func(name, help string) prometheus.CounterOpts {
		return prometheus.CounterOpts{Namespace: "streamcdn", Subsystem: "edge", Name: name, Help: help}
	}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricnames.EdgeRequests,
			Help: "Requests answered, by cache status (hit, pinned, miss, stale, revalidated, bypass, error) and status code class."},
			[]string{metricnames.Cache, metricnames.CodeClass}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricnames.EdgeBodyBytes, Help: "Response body bytes sent, by cache status."},
			[]string{metricnames.Cache}),
		upstreamRequests: prometheus.NewCounterVec(opts("upstream_requests_total",
			"Requests sent upstream, by status code class (error: no response)."), []string{"code_class"}),
		upstreamBytes: prometheus.NewCounter(opts("upstream_response_body_bytes_total", "Body bytes received from upstream by fills.")),
		upstreamLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "streamcdn", Subsystem: "edge", Name: "upstream_fetch_duration_seconds",
			Help: "Time from sending an upstream request to its response header.", Buckets: prometheus.ExponentialBuckets(0.0005, 3, 10),
		}),
		coalesced: prometheus.NewCounter(opts("coalesced_requests_total", "Requests that joined a fill already in flight.")),
		evictions: prometheus.NewCounterVec(opts("evictions_total", "Objects evicted, by tier."), []string{"tier"}),
		corrupt:   prometheus.NewCounter(opts("disk_corrupt_objects_total", "Disk objects dropped because they failed their checksum.")),
		purged:    prometheus.NewCounter(opts("purged_objects_total", "Objects removed by purge or invalidation.")),
		clientRTT: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "streamcdn", Subsystem: "edge", Name: "client_rtt_seconds",
			Help:    "Smoothed RTT of client connections (TCP_INFO), sampled at most once a second per connection.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 12),
		}),
		reports: prometheus.NewCounterVec(opts("dns_reports_total", "RTT and load reports sent to the DNS and the steering service, by kind and result."),
			[]string{"kind", "result"}),
		pushedObjects: prometheus.NewCounter(opts("pushed_objects_total", "Objects pushed into the pinned area, by upload or fill job.")),
		pushedBytes:   prometheus.NewCounter(opts("pushed_bytes_total", "Body bytes of the objects pushed into the pinned area.")),
		pushFailures: prometheus.NewCounterVec(opts("push_failures_total",
			"Pushes that stored nothing, by reason (checksum, interrupted, budget, upstream, io, bad-request, pull-mode, disabled)."),
			[]string{"reason"}),
	}
	if reg == nil {
		return m, nil
	}
	cs := []prometheus.Collector{m.requests, m.bytes, m.upstreamRequests, m.upstreamBytes, m.upstreamLatency,
		m.coalesced, m.evictions, m.corrupt, m.purged, m.clientRTT, m.reports, m.pushedObjects, m.pushedBytes, m.pushFailures, &tierCollector{s}}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) observe(r *recorder) {
	c, class := cacheIndex(r.cache), r.Status()/100
	if c < 0 || class < 1 || class > 5 {
		m.requests.WithLabelValues(r.cache, codeClass(r.Status())).Inc()
		m.bytes.WithLabelValues(r.cache).Add(float64(r.Bytes))
		return
	}
	m.counter(&m.byStatus[c][class], func() prometheus.Counter {
		return m.requests.WithLabelValues(r.cache, codeClass(r.Status()))
	}).Inc()
	m.counter(&m.bytesBy[c], func() prometheus.Counter { return m.bytes.WithLabelValues(r.cache) }).Add(float64(r.Bytes))
}

// cacheStatuses are the values of the cache label.
var cacheStatuses = [...]string{"hit", "pinned", "miss", "stale", "revalidated", "bypass", "error"}

func cacheIndex(cache string) int {
	for i, c := range cacheStatuses {
		if c == cache {
			return i
		}
	}
	return -1
}

// counterRef holds a counter of a vector, resolved once: WithLabelValues
// hashes the labels and takes a lock, on every request.
type counterRef struct{ prometheus.Counter }

// counter returns the counter in slot, resolving it with get the first
// time (two racing requests resolve the same counter).
func (m *metrics) counter(slot *atomic.Pointer[counterRef], get func() prometheus.Counter) prometheus.Counter {
	if c := slot.Load(); c != nil {
		return c.Counter
	}
	c := &counterRef{get()}
	slot.Store(c)
	return c.Counter
}

func codeClass(code int) string { return strconv.Itoa(code/100) + "xx" }

var (
	objectsDesc = prometheus.NewDesc("streamcdn_edge_cache_objects", "Objects stored, by tier (memory, disk, pinned).", []string{"tier"}, nil)
	bytesDesc   = prometheus.NewDesc("streamcdn_edge_cache_bytes", "Bytes stored, by tier (memory, disk, pinned).", []string{"tier"}, nil)
	budgetDesc  = prometheus.NewDesc("streamcdn_edge_cache_budget_bytes", "Byte budget, by tier (memory, disk, pinned).", []string{"tier"}, nil)
)

// tierCollector reports the tiers' sizes at scrape time.
type tierCollector struct{ s *Server }

func (c *tierCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- objectsDesc
	ch <- bytesDesc
	ch <- budgetDesc
}

func (c *tierCollector) Collect(ch chan<- prometheus.Metric) {
	n, b := c.s.mem.stats()
	ch <- prometheus.MustNewConstMetric(objectsDesc, prometheus.GaugeValue, float64(n), "memory")
	ch <- prometheus.MustNewConstMetric(bytesDesc, prometheus.GaugeValue, float64(b), "memory")
	ch <- prometheus.MustNewConstMetric(budgetDesc, prometheus.GaugeValue, float64(c.s.cfg.MemoryBytes), "memory")
	if c.s.disk != nil {
		n, b := c.s.disk.stats()
		ch <- prometheus.MustNewConstMetric(objectsDesc, prometheus.GaugeValue, float64(n), "disk")
		ch <- prometheus.MustNewConstMetric(bytesDesc, prometheus.GaugeValue, float64(b), "disk")
		ch <- prometheus.MustNewConstMetric(budgetDesc, prometheus.GaugeValue, float64(c.s.cfg.DiskBytes), "disk")
	}
	if c.s.pins != nil {
		n, b := c.s.pins.stats()
		ch <- prometheus.MustNewConstMetric(objectsDesc, prometheus.GaugeValue, float64(n), "pinned")
		ch <- prometheus.MustNewConstMetric(bytesDesc, prometheus.GaugeValue, float64(b), "pinned")
		ch <- prometheus.MustNewConstMetric(budgetDesc, prometheus.GaugeValue, float64(c.s.cfg.PinnedBytes), "pinned")
	}
}

// recorder notes the status, body bytes and cache status of a response.
type recorder struct {
	httpx.Recorder
	cache string
	at    time.Time // when the request arrived, by Config.Now
	// cacheStatus is the status in the Cache-Status of a prepared hit,
	// which is not in the header map.
	cacheStatus string
}
