package cdndns

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streamcdn/streamcdn/internal/policy"
)

// TestRTTTableBounded: the RTT table holds at most MaxRTTPrefixes
// prefixes, dropping the least recently updated when full, and ages out
// prefixes with nothing fresh as reports come; both are counted.
func TestRTTTableBounded(t *testing.T) {
	s, clock, admin := policyServer(t)
	s.rtt = policy.NewRTTTable(1000)
	for batch := range 10 { // 5,000 client /48s
		var b strings.Builder
		b.WriteString("[")
		for i := range 500 {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"cluster": "eu-west", "client": "2001:db8:%x::1", "rtt_ms": 10}`, batch*500+i)
		}
		b.WriteString("]")
		if code := post(t, admin+"/rtt", "secret", b.String()); code != 200 {
			t.Fatalf("POST /rtt: %d", code)
		}
	}
	if n, _ := s.rtt.Stats(clock.Now()); n != 1000 || dropped(s.rtt, false) != 4000 {
		t.Errorf("after 5,000 prefixes into a table of 1,000: %d held, %d dropped as full", n, dropped(s.rtt, false))
	}
	// The newest are kept: the last prefix reported still steers.
	if _, _, ok := s.rtt.Lookup(netip.MustParseAddr("2001:db8:1387::1"), clock.Now(), 5*time.Minute); !ok {
		t.Error("the newest prefix was dropped")
	}
	clock.Advance(6 * time.Minute) // past rtt_max_age (5m)
	post(t, admin+"/rtt", "secret", `[{"cluster": "eu-west", "client": "127.0.2.9", "rtt_ms": 10}]`)
	if n, _ := s.rtt.Stats(clock.Now()); n != 1 || dropped(s.rtt, true) != 1000 {
		t.Errorf("after the RTT max age: %d held, %d aged out; want 1 and 1000", n, dropped(s.rtt, true))
	}
}

// dropped is the table's count of prefixes aged out (stale) or pushed
// out of a full table.
func dropped(t *policy.RTTTable, stale bool) uint64 {
	s, f := t.Dropped()
	if stale {
		return s
	}
	return f
}

// TestLoadReports: a node's load report counts for a minute, then its
// cluster stops shedding for it; reports that are not finite, negative
// or absurd are refused whole; /explain needs the token and answers
// whole JSON.
func TestLoadReports(t *testing.T) {
	s, clock, admin := policyServer(t)
	eu := s.state().cluster("eu-west")
	if code := post(t, admin+"/load", "secret", `[{"cluster": "eu-west", "node": "eu-west-1", "load": 950}]`); code != 200 {
		t.Fatalf("POST /load: %d", code)
	}
	if eu.load.Shed(clock.Now()) == 0 {
		t.Fatal("eu-west at 95% does not shed")
	}
	clock.Advance(2 * time.Minute) // the node went quiet
	if share := eu.load.Shed(clock.Now()); share != 0 {
		t.Errorf("two minutes after its node's last report eu-west still sheds %.2f", share)
	}
	for _, body := range []string{
		`[{"cluster": "eu-west", "node": "a", "load": 1.7e308}, {"cluster": "eu-west", "node": "b", "load": 1.7e308}]`,
		`[{"cluster": "eu-west", "load": -1}]`,
		`[{"cluster": "eu-west", "load": 1e300}]`,
	} {
		if code := post(t, admin+"/load", "secret", body); code != 400 {
			t.Errorf("POST /load %s: %d, want 400", body, code)
		}
	}
	for _, tc := range []struct {
		token string
		want  int
	}{{"", 401}, {"secret", 200}} {
		req, _ := http.NewRequest("GET", admin+"/explain?name=a1105.kingcdn.com&client=127.0.2.10", nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.want || (tc.want == 200 && !strings.HasPrefix(string(b), `{"name"`)) {
			t.Errorf("GET /explain (token %q): %d %q, want %d", tc.token, res.StatusCode, b, tc.want)
		}
	}
}

// TestDamagedGeoDBRefused: a geo database whose metadata reads but whose
// search tree is damaged is refused on reload, and the old one stays.
func TestDamagedGeoDBRefused(t *testing.T) {
	good := mustRead(t, "examples/demo-geo.mmdb")
	dir := t.TempDir()
	cfg, err := LoadConfigFile("examples/kingcdn.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := s.Decide("a1105.kingcdn.com", netip.MustParseAddr("198.51.100.7"))
	bad := bytes.Clone(good)
	for i := 0; i < 600 && i < len(bad)/2; i++ { // the search tree is at the start; the metadata at the end
		bad[i] ^= 0x5A
	}
	path := filepath.Join(dir, "bad.mmdb")
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	damaged := *cfg
	damaged.GeoDB = path
	if err := s.Reload(damaged); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("reload with a damaged geo database: %v, want it refused", err)
	}
	if after, _ := s.Decide("a1105.kingcdn.com", netip.MustParseAddr("198.51.100.7")); after.Cluster != before.Cluster {
		t.Errorf("after a refused reload London goes to %s, before to %s", after.Cluster, before.Cluster)
	}
}
