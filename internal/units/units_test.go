package units

import "testing"

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "1048576", want: 1 << 20},
		{in: "512MiB", want: 512 << 20},
		{in: "1.5GiB", want: 3 << 29},
		{in: "20GB", want: 20e9},
		{in: " 7 KiB ", want: 7 << 10},
		{in: "64 MiB", want: 64 << 20},
		{in: "1XB", bad: true},
		{in: "0", bad: true},
		{in: "-1MiB", bad: true},
		{in: "lots", bad: true},
		{in: "", bad: true},
		{in: "9999999TiB", bad: true},
	} {
		got, err := ParseSize(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseSize(%q) = %d, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

// TestSizeFlag: a Size is set from text and written back in the largest
// binary unit that divides it.
func TestSizeFlag(t *testing.T) {
	for _, tc := range []struct{ in, out string }{
		{"1GiB", "1GiB"}, {"1536MiB", "1536MiB"}, {"20GB", "19531250KiB"}, {"1000B", "1000B"}, {"4096", "4KiB"}, {"1.5KiB", "1536B"},
	} {
		var z Size
		if err := z.Set(tc.in); err != nil || z.String() != tc.out {
			t.Errorf("Set(%q): %v, String %q, want %q", tc.in, err, z.String(), tc.out)
		}
	}
	var z Size = 7
	if err := z.Set("-1MiB"); err == nil || z != 7 {
		t.Errorf("Set(-1MiB) = %v, size %d: want an error and the size unchanged", err, z)
	}
}
