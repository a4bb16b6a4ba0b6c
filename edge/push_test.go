package edge

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/streamcdn/streamcdn/internal/httpx"
	"github.com/streamcdn/streamcdn/internal/pushapi"
)

// pushEdge is an edge with a pinned area, its public and admin servers.
type pushEdge struct {
	*Server
	pub   *front
	admin *httptest.Server
	dir   string
	reg   *prometheus.Registry
}

func newPushEdge(t *testing.T, up string, mutate ...func(*Config)) *pushEdge {
	t.Helper()
	e := &pushEdge{dir: t.TempDir(), reg: prometheus.NewRegistry()}
	cfg := Config{Upstream: up, Name: "edge-push", AdminToken: "secret", PinnedDir: e.dir, Registry: e.reg}
	for _, m := range mutate {
		m(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.Server = s
	t.Cleanup(func() { e.admin.Close(); s.Close() }) // after the public listener's
	e.pub = newFront(t, s, s.ConnContext)
	e.admin = httptest.NewServer(s.Admin())
	return e
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// push PUTs body as url with its digest (digest overrides it when set).
func (e *pushEdge) push(t *testing.T, url string, body []byte, token string, h ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, e.admin.URL+"/push/object?url="+url, bytes.NewReader(body))
	req.Header.Set("Content-Digest", pushapi.ContentDigest(sha(body)))
	req.Header.Set("Content-Type", "video/mp4")
	req.Header.Set("Cache-Control", "public, max-age=31536000, immutable")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(h); i += 2 {
		req.Header.Set(h[i], h[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(msg)
}

func (e *pushEdge) holdings(t *testing.T) Holdings {
	t.Helper()
	var h Holdings
	if err := httpx.DoJSON(t.Context(), http.DefaultClient, http.MethodGet, e.admin.URL+"/push/objects", "secret", nil, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// files lists every file under the pinned area, temporary ones included.
func (e *pushEdge) files(t *testing.T) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(e.dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, filepath.Base(p))
		}
		return nil
	})
	return out
}

func (e *pushEdge) failures(reason string) float64 {
	return testutil.ToFloat64(e.metrics.pushFailures.WithLabelValues(reason))
}

func TestPushServedFromPinned(t *testing.T) {
	up := newUpstream(t, newClock(), func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	e := newPushEdge(t, up.URL)
	body := bytes.Repeat([]byte("0123456789"), 1000)
	if code, msg := e.push(t, "/t/v1/1.m4s", body, "secret", "Etag", `"v1"`); code != http.StatusCreated {
		t.Fatalf("push: %d %s", code, msg)
	}
	tests := []struct {
		name   string
		h      []string
		status int
		body   string
	}{
		{"whole", nil, 200, string(body)},
		{"range", []string{"Range", "bytes=10-19"}, 206, string(body[10:20])},
		{"conditional", []string{"If-None-Match", `"v1"`}, 304, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := get(t, http.MethodGet, e.pub.URL+"/t/v1/1.m4s", tc.h...)
			if r.status != tc.status || r.body != tc.body {
				t.Fatalf("got %d (%d bytes), want %d (%d bytes)", r.status, len(r.body), tc.status, len(tc.body))
			}
			if cs := r.header.Get("Cache-Status"); !strings.Contains(cs, "hit; detail=pinned") {
				t.Errorf("Cache-Status = %q", cs)
			}
			if tc.status == 200 && (r.header.Get("Content-Type") != "video/mp4" || !strings.Contains(r.header.Get("Cache-Control"), "immutable")) {
				t.Errorf("pushed headers not served: %v", r.header)
			}
		})
	}
	if n := up.count.Load(); n != 0 {
		t.Errorf("upstream got %d requests for a pinned object", n)
	}
	if got := testutil.ToFloat64(e.metrics.pushedBytes); got != float64(len(body)) {
		t.Errorf("pushed bytes metric = %v", got)
	}
	// A push of the same URL replaces it: 200, not 201.
	if code, msg := e.push(t, "/t/v1/1.m4s", []byte("v2"), "secret"); code != http.StatusOK || !strings.Contains(msg, `"replaced":true`) {
		t.Fatalf("replace: %d %s", code, msg)
	}
	if r := get(t, http.MethodGet, e.pub.URL+"/t/v1/1.m4s"); r.body != "v2" {
		t.Errorf("after replace: %q", r.body)
	}
	// Unpinning over the API: a bad query is 400, a prefix unpins.
	for _, tc := range []struct {
		query, want string
		status      int
	}{
		{"", "give exactly one", 400},
		{"?url=/t/v1/1.m4s&prefix=/t/", "give exactly one", 400},
		{"?prefix=/t/", `{"unpinned":1}`, 200},
		{"?prefix=/t/", `{"unpinned":0}`, 200},
	} {
		req, _ := http.NewRequest(http.MethodDelete, e.admin.URL+"/push/object"+tc.query, nil)
		req.Header.Set("Authorization", "Bearer secret")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.status || !strings.Contains(string(b), tc.want) {
			t.Errorf("DELETE /push/object%s: %d %s", tc.query, res.StatusCode, b)
		}
	}
	if r := get(t, http.MethodGet, e.pub.URL+"/t/v1/1.m4s"); r.status != 404 {
		t.Errorf("after unpin: %d", r.status)
	}
	if f := e.files(t); len(f) != 0 {
		t.Errorf("files left after unpin: %v", f)
	}
}

func TestPushRejected(t *testing.T) {
	up := newUpstream(t, newClock(), func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	body := []byte("segment bytes")
	tests := []struct {
		name   string
		url    string
		token  string
		h      []string
		mutate func(*Config)
		status int
		reason string
	}{
		{"no token", "/t/a", "", nil, nil, 401, ""},
		{"wrong token", "/t/a", "guess", nil, nil, 401, ""},
		{"checksum", "/t/a", "secret", []string{"Content-Digest", pushapi.ContentDigest(sha([]byte("other")))}, nil, 400, "checksum"},
		{"no digest", "/t/a", "secret", []string{"Content-Digest", ""}, nil, 400, "bad-request"},
		{"relative url", "t/a", "secret", nil, nil, 400, "bad-request"},
		{"dot segment", "/t/../a", "secret", nil, nil, 400, "bad-request"},
		{"over budget", "/t/a", "secret", nil, func(c *Config) { c.PinnedBytes = 100 }, 507, "budget"},
		{"pull title", "/t/a", "secret", nil, func(c *Config) { c.TitleModes = map[string]string{"t": ModePull} }, 409, "pull-mode"},
		{"no pinned area", "/t/a", "secret", nil, func(c *Config) { c.PinnedDir = "" }, 503, "disabled"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var muts []func(*Config)
			if tc.mutate != nil {
				muts = append(muts, tc.mutate)
			}
			e := newPushEdge(t, up.URL, muts...)
			code, msg := e.push(t, tc.url, body, tc.token, tc.h...)
			if code != tc.status {
				t.Fatalf("push: %d %s, want %d", code, msg, tc.status)
			}
			if tc.reason != "" && e.failures(tc.reason) != 1 {
				t.Errorf("push_failures_total{reason=%q} = %v, want 1 (answer %s)", tc.reason, e.failures(tc.reason), msg)
			}
			if f := e.files(t); len(f) != 0 {
				t.Errorf("files left in the pinned area: %v", f)
			}
			if e.pins != nil {
				if n, _ := e.pins.stats(); n != 0 {
					t.Errorf("%d objects pinned", n)
				}
			}
			if r := get(t, http.MethodGet, e.pub.URL+"/t/a"); r.status != 404 {
				t.Errorf("GET after a rejected push: %d", r.status)
			}
		})
	}
}

// TestPushInterrupted cuts an upload short on the wire: nothing is
// stored, and the same push done again completes.
func TestPushInterrupted(t *testing.T) {
	up := newUpstream(t, newClock(), func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	e := newPushEdge(t, up.URL)
	body := bytes.Repeat([]byte("x"), 100_000)
	conn, err := net.Dial("tcp", e.admin.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PUT /push/object?url=/t/big HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret\r\n"+
		"Content-Digest: %s\r\nContent-Length: %d\r\n\r\n", pushapi.ContentDigest(sha(body)), len(body))
	conn.Write(body[:40_000])
	conn.Close()
	for deadline := time.Now().Add(5 * time.Second); e.failures("interrupted") == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the edge did not report the interrupted push")
		}
	}
	if f := e.files(t); len(f) != 0 {
		t.Errorf("files left after an interrupted push: %v", f)
	}
	if h := e.holdings(t); len(h.Objects) != 0 {
		t.Errorf("holdings after an interrupted push: %+v", h.Objects)
	}
	if r := get(t, http.MethodGet, e.pub.URL+"/t/big"); r.status != 404 {
		t.Errorf("GET after an interrupted push: %d", r.status)
	}
	if code, msg := e.push(t, "/t/big", body, "secret"); code != http.StatusCreated {
		t.Fatalf("rerun: %d %s", code, msg)
	}
	if r := get(t, http.MethodGet, e.pub.URL+"/t/big"); sha([]byte(r.body)) != sha(body) {
		t.Error("rerun stored the wrong body")
	}
}

func TestPushModes(t *testing.T) {
	up := newUpstream(t, newClock(), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "pulled "+r.URL.Path)
	})
	tests := []struct {
		name     string
		mode     string
		titles   map[string]string
		redirect string
		path     string
		status   int
		body     string
		location string
	}{
		{"push: pinned", ModePush, nil, "", "/a/1", 200, "pushed", ""},
		{"push: miss is 404", ModePush, nil, "", "/a/2", 404, "", ""},
		{"push: miss redirects", ModePush, nil, "http://parent.example:8080", "/a/2?x=1", 302, "", "http://parent.example:8080/a/2?x=1"},
		{"hybrid: pinned", ModeHybrid, nil, "", "/a/1", 200, "pushed", ""},
		{"hybrid: miss pulls", ModeHybrid, nil, "", "/a/2", 200, "pulled /a/2", ""},
		{"pull: pinned ignored", ModePull, nil, "", "/a/1", 200, "pulled /a/1", ""},
		{"title in push, edge pull", ModePull, map[string]string{"b": ModePush}, "", "/b/1", 404, "", ""},
		{"title in pull, edge push", ModePush, map[string]string{"b": ModePull}, "", "/b/1", 200, "pulled /b/1", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newPushEdge(t, up.URL, func(c *Config) { c.Mode, c.TitleModes, c.MissRedirect = tc.mode, tc.titles, tc.redirect })
			// Pin /a/1 directly, as a push to an edge in another mode would.
			if _, err := e.pins.put("/a/1", http.Header{"Content-Type": {"text/plain"}}, 6, sha([]byte("pushed")),
				strings.NewReader("pushed"), time.Now()); err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodGet, e.pub.URL+tc.path, nil)
			res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tc.status || (tc.body != "" && string(b) != tc.body) {
				t.Errorf("got %d %q, want %d %q", res.StatusCode, b, tc.status, tc.body)
			}
			if loc := res.Header.Get("Location"); loc != tc.location {
				t.Errorf("Location = %q, want %q", loc, tc.location)
			}
		})
	}
	for _, bad := range []func(*Config){
		func(c *Config) { c.Mode = "push-pull" },
		func(c *Config) { c.TitleModes = map[string]string{"a/b": ModePush} },
		func(c *Config) { c.MissRedirect = "parent:8080" },
	} {
		cfg := Config{Upstream: up.URL}
		bad(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted a bad mode", cfg)
		}
	}
}

