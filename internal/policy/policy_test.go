package policy

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/streamcdn/streamcdn/internal/geo"
)

// The example's three sites, at their cities.
func sites(downs ...string) []Site {
	s := []Site{
		{Name: "us-east", Lat: 39.04, Lon: -77.49},
		{Name: "eu-west", Lat: 53.35, Lon: -6.26},
		{Name: "ap-south", Lat: 19.08, Lon: 72.88},
	}
	for i := range s {
		up := !slices.Contains(downs, s[i].Name)
		s[i].Healthy = func() bool { return up }
	}
	return s
}

// at places every client at a point, on its /24.
type at struct{ lat, lon float64 }

func (p at) Locate(a netip.Addr) (geo.Place, bool) {
	pre, _ := a.Prefix(24)
	return geo.Place{Prefix: pre, Lat: p.lat, Lon: p.lon, City: "x"}, true
}

// located counts its calls, and places nobody.
type located struct{ n *int }

func (l located) Locate(netip.Addr) (geo.Place, bool) { *l.n++; return geo.Place{}, false }

var client = netip.MustParseAddr("198.51.100.7")

// TestChoose: each policy, and why it decided.
func TestChoose(t *testing.T) {
	paris := at{48.86, 2.35}
	for _, tc := range []struct {
		name    string
		sites   []Site
		client  Client
		site    string
		reason  string
		ranking string
		ranked  []string
		scope   uint8
	}{
		{"nearest", sites(), Client{Addr: client, Locator: paris}, "eu-west", "geo", "geo", []string{"eu-west", "us-east", "ap-south"}, 24},
		{"nearest down: health decides", sites("eu-west"), Client{Addr: client, Locator: paris}, "us-east", "health", "geo", []string{"us-east", "ap-south"}, 24},
		{"a far one down: still geo", sites("ap-south"), Client{Addr: client, Locator: paris}, "eu-west", "geo", "geo", []string{"eu-west", "us-east"}, 24},
		{"measured RTT beats distance", sites(), Client{Addr: client, Locator: paris, RTTPrefix: netip.MustParsePrefix("198.51.100.0/24"),
			RTTs: map[string]time.Duration{"us-east": 80 * time.Millisecond, "eu-west": 95 * time.Millisecond}},
			"us-east", "rtt", "rtt", []string{"us-east", "eu-west", "ap-south"}, 24},
		{"RTT of a site down: health", sites("us-east"), Client{Addr: client, Locator: paris, RTTPrefix: netip.MustParsePrefix("198.51.100.0/24"),
			RTTs: map[string]time.Duration{"us-east": 80 * time.Millisecond, "eu-west": 95 * time.Millisecond}},
			"eu-west", "health", "rtt", []string{"eu-west", "ap-south"}, 24},
		{"not located: the first healthy", sites("us-east"), Client{Addr: client}, "eu-west", "default", "default", []string{"eu-west", "ap-south"}, 0},
		{"all down: the best anyway", sites("us-east", "eu-west", "ap-south"), Client{Addr: client, Locator: paris},
			"eu-west", "all-down", "geo", []string{"eu-west", "us-east", "ap-south"}, 24},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Choose(tc.sites, tc.client)
			if got := tc.sites[d.Site].Name; got != tc.site || d.Reason != tc.reason || d.Ranking != tc.ranking ||
				!slices.Equal(d.Ranked, tc.ranked) || d.Scope != tc.scope {
				t.Errorf("%s by %s (ranking %s, %v, scope %d), want %s by %s (%s, %v, scope %d)", got, d.Reason, d.Ranking, d.Ranked,
					d.Scope, tc.site, tc.reason, tc.ranking, tc.ranked, tc.scope)
			}
		})
	}
}

// TestShed: a loaded best site passes its share of client networks to
// the next best, the same networks every time; a site that sheds nothing
// keeps them all; the Locate of a client an RTT decides is not called.
func TestShed(t *testing.T) {
	s := sites()
	s[1].Shed = func() float64 { return 0.5 }
	moved := 0
	for i := range 200 {
		a := netip.AddrFrom4([4]byte{198, 51, byte(i), 7})
		d := Choose(s, Client{Addr: a, Locator: at{48.86, 2.35}})
		again := Choose(s, Client{Addr: a.Next(), Locator: at{48.86, 2.35}}) // the same /24
		if d.Site != again.Site {
			t.Fatalf("%s and %s, one /24, decided apart", a, a.Next())
		}
		if d.Reason == "load" {
			moved++
			if s[d.Site].Name != "us-east" {
				t.Errorf("shed to %s, want the next best, us-east", s[d.Site].Name)
			}
		}
	}
	if moved < 70 || moved > 130 {
		t.Errorf("%d of 200 networks shed at a share of 0.5", moved)
	}
	s[1].Shed = func() float64 { return 0 }
	calls := 0
	d := Choose(s, Client{Addr: client, RTTs: map[string]time.Duration{"eu-west": time.Millisecond}, Locator: located{&calls}})
	if d.Reason != "rtt" || calls != 0 {
		t.Errorf("with a fresh RTT: %+v, located %d times", d, calls)
	}
}
