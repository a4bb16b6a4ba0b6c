package player

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/streamcdn/streamcdn/internal/sample"
	"github.com/streamcdn/streamcdn/manifest"
	"github.com/streamcdn/streamcdn/origin"
)

// titleServer serves the sample, packaged in a profile, from a real
// origin on 127.0.0.1; override replaces the response for a path.
type titleServer struct {
	*httptest.Server
	dir      string
	mu       sync.Mutex
	override map[string]http.HandlerFunc
	requests []*http.Request
}

// sampleOrigin is a real origin serving the sample, packaged in prof,
// at /title/, and the directory of its titles; it closes with the test.
func sampleOrigin(t *testing.T, prof manifest.Profile) (*origin.Server, string) {
	t.Helper()
	dir := t.TempDir()
	if _, err := origin.Repackage(context.Background(), origin.RepackageConfig{
		Source: sample.FS(), Output: filepath.Join(dir, "title"), Profile: prof,
	}); err != nil {
		t.Fatal(err)
	}
	o, err := origin.New(origin.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o, dir
}

func newTitleServer(t *testing.T, prof manifest.Profile, h2 bool) *titleServer {
	t.Helper()
	o, dir := sampleOrigin(t, prof)
	ts := &titleServer{dir: dir, override: map[string]http.HandlerFunc{}}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.mu.Lock()
		ts.requests = append(ts.requests, r)
		h := ts.override[r.URL.Path]
		ts.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		o.ServeHTTP(w, r)
	}))
	if h2 {
		p := new(http.Protocols)
		p.SetHTTP1(true)
		p.SetUnencryptedHTTP2(true)
		srv.Config.Protocols = p
	}
	srv.Start()
	ts.Server = srv
	t.Cleanup(srv.Close)
	return ts
}

func (ts *titleServer) mpd() string { return ts.URL + "/title/manifest.mpd" }

func (ts *titleServer) set(path string, h http.HandlerFunc) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.override[path] = h
}

