package player

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/streamcdn/streamcdn/manifest"
)

// handlerTransport serves requests with h in memory: no sockets, so that
// a session runs on synctest's virtual time.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req)
	res := rec.Result()
	res.Request = req
	return res, nil
}

// memoryOrigin is a real origin serving the sample, packaged in prof,
// through an in-memory client.
func memoryOrigin(t *testing.T, prof manifest.Profile) *http.Client {
	t.Helper()
	c, _ := memoryOriginDir(t, prof)
	return c
}

// memoryOriginDir is memoryOrigin and the directory of its titles.
func memoryOriginDir(t *testing.T, prof manifest.Profile) (*http.Client, string) {
	t.Helper()
	o, dir := sampleOrigin(t, prof)
	return &http.Client{Transport: handlerTransport{o}}, dir
}

// TestPlayAddressingVirtual plays each addressing mode on virtual time,
// where nothing but the player decides: every segment, no error, no
// stall, the top rung by the end.
func TestPlayAddressingVirtual(t *testing.T) {
	for _, tc := range []struct {
		name string
		prof manifest.Profile
		list bool
	}{
		{"template-timeline", manifest.ProfileLive, false},
		{"segmentbase-sidx", manifest.ProfileOnDemand, false},
		{"segmentlist", manifest.ProfileLive, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, dir := memoryOriginDir(t, tc.prof)
			u := "http://origin.test/title/manifest.mpd"
			if tc.list {
				ts := &titleServer{dir: dir}
				ts.Server = &httptest.Server{URL: "http://origin.test"}
				u = ts.segmentListMPD(t)
			}
			synctest.Test(t, func(t *testing.T) {
				r, err := Play(t.Context(), Config{URL: u, ABR: "bolae", Speed: 20, MaxBuffer: 10 * time.Second, Client: client,
					Trace: Trace{{DurationMs: 60000, BandwidthKbps: 20000, LatencyMs: 5}}})
				if err != nil {
					t.Fatalf("Play: %v", err)
				}
				if r.Ended != "complete" || r.Segments != 15 || len(r.Errors) != 0 || r.RebufferS != 0 || r.StartupS <= 0 {
					t.Errorf("ended %s after %d segments, errors %+v, rebuffer %v s, startup %v s", r.Ended, r.Segments, r.Errors, r.RebufferS, r.StartupS)
				}
				if last := r.Log[len(r.Log)-1]; last.Representation != "360p" {
					t.Errorf("the last segment is %s, want 360p", last.Representation)
				}
			})
		})
	}
}

// TestPlayFollowsTraceVirtual streams the sample through a trace that
// steps down and back up, on virtual time: every segment inside a period
// measures that period's bandwidth (within 2%: only the reads' rounding
// and the request's latency stand between them), no timer is late, and
// the representation follows the trace down and back up.
func TestPlayFollowsTraceVirtual(t *testing.T) {
	trace := Trace{
		{DurationMs: 6000, BandwidthKbps: 2000, LatencyMs: 20},
		{DurationMs: 14000, BandwidthKbps: 220, LatencyMs: 20},
		{DurationMs: 30000, BandwidthKbps: 2000, LatencyMs: 20},
	}
	took := map[float64]time.Duration{}
	for _, speed := range []float64{1, 4} {
		client := memoryOrigin(t, manifest.ProfileLive)
		synctest.Test(t, func(t *testing.T) {
			start := time.Now()
			r, err := Play(t.Context(), Config{URL: "http://origin.test/title/manifest.mpd", ABR: "throughput", Trace: trace,
				Speed: speed, MaxBuffer: 6 * time.Second, Client: client})
			if err != nil {
				t.Fatalf("Play: %v", err)
			}
			if r.DelayedSegments != 0 {
				t.Errorf("speed %v: %d segments delayed on virtual time", speed, r.DelayedSegments)
			}
			l := newLink(trace)
			inside := map[int]int{}
			var reps []string
			for _, row := range r.Log {
				if row.Result != "ok" {
					continue
				}
				reps = append(reps, row.Representation)
				begin := row.AtMs + row.TTFBMs
				i, left := l.at(begin + 1)
				if row.DownloadMs < 200 || begin+row.DownloadMs > begin+1+left {
					continue // too short to measure, or across a period boundary
				}
				inside[i]++
				if bw := trace[i].BandwidthKbps; row.ThroughputKbps < bw*0.98 || row.ThroughputKbps > bw*1.02 {
					t.Errorf("speed %v: segment %d measured %.0f kbit/s in a %.0f kbit/s period", speed, row.Index, row.ThroughputKbps, bw)
				}
			}
			for i := range trace {
				if inside[i] < 2 {
					t.Errorf("speed %v: period %d: %d segments inside it, want >= 2", speed, i, inside[i])
				}
			}
			if !followsDownAndUp(reps) {
				t.Errorf("speed %v: representations %v do not go up to 360p, down to 180p and back to 360p", speed, reps)
			}
			took[speed] = time.Since(start)
		})
	}
	// Speed dilates time: the same session, four times faster.
	if r := float64(took[1]) / float64(took[4]); r < 3.9 || r > 4.1 {
		t.Errorf("virtual time at speed 1 %v, at speed 4 %v: ratio %.2f, want 4", took[1], took[4], r)
	}
}

// followsDownAndUp reports whether reps reach 360p, then 180p, then 360p.
func followsDownAndUp(reps []string) bool {
	phase := 0
	for _, rep := range reps {
		switch {
		case phase == 0 && rep == "360p", phase == 1 && rep == "180p", phase == 2 && rep == "360p":
			phase++
		}
	}
	return phase == 3 && slices.Contains(reps, "180p")
}
