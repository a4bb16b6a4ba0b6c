package sample

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamcdn/streamcdn/internal/testutil"
	"github.com/streamcdn/streamcdn/player"
)

// TestSampleIsSabres checks that the built-in files parse and are
// byte for byte the shared copies of Sabre's inputs, with its licence.
func TestSampleIsSabres(t *testing.T) {
	v, err := Video()
	if err != nil {
		t.Fatal(err)
	}
	if len(v.BitratesKbps) == 0 || len(v.SizesBits) != 199 {
		t.Errorf("video: %d bitrates, %d segments (want 199)", len(v.BitratesKbps), len(v.SizesBits))
	}
	names, traces, err := Traces()
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 5 || len(traces) != 5 {
		t.Fatalf("%d traces, want 5", len(traces))
	}
	if !strings.Contains(License(), "BSD 2-Clause") {
		t.Error("the licence is not Sabre's BSD-2-Clause")
	}
	shared := filepath.Join(testutil.SharedDir(t), "traces", "sabre")
	for _, f := range append([]string{"bbb.json", "LICENSE"}, prefix("3G/", names)...) {
		want, err := os.ReadFile(filepath.Join(shared, f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := files.ReadFile("sabre/" + f)
		if err != nil || string(got) != string(want) {
			t.Errorf("%s differs from the shared copy (%v)", f, err)
		}
	}
	// And a simulation runs on them.
	m, err := player.Simulate(player.SimConfig{Video: v, Trace: traces[0], ABR: "bolae", MaxBufferMs: 25000})
	if err != nil || m.PlayS <= 0 || m.AvgBitrateKbps <= 0 {
		t.Errorf("Simulate on the sample: %v, %+v", err, m)
	}
}

func prefix(p string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = p + n
	}
	return out
}