// TestPushReplaceWhileReading reads an object many times at once while
// pushes replace it with other versions: every read must be one version
// whole, by its hash.
func TestPushReplaceWhileReading(t *testing.T) {
	up := newUpstream(t, newClock(), func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	e := newPushEdge(t, up.URL)
	versions := make([][]byte, 4)
	valid := map[string]bool{}
	for i := range versions {
		versions[i] = bytes.Repeat([]byte{byte('a' + i)}, 300_000+i*10_000)
		valid[sha(versions[i])] = true
	}
	if code, msg := e.push(t, "/t/seg", versions[0], "secret"); code != http.StatusCreated {
		t.Fatalf("push: %d %s", code, msg)
	}
	var reads, bad atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10_000; i++ { // bounded; stopped when the pushes end
				select {
				case <-stop:
					return
				default:
				}
				res, err := http.Get(e.pub.URL + "/t/seg")
				if err != nil {
					t.Error(err)
					return
				}
				b, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err != nil || res.StatusCode != 200 {
					t.Errorf("read: %d %v", res.StatusCode, err)
					return
				}
				reads.Add(1)
				if !valid[sha(b)] || res.ContentLength != int64(len(b)) {
					bad.Add(1)
				}
			}
		}()
	}
	for i := 1; i <= 40; i++ {
		if code, msg := e.push(t, "/t/seg", versions[i%len(versions)], "secret"); code != http.StatusOK {
			t.Errorf("replace %d: %d %s", i, code, msg)
		}
	}
	close(stop)
	wg.Wait()
	if bad.Load() > 0 {
		t.Fatalf("%d of %d reads were not one version whole", bad.Load(), reads.Load())
	}
	t.Logf("%d reads during 40 replacements, all whole", reads.Load())
	if f := e.files(t); len(f) != 1 {
		t.Errorf("pinned area holds %v, want one file", f)
	}
}

