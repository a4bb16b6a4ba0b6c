package httpx

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		name   string
		header string
		size   int64
		want   []Range
		err    error
	}{
		{"first bytes", "bytes=0-499", 10000, []Range{{0, 500}}, nil},
		{"second bytes", "bytes=500-999", 10000, []Range{{500, 500}}, nil},
		{"open end", "bytes=9500-", 10000, []Range{{9500, 500}}, nil},
		{"suffix", "bytes=-500", 10000, []Range{{9500, 500}}, nil},
		{"suffix longer than body", "bytes=-20000", 100, []Range{{0, 100}}, nil},
		{"last past end is clamped", "bytes=90-200", 100, []Range{{90, 10}}, nil},
		{"case-insensitive unit", "BYTES=0-0", 10, []Range{{0, 1}}, nil},
		{"spaces", "bytes= 0-1 , 5-6", 10, []Range{{0, 2}, {5, 2}}, nil},
		{"two ranges kept in order", "bytes=5-6,0-1", 10, []Range{{5, 2}, {0, 2}}, nil},
		{"unsatisfiable dropped from set", "bytes=0-1,50-60", 10, []Range{{0, 2}}, nil},
		{"empty list element", "bytes=0-1,,", 10, []Range{{0, 2}}, nil},
		{"start at size", "bytes=10-", 10, nil, ErrUnsatisfiable},
		{"zero suffix", "bytes=-0", 10, nil, ErrUnsatisfiable},
		{"empty body", "bytes=0-", 0, nil, ErrUnsatisfiable},
		{"other unit", "items=0-1", 10, nil, ErrIgnore},
		{"no equals", "bytes 0-1", 10, nil, ErrIgnore},
		{"no dash", "bytes=5", 10, nil, ErrIgnore},
		{"last before first", "bytes=5-1", 10, nil, ErrIgnore},
		{"negative", "bytes=-1-5", 10, nil, ErrIgnore},
		{"plus sign", "bytes=+1-5", 10, nil, ErrIgnore},
		{"letters", "bytes=a-b", 10, nil, ErrIgnore},
		{"bare dash", "bytes=-", 10, nil, ErrIgnore},
		{"overflow", "bytes=99999999999999999999-", 10, nil, ErrIgnore},
		{"only commas", "bytes=,,", 10, nil, ErrIgnore},
		{"too many", "bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8,9-9,10-10,11-11,12-12,13-13,14-14,15-15,16-16", 100, nil, ErrIgnore},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRange(tc.header, tc.size)
			if !errors.Is(err, tc.err) {
				t.Fatalf("ParseRange(%q, %d) error = %v, want %v", tc.header, tc.size, err, tc.err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseRange(%q, %d) (-want +got):\n%s", tc.header, tc.size, diff)
			}
		})
	}
}

func TestContentRange(t *testing.T) {
	if got, want := (Range{Start: 10, Length: 5}).ContentRange(100), "bytes 10-14/100"; got != want {
		t.Errorf("ContentRange = %q, want %q", got, want)
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-499", "bytes=-5", "bytes=1-,3-4", "bytes=,", "x=1-2", "bytes=9223372036854775807-",
		" Bytes = 10 - 20 ", "bytes=5000-", "bytes=-0", "bytes=0-9,5000-6000", "bytes=5-3"} {
		f.Add(s, int64(1000))
	}
	f.Fuzz(func(t *testing.T, header string, size int64) {
		if size < 0 {
			size = -size
		}
		if size < 0 { // math.MinInt64
			size = 0
		}
		rs, err := ParseRange(header, size)
		if one, ok := ParseOneRange(header, size); ok != (err == nil && len(rs) == 1) || ok && one != rs[0] {
			t.Fatalf("ParseOneRange(%q, %d) = %+v, %v; ParseRange: %+v, %v", header, size, one, ok, rs, err)
		}
		if err != nil {
			if len(rs) != 0 {
				t.Fatalf("ParseRange(%q, %d) returned ranges with error %v", header, size, err)
			}
			return
		}
		if len(rs) == 0 || len(rs) > MaxRanges {
			t.Fatalf("ParseRange(%q, %d) = %d ranges", header, size, len(rs))
		}
		for _, r := range rs {
			if r.Start < 0 || r.Length <= 0 || r.End() >= size {
				t.Fatalf("ParseRange(%q, %d) = %+v, outside [0,%d)", header, size, r, size)
			}
		}
	})
}
