package origin

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/streamcdn/streamcdn/internal/testutil"
	"github.com/streamcdn/streamcdn/manifest"
)

// TestRealPlayersFollowSteering: dash.js and shaka-player play a steered
// MPD of the sample (manifest.Steer: two pathways, "near" the default)
// whose steering server, asked before the start, ranks "far" first: the
// players fetch their segments from "far" only. Both pathways serve the
// same origin; each counts the segments it serves.
func TestRealPlayersFollowSteering(t *testing.T) {
	sampleTitle(t, manifest.ProfileLive)
	o, err := New(Config{Dir: titlesDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	counted := func(n *atomic.Int64) *httptest.Server {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, ".m4s") {
				n.Add(1)
			}
			o.ServeHTTP(w, r)
		}))
		t.Cleanup(ts.Close)
		return ts
	}
	var nearN, farN, dcsmN atomic.Int64
	var lastQuery atomic.Value
	near, far := counted(&nearN), counted(&farN)
	mpd, err := os.ReadFile(filepath.Join(titlesDir(), "sample-live", ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	steering := httptest.NewServer(mux)
	t.Cleanup(steering.Close)
	steered, err := manifest.Steer(mpd, manifest.Steering{Server: steering.URL + "/dcsm", QueryBeforeStart: true,
		Pathways: []manifest.Pathway{{ID: "near", BaseURL: near.URL + "/sample-live/"}, {ID: "far", BaseURL: far.URL + "/sample-live/"}}})
	if err != nil {
		t.Fatal(err)
	}
	mux.HandleFunc("GET /manifest.mpd", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Content-Type", "application/dash+xml")
		w.Write(steered)
	})
	mux.HandleFunc("GET /dcsm", func(w http.ResponseWriter, r *http.Request) {
		dcsmN.Add(1)
		lastQuery.Store(r.URL.RawQuery)
		if _, err := manifest.ParseSteeringQuery(r.URL.Query()); err != nil {
			t.Errorf("the player's steering query %q: %v", r.URL.RawQuery, err)
		}
		b, err := (&manifest.SteeringManifest{Version: 1, TTL: 5, PathwayPriority: []string{"far", "near"}}).Marshal()
		if err != nil {
			t.Error(err)
		}
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	})
	for _, player := range []string{"dashjs", "shaka"} {
		t.Run(player, func(t *testing.T) {
			nearN.Store(0)
			farN.Store(0)
			dcsmN.Store(0)
			v := testutil.DashCheck(t, steering.URL+"/manifest.mpd", player)
			if !v.OK || v.Stalls.Count != 0 {
				t.Errorf("%s: ok %v, %d stalls: %v", player, v.OK, v.Stalls.Count, v.FailReasons)
			}
			t.Logf("%s: %d steering requests (the last with %q); segments from far %d, from near %d", player, dcsmN.Load(),
				lastQuery.Load(), farN.Load(), nearN.Load())
			if dcsmN.Load() == 0 || farN.Load() == 0 || nearN.Load() != 0 {
				t.Errorf("%s: %d steering requests; segments from far %d, from near %d: want the steering server asked and far only",
					player, dcsmN.Load(), farN.Load(), nearN.Load())
			}
		})
	}
}
