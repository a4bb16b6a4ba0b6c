package player

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/streamcdn/streamcdn/internal/testutil"
)

type sabreRef struct {
	Label         string  `json:"label"`
	Set           string  `json:"set"`
	Trace         string  `json:"trace"`
	AvgBitrate    float64 `json:"time average played bitrate"`
	RebufferRatio float64 `json:"rebuffer ratio"`
	Rebuffer      float64 `json:"total rebuffer"`
	Score         float64 `json:"time average score"`
	Switches      int     `json:"switches"`
	StartupMs     float64 `json:"startup_ms"`
}

func sabreDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(testutil.SharedDir(t), "traces", "sabre")
	if _, err := os.Stat(dir); err != nil {
		testutil.Missing(t, "the Sabre traces (../shared/traces/sabre) are missing")
	}
	return dir
}

// TestSabreFidelity runs our bola, bolae, throughput, dynamic and
// dynamicdash on the 30 Sabre traces and compares each session with what
// Sabre printed for it.
func TestSabreFidelity(t *testing.T) {
	dir := sabreDir(t)
	data, err := os.ReadFile(filepath.Join(dir, "reference-outputs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var refs []sabreRef
	if err := json.Unmarshal(data, &refs); err != nil {
		t.Fatal(err)
	}
	videos := map[string]*Video{}
	for set, name := range map[string]string{"3G": "bbb.json", "4G": "bbb4k.json"} {
		if videos[set], err = LoadVideo(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	type agg struct {
		ours, ref, rbOurs, rbRef float64
		n, exact                 int
		worst                    float64
	}
	byABR := map[string]*agg{}
	startupSame, switchesSame := 0, 0
	for _, ref := range refs {
		tr, err := LoadTrace(filepath.Join(dir, ref.Set, ref.Trace))
		if err != nil {
			t.Fatal(err)
		}
		m, err := Simulate(SimConfig{Video: videos[ref.Set], Trace: tr, ABR: ref.Label})
		if err != nil {
			t.Fatalf("%s %s: %v", ref.Label, ref.Trace, err)
		}
		a := byABR[ref.Label]
		if a == nil {
			a = &agg{}
			byABR[ref.Label] = a
		}
		a.n++
		a.ours += m.AvgBitrateKbps
		a.ref += ref.AvgBitrate
		a.rbOurs += m.RebufferRatio
		a.rbRef += ref.RebufferRatio
		rel := math.Abs(m.AvgBitrateKbps-ref.AvgBitrate) / ref.AvgBitrate
		a.worst = max(a.worst, rel)
		if math.Round(m.StartupS*1000) == ref.StartupMs {
			startupSame++
		}
		if m.Switches == ref.Switches {
			switchesSame++
		}
		if rel < 1e-4 && math.Abs(m.RebufferRatio-ref.RebufferRatio) < 1e-4 {
			a.exact++
		} else if testing.Verbose() {
			t.Logf("%s %s/%s: bitrate %.1f vs %.1f, rebuffer %.4f vs %.4f, switches %d vs %d, startup %.0f vs %.0f",
				ref.Label, ref.Set, ref.Trace, m.AvgBitrateKbps, ref.AvgBitrate, m.RebufferRatio, ref.RebufferRatio, m.Switches, ref.Switches, m.StartupS*1000, ref.StartupMs)
		}
	}
	t.Logf("startup equal on %d/%d sessions, switch counts on %d/%d", startupSame, len(refs), switchesSame, len(refs))
	if startupSame != len(refs) {
		t.Errorf("startup differs from Sabre's on %d sessions", len(refs)-startupSame)
	}
	if switchesSame < 141 {
		t.Errorf("switch counts equal on %d sessions, fewer than the 141 this reached", switchesSame)
	}
	// These three reproduce Sabre session for session.
	identical := map[string]bool{"bola": true, "throughput": true, "dynamic": true}
	for name, a := range byABR {
		if identical[name] && a.exact != a.n {
			t.Errorf("%s: %d of %d sessions identical to Sabre's, want all", name, a.exact, a.n)
		}
		meanErr := math.Abs(a.ours-a.ref) / a.ref
		t.Logf("%-11s %d sessions, %d identical; mean bitrate %.1f vs Sabre %.1f (%.2f%%), worst session %.2f%%; mean rebuffer ratio %.5f vs %.5f",
			name, a.n, a.exact, a.ours/float64(a.n), a.ref/float64(a.n), 100*meanErr, 100*a.worst, a.rbOurs/float64(a.n), a.rbRef/float64(a.n))
		if meanErr > 0.05 {
			t.Errorf("%s: mean time-average bitrate differs from Sabre's by %.2f%%, want within 5%%", name, 100*meanErr)
		}
		if d := math.Abs(a.rbOurs-a.rbRef) / float64(a.n); d > 0.01 {
			t.Errorf("%s: mean rebuffer ratio differs by %.4f, want within 0.01", name, d)
		}
	}
}

// TestSimDeterministic: the same inputs give the same metrics.
func TestSimDeterministic(t *testing.T) {
	dir := sabreDir(t)
	v, err := LoadVideo(filepath.Join(dir, "bbb.json"))
	if err != nil {
		t.Fatal(err)
	}
	_, traces, err := LoadTraces(filepath.Join(dir, "3G"))
	if err != nil {
		t.Fatal(err)
	}
	for _, abr := range Names() {
		a, err1 := Simulate(SimConfig{Video: v, Trace: traces[0], ABR: abr})
		b, err2 := Simulate(SimConfig{Video: v, Trace: traces[0], ABR: abr})
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) {
			t.Errorf("%s: two runs differ:\n%s\n%s", abr, ja, jb)
		}
		if a.AvgBitrateKbps <= 0 || a.PlayS < 199*3 {
			t.Errorf("%s: implausible session %s", abr, ja)
		}
	}
}

// TestSimBounded: a video far too big for its trace ends with
// ErrExhausted instead of running (practically) forever.
func TestSimBounded(t *testing.T) {
	v := &Video{SegmentMs: 4000, BitratesKbps: []float64{300}, SizesBits: [][]float64{{1e300}, {1e300}}}
	tr := Trace{{DurationMs: 1000, BandwidthKbps: 1000, LatencyMs: 50}}
	if _, err := Simulate(SimConfig{Video: v, Trace: tr, ABR: "bola"}); !errors.Is(err, ErrExhausted) {
		t.Errorf("err = %v, want ErrExhausted", err)
	}
}
