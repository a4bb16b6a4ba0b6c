package origin

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamcdn/streamcdn/internal/metricnames"
	"github.com/streamcdn/streamcdn/internal/promreg"
)

type metrics struct {
	requests *prometheus.CounterVec
	bytes    prometheus.Counter
	latency  *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricnames.OriginRequests,
			Help: "HTTP requests answered, by method and status code class.",
		}, []string{metricnames.Method, metricnames.CodeClass}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: metricnames.OriginBodyBytes,
			Help: "Response body bytes sent.",
		}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "streamcdn", Subsystem: "origin", Name: "request_duration_seconds",
			Help:    "Time to answer a request, body included.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 9),
		}, []string{"code_class"}),
	}
	if err := promreg.Register(reg, m.requests, m.bytes, m.latency); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *metrics) observe(method string, code int, bytes int64, d time.Duration) {
	switch method {
	case "GET", "HEAD", "OPTIONS":
	default:
		method = "_other"
	}
	class := strconv.Itoa(code/100) + "xx"
	m.requests.WithLabelValues(method, class).Inc()
	m.bytes.Add(float64(bytes))
	m.latency.WithLabelValues(class).Observe(d.Seconds())
}
