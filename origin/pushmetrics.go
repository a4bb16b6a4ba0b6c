package origin

import (
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/streamcdn/streamcdn/internal/promreg"
)

// PushMetrics are a push client's metrics, fed from PushConfig.Progress.
type PushMetrics struct {
	mu         sync.Mutex
	seen       map[string]EdgeProgress
	objects    *prometheus.CounterVec
	bytes      *prometheus.CounterVec
	throughput *prometheus.GaugeVec
}

// NewPushMetrics registers the metrics on reg; a nil reg registers
// nothing.
func NewPushMetrics(reg prometheus.Registerer) (*PushMetrics, error) {
	m := &PushMetrics{
		seen: map[string]EdgeProgress{},
		objects: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "streamcdn", Subsystem: "push", Name: "objects_total",
			Help: "Objects dealt with, by edge and result (pushed, skipped, failed)."}, []string{"edge", "result"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "streamcdn", Subsystem: "push", Name: "bytes_total",
			Help: "Body bytes pushed, by edge."}, []string{"edge"}),
		throughput: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "streamcdn", Subsystem: "push", Name: "throughput_bytes_per_second",
			Help: "Average push throughput to each edge since its push started."}, []string{"edge"}),
	}
	if err := promreg.Register(reg, m.objects, m.bytes, m.throughput); err != nil {
		return nil, fmt.Errorf("push metrics: %w", err)
	}
	return m, nil
}

// Observe adds what changed since the edge's last progress on the same
// title.
func (m *PushMetrics) Observe(p EdgeProgress) {
	m.mu.Lock()
	defer m.mu.Unlock()
	prev := m.seen[p.Edge]
	if prev.MPD != p.MPD { // a new title: its counts start from zero
		prev = EdgeProgress{}
	}
	m.objects.WithLabelValues(p.Edge, "pushed").Add(float64(max(p.Pushed-prev.Pushed, 0)))
	m.objects.WithLabelValues(p.Edge, "skipped").Add(float64(max(p.Skipped-prev.Skipped, 0)))
	m.objects.WithLabelValues(p.Edge, "failed").Add(float64(max(p.Failed-prev.Failed, 0)))
	m.bytes.WithLabelValues(p.Edge).Add(float64(max(p.Bytes-prev.Bytes, 0)))
	if p.Seconds > 0 {
		m.throughput.WithLabelValues(p.Edge).Set(float64(p.Bytes) / p.Seconds)
	}
	m.seen[p.Edge] = p
}
