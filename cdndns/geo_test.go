package cdndns

import (
	"bytes"
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
