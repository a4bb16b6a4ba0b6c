package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streamcdn/streamcdn/deploy/examples"
)

func TestExamplesLoad(t *testing.T) {
	for name, data := range map[string][]byte{"three-region": examples.ThreeRegion, "world": examples.World} {
		top, err := Load(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if top.Name != name {
			t.Errorf("%s: name %q", name, top.Name)
		}
	}
	// The files on disk are the embedded ones.
	for _, f := range []string{"three-region.yaml", "world.yaml"} {
		if _, err := LoadFile(filepath.Join("examples", f)); err != nil {
			t.Error(err)
		}
	}
}

// TestBadTopologies has one file per class of mistake; each error names
// the field at fault and the reason.
func TestBadTopologies(t *testing.T) {
	want := map[string]string{
		"unknown-field.yaml":    `unknown field "nodez"`,
		"no-regions.yaml":       "regions: at least one region",
		"bad-name.yaml":         "regions[0].name",
		"repeated-region.yaml":  `regions[1].name: "us-east" repeated`,
		"bad-lat.yaml":          "regions[0].lat: 91",
		"bad-size.yaml":         "regions[0].edge.memory",
		"bad-rate.yaml":         "regions[0].clients.bandwidth",
		"bad-nodes.yaml":        "regions[0].edge.nodes: 0",
		"bad-mode.yaml":         "regions[0].edge.mode",
		"no-edges.yaml":         "no region has an edge cluster",
		"link-unknown.yaml":     `links[0].b: "mars"`,
		"bad-duration.yaml":     "bad duration",
		"origin-region.yaml":    "origin.region",
		"no-titles.yaml":        "origin.titles",
		"video-outside.yaml":    "dns.video",
		"players-title.yaml":    "players[0].title",
		"players-abr.yaml":      "players[0].abr",
		"event-action.yaml":     "events[0].action",
		"event-region.yaml":     "events[0].region",
		"bad-ip.yaml":           "regions[0].edge.public_ipv4",
		"two-documents.yaml":    "yaml",
		"same-zones.yaml":       "dns.cdn",
		"shield-region.yaml":    "shield.region",
		"bad-profile.yaml":      "origin.titles[0].profile",
		"link-self.yaml":        "links[0].b: a link joins two different regions",
		"players-count.yaml":    "players[0].count",
		"repeated-link.yaml":    "links[1]: eu-west-us-east repeated",
		"region-rtt-huge.yaml":  "regions[0].clients.rtt",
		"bad-ttl.yaml":          "dns.ttl",
		"repeated-title.yaml":   `origin.titles[1].name: "sample" repeated`,
		"event-push-title.yaml": "events[0].title",
		"steering-ttl.yaml":     "steering.ttl: 500ms: want at least 1s",
		"steering-ip.yaml":      "steering.public_ipv4",
		"steering-region.yaml":  `steering.region: "mars" is not a region`,
	}
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(want) {
		t.Errorf("%d files in testdata/bad, %d expectations", len(files), len(want))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			w, ok := want[filepath.Base(f)]
			if !ok {
				t.Fatalf("no expectation for %s", f)
			}
			_, err := LoadFile(f)
			if err == nil {
				t.Fatal("loaded without error")
			}
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not say %q", err, w)
			}
		})
	}
}

func TestPath(t *testing.T) {
	top, err := Load(examples.World)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		a, b string
		rtt  time.Duration
		bps  float64
	}{
		{"us-east", "us-east", 0, 0},
		{"us-east", "eu-west", 68 * time.Millisecond, 10e9},
		{"eu-west", "us-east", 68 * time.Millisecond, 10e9}, // links go both ways
		{"ap-south", "sa-east", 300 * time.Millisecond, 500e6},
	} {
		rtt, bps := top.Path(tc.a, tc.b)
		if rtt != tc.rtt || bps != tc.bps {
			t.Errorf("Path(%s, %s) = %v, %v; want %v, %v", tc.a, tc.b, rtt, bps, tc.rtt, tc.bps)
		}
	}
	// Without a link, the RTT comes from the distance: Dublin to Mumbai
	// is about 8,400 km, so about 126 ms.
	top.Links = nil
	rtt, _ := top.Path("eu-west", "ap-south")
	if rtt < 110*time.Millisecond || rtt > 140*time.Millisecond {
		t.Errorf("estimated RTT Dublin-Mumbai = %v", rtt)
	}
}

// FuzzLoad: any bytes give a topology or an error, never a panic, and a
// topology that loads validates.
func FuzzLoad(f *testing.F) {
	f.Add(examples.ThreeRegion)
	f.Add(examples.World)
	files, _ := filepath.Glob("testdata/bad/*.yaml")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add([]byte(`{"name": "x", "regions": [{"name": "a", "edge": {"nodes": 1, "memory": "1MiB"}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		top, err := Load(data)
		if err != nil {
			return
		}
		if err := top.Validate(); err != nil {
			t.Fatalf("loaded, then invalid: %v", err)
		}
		if _, err := NewPlan(top, PlanConfig{Dir: "/nonexistent", EdgePort: 8080,
			Ports: func(string, bool) (int, error) { return 1, nil }}); err != nil {
			t.Fatalf("valid topology, no plan: %v", err)
		}
	})
}
