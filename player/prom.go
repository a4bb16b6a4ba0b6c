package player

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/streamcdn/streamcdn/internal/promreg"
)

// FleetMetrics are a fleet's Prometheus metrics; every session given them
// in its Config counts in them.
type FleetMetrics struct {
	active   prometheus.Gauge
	sessions *prometheus.CounterVec
	stalls   prometheus.Counter
	rebuffer prometheus.Counter
	bitrate  prometheus.Histogram
	errors   *prometheus.CounterVec
	delayed  prometheus.Counter
	bytes    prometheus.Counter
}

// NewFleetMetrics makes the fleet's metrics and registers them on reg; a
// nil reg registers nothing (the metrics are then kept but not exposed).
func NewFleetMetrics(reg prometheus.Registerer) (*FleetMetrics, error) {
	m := &FleetMetrics{
		active: prometheus.NewGauge(prometheus.GaugeOpts{Name: "streamcdn_player_sessions_active",
			Help: "Sessions playing now."}),
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "streamcdn_player_sessions_total",
			Help: "Sessions ended, by how: complete, duration, error or canceled."}, []string{"ended"}),
		stalls: prometheus.NewCounter(prometheus.CounterOpts{Name: "streamcdn_player_stalls_total",
			Help: "Times playback stalled with an empty buffer."}),
		rebuffer: prometheus.NewCounter(prometheus.CounterOpts{Name: "streamcdn_player_rebuffer_seconds_total",
			Help: "Session time spent stalled, counted when sessions end."}),
		bitrate: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "streamcdn_player_segment_bitrate_bytes_per_second",
			Help:    "Nominal bitrate of each video segment played (the MPD's @bandwidth / 8).",
			Buckets: prometheus.ExponentialBuckets(12.5e3, 2, 10)}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "streamcdn_player_errors_total",
			Help: "Error events, by kind: mpd, http, network, truncated, fmp4, discontinuity."}, []string{"kind"}),
		delayed: prometheus.NewCounter(prometheus.CounterOpts{Name: "streamcdn_player_segments_delayed_total",
			Help: "Segments during which a session timer fired more than 50 ms late (client CPU)."}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "streamcdn_player_bytes_total",
			Help: "Bytes received by sessions, counted when sessions end."}),
	}
	if err := promreg.Register(reg, m.active, m.sessions, m.stalls, m.rebuffer, m.bitrate, m.errors, m.delayed, m.bytes); err != nil {
		return nil, fmt.Errorf("player metrics: %w", err)
	}
	return m, nil
}