// TestPinnedSurvivesPullWorkload overflows the memory tier with pulled
// objects: the pinned ones stay, and are never fetched upstream.
func TestPinnedSurvivesPullWorkload(t *testing.T) {
	up := newUpstream(t, newClock(), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Write(bytes.Repeat([]byte("p"), 20_000))
	})
	e := newPushEdge(t, up.URL, func(c *Config) { c.MemoryBytes = 200_000; c.NoAdmission = true })
	pinned := map[string][]byte{}
	for i := range 20 {
		b := bytes.Repeat([]byte{byte(i)}, 30_000) // 600 kB pinned, 3x the memory tier
		u := fmt.Sprintf("/hot/%d.m4s", i)
		pinned[u] = b
		if code, msg := e.push(t, u, b, "secret"); code != http.StatusCreated {
			t.Fatalf("push %s: %d %s", u, code, msg)
		}
	}
	for i := range 200 { // 4 MB pulled through a 200 kB memory tier
		if r := get(t, http.MethodGet, fmt.Sprintf("%s/cold/%d.m4s", e.pub.URL, i)); r.status != 200 {
			t.Fatalf("pull %d: %d", i, r.status)
		}
	}
	if ev := testutil.ToFloat64(e.metrics.evictions.WithLabelValues("memory")); ev < 100 {
		t.Fatalf("only %v memory evictions: the workload did not overflow the memory tier", ev)
	}
	before := up.count.Load()
	for u, b := range pinned {
		r := get(t, http.MethodGet, e.pub.URL+u)
		if r.status != 200 || sha([]byte(r.body)) != sha(b) || !strings.Contains(r.header.Get("Cache-Status"), "pinned") {
			t.Errorf("%s after the pull workload: %d, %s", u, r.status, r.header.Get("Cache-Status"))
		}
	}
	if n := up.count.Load() - before; n != 0 {
		t.Errorf("pinned objects caused %d upstream requests", n)
	}
}

