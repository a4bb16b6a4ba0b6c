package manifest

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/streamcdn/streamcdn/internal/testutil"
)

// steering is two edges, the steering server asked before the start.
var steering = Steering{Server: "http://127.0.0.60:8070/dcsm/title?session=s1", QueryBeforeStart: true,
	Pathways: []Pathway{{ID: "eu-west", BaseURL: "http://127.0.2.1:8080/title/"}, {ID: "us-east", BaseURL: "http://127.0.1.1:8080/title/"}}}

// TestSteer steers our own live MPD (golden testdata/golden/steered.mpd):
// a BaseURL per pathway in order, a ContentSteering element with the
// first as the default; every segment then resolves to the first
// pathway; and the rest of the MPD still validates against the DASH
// schema. (The schema here, ISO/IEC 23009-1 5th edition Amd. 1, has no
// ContentSteering element yet: it is checked here instead.)
func TestSteer(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "golden", "build-live.mpd"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Steer(in, steering)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "golden", "steered.mpd")
	if *update {
		if err := os.WriteFile(golden, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("steered MPD differs from %s (go test -update):\n%s", golden, out)
	}
	for _, s := range []string{
		`<BaseURL serviceLocation="eu-west">http://127.0.2.1:8080/title/</BaseURL>`,
		`<BaseURL serviceLocation="us-east">http://127.0.1.1:8080/title/</BaseURL>`,
		`<ContentSteering defaultServiceLocation="eu-west" queryBeforeStart="true">http://127.0.0.60:8070/dcsm/title?session=s1</ContentSteering>`,
	} {
		if !strings.Contains(string(out), s) {
			t.Errorf("steered MPD lacks %s", s)
		}
	}
	m, err := Parse(out, "http://127.0.0.60:8070/title/manifest.mpd")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Pathways) != 2 || m.Pathways[1] != steering.Pathways[1] || m.Steering == nil ||
		*m.Steering != (SteeringRef{Server: steering.Server, Default: "eu-west", QueryBeforeStart: true}) {
		t.Errorf("parsed back: pathways %+v, steering %+v", m.Pathways, m.Steering)
	}
	for _, tr := range m.Tracks {
		for _, seg := range tr.Segments {
			if !strings.HasPrefix(seg.URL, "http://127.0.2.1:8080/title/") {
				t.Fatalf("segment %s does not resolve to the first pathway", seg.URL)
			}
		}
	}
	stripped := regexp.MustCompile(`(?s)\s*<ContentSteering.*?</ContentSteering>`).ReplaceAll(out, nil)
	path := filepath.Join(t.TempDir(), "steered.mpd")
	if err := os.WriteFile(path, stripped, 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.ValidateMPD(t, path)
}

// TestSteerRefuses: what cannot be steered, or steered so, is an error.
func TestSteerRefuses(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "golden", "build-live.mpd"))
	if err != nil {
		t.Fatal(err)
	}
	mod := func(f func(*Steering)) Steering {
		s := steering
		s.Pathways = append([]Pathway(nil), steering.Pathways...)
		f(&s)
		return s
	}
	for _, tc := range []struct {
		name string
		mpd  string
		s    Steering
		want string
	}{
		{"no pathway", string(in), mod(func(s *Steering) { s.Pathways = nil }), "no pathway"},
		{"twice", string(in), mod(func(s *Steering) { s.Pathways[1].ID = "eu-west" }), "twice"},
		{"bad id", string(in), mod(func(s *Steering) { s.Pathways[0].ID = "eu west" }), "letters, digits"},
		{"relative base", string(in), mod(func(s *Steering) { s.Pathways[0].BaseURL = "/title/" }), "absolute http(s) URL ending in /"},
		{"no slash", string(in), mod(func(s *Steering) { s.Pathways[0].BaseURL = "http://127.0.2.1:8080/title" }), "ending in /"},
		{"no server", string(in), mod(func(s *Steering) { s.Server = "" }), "server"},
		{"absolute base in the MPD", strings.Replace(string(in), "<Period", "<BaseURL>http://cdn.example/</BaseURL><Period", 1), steering, "not relative"},
		{"not an MPD", "<Foo/>", steering, "MPD"},
		{"not XML", "<MPD", steering, "mpd"},
	} {
		if _, err := Steer([]byte(tc.mpd), tc.s); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}

