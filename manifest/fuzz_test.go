package manifest

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary documents to Parse: it must not panic, and
// whatever it accepts must survive a marshal and a second parse.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/corpus/*.mpd")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data, corpusURL)
		if err != nil {
			return
		}
		out, err := m.MPD.WriteToString("", false)
		if err != nil {
			return // dash-mpd cannot always re-encode what it decoded
		}
		if _, err := Parse([]byte(out), corpusURL); err != nil {
			t.Errorf("re-parse of re-marshalled MPD failed: %v\n%s", err, out)
		}
	})
}

// FuzzParseSidx checks that any bytes either parse into a box whose
// references fit in it or give an error, and never panic.
func FuzzParseSidx(f *testing.F) {
	if data, err := os.ReadFile("testdata/corpus/ours-ondemand.mpd.180p.sidx"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("\x00\x00\x00\x20sidx\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x03\xe8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSidx(data)
		if err != nil {
			return
		}
		if s.Size > uint64(len(data)) || s.Timescale == 0 {
			t.Fatalf("ParseSidx accepted size %d of %d bytes, timescale %d", s.Size, len(data), s.Timescale)
		}
		tr := &Track{Index: &Segment{URL: "x", Range: &ByteRange{0, s.Size - 1}}, media: "x"}
		_ = tr.ExpandIndex(data)
	})
}
