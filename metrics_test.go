package streamcdn_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/streamcdn/streamcdn/cdndns"
	"github.com/streamcdn/streamcdn/edge"
	"github.com/streamcdn/streamcdn/origin"
	"github.com/streamcdn/streamcdn/player"
)

// TestMetricNames registers every component's metrics on one real
// registry, as the demo does, and lints them with promlint (CoreDNS's
// metric_naming_test, done on a registry instead of the source).
func TestMetricNames(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	wrap := func(node string) prometheus.Registerer {
		return prometheus.WrapRegistererWith(prometheus.Labels{"node": node}, reg)
	}
	o, err := origin.New(origin.Config{Dir: t.TempDir(), Registry: wrap("origin")})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	e, err := edge.New(edge.Config{Upstream: "http://127.0.0.1:1", Registry: wrap("edge"), DiskDir: t.TempDir(), PinnedDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	cfg, err := cdndns.LoadConfigFile("cdndns/examples/kingcdn.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Registry = wrap("dns")
	if _, err := cdndns.New(*cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := player.NewFleetMetrics(wrap("fleet")); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}