// segmentListMPD writes beside the live title an MPD that addresses the
// same segments with SegmentList.
func (ts *titleServer) segmentListMPD(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:full:2011" type="static" mediaPresentationDuration="PT30S" minBufferTime="PT4S">
<Period><AdaptationSet contentType="video" mimeType="video/mp4">
`)
	for _, rep := range []struct {
		id string
		bw int
	}{{"180p", 150000}, {"270p", 300000}, {"360p", 600000}} {
		fmt.Fprintf(&b, `<Representation id="%s" bandwidth="%d" codecs="avc1.64001E"><SegmentList timescale="15360" duration="30720" presentationTimeOffset="1024"><Initialization sourceURL="%[1]s/init.mp4"/>`, rep.id, rep.bw)
		for i := 1; i <= 15; i++ {
			fmt.Fprintf(&b, `<SegmentURL media="%s/%d.m4s"/>`, rep.id, i)
		}
		b.WriteString("</SegmentList></Representation>\n")
	}
	b.WriteString("</AdaptationSet></Period></MPD>\n")
	if err := os.WriteFile(filepath.Join(ts.dir, "title", "list.mpd"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return ts.URL + "/title/list.mpd"
}

func TestPlayAddressing(t *testing.T) {
	for _, tc := range []struct {
		name string
		prof manifest.Profile
		list bool
		h2   bool
	}{
		{"template-timeline", manifest.ProfileLive, false, false},
		{"template-timeline-h2c", manifest.ProfileLive, false, true},
		{"segmentbase-sidx", manifest.ProfileOnDemand, false, false},
		{"segmentbase-sidx-h2c", manifest.ProfileOnDemand, false, true},
		{"segmentlist", manifest.ProfileLive, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTitleServer(t, tc.prof, tc.h2)
			u := ts.mpd()
			if tc.list {
				u = ts.segmentListMPD(t)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			r, err := Play(ctx, Config{URL: u, ABR: "bolae", Speed: 20, MaxBuffer: 10 * time.Second,
				Client: NewClient(ClientConfig{HTTP2: tc.h2})})
			if err != nil {
				t.Fatalf("Play: %v (events %+v)", err, r.Errors)
			}
			if r.Ended != "complete" || r.Segments != 15 || len(r.Errors) != 0 {
				t.Errorf("ended %s after %d segments, errors %+v", r.Ended, r.Segments, r.Errors)
			}
			wantProto := "HTTP/1.1"
			if tc.h2 {
				wantProto = "HTTP/2.0"
			}
			if r.Protocol != wantProto {
				t.Errorf("protocol %s, want %s", r.Protocol, wantProto)
			}
			if last := r.Log[len(r.Log)-1]; last.Representation != "360p" {
				t.Errorf("on loopback the last segment is %s, want 360p", last.Representation)
			}
			// Stalls on the wall clock are the machine's (a busy one
			// starves the client at speed 20): TestPlayAddressingVirtual
			// asserts none.
			if r.StartupS <= 0 {
				t.Errorf("startup %v s", r.StartupS)
			}
			t.Logf("%s: rebuffer %.2f s, %d bytes, avg bitrate %.0f kbit/s, startup %.3f s, switches %d", r.Protocol, r.RebufferS, r.Bytes, r.AvgBitrateKbps, r.StartupS, r.Switches)
		})
	}
}

// TestPlayFollowsTrace streams the sample over a real socket through a
// trace that steps down and back up, on the wall clock: no segment
// measures more than the trace allows (a busy machine can only slow a
// segment down, by starving the client, not speed it up), and the
// representation follows the trace down and back up. The exact
// throughputs are TestPlayFollowsTraceVirtual's, on virtual time.
func TestPlayFollowsTrace(t *testing.T) {
	if testing.Short() {
		t.Skip("wall-clock shaping over a socket")
	}
	ts := newTitleServer(t, manifest.ProfileLive, false)
	trace := Trace{
		{DurationMs: 6000, BandwidthKbps: 2000, LatencyMs: 20},
		{DurationMs: 14000, BandwidthKbps: 220, LatencyMs: 20},
		{DurationMs: 30000, BandwidthKbps: 2000, LatencyMs: 20},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const speed = 4
	r, err := Play(ctx, Config{URL: ts.mpd(), ABR: "throughput", Trace: trace, Speed: speed, MaxBuffer: 6 * time.Second})
	if err != nil {
		t.Fatalf("Play: %v", err)
	}
	l := newLink(trace)
	devs := map[int][]float64{} // by period
	var reps []string
	for _, row := range r.Log {
		if row.Result != "ok" {
			continue
		}
		reps = append(reps, row.Representation)
		start := row.AtMs + row.TTFBMs
		end := start + row.DownloadMs
		i, left := l.at(start + 1)
		if row.DownloadMs < 200 || end > start+1+left-50 {
			continue // too short to measure, or across a period boundary
		}
		bw := trace[i].BandwidthKbps
		dev := (row.ThroughputKbps - bw) / bw
		t.Logf("segment %d (%s) at %.0f ms: measured %.0f kbit/s, trace %.0f kbit/s (%+.0f%%)", row.Index, row.Representation, start, row.ThroughputKbps, bw, 100*dev)
		if dev > 0.15 {
			t.Errorf("segment %d measured %.0f kbit/s, faster than the trace's %.0f kbit/s", row.Index, row.ThroughputKbps, bw)
		}
		devs[i] = append(devs[i], dev)
	}
	t.Logf("representations: %v", reps)
	for i := range trace {
		if len(devs[i]) < 2 {
			t.Errorf("period %d: %d segments inside it, want >= 2", i, len(devs[i]))
		}
	}
	if !followsDownAndUp(reps) {
		t.Errorf("representations %v do not go up to 360p, down to 180p and back to 360p", reps)
	}
}

// TestPlayBrokenInput: each kind of bad input is an error event; the
// session recovers (one quality lower) when another representation is
// whole, and ends with an error when none is — never a panic.
func TestPlayBrokenInput(t *testing.T) {
	status := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", code) }
	}
	bytesOf := func(b []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { w.Write(b) }
	}
	// cut promises the whole segment and sends half of it.
	cut := func(ts *titleServer, name string) http.HandlerFunc {
		full, err := os.ReadFile(filepath.Join(ts.dir, "title", name))
		if err != nil {
			t.Fatal(err)
		}
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(len(full)))
			w.Write(full[:len(full)/2])
		}
	}
	file := func(ts *titleServer, name string) []byte {
		b, err := os.ReadFile(filepath.Join(ts.dir, "title", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name   string
		break_ func(ts *titleServer)
		kind   string // the first event's kind
		ended  string
	}{
		{"mpd-404", func(ts *titleServer) { ts.set("/title/manifest.mpd", status(404)) }, "http", "error"},
		{"mpd-malformed", func(ts *titleServer) {
			ts.set("/title/manifest.mpd", bytesOf([]byte(`<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static"><Period><AdaptationSet><Representation id="a" bandwidth="1"><SegmentTemplate media="$Nope$" timescale="0"/>`)))
		}, "mpd", "error"},
		{"mpd-not-xml", func(ts *titleServer) { ts.set("/title/manifest.mpd", bytesOf([]byte("#EXTM3U\n"))) }, "mpd", "error"},
		{"segment-404-one-rep", func(ts *titleServer) {
			for _, rep := range []string{"270p", "360p"} {
				ts.set("/title/"+rep+"/5.m4s", status(404))
			}
		}, "http", "complete"},
		{"segment-truncated-one-rep", func(ts *titleServer) {
			for _, rep := range []string{"270p", "360p"} {
				ts.set("/title/"+rep+"/5.m4s", cut(ts, rep+"/5.m4s"))
			}
		}, "truncated", "complete"},
		{"segment-corrupt-one-rep", func(ts *titleServer) {
			for _, rep := range []string{"270p", "360p"} {
				b := file(ts, rep+"/5.m4s")
				for i := range b[:64] {
					b[i] = 0xff
				}
				ts.set("/title/"+rep+"/5.m4s", bytesOf(b))
			}
		}, "fmp4", "complete"},
		{"segment-short-mdat-every-rep", func(ts *titleServer) {
			for _, rep := range []string{"180p", "270p", "360p"} {
				b := file(ts, rep+"/5.m4s")
				ts.set("/title/"+rep+"/5.m4s", bytesOf(b[:len(b)-100]))
			}
		}, "fmp4", "error"},
		{"segment-discontinuous-every-rep", func(ts *titleServer) {
			for _, rep := range []string{"180p", "270p", "360p"} {
				ts.set("/title/"+rep+"/5.m4s", bytesOf(file(ts, rep+"/6.m4s")))
			}
		}, "discontinuity", "error"},
		{"audio-404", func(ts *titleServer) { ts.set("/title/audio/3.m4s", status(404)) }, "http", "error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTitleServer(t, manifest.ProfileLive, false)
			tc.break_(ts)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			r, err := Play(ctx, Config{URL: ts.mpd(), ABR: "bola", Speed: 20, MaxBuffer: 10 * time.Second})
			if r == nil {
				t.Fatal("no report")
			}
			if (err != nil) != (tc.ended == "error") || r.Ended != tc.ended {
				t.Fatalf("ended %q with %v, want %q", r.Ended, err, tc.ended)
			}
			if len(r.Errors) == 0 || r.Errors[0].Kind != tc.kind {
				t.Fatalf("events %+v, want the first of kind %s", r.Errors, tc.kind)
			}
			last := r.Errors[len(r.Errors)-1]
			if tc.ended == "error" && last.Action != "end" || tc.ended != "error" && last.Action != "retry" {
				t.Errorf("last event %+v: wrong action for a session that ended %s", last, tc.ended)
			}
			if tc.ended == "complete" && r.Segments != 15 {
				t.Errorf("recovered session played %d segments, want 15", r.Segments)
			}
			t.Logf("ended %s after %d segments; %d events, last: %s %s: %s", r.Ended, r.Segments, len(r.Errors), last.Kind, last.Action, last.Error)
		})
	}
}

