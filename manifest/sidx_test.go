package manifest

import (
	"os"
	"strings"
	"testing"
)

func TestParseSidx(t *testing.T) {
	data, err := os.ReadFile("testdata/corpus/ours-ondemand.mpd.180p.sidx")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSidx(data)
	if err != nil {
		t.Fatalf("ParseSidx: %v", err)
	}
	if s.Size != uint64(len(data)) || s.Timescale != 15360 || len(s.References) != 6 {
		t.Fatalf("ParseSidx = size %d timescale %d refs %d, want %d 15360 6", s.Size, s.Timescale, len(s.References), len(data))
	}
	for i, r := range s.References {
		if r.Index || !r.StartsWithSAP || r.Size == 0 || r.Duration == 0 {
			t.Errorf("reference %d = %+v", i, r)
		}
	}
	bad := map[string][]byte{
		"short":          data[:5],
		"not sidx":       append([]byte("\x00\x00\x00\x08moof"), data[8:]...),
		"truncated refs": append([]byte{0, 0, 0, byte(len(data) - 12)}, data[4:len(data)-12]...),
		"size too big":   append([]byte{0, 0, 1, 0}, data[4:]...),
	}
	for name, b := range bad {
		if _, err := ParseSidx(b); err == nil || !strings.HasPrefix(err.Error(), "sidx:") {
			t.Errorf("ParseSidx(%s) error = %v", name, err)
		}
	}
}
