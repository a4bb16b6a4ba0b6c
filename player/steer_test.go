package player

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/streamcdn/streamcdn/manifest"
)

// hosts routes requests in memory by host name, for sessions on virtual
// time.
type hosts map[string]http.Handler

func (h hosts) RoundTrip(req *http.Request) (*http.Response, error) {
	hd := h[req.URL.Host]
	if hd == nil {
		return nil, &net404{req.URL.Host}
	}
	return handlerTransport{hd}.RoundTrip(req)
}

type net404 struct{ host string }

func (e *net404) Error() string { return "dial " + e.host + ": no such host" }

// steeringWorld is the sample behind two pathways, near and far, each
// counting its segments, and a steering server that ranks far first.
type steeringWorld struct {
	client    *http.Client
	near, far atomic.Int64
	farDown   atomic.Bool
	mu        sync.Mutex
	queries   []string
	priority  []string
	dcsmTTL   int
}

func newSteeringWorld(t *testing.T, queryBeforeStart bool) *steeringWorld {
	t.Helper()
	o, dir := sampleOrigin(t, manifest.ProfileLive)
	w := &steeringWorld{priority: []string{"far", "near"}, dcsmTTL: 4}
	mpd, err := os.ReadFile(filepath.Join(dir, "title", "manifest.mpd"))
	if err != nil {
		t.Fatal(err)
	}
	steered, err := manifest.Steer(mpd, manifest.Steering{Server: "http://steer.test/dcsm?session=s1", QueryBeforeStart: queryBeforeStart,
		Pathways: []manifest.Pathway{{ID: "near", BaseURL: "http://near.test/title/"}, {ID: "far", BaseURL: "http://far.test/title/"}}})
	if err != nil {
		t.Fatal(err)
	}
	counted := func(n *atomic.Int64, down *atomic.Bool) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if down != nil && down.Load() {
				http.Error(rw, "edge down", http.StatusServiceUnavailable)
				return
			}
			if strings.HasSuffix(r.URL.Path, ".m4s") {
				n.Add(1)
			}
			o.ServeHTTP(rw, r)
		})
	}
	steer := http.NewServeMux()
	steer.HandleFunc("GET /title/manifest.mpd", func(rw http.ResponseWriter, _ *http.Request) { rw.Write(steered) })
	steer.HandleFunc("GET /dcsm", func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		w.queries = append(w.queries, r.URL.RawQuery)
		dm := &manifest.SteeringManifest{Version: 1, TTL: w.dcsmTTL, PathwayPriority: w.priority}
		w.mu.Unlock()
		b, _ := dm.Marshal()
		rw.Write(b)
	})
	w.client = &http.Client{Transport: hosts{"near.test": counted(&w.near, nil), "far.test": counted(&w.far, &w.farDown), "steer.test": steer}}
	return w
}

// TestPlaySteering: our player follows Content Steering on virtual time.
// It asks the steering server before it starts and every TTL, reporting
// its pathway and throughput; fetches every segment from the pathway
// ranked first; and when that pathway fails mid-play it moves to the
// next and finishes there.
func TestPlaySteering(t *testing.T) {
	for _, tc := range []struct {
		name             string
		queryBeforeStart bool
		kill             bool
		pathways         []string
	}{
		{"follows the ranking", true, false, []string{"far"}},
		{"the default until the first reload", false, false, []string{"near", "far"}},
		{"fails over", true, true, []string{"far", "near"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newSteeringWorld(t, tc.queryBeforeStart)
			synctest.Test(t, func(t *testing.T) {
				if tc.kill {
					time.AfterFunc(10*time.Second, func() { w.farDown.Store(true) })
				}
				r, err := Play(t.Context(), Config{URL: "http://steer.test/title/manifest.mpd", Client: w.client, MaxBuffer: 8 * time.Second,
					Trace:   Trace{{DurationMs: 60000, BandwidthKbps: 4000, LatencyMs: 20}},
					Retries: 3})
				if err != nil {
					t.Fatalf("Play: %v", err)
				}
				if r.Ended != "complete" || !slices.Equal(r.Pathways, tc.pathways) {
					t.Errorf("ended %s over pathways %v, want complete over %v", r.Ended, r.Pathways, tc.pathways)
				}
				near, far := w.near.Load(), w.far.Load()
				switch {
				case !tc.kill && tc.queryBeforeStart && (near != 0 || far == 0):
					t.Errorf("segments from near %d, far %d: want far only", near, far)
				case tc.kill && (near == 0 || far == 0):
					t.Errorf("segments from near %d, far %d: want both, far until it failed", near, far)
				}
				w.mu.Lock()
				defer w.mu.Unlock()
				if len(w.queries) < 3 {
					t.Fatalf("steering asked %d times in 30 s with a 4 s TTL: %q", len(w.queries), w.queries)
				}
				if tc.queryBeforeStart && strings.Contains(w.queries[0], "_DASH_pathway") {
					t.Errorf("the first query, before any segment, %q names a pathway", w.queries[0])
				}
				last := w.queries[len(w.queries)-1]
				if !strings.Contains(last, "session=s1&_DASH_pathway=") || !strings.Contains(last, "_DASH_throughput=") {
					t.Errorf("a reload's query %q lacks the session, _DASH_pathway or _DASH_throughput", last)
				}
			})
		})
	}
}