func TestPlayCMCD(t *testing.T) {
	for _, mode := range []CMCD{CMCDQuery, CMCDHeaders} {
		t.Run(string(mode), func(t *testing.T) {
			ts := newTitleServer(t, manifest.ProfileLive, false)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if _, err := Play(ctx, Config{URL: ts.mpd(), Speed: 20, MaxBuffer: 10 * time.Second, CMCD: mode, SessionID: "s-1"}); err != nil {
				t.Fatal(err)
			}
			ts.mu.Lock()
			defer ts.mu.Unlock()
			seen := map[string]string{} // ot -> the last request's data
			for _, r := range ts.requests {
				var v string
				if mode == CMCDQuery {
					v = r.URL.Query().Get("CMCD")
				} else {
					v = strings.Join([]string{r.Header.Get("Cmcd-Object"), r.Header.Get("Cmcd-Request"), r.Header.Get("Cmcd-Session")}, ",")
				}
				keys := map[string]string{}
				for _, kv := range strings.Split(v, ",") {
					k, val, _ := strings.Cut(kv, "=")
					if k != "" {
						keys[k] = val
					}
				}
				if keys["sid"] != `"s-1"` {
					t.Fatalf("%s: CMCD %q has no sid", r.URL.Path, v)
				}
				seen[keys["ot"]] = v
				if strings.HasSuffix(r.URL.Path, "/2.m4s") && strings.Contains(r.URL.Path, "p/") {
					for _, k := range []string{"br", "bl", "d", "mtp", "nor", "ot"} {
						if _, ok := keys[k]; !ok {
							t.Errorf("%s: CMCD %q lacks %s", r.URL.Path, v, k)
						}
					}
					if keys["nor"] != `"3.m4s"` || keys["d"] != "2000" {
						t.Errorf("%s: nor %s d %s, want \"3.m4s\" and 2000", r.URL.Path, keys["nor"], keys["d"])
					}
				}
			}
			for _, ot := range []string{"m", "i", "v", "a"} {
				if seen[ot] == "" {
					t.Errorf("no request with ot=%s", ot)
				}
			}
		})
	}
}