// TestPinnedReopen restarts an edge on its pinned area: objects are
// indexed again, a corrupt file and a leftover temporary file are dropped.
func TestPinnedReopen(t *testing.T) {
	dir := t.TempDir()
	p, err := openPinned(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"/t/1", "/t/2"} {
		if _, err := p.put(u, http.Header{"Etag": {`"x"`}}, 5, "", strings.NewReader("hello"), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if got := p.list("/")[0].SHA256; got != sha([]byte("hello")) {
		t.Fatalf("computed SHA-256 = %s", got)
	}
	f, _ := os.OpenFile(p.path("/t/2"), os.O_RDWR, 0)
	f.WriteAt([]byte("J"), 200) // flip a body byte
	f.Close()
	os.WriteFile(p.path("/t/1")+".tmp-123", []byte("partial"), 0o644)
	q, err := openPinned(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	got := q.list("/")
	if len(got) != 1 || got[0].URL != "/t/1" || got[0].ETag != `"x"` {
		t.Fatalf("reopened: %+v", got)
	}
	if _, b := q.stats(); b != q.index["/t/1"].fileSize || b <= 5 {
		t.Errorf("bytes = %d, want the file's %d", b, q.index["/t/1"].fileSize)
	}
	if _, err := os.Stat(p.path("/t/1") + ".tmp-123"); err == nil {
		t.Error("temporary file kept")
	}
	if n := q.remove(func(k string) bool { return strings.HasPrefix(k, "/t/") }); n != 1 {
		t.Errorf("unpinned %d", n)
	}
	if n, b := q.stats(); n != 0 || b != 0 {
		t.Errorf("after unpin: %d objects, %d bytes", n, b)
	}
}

func TestPushFillJob(t *testing.T) {
	objects := map[string][]byte{}
	for i := range 6 {
		objects[fmt.Sprintf("/t/v1/%d.m4s", i)] = bytes.Repeat([]byte{byte(i)}, 50_000)
	}
	up := newUpstream(t, newClock(), func(w http.ResponseWriter, r *http.Request) {
		b, ok := objects[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "video/mp4")
		w.Header().Set("ETag", `"e`+r.URL.Path+`"`)
		w.Write(b)
	})
	e := newPushEdge(t, up.URL)
	list := FillRequest{RateBPS: 20e6, Concurrency: 2}
	for u, b := range objects {
		list.Objects = append(list.Objects, FillObject{URL: u, SHA256: sha(b)})
	}
	list.Objects = append(list.Objects, FillObject{URL: "/t/missing"}, FillObject{URL: "/t/v1/0.m4s", SHA256: sha([]byte("wrong"))})
	body, _ := json.Marshal(list)
	req, _ := http.NewRequest(http.MethodPost, e.admin.URL+"/push/fill", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer secret")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("fill: %d", res.StatusCode)
	}
	var st FillStatus
	for deadline := time.Now().Add(10 * time.Second); st.State != "done"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("fill job not done: %+v", st)
		}
		req, _ := http.NewRequest(http.MethodGet, e.admin.URL+res.Header.Get("Location"), nil)
		req.Header.Set("Authorization", "Bearer secret")
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(r.Body).Decode(&st)
		r.Body.Close()
	}
	if st.Total != 8 || st.Done != 8 || len(st.Failures) != 2 {
		t.Fatalf("status: %+v", st)
	}
	reasons := map[string]string{}
	for _, f := range st.Failures {
		reasons[f.URL] = f.Reason
	}
	if reasons["/t/missing"] != "upstream" || reasons["/t/v1/0.m4s"] != "checksum" {
		t.Errorf("failures: %+v", st.Failures)
	}
	for u, b := range objects {
		r := get(t, http.MethodGet, e.pub.URL+u)
		if sha([]byte(r.body)) != sha(b) || r.header.Get("ETag") != `"e`+u+`"` {
			t.Errorf("%s: %d, etag %s", u, r.status, r.header.Get("ETag"))
		}
	}
}

func TestParseFillRequest(t *testing.T) {
	tests := []struct {
		name, in, err string
	}{
		{"ok", `{"objects":[{"url":"/t/1.m4s"}],"rate_bps":1e6}`, ""},
		{"unknown field", `{"objects":[{"url":"/t/1"}],"rate":"1Mbit"}`, "unknown field"},
		{"empty", `{"objects":[]}`, "no objects"},
		{"relative", `{"objects":[{"url":"t/1"}]}`, "absolute path"},
		{"bad sha", `{"objects":[{"url":"/t/1","sha256":"xyz"}]}`, "64 hex"},
		{"negative rate", `{"objects":[{"url":"/t/1"}],"rate_bps":-1}`, "rate_bps"},
		{"concurrency", `{"objects":[{"url":"/t/1"}],"concurrency":1000}`, "concurrency"},
		{"not json", `objects`, "fill list"},
	}
	for _, tc := range tests {
		_, err := ParseFillRequest(strings.NewReader(tc.in))
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.err)
		}
	}
}

