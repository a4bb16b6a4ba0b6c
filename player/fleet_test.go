package player

import (
	"encoding/csv"
	"math"
	"strings"
	"testing"
)

func TestLinkTransfer(t *testing.T) {
	l := newLink(Trace{{DurationMs: 1000, BandwidthKbps: 100}, {DurationMs: 1000, BandwidthKbps: 0}, {DurationMs: 1000, BandwidthKbps: 300}})
	for _, tc := range []struct {
		start, bits, want float64
	}{
		{0, 50_000, 500},                    // half the first period
		{500, 100_000, 2000 + 50_000.0/300}, // 50 kbit, a dead period, 50 kbit at 300
		{1500, 300_000, 3000},               // waits out the dead period
		{2900, 130_000, 4000},               // 30 kbit, the trace loops, 100 kbit at 100
		{9000, 100_000, 10000},              // 9000 is 0 in the third loop
	} {
		if got := l.transfer(tc.start, tc.bits); math.Abs(got-tc.want) > 1e-6 {
			t.Errorf("transfer(%v, %v) = %v, want %v", tc.start, tc.bits, got, tc.want)
		}
	}
}

func TestFleetAssignmentAndTable(t *testing.T) {
	f, err := NewFleet(FleetConfig{Players: 12, ABRs: []string{"bola", "bba"}, Traces: make([]Trace, 3), Session: Config{URL: "http://x/"}})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string][]int{}
	for i := range 12 {
		abr, tr := f.assignment(i)
		seen[abr] = append(seen[abr], tr)
	}
	for abr, trs := range seen {
		if want := []int{0, 1, 2, 0, 1, 2}; len(trs) != 6 || trs[0] != 0 || trs[1] != 1 || trs[2] != 2 || trs[3] != 0 {
			t.Errorf("%s gets traces %v, want %v", abr, trs, want)
		}
	}
	var reports []*Report
	for i := 1; i <= 21; i++ {
		r := &Report{Ended: "complete", Segments: 1}
		r.ABR, r.QoELin = "bola", float64(i)
		reports = append(reports, r)
	}
	reports = append(reports, &Report{Ended: "error", Metrics: Metrics{ABR: "bola", QoELin: -1000}})
	s := Table(reports)["bola"]
	if s.Sessions != 22 || s.Failed != 1 {
		t.Errorf("sessions %d failed %d, want 22 and 1", s.Sessions, s.Failed)
	}
	if q := s.Metrics["qoe_lin"]; q.Mean != 11 || q.Median != 11 || q.P95 != 20 {
		t.Errorf("qoe_lin stats %+v, want mean 11, median 11, p95 20", q)
	}
	if _, err := NewFleet(FleetConfig{Players: 1, ABRs: []string{"nope"}, Session: Config{URL: "http://x/"}}); err == nil {
		t.Error("unknown ABR accepted")
	}
}

func TestFleetCSV(t *testing.T) {
	r := &Report{Ended: "complete", Segments: 2, Log: []SegmentLog{{Index: 0, Representation: `a,"b"`, Result: "ok"}, {Index: 1, Representation: "c", Result: "ok"}}}
	r.ABR, r.Trace = "bola", "3G, evening"
	var sessions, segments strings.Builder
	if err := WriteSessionsCSV(&sessions, []*Report{nil, r}); err != nil {
		t.Fatal(err)
	}
	if err := WriteFleetLogCSV(&segments, []*Report{nil, r}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, got string
		lines     int
		want      string
	}{
		{"sessions", sessions.String(), 2, `1,bola,"3G, evening",complete,2,`},
		{"segments", segments.String(), 3, `1,0,0,"a,""b""",0,`},
	} {
		rows, err := csv.NewReader(strings.NewReader(tc.got)).ReadAll()
		if err != nil || len(rows) != tc.lines || len(rows[1]) != len(rows[0]) {
			t.Errorf("%s: %d rows (%v), header and first row of %d and %d fields:\n%s", tc.name, len(rows), err, len(rows[0]), len(rows[1]), tc.got)
		}
		if !strings.Contains(tc.got, "\n"+tc.want) {
			t.Errorf("%s lacks a row starting %s:\n%s", tc.name, tc.want, tc.got)
		}
	}
}