func TestCMCDEncoding(t *testing.T) {
	for _, tc := range []struct {
		d    cmcdData
		want string
	}{
		{cmcdData{ot: "m", sid: "a"}, `ot=m,sid="a"`},
		{cmcdData{brKbps: 600, blMs: 5449, inBuffer: true, dMs: 2000, mtpKbps: 1949, nor: "3.m4s", ot: "v", sid: "x", startup: true},
			`bl=5400,br=600,d=2000,mtp=1900,nor="3.m4s",ot=v,sid="x",su`},
	} {
		req := httptest.NewRequest("GET", "http://h/t/2.m4s", nil)
		tc.d.apply(req, CMCDQuery)
		if got := req.URL.Query().Get("CMCD"); got != tc.want {
			t.Errorf("got %s, want %s", got, tc.want)
		}
	}
	for _, tc := range []struct{ cur, next, want string }{
		{"http://h/t/360p/1.m4s", "http://h/t/360p/2.m4s", "2.m4s"},
		{"http://h/t/360p/1.m4s", "http://h/t/270p/2.m4s", "../270p/2.m4s"},
		{"http://h/a/1.m4s", "http://other/a/2.m4s", "http://other/a/2.m4s"},
	} {
		if got := relativeURL(tc.cur, tc.next); got != tc.want {
			t.Errorf("relativeURL(%s, %s) = %s, want %s", tc.cur, tc.next, got, tc.want)
		}
	}
}