func FuzzParseFillRequest(f *testing.F) {
	for _, s := range []string{`{"objects":[{"url":"/t/1.m4s","sha256":"` + sha(nil) + `"}],"rate_bps":1e6,"concurrency":2}`,
		`{"objects":[{"url":"/../x"}]}`, `{}`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := ParseFillRequest(bytes.NewReader(b))
		if err == nil && (len(fr.Objects) == 0 || fr.Concurrency < 1) {
			t.Fatalf("accepted %q as %+v", b, fr)
		}
	})
}

// FuzzPushUpload sends arbitrary uploads to the push handler: it never
// panics, and an object is stored only when its body matches its digest
// and length.
func FuzzPushUpload(f *testing.F) {
	f.Add("/t/1.m4s", []byte("hello"), true, 0)
	f.Add("/t/1.m4s", []byte("hello"), false, 0)
	f.Add("/t/../1", []byte("x"), true, 0)
	f.Add("/t/1?q=1", []byte("abc"), true, 2)
	f.Fuzz(func(t *testing.T, url string, body []byte, goodDigest bool, cut int) {
		dir := t.TempDir()
		s, err := New(Config{Upstream: "http://127.0.0.1:1", AdminToken: "k", PinnedDir: dir, PinnedBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		digest := sha(body)
		if !goodDigest {
			digest = sha(append([]byte("x"), body...))
		}
		sent := body
		if cut > 0 && cut < len(body) {
			sent = body[:len(body)-cut]
		}
		req := httptest.NewRequest(http.MethodPut, "/push/object", bytes.NewReader(sent))
		q := req.URL.Query()
		q.Set("url", url)
		req.URL.RawQuery = q.Encode()
		req.ContentLength = int64(len(body))
		req.Header.Set("Authorization", "Bearer k")
		req.Header.Set("Content-Digest", pushapi.ContentDigest(digest))
		w := httptest.NewRecorder()
		s.Admin().ServeHTTP(w, req)
		stored := s.pins.list("")
		if w.Code >= 300 && len(stored) != 0 {
			t.Fatalf("status %d but stored %+v", w.Code, stored)
		}
		if w.Code < 300 && (!goodDigest || len(sent) != len(body) || len(stored) != 1 || stored[0].SHA256 != sha(body)) {
			t.Fatalf("status %d, stored %+v", w.Code, stored)
		}
	})
}

// TestPinnedOpenReplaced opens an object whose index entry describes an
// older file than the one on disk, as when a push commits between a
// reader's index lookup and its open: the reader takes the header from
// the file it opened, so header and body are one version.
func TestPinnedOpenReplaced(t *testing.T) {
	p, err := openPinned(t.TempDir(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	v1, err := p.put("/t/x", http.Header{"Etag": {`"1"`}}, 2, "", strings.NewReader("v1"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.put("/t/x", http.Header{"Etag": {`"2"`}}, 6, "", strings.NewReader("v2-new"), time.Now()); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.index["/t/x"] = v1 // the reader's view before the replacement
	p.mu.Unlock()
	pf, err := p.open("/t/x")
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	body, _ := io.ReadAll(pf.reader())
	if string(body) != "v2-new" || pf.hdr.Size != 6 || pf.hdr.Header.Get("ETag") != `"2"` {
		t.Errorf("read %q with header size %d, etag %s: not one version", body, pf.hdr.Size, pf.hdr.Header.Get("ETag"))
	}
}

// BenchmarkPinnedHit is the pinned area's hit path: an index lookup, an
// open and an fstat, and the body (64 KiB) from the file.
func BenchmarkPinnedHit(b *testing.B) {
	s, err := New(Config{Upstream: "http://127.0.0.1:1", PinnedDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	body := bytes.Repeat([]byte("x"), 64<<10)
	if _, err := s.pins.put("/t/1.m4s", http.Header{"Content-Type": {"video/mp4"}, "Etag": {`"1"`}}, int64(len(body)), "",
		bytes.NewReader(body), time.Now()); err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/t/1.m4s", nil)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != 200 || w.Body.Len() != len(body) {
			b.Fatalf("%d, %d bytes", w.Code, w.Body.Len())
		}
	}
}
