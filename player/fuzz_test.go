package player

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/streamcdn/streamcdn/internal/sample"
)

// FuzzParseTrace: any bytes give a trace that validates or an error,
// never a panic.
func FuzzParseTrace(f *testing.F) {
	for _, s := range []string{`[{"duration_ms": 1000, "bandwidth_kbps": 500, "latency_ms": 80}]`, "0.0\t4.0\n0.5\t3.2\n", "[]", "1 2 3", `[{"duration_ms": -1}]`} {
		f.Add([]byte(s))
	}
	for _, p := range []string{"sabre/3G/report.2010-09-13_1003CEST.json", "pensieve/hsdpa/norway_bus_1"} {
		if b, err := os.ReadFile(filepath.Join("..", "..", "shared", "traces", p)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := ParseTrace(data)
		if err != nil {
			return
		}
		if err := tr.validate(); err != nil {
			t.Fatalf("parsed a trace that does not validate: %v", err)
		}
	})
}

// FuzzParseVideo: the same for video descriptions, and a video that parses
// simulates without a panic.
func FuzzParseVideo(f *testing.F) {
	f.Add([]byte(`{"segment_duration_ms": 4000, "bitrates_kbps": [300, 750], "segment_sizes_bits": [[1200000, 3000000], [1100000, 2900000]]}`))
	f.Add([]byte(`{"segment_duration_ms": 0}`))
	tr := Trace{{DurationMs: 1000, BandwidthKbps: 1000, LatencyMs: 50}}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ParseVideo(data)
		if err != nil || len(v.SizesBits) > 100 {
			return
		}
		for _, abr := range Names() {
			if _, err := Simulate(SimConfig{Video: v, Trace: tr, ABR: abr, MaxBufferMs: max(25000, v.SegmentMs)}); err != nil && !errors.Is(err, ErrExhausted) {
				t.Fatalf("%s: %v", abr, err)
			}
		}
	})
}

// FuzzCheckSegment feeds the fMP4 checks bytes from the network's worst:
// they return an error or a span, never panic.
func FuzzCheckSegment(f *testing.F) {
	title := sample.FS()
	initB, err := fs.ReadFile(title, "audio/init.mp4")
	if err != nil {
		f.Fatal(err)
	}
	seg, err := fs.ReadFile(title, "audio/1.m4s")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(initB, seg)
	f.Add(initB, []byte{0, 0, 0, 8, 'm', 'o', 'o', 'f'})
	f.Fuzz(func(t *testing.T, initB, seg []byte) {
		in, err := checkInit(initB)
		if err != nil {
			return
		}
		if sp, err := checkSegment(seg, in); err == nil && sp.end <= sp.start {
			t.Fatalf("span %+v", sp)
		}
	})
}