// TestPlayStartupAndDuration: playback starts only when --startup of media
// is in, and --duration stops the session after that much of the title.
func TestPlayStartupAndDuration(t *testing.T) {
	ts := newTitleServer(t, manifest.ProfileLive, false)
	trace := Trace{{DurationMs: 60000, BandwidthKbps: 1000, LatencyMs: 20}}
	play := func(cfg Config) *Report {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cfg.URL, cfg.ABR, cfg.Trace, cfg.Speed = ts.mpd(), "throughput", trace, 10
		r, err := Play(ctx, cfg)
		if err != nil {
			t.Fatalf("Play: %v", err)
		}
		return r
	}
	// Playback starts once the k-th video segment (and the audio it
	// covers, fetched next) is in: after that segment's download, before
	// the next segment's request.
	startsAfter := func(name string, r *Report, k int) {
		t.Helper()
		in := (r.Log[k].AtMs + r.Log[k].TTFBMs + r.Log[k].DownloadMs) / 1000
		next := r.Log[k+1].AtMs / 1000
		if r.StartupS < in || r.StartupS > next {
			t.Errorf("%s: startup at %.3f s; segment %d was in at %.3f s, segment %d requested at %.3f s", name, r.StartupS, k, in, k+1, next)
		}
	}
	one := play(Config{Duration: 10 * time.Second})
	if one.Ended != "duration" || one.Segments != 5 {
		t.Errorf("--duration 10s: ended %s after %d segments, want duration after 5", one.Ended, one.Segments)
	}
	startsAfter("default threshold (one segment)", one, 0)
	three := play(Config{Duration: 10 * time.Second, Startup: 6 * time.Second})
	startsAfter("--startup 6s", three, 2)
}

// TestPlayH2TLS plays over HTTP/2 on TLS (ALPN h2).
func TestPlayH2TLS(t *testing.T) {
	dir := t.TempDir()
	if _, err := origin.Repackage(context.Background(), origin.RepackageConfig{Source: sample.FS(), Output: filepath.Join(dir, "title")}); err != nil {
		t.Fatal(err)
	}
	o, err := origin.New(origin.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(o)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(func() { srv.Close(); o.Close() })
	client := NewClient(ClientConfig{HTTP2: true})
	client.Transport.(*http.Transport).TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := Play(ctx, Config{URL: srv.URL + "/title/manifest.mpd", Client: client, Speed: 20, MaxBuffer: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r.Protocol != "HTTP/2.0" || r.Segments != 15 {
		t.Errorf("protocol %s, %d segments; want HTTP/2.0 and 15", r.Protocol, r.Segments)
	}
}

// TestPlayFleetMetrics: a session counts in the fleet's metrics.
func TestPlayFleetMetrics(t *testing.T) {
	ts := newTitleServer(t, manifest.ProfileLive, false)
	reg := prometheus.NewPedanticRegistry()
	fm, err := NewFleetMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	ts.set("/title/360p/3.m4s", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusNotFound) })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := Play(ctx, Config{URL: ts.mpd(), ABR: "throughput", Speed: 20, MaxBuffer: 10 * time.Second, Metrics: fm})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		c    prometheus.Collector
		want float64
	}{
		{fm.active, 0},
		{fm.sessions.WithLabelValues("complete"), 1},
		{fm.errors.WithLabelValues("http"), float64(len(r.Errors))},
		{fm.bytes, float64(r.Bytes)},
	} {
		if got := promtest.ToFloat64(tc.c); got != tc.want {
			t.Errorf("%s = %v, want %v", describe(tc.c), got, tc.want)
		}
	}
	if len(r.Errors) == 0 {
		t.Error("the 404 made no error event")
	}
	if n := promtest.CollectAndCount(fm.bitrate); n != 1 {
		t.Errorf("bitrate histogram: %d series", n)
	}
	var m dto.Metric
	fm.bitrate.Write(&m)
	if got := m.GetHistogram().GetSampleCount(); got != 15 {
		t.Errorf("bitrate histogram counted %d segments, want 15", got)
	}
}

func describe(c prometheus.Collector) string {
	ch := make(chan *prometheus.Desc, 1)
	c.Describe(ch)
	return (<-ch).String()
}

func TestClockLate(t *testing.T) {
	c := newClock(2)
	ctx := context.Background()
	if err := c.sleepUntil(ctx, c.now()+10); err != nil || c.late != 0 {
		t.Fatalf("a short sleep: err %v, late %d", err, c.late)
	}
	// A deadline 200 ms (wall) past: the session is late by more than 50 ms.
	if err := c.sleepUntil(ctx, c.now()-400); err != nil || c.late != 1 {
		t.Fatalf("a missed deadline: err %v, late %d, want 1", err, c.late)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.sleepUntil(cctx, c.now()+10_000); err == nil {
		t.Error("a canceled sleep returned no error")
	}
}
