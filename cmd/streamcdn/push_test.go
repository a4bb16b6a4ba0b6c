package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/streamcdn/streamcdn/edge"
	"github.com/streamcdn/streamcdn/internal/httpx"
	"github.com/streamcdn/streamcdn/internal/sample"
	"github.com/streamcdn/streamcdn/internal/testutil"
	"github.com/streamcdn/streamcdn/manifest"
	"github.com/streamcdn/streamcdn/origin"
	"github.com/streamcdn/streamcdn/player"
)

// pushOrigin serves titles (each the sample, in profile) from a real
// origin on 127.0.0.1 and counts its requests.
type pushOrigin struct {
	dir      string
	srv      *origin.Server
	pub, adm *httptest.Server
	requests atomic.Int64
	bytes    atomic.Int64 // response body bytes
}

func newPushOrigin(t *testing.T, prof manifest.Profile, titles ...string) *pushOrigin {
	t.Helper()
	o := &pushOrigin{dir: t.TempDir()}
	for _, title := range titles {
		if _, err := origin.Repackage(context.Background(), origin.RepackageConfig{Source: sample.FS(),
			Output: filepath.Join(o.dir, title), Profile: prof}); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if o.srv, err = origin.New(origin.Config{Dir: o.dir}); err != nil {
		t.Fatal(err)
	}
	o.pub = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.requests.Add(1)
		rec := &httpx.Recorder{ResponseWriter: w}
		o.srv.ServeHTTP(rec, r)
		o.bytes.Add(rec.Bytes)
	}))
	o.adm = httptest.NewServer(o.srv.Admin())
	t.Cleanup(func() { o.pub.Close(); o.adm.Close(); o.srv.Close() })
	return o
}

// pushTarget is an edge with a pinned area on 127.0.0.1.
type pushTarget struct {
	srv        *edge.Server
	reg        *prometheus.Registry
	pub, admin *httptest.Server
	dir        string
}

func newPushTarget(t *testing.T, upstream, mode string, budget int64) *pushTarget {
	t.Helper()
	e := &pushTarget{reg: prometheus.NewRegistry(), dir: t.TempDir()}
	var err error
	e.srv, err = edge.New(edge.Config{Upstream: upstream, Name: "edge", Mode: mode, PinnedDir: e.dir, PinnedBytes: budget,
		AdminToken: "push-secret", Registry: e.reg})
	if err != nil {
		t.Fatal(err)
	}
	e.pub = httptest.NewServer(e.srv)
	e.admin = httptest.NewServer(e.srv.Admin())
	t.Cleanup(func() { e.pub.Close(); e.admin.Close(); e.srv.Close() })
	return e
}

// upstreamRequests is what the edge has asked of its upstream.
func (e *pushTarget) upstreamRequests(t *testing.T) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() == "streamcdn_edge_upstream_requests_total" {
			for _, m := range mf.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}