// TestSteeringManifest writes the DCSM of the spec's shape (golden
// testdata/golden/dcsm.json), reads it back, and refuses bad ones.
func TestSteeringManifest(t *testing.T) {
	m := &SteeringManifest{Version: 1, TTL: 10, ReloadURI: "http://127.0.0.60:8070/dcsm/title?session=s1",
		PathwayPriority: []string{"us-east", "eu-west"}}
	out, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "golden", "dcsm.json")
	if *update {
		if err := os.WriteFile(golden, append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(out)+"\n" != string(want) {
		t.Errorf("DCSM %s, want %s", out, want)
	}
	// The spec's keys, and nothing else.
	var raw map[string]any
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"VERSION", "TTL", "RELOAD-URI", "PATHWAY-PRIORITY"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("DCSM lacks %s", k)
		}
	}
	if len(raw) != 4 {
		t.Errorf("DCSM keys %v, want the spec's four", raw)
	}
	back, err := ParseSteeringManifest(out)
	if err != nil || back.TTL != 10 || strings.Join(back.PathwayPriority, ",") != "us-east,eu-west" {
		t.Errorf("read back: %+v, %v", back, err)
	}
	for _, tc := range []struct{ in, want string }{
		{`{"VERSION":2,"TTL":10,"PATHWAY-PRIORITY":["a"]}`, "VERSION 2"},
		{`{"VERSION":1,"TTL":-1,"PATHWAY-PRIORITY":["a"]}`, "TTL -1"},
		{`{"VERSION":1,"TTL":10,"PATHWAY-PRIORITY":[]}`, "0 pathways"},
		{`{"VERSION":1,"TTL":10}`, "0 pathways"},
		{`{"VERSION":1,"TTL":10,"PATHWAY-PRIORITY":["a","a"]}`, "twice"},
		{`{"VERSION":1,"TTL":10,"PATHWAY-PRIORITY":["a b"]}`, "letters, digits"},
		{`{"VERSION":1,"TTL":10,"PATHWAY-PRIORITY":["a"]} {}`, "more than one"},
		{`[1]`, "cannot unmarshal"},
		{`{"VERSION":1,"TTL":10,"RELOAD-URI":"http://a b%zz","PATHWAY-PRIORITY":["a"]}`, "RELOAD-URI"},
		{strings.Repeat(" ", maxDCSM+1), "at most"},
	} {
		if _, err := ParseSteeringManifest([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.60s: %v, want an error with %q", tc.in, err, tc.want)
		}
	}
	// A field it does not know is ignored, as players ignore it.
	if _, err := ParseSteeringManifest([]byte(`{"VERSION":1,"TTL":10,"PATHWAY-PRIORITY":["a"],"PATHWAY-CLONES":[]}`)); err != nil {
		t.Errorf("with PATHWAY-CLONES: %v", err)
	}
}

// TestParseSteeringQuery reads what players report.
func TestParseSteeringQuery(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  SteeringQuery
		err   string
	}{
		{"", SteeringQuery{}, ""},
		{"session=s1&_DASH_pathway=eu-west&_DASH_throughput=2500000", SteeringQuery{"eu-west", 2500000}, ""},
		{`_DASH_pathway="us-east"`, SteeringQuery{Pathway: "us-east"}, ""},
		{"_DASH_pathway=eu%20west", SteeringQuery{}, "_DASH_pathway"},
		{"_DASH_throughput=-5", SteeringQuery{}, "_DASH_throughput"},
		{"_DASH_throughput=fast", SteeringQuery{}, "_DASH_throughput"},
	} {
		q, _ := url.ParseQuery(tc.query)
		got, err := ParseSteeringQuery(q)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %v, want an error with %q", tc.query, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %+v, %v, want %+v", tc.query, got, err, tc.want)
		}
	}
}

// FuzzParseSteeringManifest: no input panics, and what parses writes
// and reads back the same.
func FuzzParseSteeringManifest(f *testing.F) {
	f.Add([]byte(`{"VERSION":1,"TTL":10,"RELOAD-URI":"http://s/dcsm","PATHWAY-PRIORITY":["us-east","eu-west"]}`))
	f.Add([]byte(`{"VERSION":1,"TTL":0,"PATHWAY-PRIORITY":["a"],"PATHWAY-CLONES":[{"BASE-ID":"a","ID":"b"}]}`))
	f.Add([]byte(`{"VERSION":1e3}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseSteeringManifest(data)
		if err != nil {
			return
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatalf("parsed %q, but it does not write: %v", data, err)
		}
		back, err := ParseSteeringManifest(out)
		if err != nil || back.Version != m.Version || back.TTL != m.TTL || back.ReloadURI != m.ReloadURI ||
			strings.Join(back.PathwayPriority, "\x00") != strings.Join(m.PathwayPriority, "\x00") {
			t.Fatalf("%q: read back %+v (%v), want %+v", out, back, err, m)
		}
	})
}

// FuzzParseSteeringQuery: no query panics, and a pathway it accepts is
// one a pathway may be.
func FuzzParseSteeringQuery(f *testing.F) {
	f.Add("_DASH_pathway=%22far%22&_DASH_throughput=110587500")
	f.Add("_DASH_pathway=eu-west&session=s1")
	f.Add("_DASH_throughput=-1&_DASH_pathway=")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		sq, err := ParseSteeringQuery(q)
		if err != nil {
			return
		}
		if sq.Pathway != "" && CheckPathway(sq.Pathway) != nil || sq.ThroughputBPS < 0 {
			t.Fatalf("%q: accepted %+v", raw, sq)
		}
	})
}
