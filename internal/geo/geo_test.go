package geo

import (
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// TestLocate: the database places the demo's regions and documentation
// prefixes; configured prefixes come first; an unknown client is given
// the widest prefix with no located network in it.
func TestLocate(t *testing.T) {
	db, err := os.ReadFile(filepath.Join("..", "..", "cdndns", "examples", "demo-geo.mmdb"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := New([]Place{{Prefix: netip.MustParsePrefix("127.0.2.128/25"), Lat: 1, Lon: 2, City: "override"}}, db)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr   string
		city   string
		prefix string
	}{
		{"127.0.1.7", "New York", "127.0.1.0/24"},
		{"127.0.2.7", "Paris", "127.0.2.0/25"}, // the database's /24 less the override's /25
		{"127.0.2.200", "override", "127.0.2.128/25"},
		{"127.0.3.1", "Bengaluru", "127.0.3.0/24"},
		{"198.51.100.9", "London", "198.51.100.0/24"},
		{"203.0.113.250", "Singapore", "203.0.113.0/24"},
		{"2001:db8:3::1", "Mumbai", "2001:db8:3::/48"},
		{"192.0.2.1", "", "192.0.0.0/6"},  // unknown: the database's empty node around it
		{"127.0.9.1", "", "127.0.8.0/21"}, // unknown, beside located /24s
		{"10.1.2.3", "", "0.0.0.0/2"},
	}
	for _, tc := range tests {
		g, ok := l.Locate(netip.MustParseAddr(tc.addr))
		if ok != (tc.city != "") || g.City != tc.city {
			t.Errorf("%s: located %v in %q, want %q", tc.addr, ok, g.City, tc.city)
		}
		if g.Prefix.String() != tc.prefix {
			t.Errorf("%s: prefix %s, want %s", tc.addr, g.Prefix, tc.prefix)
		}
	}
}

// TestDistanceKm: known great-circle distances.
func TestDistanceKm(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		lat1, lon1, lat2, lon2 float64
		km                     float64
	}{
		{"same place", 48.85, 2.35, 48.85, 2.35, 0},
		{"Paris-New York", 48.8566, 2.3522, 40.7128, -74.0060, 5837},
		{"antipodes", 0, 0, 0, 180, math.Pi * 6371},
	} {
		if got := DistanceKm(tc.lat1, tc.lon1, tc.lat2, tc.lon2); math.Abs(got-tc.km) > 5 {
			t.Errorf("%s: %.0f km, want %.0f", tc.name, got, tc.km)
		}
	}
}
