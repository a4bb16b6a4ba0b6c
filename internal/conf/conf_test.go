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

// TestDecodePath: a value of the wrong type is named by its full path,
// with indexes, and its line in YAML (its path alone in JSON).
func TestDecodePath(t *testing.T) {
	type record struct {
		TTL uint32 `json:"ttl"`
	}
	type doc struct {
		Zones []struct {
			Records []record `json:"records"`
		} `json:"zones"`
		Health struct {
			Interval Duration `json:"interval"`
		} `json:"health"`
	}
	for _, tc := range []struct{ in, want string }{
		{"zones:\n- records:\n  - ttl: 5\n  - ttl: -3\n", "zones[0].records[1].ttl (line 4): want uint32, not number -3"},
		{"zones:\n- records: []\n- records:\n  - ttl: 1\n  - ttl: 2\n  - ttl: x\n", "zones[1].records[2].ttl (line 6): want uint32, not string"},
		{"health:\n  interval: -2s\n", `health.interval (line 2): "-2s": bad duration: want a positive one such as "2s"`},
		{`{"zones": [{"records": [{"ttl": -1}]}]}`, "zones[0].records[0].ttl (line 1): want uint32, not number -1"},
		{"zones:\n- records:\n  - ttl: 5\n  - tll: 3\n", `zones[0].records[1].tll (line 4): unknown field "tll"`},
		{"helth:\n  interval: 2s\n", `helth (line 1): unknown field "helth"`},
	} {
		var d doc
		err := Decode([]byte(tc.in), &d)
		if err == nil || err.Error() != tc.want {
			t.Errorf("Decode(%q) = %v,\nwant %s", tc.in, err, tc.want)
		}
	}
}
