package steer

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/streamcdn/streamcdn/edge"
	"github.com/streamcdn/streamcdn/internal/geo"
	"github.com/streamcdn/streamcdn/internal/sample"
	"github.com/streamcdn/streamcdn/internal/testutil"
	"github.com/streamcdn/streamcdn/manifest"
	"github.com/streamcdn/streamcdn/origin"
	"github.com/streamcdn/streamcdn/player"
)

const token = "secret"

// world is a real origin with the sample, three real edges (us-east,
// eu-west, ap-south at their cities) of which the first two hold the
// sample, pushed, and a steering service over them for a client placed
// in Paris.
type world struct {
	origin string
	edges  map[string]*testEdge
	s      *Server
	srv    *httptest.Server
	// originMPDs counts the MPD requests the origin answered.
	originMPDs atomic.Int64
}

type testEdge struct {
	pub, adm *httptest.Server
	segments atomic.Int64 // media segments served
}

func newWorld(t *testing.T) *world {
	t.Helper()
	dir := t.TempDir()
	if _, err := origin.Repackage(t.Context(), origin.RepackageConfig{Source: sample.FS(), Output: filepath.Join(dir, "sample"),
		Profile: manifest.ProfileLive}); err != nil {
		t.Fatal(err)
	}
	o, err := origin.New(origin.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{edges: map[string]*testEdge{}}
	ots := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".mpd") {
			w.originMPDs.Add(1)
		}
		o.ServeHTTP(rw, r)
	}))
	t.Cleanup(func() { ots.Close(); o.Close() })
	w.origin = ots.URL
	var edges []Edge
	for _, e := range []struct {
		name, addr string
		lat, lon   float64
		pushed     bool
	}{{"us-east", "127.0.1.1", 39.04, -77.49, true}, {"eu-west", "127.0.2.1", 53.35, -6.26, true}, {"ap-south", "127.0.3.1", 19.08, 72.88, false}} {
		srv, err := edge.New(edge.Config{Upstream: ots.URL, Name: e.name, Mode: edge.ModeHybrid, PinnedDir: t.TempDir(), AdminToken: token})
		if err != nil {
			t.Fatal(err)
		}
		// Each edge has its own address, as deployed edges do: shaka-player
		// bans a failed location by host name.
		te := &testEdge{adm: serveOn(t, e.addr, srv.Admin())}
		te.pub = serveOn(t, e.addr, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, ".m4s") {
				te.segments.Add(1)
			}
			srv.ServeHTTP(rw, r)
		}))
		t.Cleanup(func() { te.pub.Close(); te.adm.Close(); srv.Close() })
		w.edges[e.name] = te
		edges = append(edges, Edge{Name: e.name, URL: te.pub.URL, Admin: te.adm.URL, Lat: e.lat, Lon: e.lon})
		if e.pushed {
			rep, err := origin.Push(t.Context(), origin.PushConfig{MPD: ots.URL + "/sample/manifest.mpd", Edges: []string{te.adm.URL}, Token: token})
			if err != nil || rep.Failed() {
				t.Fatalf("push to %s: %v", e.name, err)
			}
		}
	}
	w.s, err = New(Config{Origin: ots.URL, Edges: edges, Token: token, TTL: 4 * time.Second,
		Geo: []geo.Net{{Prefix: "127.0.0.0/8", Lat: 48.86, Lon: 2.35, Location: "Paris"}}})
	if err != nil {
		t.Fatal(err)
	}
	w.s.Probe(t.Context())
	w.srv = httptest.NewServer(w.s)
	t.Cleanup(w.srv.Close)
	return w
}

var paris = netip.MustParseAddr("127.0.0.1")

// serveOn serves h on a free port of addr.
func serveOn(t *testing.T, addr string, h http.Handler) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatal(err)
	}
	ts := &httptest.Server{Listener: ln, Config: &http.Server{Handler: h}}
	ts.Start()
	return ts
}

