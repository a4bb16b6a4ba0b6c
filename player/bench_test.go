package player

import (
	"path/filepath"
	"testing"
)

// BenchmarkSim3G runs one ABR over the 20 Sabre 3G traces per iteration;
// sessions/s = 20 / (ns/op · 1e-9).
func BenchmarkSim3G(b *testing.B) {
	dir := sabreDir(b)
	v, err := LoadVideo(filepath.Join(dir, "bbb.json"))
	if err != nil {
		b.Fatal(err)
	}
	_, traces, err := LoadTraces(filepath.Join(dir, "3G"))
	if err != nil {
		b.Fatal(err)
	}
	for _, abr := range []string{"bola", "bolae", "throughput", "dynamic", "bba", "robustmpc"} {
		b.Run(abr, func(b *testing.B) {
			for b.Loop() {
				for _, tr := range traces {
					if _, err := Simulate(SimConfig{Video: v, Trace: tr, ABR: abr}); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(len(traces)*b.N)/b.Elapsed().Seconds(), "sessions/s")
		})
	}
}
