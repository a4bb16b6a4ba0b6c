package origin

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"
)

// TestPushMetrics feeds progress of two titles on one edge to the
// metrics: the counters add each title's own counts.
func TestPushMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewPushMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []EdgeProgress{
		{MPD: "http://o/a/manifest.mpd", Edge: "http://e1", Objects: 3, Pushed: 1, Bytes: 100, Seconds: 1},
		{MPD: "http://o/a/manifest.mpd", Edge: "http://e1", Objects: 3, Pushed: 2, Skipped: 1, Bytes: 250, Seconds: 2},
		{MPD: "http://o/b/manifest.mpd", Edge: "http://e1", Objects: 3, Pushed: 1, Bytes: 40, Seconds: 1},
		{MPD: "http://o/b/manifest.mpd", Edge: "http://e1", Objects: 3, Pushed: 1, Failed: 2, Bytes: 40, Seconds: 2},
	} {
		m.Observe(p)
	}
	for result, n := range map[string]float64{"pushed": 3, "skipped": 1, "failed": 2} {
		if got := promtest.ToFloat64(m.objects.WithLabelValues("http://e1", result)); got != n {
			t.Errorf("objects_total{result=%q} = %v, want %v", result, got, n)
		}
	}
	if got := promtest.ToFloat64(m.bytes.WithLabelValues("http://e1")); got != 290 {
		t.Errorf("bytes_total = %v, want 290", got)
	}
	if got := promtest.ToFloat64(m.throughput.WithLabelValues("http://e1")); got != 20 {
		t.Errorf("throughput = %v B/s, want 20", got)
	}
	if problems, err := promtest.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("promlint: %v %v", err, problems)
	}
	if _, err := NewPushMetrics(reg); err == nil {
		t.Error("registered twice on one registry: no error")
	}
	if m, err := NewPushMetrics(nil); err != nil || m == nil {
		t.Errorf("NewPushMetrics(nil) = %v, %v", m, err)
	}
}

// TestEdgeProgressLine: an edge's line of progress, with its bar.
func TestEdgeProgressLine(t *testing.T) {
	p := EdgeProgress{Edge: "http://e1", Objects: 4, Pushed: 1, Skipped: 1, Failed: 0, Bytes: 2_000_000, Seconds: 2}
	if got, want := p.Line(), "http://e1 [###############...............] 2/4 objects, 0 failed, 2.0 MB, 8.0 Mbit/s"; got != want {
		t.Errorf("Line() = %q, want %q", got, want)
	}
	if got := (EdgeProgress{Edge: "e"}).Line(); got != "e [..............................] 0/0 objects, 0 failed, 0.0 MB, -" {
		t.Errorf("nothing yet: %q", got)
	}
}