// TestDecide: only the edges that hold the title, the nearest healthy
// one first and why; one that dies, or is drained, leaves the rankings
// with health as the reason; a title nobody holds is refused.
func TestDecide(t *testing.T) {
	w := newWorld(t)
	check := func(step string, want []string, reason string) {
		t.Helper()
		d, err := w.s.Decide("sample", paris)
		if err != nil || !slices.Equal(d.Pathways, want) || d.Reason != reason || !slices.Equal(d.Holders, []string{"us-east", "eu-west"}) ||
			d.Location != "Paris" {
			t.Errorf("%s: %+v, %v; want pathways %v by %s, holders us-east and eu-west", step, d, err, want, reason)
		}
	}
	check("both up", []string{"eu-west", "us-east"}, "geo")
	w.edges["eu-west"].adm.Close() // its health check fails
	w.s.Probe(t.Context())
	check("eu-west down", []string{"us-east"}, "health")
	req, _ := http.NewRequest("POST", w.s.cfgAdmin(t)+"/drain?edge=us-east&on=true", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("drain: %s", res.Status)
	}
	if d, err := w.s.Decide("sample", paris); err == nil {
		t.Errorf("every holder down or drained: %+v, want an error", d)
	}
	if _, err := w.s.Decide("other", paris); err == nil {
		t.Error("a title nobody holds: no error")
	}
}

// cfgAdmin serves the admin API for a test and returns its URL.
func (s *Server) cfgAdmin(t *testing.T) string {
	t.Helper()
	a := httptest.NewServer(s.Admin())
	t.Cleanup(a.Close)
	return a.URL
}

