package edge_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamcdn/streamcdn/edge"
	"github.com/streamcdn/streamcdn/internal/accesslog"
	samplefs "github.com/streamcdn/streamcdn/internal/sample"
	"github.com/streamcdn/streamcdn/internal/testutil"
	"github.com/streamcdn/streamcdn/manifest"
	"github.com/streamcdn/streamcdn/origin"
)

// counted serves h and counts its requests.
func counted(h http.Handler, n *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h.ServeHTTP(w, r)
	})
}

// TestOriginShieldEdge streams the sample origin -> shield -> edge in
// dash.js, for each profile: it must play without stalls; once every
// segment has passed through, a second playback must be served entirely
// by the edge: the origin sees no request, and the shield at most the
// revalidations of the MPD that dash.js reloads with Cache-Control:
// no-cache, which the edge honours.
func TestOriginShieldEdge(t *testing.T) {
	for _, profile := range []manifest.Profile{manifest.ProfileLive, manifest.ProfileOnDemand} {
		t.Run(string(profile), func(t *testing.T) {
			dir := t.TempDir()
			if _, err := origin.Repackage(t.Context(), origin.RepackageConfig{
				Source: samplefs.FS(), Output: filepath.Join(dir, "sample"), Profile: profile,
			}); err != nil {
				t.Fatal(err)
			}
			// A static MPD may live as long as the test: with the default 10 s
			// the edge rightly revalidates it (one 304 from the origin) between
			// two 12 s playbacks.
			o, err := origin.New(origin.Config{Dir: dir, MPDMaxAge: 10 * time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			var originN, shieldN atomic.Int64
			originSrv := httptest.NewServer(counted(o, &originN))
			defer originSrv.Close()
			shield, err := edge.New(edge.Config{Upstream: originSrv.URL, Name: "shield"})
			if err != nil {
				t.Fatal(err)
			}
			defer shield.Close()
			shieldSrv := httptest.NewServer(counted(shield, &shieldN))
			defer shieldSrv.Close()
			e, err := edge.New(edge.Config{Upstream: shieldSrv.URL, Name: "edge"})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			edgeURL, _ := testutil.ServeH1(t, e, nil)
			mpd := edgeURL + "/sample/" + origin.ManifestName

			v := testutil.DashCheck(t, mpd, "dashjs")
			if !v.OK || v.Stalls.Count != 0 {
				t.Fatalf("first playback through the edge: ok=%v stalls=%d %v", v.OK, v.Stalls.Count, v.FailReasons)
			}
			fetchAll(t, mpd) // whatever the player did not ask for
			o1, s1 := originN.Load(), shieldN.Load()
			v = testutil.DashCheck(t, mpd, "dashjs")
			if !v.OK || v.Stalls.Count != 0 {
				t.Errorf("second playback: ok=%v stalls=%d %v", v.OK, v.Stalls.Count, v.FailReasons)
			}
			if o2 := originN.Load(); o2 != o1 {
				t.Errorf("second playback reached the origin: %d -> %d requests", o1, o2)
			}
			if s2 := shieldN.Load(); s2-s1 > 2 {
				t.Errorf("second playback sent %d requests to the shield, want at most the MPD's revalidations", s2-s1)
			}
			t.Logf("origin served %d requests, shield %d", o1, s1)
		})
	}
}

// fetchAll gets the MPD and every segment it lists.
func fetchAll(t *testing.T, mpdURL string) {
	t.Helper()
	body := getBody(t, mpdURL, nil)
	m, err := manifest.Parse(body, mpdURL)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range m.Tracks {
		if tr.Index != nil {
			if err := tr.ExpandIndex(getBody(t, tr.Index.URL, tr.Index.Range)); err != nil {
				t.Fatal(err)
			}
		}
		getBody(t, tr.Init.URL, tr.Init.Range)
		for _, s := range tr.Segments {
			getBody(t, s.URL, s.Range)
		}
	}
}

func getBody(t *testing.T, url string, br *manifest.ByteRange) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if br != nil {
		req.Header.Set("Range", br.Header())
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode >= 300 {
		t.Fatalf("GET %s: %d %v", url, res.StatusCode, err)
	}
	return b
}

// TestAccessLog: each request gets a line with its cache status and, when
// upstream answered, upstream's status; served by internal/h1 (where the
// hit takes the prepared path, its Cache-Status not in the header map)
// and by net/http.
func TestAccessLog(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "segment")
	}))
	defer up.Close()
	for _, server := range []string{"h1", "net/http"} {
		t.Run(server, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "access.log")
			al, err := accesslog.New(accesslog.Config{Path: path})
			if err != nil {
				t.Fatal(err)
			}
			e, err := edge.New(edge.Config{Upstream: up.URL, Name: "edge", AccessLog: al})
			if err != nil {
				t.Fatal(err)
			}
			var url string
			var stop func()
			if server == "h1" {
				u, srv := testutil.ServeH1(t, e, e.ConnContext)
				url, stop = u, func() { srv.Close() }
			} else {
				ts := httptest.NewServer(e)
				url, stop = ts.URL, ts.Close
			}
			for range 2 {
				res, err := http.Get(url + "/t/1.m4s")
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
			stop()
			e.Close()
			al.Close()
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			// The first line's Cache-Status says "stored" only if the fill had
			// ended when its header was written, which the scheduler decides.
			first := strings.Replace(lines[0], `fwd=miss; stored"`, `fwd=miss"`, 1)
			if len(lines) != 2 || !strings.Contains(first, `"GET /t/1.m4s HTTP/1.1" 200 7 "-" "Go-http-client/1.1" cache="edge; fwd=miss" upstream="200"`) ||
				!strings.Contains(lines[1], `cache="edge; hit; ttl=`) || !strings.Contains(lines[1], `upstream="-"`) {
				t.Errorf("access log:\n%s", b)
			}
		})
	}
}
