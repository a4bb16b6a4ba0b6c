package cdndns

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/streamcdn/streamcdn/internal/httpx"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// policyServer is the example with a wide eu-west client prefix, a fake
// clock and an admin API on loopback.
func policyServer(t *testing.T) (*Server, *fakeClock, string) {
	t.Helper()
	cfg, err := LoadConfigFile("examples/kingcdn.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Geo = append(cfg.Geo, GeoNet{Prefix: "100.64.0.0/10", Lat: 48.86, Lon: 2.35})
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	cfg.Now, cfg.AdminToken = clock.Now, "secret"
	s, err := New(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Admin())
	t.Cleanup(ts.Close)
	return s, clock, ts.URL
}

func post(t *testing.T, url, token, body string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// TestRTTBeatsGeography: a fresh measured RTT overrides distance; once it
// is stale, geography decides again.
func TestRTTBeatsGeography(t *testing.T) {
	s, clock, admin := policyServer(t)
	client := netip.MustParseAddr("127.0.2.10")
	if d, _ := s.Decide("a1105.kingcdn.com", client); d.Cluster != "eu-west" || d.Reason != "geo" {
		t.Fatalf("before RTT: %+v", d)
	}
	body := `[{"cluster": "us-east", "client": "127.0.2.77", "rtt_ms": 8}, {"cluster": "eu-west", "client": "127.0.2.77", "rtt_ms": 45}]`
	if code := post(t, admin+"/rtt", "secret", body); code != 200 {
		t.Fatalf("POST /rtt: %d", code)
	}
	if d, _ := s.Decide("a1105.kingcdn.com", client); d.Cluster != "us-east" || d.Reason != "rtt" || d.Scope != 24 {
		t.Errorf("with fresh RTT: %+v, want us-east by rtt, scope /24", d)
	}
	clock.Advance(6 * time.Minute)
	if d, _ := s.Decide("a1105.kingcdn.com", client); d.Cluster != "eu-west" || d.Reason != "geo" {
		t.Errorf("with stale RTT: %+v, want eu-west by geo", d)
	}
}

// TestLoadShedding: above the high water mark a growing share of new
// answers moves to the next-best cluster; the share returns to zero only
// below the low water mark.
func TestLoadShedding(t *testing.T) {
	s, _, admin := policyServer(t)
	shedShare := func() float64 {
		moved := 0
		for i := range 400 {
			a := netip.AddrFrom4([4]byte{100, byte(64 + i/256), byte(i % 256), 1})
			if d, _ := s.Decide("a1105.kingcdn.com", a); d.Cluster != "eu-west" {
				if d.Reason != "load" || d.Scope != 24 {
					t.Fatalf("moved answer %+v", d)
				}
				moved++
			}
		}
		return float64(moved) / 400
	}
	setLoad := func(v int) {
		if code := post(t, admin+"/load", "secret", fmt.Sprintf(`[{"cluster": "eu-west", "load": %d}]`, v)); code != 200 {
			t.Fatalf("POST /load: %d", code)
		}
	}
	steps := []struct {
		load     int
		min, max float64
	}{
		{700, 0, 0},     // 70%: below the marks
		{800, 0, 0},     // 80%: between the marks, not yet shedding
		{950, 0.7, 0.9}, // 95%: shedding (0.95-0.75)/0.25 = 80%
		{800, 0.1, 0.3}, // 80%: still shedding (hysteresis), 20%
		{700, 0, 0},     // 70%: below the low mark, back
	}
	for _, st := range steps {
		setLoad(st.load)
		if got := shedShare(); got < st.min || got > st.max {
			t.Errorf("load %d: %.2f of answers moved, want %.2f..%.2f", st.load, got, st.min, st.max)
		}
	}
}

func TestAdminAPI(t *testing.T) {
	s, _, admin := policyServer(t)
	for _, tc := range []struct {
		path, token, body string
		want              int
	}{
		{"/drain?cluster=eu-west&on=true", "", "", 401},
		{"/drain?cluster=eu-west&on=true", "nope", "", 401},
		{"/rtt", "", `[]`, 401},
		{"/rtt", "secret", `[{"cluster": "mars", "client": "127.0.0.1", "rtt_ms": 1}]`, 400},
		{"/rtt", "secret", `[{"cluster": "eu-west", "client": "127.0.0.1", "rtt_ms": 1, "extra": 1}]`, 400},
		{"/load", "secret", `{"not": "a list"}`, 400},
		{"/drain?cluster=eu-west&on=maybe", "secret", "", 400},
		{"/drain?cluster=eu-west&on=true", "secret", "", 200},
	} {
		if got := post(t, admin+tc.path, tc.token, tc.body); got != tc.want {
			t.Errorf("POST %s (token %q): %d, want %d", tc.path, tc.token, got, tc.want)
		}
	}
	// A batch with one bad report is refused whole: its good first
	// report (ap-south at 1 ms for the client) must not steer the answer.
	for _, path := range []string{"/rtt", "/load"} {
		body := `[{"cluster": "ap-south", "client": "127.0.2.10", "rtt_ms": 1}, {"cluster": "mars", "client": "127.0.2.10", "rtt_ms": 1}]`
		if path == "/load" {
			body = `[{"cluster": "us-east", "load": 1e9}, {"cluster": "us-east", "load": -1}]`
		}
		if got := post(t, admin+path, "secret", body); got != 400 {
			t.Errorf("POST %s with a bad second report: %d, want 400", path, got)
		}
	}
	d, _ := s.Decide("a1105.kingcdn.com", netip.MustParseAddr("127.0.2.10"))
	if d.Reason == "rtt" {
		t.Errorf("a refused RTT batch was applied in part: %+v", d)
	}
	us := s.state().cluster("us-east")
	u := us.load.Utilisation(s.opts.Now())
	if u != 0 {
		t.Errorf("a refused load batch was applied in part: us-east at %v", u)
	}
	if d.Cluster == "eu-west" {
		t.Errorf("a drained cluster still answered: %+v", d)
	}
	var e Explanation
	if err := httpx.DoJSON(t.Context(), http.DefaultClient, http.MethodGet, admin+"/explain?name=a1105.kingcdn.com&client=127.0.2.10", "", nil, &e); err == nil {
		t.Error("GET /explain without the token answered")
	}
	err := httpx.DoJSON(t.Context(), http.DefaultClient, http.MethodGet, admin+"/explain?name=a1105.kingcdn.com&client=127.0.2.10", "secret", nil, &e)
	if err != nil || len(e.Clusters) != 3 || e.Decision.Cluster != d.Cluster {
		t.Errorf("explain: %v %+v", err, e)
	}
	for _, c := range e.Clusters {
		if c.Name == "eu-west" && c.Healthy {
			t.Error("explain shows the drained cluster healthy")
		}
		if c.DistanceKm == nil {
			t.Errorf("explain lacks %s's distance", c.Name)
		}
	}
}

// TestAnswersCountedByPolicy: every CDN answer is counted with its
// cluster and deciding policy.
func TestAnswersCountedByPolicy(t *testing.T) {
	s, _, admin := policyServer(t)
	ask(s, "127.0.2.10", query("a1105.kingcdn.com.", dns.TypeA))
	ask(s, "192.0.2.1", query("a1105.kingcdn.com.", dns.TypeA))
	post(t, admin+"/rtt", "secret", `[{"cluster": "ap-south", "client": "127.0.2.10", "rtt_ms": 3}]`)
	ask(s, "127.0.2.10", query("a1105.kingcdn.com.", dns.TypeA))
	for _, tc := range []struct{ cluster, reason string }{{"eu-west", "geo"}, {"us-east", "default"}, {"ap-south", "rtt"}} {
		if got := testutil.ToFloat64(s.metrics.answers.WithLabelValues(tc.cluster, tc.reason)); got != 1 {
			t.Errorf("answers{%s,%s} = %v, want 1", tc.cluster, tc.reason, got)
		}
	}
}
