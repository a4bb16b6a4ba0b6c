package charts

import (
	"bytes"
	"strings"
	"testing"

	"github.com/streamcdn/streamcdn/player"
)

func TestCharts(t *testing.T) {
	var reports []*player.Report
	for i, abr := range []string{"bola", "bba", "bola", "bba"} {
		r := &player.Report{Ended: "complete"}
		r.ABR, r.Trace, r.QoELin = abr, "t", float64(i)
		for s := range 5 {
			r.Log = append(r.Log, player.SegmentLog{AtMs: float64(2000 * s), BitrateKbps: float64(300 * (1 + s%2)), DownloadMs: 500,
				BufferBeforeMs: 1000, BufferAfterMs: 3000, Result: "ok"})
		}
		reports = append(reports, r)
	}
	reports = append(reports, &player.Report{Ended: "error", Metrics: player.Metrics{ABR: "bola", QoELin: -99}}, nil)

	var cdf, rate, buf bytes.Buffer
	if err := QoECDF(&cdf, reports); err != nil {
		t.Fatal(err)
	}
	if err := Timelines(&rate, &buf, reports, 3); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		b    *bytes.Buffer
		want []string
	}{
		"cdf":     {&cdf, []string{"<svg", "bola (2)", "bba (2)"}}, // the failed session is left out
		"bitrate": {&rate, []string{"<svg", "bba / t", "bola / t", "Bitrate of each segment"}},
		"buffer":  {&buf, []string{"<svg", "Buffer level"}},
	} {
		for _, w := range tc.want {
			if !strings.Contains(tc.b.String(), w) {
				t.Errorf("%s chart lacks %q", name, w)
			}
		}
	}
	if got := len(sample(reports, 3)); got != 3 {
		t.Errorf("sample drew %d sessions, want 3", got)
	}
}