// TestSteeredMPDAndDCSM: the MPD the service answers offers the holders
// by their addresses, best first, and points at the service's steering
// manifest, which ranks them again. The service took the MPD from a
// holder, not the origin.
func TestSteeredMPDAndDCSM(t *testing.T) {
	w := newWorld(t)
	asked := w.originMPDs.Load()
	res, err := http.Get(w.srv.URL + "/sample/manifest.mpd")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/dash+xml" {
		t.Fatalf("MPD: %d %s: %s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	m, err := manifest.Parse(body, w.srv.URL+"/sample/manifest.mpd")
	if err != nil {
		t.Fatal(err)
	}
	want := []manifest.Pathway{{ID: "eu-west", BaseURL: w.edges["eu-west"].pub.URL + "/sample/"}, {ID: "us-east", BaseURL: w.edges["us-east"].pub.URL + "/sample/"}}
	if !slices.Equal(m.Pathways, want) || m.Steering == nil || m.Steering.Server != w.srv.URL+"/dcsm/sample" || !m.Steering.QueryBeforeStart {
		t.Errorf("pathways %+v, steering %+v", m.Pathways, m.Steering)
	}
	if n := w.originMPDs.Load() - asked; n != 0 {
		t.Errorf("the origin was asked for the MPD %d times: want it from a holder", n)
	}
	res, err = http.Get(w.srv.URL + "/dcsm/sample?_DASH_pathway=us-east&_DASH_throughput=3000000")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	dm, err := manifest.ParseSteeringManifest(body)
	if err != nil || dm.TTL != 4 || !slices.Equal(dm.PathwayPriority, []string{"eu-west", "us-east"}) {
		t.Errorf("DCSM %s: %+v, %v", body, dm, err)
	}
}

// TestRefusals: bad input gets a clear 4xx or 503 with its reason.
func TestRefusals(t *testing.T) {
	w := newWorld(t)
	for _, tc := range []struct {
		method, path string
		code         int
		reason       string
	}{
		{"GET", "/other/manifest.mpd", 503, "no healthy edge holds the title"},
		{"GET", "/dcsm/other", 503, "no healthy edge holds the title"},
		{"GET", "/dcsm/sample?_DASH_pathway=eu%20west", 400, "_DASH_pathway"},
		{"GET", "/dcsm/sample?_DASH_throughput=lots", 400, "_DASH_throughput"},
		{"GET", "/a/b/manifest.mpd", 400, "one path segment"},
		{"GET", "/sample/1.m4s", 404, "/TITLE/manifest.mpd"},
		{"POST", "/sample/manifest.mpd", 405, "method not allowed"},
		{"GET", "/dcsm/sample", 200, ""},
		{"GET", "/dcsm/sample", 429, "a quarter of the TTL"}, // the same client, at once
	} {
		req, _ := http.NewRequest(tc.method, w.srv.URL+tc.path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.code || !strings.Contains(string(body), tc.reason) {
			t.Errorf("%s %s: %d %q, want %d with %q", tc.method, tc.path, res.StatusCode, body, tc.code, tc.reason)
		}
	}
	// The explain API wants the token.
	res, err := http.Get(w.s.cfgAdmin(t) + "/explain?title=sample&client=127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("explain without the token: %d", res.StatusCode)
	}
	req, _ := http.NewRequest("GET", w.s.cfgAdmin(t)+"/explain?title=sample&client=127.0.0.1", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var d Decision
	err = json.NewDecoder(res.Body).Decode(&d)
	res.Body.Close()
	if err != nil || d.Reason != "geo" || d.Location != "Paris" {
		t.Errorf("explain: %+v, %v", d, err)
	}
}

// TestNewRefuses: a bad configuration is an error.
func TestNewRefuses(t *testing.T) {
	ok := Edge{Name: "a", URL: "http://127.0.0.1:1/", Admin: "http://127.0.0.1:2"}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no origin", Config{Edges: []Edge{ok}}, "origin"},
		{"no edges", Config{Origin: "http://o/"}, "no edges"},
		{"bad name", Config{Origin: "http://o/", Edges: []Edge{{Name: "a b", URL: ok.URL, Admin: ok.Admin}}}, "letters, digits"},
		{"twice", Config{Origin: "http://o/", Edges: []Edge{ok, ok}}, "twice"},
		{"relative URL", Config{Origin: "http://o/", Edges: []Edge{{Name: "a", URL: "/x/", Admin: ok.Admin}}}, "absolute URL"},
		{"bad geo", Config{Origin: "http://o/", Edges: []Edge{ok}, Geo: []geo.Net{{Prefix: "127.0.0.0/33"}}}, "geo[0].prefix"},
		{"no geo db", Config{Origin: "http://o/", Edges: []Edge{ok}, GeoDB: "/nonexistent.mmdb"}, "geo_db"},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestPlayersFollowTheService: our player streams a title steered by
// the service from the nearest holder, and when that edge dies mid-play
// it finishes from the next.
func TestPlayersFollowTheService(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	killed := make(chan struct{})
	go func() {
		for w.edges["eu-west"].segments.Load() < 10 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
		w.edges["eu-west"].pub.CloseClientConnections()
		w.edges["eu-west"].pub.Close()
		close(killed)
	}()
	r, err := player.Play(ctx, player.Config{URL: w.srv.URL + "/sample/manifest.mpd", Speed: 8, Retries: 4})
	if err != nil {
		t.Fatalf("Play: %v", err)
	}
	<-killed
	if r.Ended != "complete" || !slices.Equal(r.Pathways, []string{"eu-west", "us-east"}) || w.edges["us-east"].segments.Load() == 0 {
		t.Errorf("ended %s over %v; segments from us-east %d, want complete, from eu-west then us-east", r.Ended, r.Pathways,
			w.edges["us-east"].segments.Load())
	}
	if w.edges["ap-south"].segments.Load() != 0 {
		t.Error("segments from ap-south, which does not hold the title")
	}
}

// TestRealPlayersFollowTheService: dash.js and shaka-player, in headless
// Chromium, stream the title the service steers from the nearest holder
// only, asking the service for its steering manifest as they play.
func TestRealPlayersFollowTheService(t *testing.T) {
	for _, p := range []string{"dashjs", "shaka"} {
		t.Run(p, func(t *testing.T) {
			w := newWorld(t)
			v := testutil.DashCheck(t, w.srv.URL+"/sample/manifest.mpd", p)
			if !v.OK || v.Stalls.Count != 0 {
				t.Errorf("ok %v, %d stalls: %v", v.OK, v.Stalls.Count, v.FailReasons)
			}
			eu, us := w.edges["eu-west"].segments.Load(), w.edges["us-east"].segments.Load()
			dcsm := promtest.ToFloat64(w.s.metrics.answers.WithLabelValues("dcsm", "eu-west", "geo"))
			if eu == 0 || us != 0 || dcsm == 0 {
				t.Errorf("segments from eu-west %d, us-east %d; %v steering manifests: want eu-west only, and the manifest asked for", eu, us, dcsm)
			}
		})
	}
}

// TestKeptCurrent: Run reads the edges again every Probe, so that an
// edge whose health check starts failing leaves the rankings; and a
// request for a title no healthy edge seems to hold reads them again at
// once (a push may have just ended) rather than refusing it.
func TestKeptCurrent(t *testing.T) {
	w := newWorld(t)
	w.s.mu.Lock()
	for _, st := range w.s.state {
		st.holds = map[string]bool{} // as before the pushes were seen
	}
	w.s.mu.Unlock()
	res, err := http.Get(w.srv.URL + "/sample/manifest.mpd")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("MPD of a title the service had not yet seen pushed: %s, want 200 after it reads the edges", res.Status)
	}
	w.s.cfg.Probe = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { w.s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	w.edges["eu-west"].adm.Close()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if d, err := w.s.Decide("sample", paris); err == nil && slices.Equal(d.Pathways, []string{"us-east"}) {
			return
		}
	}
	d, err := w.s.Decide("sample", paris)
	t.Errorf("5 s after eu-west's health check began failing: %+v, %v; want us-east only", d, err)
}

// TestRealPlayersSurviveEdgeDeath: dash.js and shaka-player, steered to
// eu-west, keep playing when eu-west dies mid-play: from the next
// pathway the MPD offered (their own failover) or the one the service's
// next steering manifest puts first (its probes take eu-west out), with
// any stall shorter than the buffer they had.
func TestRealPlayersSurviveEdgeDeath(t *testing.T) {
	for _, p := range []string{"dashjs", "shaka"} {
		t.Run(p, func(t *testing.T) {
			w := newWorld(t)
			w.s.cfg.Probe = 250 * time.Millisecond
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan struct{})
			go func() { w.s.Run(ctx); close(done) }()
			defer func() { cancel(); <-done }()
			eu, us := w.edges["eu-west"], w.edges["us-east"]
			var atDeath atomic.Int64
			go func() {
				for eu.segments.Load() < 8 {
					select {
					case <-ctx.Done():
						return
					case <-time.After(20 * time.Millisecond):
					}
				}
				atDeath.Store(us.segments.Load() + 1)
				eu.pub.CloseClientConnections()
				eu.pub.Close()
				eu.adm.Close()
			}()
			v := testutil.DashCheckWith(t, w.srv.URL+"/sample/manifest.mpd", p, testutil.DashCheckOptions{Seconds: 20, Lenient: true})
			t.Logf("%s: ok %v, %d stalls (%.2f s), %.1f s played; segments from eu-west %d, from us-east %d (%d before eu-west died)",
				p, v.OK, v.Stalls.Count, v.Stalls.TotalSeconds, v.SecondsPlayed, eu.segments.Load(), us.segments.Load(), max(0, atDeath.Load()-1))
			if atDeath.Load() == 0 {
				t.Fatalf("eu-west served %d segments: never killed", eu.segments.Load())
			}
			if !v.OK || v.Stalls.TotalSeconds > 4 {
				t.Errorf("ok %v, stalled %.2f s: %v; want playback on, no stall longer than the buffer", v.OK, v.Stalls.TotalSeconds, v.FailReasons)
			}
			if us.segments.Load() < atDeath.Load() {
				t.Error("no segment from us-east after eu-west died")
			}
		})
	}
}

// TestDecideByMeasurement: the edges' reports (POST /rtt and /load, as
// the DNS takes them) steer the ranking among the holders the way they
// steer the DNS's answers: a fresh measured RTT ahead of distance, a
// loaded first edge shedding its clients, health ahead of both. Bad or
// unauthenticated reports are refused whole.
func TestDecideByMeasurement(t *testing.T) {
	edges := []Edge{
		{Name: "us-east", URL: "http://127.0.1.1/", Admin: "http://127.0.1.1:9", Lat: 39.04, Lon: -77.49, Capacity: 1000},
		{Name: "eu-west", URL: "http://127.0.2.1/", Admin: "http://127.0.2.1:9", Lat: 53.35, Lon: -6.26, Capacity: 1000},
		{Name: "ap-south", URL: "http://127.0.3.1/", Admin: "http://127.0.3.1:9", Lat: 19.08, Lon: 72.88},
	}
	for _, tc := range []struct {
		name    string
		reports map[string]string // path: body
		down    string
		want    []string
		reason  string
	}{
		{"nothing measured", nil, "", []string{"eu-west", "us-east"}, "geo"},
		{"us-east measured faster", map[string]string{"/rtt": `[{"cluster": "us-east", "client": "127.0.0.9", "rtt_ms": 5},
			{"cluster": "eu-west", "client": "127.0.0.9", "rtt_ms": 40}]`}, "", []string{"us-east", "eu-west"}, "rtt"},
		{"only a non-holder measured", map[string]string{"/rtt": `[{"cluster": "ap-south", "client": "127.0.0.9", "rtt_ms": 1}]`},
			"", []string{"eu-west", "us-east"}, "geo"},
		{"another network measured", map[string]string{"/rtt": `[{"cluster": "us-east", "client": "127.0.9.9", "rtt_ms": 1}]`},
			"", []string{"eu-west", "us-east"}, "geo"},
		{"eu-west full", map[string]string{"/load": `[{"cluster": "eu-west", "node": "eu-west-1", "load": 1000}]`},
			"", []string{"us-east", "eu-west"}, "load"},
		{"eu-west busy, under the mark", map[string]string{"/load": `[{"cluster": "eu-west", "load": 700}]`},
			"", []string{"eu-west", "us-east"}, "geo"},
		{"eu-west measured faster but down", map[string]string{"/rtt": `[{"cluster": "eu-west", "client": "127.0.0.9", "rtt_ms": 1},
			{"cluster": "us-east", "client": "127.0.0.9", "rtt_ms": 50}]`}, "eu-west", []string{"us-east"}, "health"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(Config{Origin: "http://127.0.0.1:1/", Edges: slices.Clone(edges), Token: token,
				Geo: []geo.Net{{Prefix: "127.0.0.0/8", Lat: 48.86, Lon: 2.35, Location: "Paris"}}})
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"us-east", "eu-west"} {
				s.state[name].holds["sample"], s.state[name].healthy = true, name != tc.down
			}
			admin := s.cfgAdmin(t)
			for path, body := range tc.reports {
				if code := postJSON(t, admin+path, token, body); code != http.StatusOK {
					t.Fatalf("POST %s: %d", path, code)
				}
			}
			d, err := s.Decide("sample", paris)
			if err != nil || !slices.Equal(d.Pathways, tc.want) || d.Reason != tc.reason {
				t.Errorf("%+v, %v; want %v by %s", d, err, tc.want, tc.reason)
			}
			// Explain gives what the decision weighed: the holders' RTTs
			// measured for the client's network, their utilisation.
			e, err := s.Explain("sample", paris)
			if err != nil || !slices.Equal(e.Pathways, tc.want) || d.RTTMs != nil || d.Utilisation != nil {
				t.Errorf("explain %+v, %v; decide %+v", e, err, d)
			}
			_, rtt := tc.reports["/rtt"]
			if measured := tc.name != "another network measured"; rtt && measured != (len(e.RTTMs) > 0) {
				t.Errorf("explain's RTTs %v after %s", e.RTTMs, tc.reports["/rtt"])
			}
			if _, load := tc.reports["/load"]; load != (e.Utilisation["eu-west"] > 0) {
				t.Errorf("explain's utilisation %v after %s", e.Utilisation, tc.reports["/load"])
			}
		})
	}
	s, err := New(Config{Origin: "http://127.0.0.1:1/", Edges: slices.Clone(edges), Token: token})
	if err != nil {
		t.Fatal(err)
	}
	admin := s.cfgAdmin(t)
	for _, tc := range []struct {
		path, token, body string
		want              int
	}{
		{"/rtt", "", `[]`, http.StatusUnauthorized},
		{"/load", "nope", `[]`, http.StatusUnauthorized},
		{"/rtt", token, `[{"cluster": "mars", "client": "127.0.0.1", "rtt_ms": 1}]`, http.StatusBadRequest},
		{"/rtt", token, `[{"cluster": "us-east", "client": "127.0.0.1", "rtt_ms": 1}, {"cluster": "us-east", "client": "x", "rtt_ms": 1}]`, http.StatusBadRequest},
		{"/rtt", token, `[{"cluster": "us-east", "client": "127.0.0.1", "rtt_ms": 0}]`, http.StatusBadRequest},
		{"/load", token, `[{"cluster": "us-east", "load": 1000}, {"cluster": "us-east", "load": -1}]`, http.StatusBadRequest},
		{"/load", token, `{"cluster": "us-east"}`, http.StatusBadRequest},
		{"/load", token, `[{"cluster": "us-east", "load": 1, "extra": 1}]`, http.StatusBadRequest},
	} {
		if got := postJSON(t, admin+tc.path, tc.token, tc.body); got != tc.want {
			t.Errorf("POST %s %s (token %q): %d, want %d", tc.path, tc.body, tc.token, got, tc.want)
		}
	}
	if u := s.state["us-east"].load.Utilisation(time.Now()); u != 0 {
		t.Errorf("a refused load batch was applied in part: us-east at %v", u)
	}
	if _, _, ok := s.rtt.Lookup(netip.MustParseAddr("127.0.0.1"), time.Now(), time.Minute); ok {
		t.Error("a refused RTT batch was applied in part")
	}
}

// postJSON posts body to url with the bearer token (if any) and returns
// the status code.
func postJSON(t *testing.T, url, token, body string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}
