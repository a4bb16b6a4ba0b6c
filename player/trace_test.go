package player

import (
	"strings"
	"testing"
	"time"
)

func TestParseTrace(t *testing.T) {
	tests := []struct {
		name, in string
		want     Trace
		err      string
	}{
		{"sabre", `[{"duration_ms": 1000, "bandwidth_kbps": 500, "latency_ms": 80}]`, Trace{{1000, 500, 80}}, ""},
		{"pensieve", "0.0\t4.0\n0.5\t3.0\n1.5\t2.0\n", Trace{{500, 3000, 0}, {1000, 2000, 0}}, ""},
		{"unknown field", `[{"duration": 1000}]`, nil, "unknown field"},
		{"empty", "", nil, "no periods"},
		{"no bandwidth", `[{"duration_ms": 1000, "bandwidth_kbps": 0, "latency_ms": 80}]`, nil, "no bandwidth"},
		{"negative", `[{"duration_ms": 1000, "bandwidth_kbps": -5, "latency_ms": 80}]`, nil, ">= 0"},
		{"time goes back", "0 1\n2 1\n1 1\n", nil, "line 3"},
		{"three fields", "0 1 2\n", nil, "line 1"},
		{"not numbers", "0 x\n1 2\n", nil, "line 1"},
	}
	for _, tc := range tests {
		got, err := ParseTrace([]byte(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
			continue
		}
		for i := range got {
			if d := got[i].DurationMs - tc.want[i].DurationMs; d > 1e-6 || d < -1e-6 || got[i].BandwidthKbps != tc.want[i].BandwidthKbps {
				t.Errorf("%s: period %d = %+v, want %+v", tc.name, i, got[i], tc.want[i])
			}
		}
	}
}

func TestWithLatency(t *testing.T) {
	tr := Trace{{DurationMs: 1000, BandwidthKbps: 1, LatencyMs: 0}, {DurationMs: 1000, BandwidthKbps: 1, LatencyMs: 40}}
	got := tr.WithLatency(80 * time.Millisecond)
	if got[0].LatencyMs != 80 || got[1].LatencyMs != 40 || tr[0].LatencyMs != 0 {
		t.Errorf("WithLatency: %+v (input now %+v); want 80 added where there was none, the input untouched", got, tr)
	}
	if got := tr.WithLatency(0); got[0].LatencyMs != 0 {
		t.Errorf("no latency to add: %+v", got)
	}
}
