package cdndns

import (
	"bytes"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

// TestGeoDBGolden: the shipped demo database is what WriteGeoDB builds
// from testdata/geo.csv; rebuild it with
// streamcdn dns geodb --csv cdndns/testdata/geo.csv --out cdndns/examples/demo-geo.mmdb --build-time T.
func TestGeoDBGolden(t *testing.T) {
	shipped := mustRead(t, "examples/demo-geo.mmdb")
	built, err := GeoDBBuildTime(shipped)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("testdata/geo.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if err := WriteGeoDB(f, &buf, built); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), shipped) {
		t.Errorf("examples/demo-geo.mmdb is not what testdata/geo.csv builds; rebuild it")
	}
}

// TestLocate: the database places the demo's regions and documentation
// prefixes; configured prefixes come first; an unknown client is given
// the widest prefix with no located network in it.
func TestLocate(t *testing.T) {
	l, err := newLocator([]GeoNet{{Prefix: "127.0.2.128/25", Lat: 1, Lon: 2, Location: "override"}}, mustRead(t, "examples/demo-geo.mmdb"))
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
		g, ok := l.locate(netip.MustParseAddr(tc.addr))
		if ok != (tc.city != "") || g.city != tc.city {
			t.Errorf("%s: located %v in %q, want %q", tc.addr, ok, g.city, tc.city)
		}
		if g.prefix.String() != tc.prefix {
			t.Errorf("%s: prefix %s, want %s", tc.addr, g.prefix, tc.prefix)
		}
	}
}

// TestWriteGeoDBMistakes: each bad row is an error naming its line.
func TestWriteGeoDBMistakes(t *testing.T) {
	tests := []struct{ name, csv, want string }{
		{"empty", "network,city,country,latitude,longitude\n", "no networks"},
		{"bad network", "127.0.0.0/33,X,XX,1,2\n", "line 1: network"},
		{"bad latitude", "127.0.0.0/8,X,XX,north,2\n", "line 1: latitude"},
		{"latitude out of range", "# c\n127.0.0.0/8,X,XX,91,2\n", "line 2: lat"},
		{"missing field", "127.0.0.0/8,X,XX,1\n", "wrong number of fields"},
	}
	for _, tc := range tests {
		var buf bytes.Buffer
		err := WriteGeoDB(strings.NewReader(tc.csv), &buf, time.Unix(0, 0))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