func (e *pushTarget) holdings(t *testing.T) edge.Holdings {
	t.Helper()
	var h edge.Holdings
	if err := httpx.DoJSON(t.Context(), http.DefaultClient, http.MethodGet, e.admin.URL+"/push/objects", "push-secret", nil, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// checkHoldings verifies that every object the edge holds is a whole,
// current copy of the origin's file, and that no temporary file is left.
func checkHoldings(t *testing.T, e *pushTarget, originDir string) int {
	t.Helper()
	h := e.holdings(t)
	for _, o := range h.Objects {
		b, err := os.ReadFile(filepath.Join(originDir, filepath.FromSlash(o.URL)))
		if err != nil {
			t.Errorf("edge holds %s, which the origin lacks", o.URL)
			continue
		}
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != o.SHA256 || int64(len(b)) != o.Size {
			t.Errorf("edge holds a wrong %s", o.URL)
		}
	}
	filepath.WalkDir(e.dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".tmp") {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
	return len(h.Objects)
}

func pushCmd(ctx context.Context, t *testing.T, args ...string) (string, error) {
	t.Helper()
	tok := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tok, []byte("push-secret\n"), 0o600)
	var out, errs bytes.Buffer
	err := run(ctx, append([]string{"push", "--token-file", tok, "--no-progress"}, args...), &out, &errs)
	return out.String() + errs.String(), err
}

// TestPushThenStopOrigin is the Open Connect flow: the title is pushed
// to three edges in push mode, the origin stops, and real players and
// ours stream the whole title from each edge with no origin request and
// no stall.
func TestPushThenStopOrigin(t *testing.T) {
	o := newPushOrigin(t, manifest.ProfileLive, "sample")
	var edges []*pushTarget
	args := []string{"--mpd", o.pub.URL + "/sample/" + origin.ManifestName, "--concurrency", "8"}
	for range 3 {
		e := newPushTarget(t, o.pub.URL, edge.ModePush, 1<<30)
		edges = append(edges, e)
		args = append(args, "--edge", e.admin.URL)
	}
	out, err := pushCmd(t.Context(), t, args...)
	if err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	objects := checkHoldings(t, edges[0], o.dir)
	if objects < 40 {
		t.Fatalf("edge holds %d objects\n%s", objects, out)
	}
	for _, e := range edges[1:] {
		if n := checkHoldings(t, e, o.dir); n != objects {
			t.Errorf("edges hold %d and %d objects", objects, n)
		}
	}
	t.Logf("first push:\n%s", out)
	// A rerun sends nothing: every edge holds every object, and the
	// origin sends only the MPD's body (the rest is 304s).
	before, beforeBytes := o.requests.Load(), o.bytes.Load()
	out, err = pushCmd(t.Context(), t, args...)
	if err != nil {
		t.Fatalf("rerun: %v\n%s", err, out)
	}
	if want := summaryRow(0, objects, 0, 0); len(want.FindAllString(out, -1)) != 3 {
		t.Errorf("rerun summary lacks %q thrice:\n%s", want, out)
	}
	if n := o.requests.Load() - before; n > int64(objects)+1 {
		t.Errorf("rerun made %d origin requests", n)
	}
	mpdInfo, err := os.Stat(filepath.Join(o.dir, "sample", origin.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	if n := o.bytes.Load() - beforeBytes; n != mpdInfo.Size() {
		t.Errorf("rerun fetched %d body bytes from the origin, want the MPD's %d", n, mpdInfo.Size())
	}

	o.pub.Close() // the origin is gone
	served := o.requests.Load()
	players := []string{"dashjs", "shaka", "dashjs"}
	for i, e := range edges {
		mpd := e.pub.URL + "/sample/" + origin.ManifestName
		rep, err := player.Play(t.Context(), player.Config{URL: mpd, ABR: "bola", Speed: 8})
		if err != nil {
			t.Fatalf("edge %d: our player: %v", i, err)
		}
		if rep.Ended != "complete" || rep.RebufferEvents != 0 || len(rep.Errors) != 0 || rep.Segments != 15 {
			t.Errorf("edge %d: our player: ended %s, %d segments, %d stalls, errors %v", i, rep.Ended, rep.Segments, rep.RebufferEvents, rep.Errors)
		}
		// The whole 30 s title, to its end: up to 45 s of wall time, so
		// that a slow start on a loaded machine still gets there. Without
		// a stall, playing to the end means every segment came from the
		// edge after the origin stopped.
		v := testutil.DashCheckFor(t, mpd, players[i], 45)
		if !v.OK || v.Stalls.Count != 0 || !v.PlayedToEnd() {
			t.Errorf("edge %d: %s: ok %v, %d stalls, played to %.3f s of %.3f s in %.2f s of wall time, ended %v, buffered %s: %v",
				i, players[i], v.OK, v.Stalls.Count, v.SecondsPlayed, v.Duration, v.WallSecondsPlayed, v.Ended, v.Buffered, v.FailReasons)
		}
		if n := e.upstreamRequests(t); n != 0 {
			t.Errorf("edge %d asked its upstream %v times", i, n)
		}
	}
	if n := o.requests.Load() - served; n != 0 {
		t.Errorf("origin got %d requests after it stopped", n)
	}
}

// TestPushResume cuts a rate-capped push short, checks that the edge
// holds only whole objects and not the MPD, then reruns it to the end.
func TestPushResume(t *testing.T) {
	o := newPushOrigin(t, manifest.ProfileOnDemand, "sample")
	e := newPushTarget(t, o.pub.URL, edge.ModePush, 1<<30)
	args := []string{"--mpd", o.pub.URL + "/sample/" + origin.ManifestName, "--edge", e.admin.URL}
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	out, err := pushCmd(ctx, t, append(args, "--rate", "8Mbit", "--concurrency", "1")...)
	if err == nil {
		t.Fatalf("a push cut short succeeded:\n%s", out)
	}
	partial := checkHoldings(t, e, o.dir)
	h := e.holdings(t)
	for _, ob := range h.Objects {
		if strings.HasSuffix(ob.URL, ".mpd") {
			t.Error("the MPD was pushed before the segments")
		}
	}
	if r := get(t, e.pub.URL+"/sample/"+origin.ManifestName); r != http.StatusNotFound {
		t.Errorf("the incomplete title answers %d", r)
	}
	out, err = pushCmd(t.Context(), t, args...)
	if err != nil {
		t.Fatalf("rerun: %v\n%s", err, out)
	}
	all := checkHoldings(t, e, o.dir)
	if all <= partial || !summaryRow(all-partial, partial, 0, 0).MatchString(out) {
		t.Errorf("the first push left %d objects, the rerun %d:\n%s", partial, all, out)
	}
	t.Logf("cut short with %d of %d objects; rerun:\n%s", partial, all, out)
	if r := get(t, e.pub.URL+"/sample/"+origin.ManifestName); r != http.StatusOK {
		t.Errorf("the title answers %d after the rerun", r)
	}
}

// summaryRow matches a row of push's summary: pushed, skipped, failed, left.
func summaryRow(pushed, skipped, failed, left int) *regexp.Regexp {
	return regexp.MustCompile(fmt.Sprintf(`\s%d\s+%d\s+%d\s+%d\s`, pushed, skipped, failed, left))
}

func get(t *testing.T, u string) int {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// TestPushPopular pushes the most requested titles within each edge's
// budget, and --fill has the edge fetch them itself.
func TestPushPopular(t *testing.T) {
	o := newPushOrigin(t, manifest.ProfileLive, "news", "film")
	// Demand: film is played twice, news once.
	for _, title := range []string{"film", "film", "news"} {
		if _, err := player.Play(t.Context(), player.Config{URL: o.pub.URL + "/" + title + "/" + origin.ManifestName, ABR: "bola", Speed: 20}); err != nil {
			t.Fatal(err)
		}
	}
	size := func(title string) int64 {
		var n int64
		filepath.WalkDir(filepath.Join(o.dir, title), func(_ string, d fs.DirEntry, err error) error {
			if fi, err := d.Info(); err == nil && !d.IsDir() {
				n += fi.Size()
			}
			return nil
		})
		return n
	}
	small := newPushTarget(t, o.pub.URL, edge.ModeHybrid, size("film")*5/4) // room for one title
	big := newPushTarget(t, o.pub.URL, edge.ModeHybrid, 1<<30)
	out, err := pushCmd(t.Context(), t, "--popular", "2", "--since", "1h", "--origin-admin", o.adm.URL, "--origin", o.pub.URL,
		"--edge", small.admin.URL, "--edge", big.admin.URL, "--fill", "--rate", "400Mbit")
	if err != nil {
		t.Fatalf("push --popular: %v\n%s", err, out)
	}
	t.Logf("\n%s", out)
	if !strings.Contains(out, "1. film") || !strings.Contains(out, "2. news") {
		t.Errorf("demand order:\n%s", out)
	}
	titles := func(e *pushTarget) map[string]bool {
		m := map[string]bool{}
		for _, ob := range e.holdings(t).Objects {
			m[strings.Split(ob.URL, "/")[1]] = true
		}
		return m
	}
	if got := titles(small); !got["film"] || got["news"] {
		t.Errorf("the small edge holds %v, want film only", got)
	}
	if got := titles(big); !got["film"] || !got["news"] {
		t.Errorf("the big edge holds %v, want both", got)
	}
	checkHoldings(t, small, o.dir)
	checkHoldings(t, big, o.dir)
}

func TestPushFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--mpd", "http://x/m.mpd"}, "--edge"},
		{[]string{"--edge", "http://e"}, "exactly one of --mpd or --popular"},
		{[]string{"--edge", "http://e", "--popular", "3"}, "--origin-admin"},
		{[]string{"--edge", "http://e", "--mpd", "http://x/m.mpd", "--rate", "fast"}, "--rate"},
		{[]string{"--edge", "http://e", "--mpd", "http://x/m.mpd", "--window", "2-6"}, "--window"},
		{[]string{"--edge", "http://e", "--mpd", "http://x/m.mpd", "--concurrency", "0"}, "--concurrency"},
	}
	for _, tc := range tests {
		out, err := pushCmd(t.Context(), t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("push %v: %v, want an error naming %s\n%s", tc.args, err, tc.want, out)
		}
	}
}
