package conf

import (
	"strings"
	"testing"
	"time"
)

type sample struct {
	Name  string   `json:"name"`
	Every Duration `json:"every"`
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    sample
		wantErr string
	}{
		{in: "name: a\nevery: 80ms\n", want: sample{"a", Duration(80 * time.Millisecond)}},
		{in: `{"name": "b", "every": "2s"}`, want: sample{"b", Duration(2 * time.Second)}},
		{in: "---\n# leading marker and comments are one document\nname: c\n", want: sample{Name: "c"}},
		{in: "name: a\nnmae: b\n", wantErr: `unknown field "nmae"`},
		{in: "name: a\n---\nname: b\n", wantErr: "more than one document"},
		{in: "every: -1s\n", wantErr: "bad duration"},
		{in: "every: 5\n", wantErr: "want a duration string"},
		{in: "name: [\n", wantErr: "yaml"},
	} {
		var got sample
		err := Decode([]byte(tc.in), &got)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Decode(%q) = %v, want an error saying %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Decode(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestDurationRoundTrip(t *testing.T) {
	b, err := Duration(1500 * time.Millisecond).MarshalJSON()
	if err != nil || string(b) != `"1.5s"` {
		t.Fatalf("MarshalJSON = %s, %v", b, err)
	}
	var d Duration
	if err := d.UnmarshalJSON(b); err != nil || d.D() != 1500*time.Millisecond {
		t.Errorf("UnmarshalJSON(%s) = %v, %v", b, d, err)
	}
}
