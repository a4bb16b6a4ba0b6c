package origin

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// testTree lays out a small titles directory:
//
//	t1/manifest.mpd, t1/360p/1.m4s, t1/audio/1.m4s, t1/audio.mp4
//	.t2.tmp-1/manifest.mpd (a title being staged)
//	t1/escape -> a file outside the root
func testTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"t1/manifest.mpd":        "<MPD/>",
		"t1/360p/1.m4s":          "0123456789abcdefghij",
		"t1/audio/1.m4s":         "audio-bytes",
		"t1/audio.mp4":           "audio-file",
		".t2.tmp-1/manifest.mpd": "<MPD/>",
		"t1/notes.txt":           "hello",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "t1/escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("360p/1.m4s", filepath.Join(dir, "t1/inside.m4s")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func newTestServer(t *testing.T, reg prometheus.Registerer) *Server {
	t.Helper()
	s, err := New(Config{Dir: testTree(t), Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestServerHTTP(t *testing.T) {
	s := newTestServer(t, nil)
	fi, err := os.Stat(filepath.Join(s.cfg.Dir, "t1/360p/1.m4s"))
	if err != nil {
		t.Fatal(err)
	}
	segETag := etag(fi)
	lastMod := fi.ModTime().UTC().Format(http.TimeFormat)
	tests := []struct {
		name       string
		method     string
		path       string
		header     map[string]string
		wantStatus int
		wantBody   string
		wantHeader map[string]string
	}{
		{name: "mpd", path: "/t1/manifest.mpd", wantStatus: 200, wantBody: "<MPD/>",
			wantHeader: map[string]string{"Content-Type": "application/dash+xml", "Cache-Control": "public, max-age=10"}},
		{name: "video segment", path: "/t1/360p/1.m4s", wantStatus: 200, wantBody: "0123456789abcdefghij",
			wantHeader: map[string]string{"Content-Type": "video/mp4", "Cache-Control": "public, max-age=31536000, immutable",
				"Etag": segETag, "Last-Modified": lastMod, "Accept-Ranges": "bytes", "Content-Length": "20"}},
		{name: "audio segment", path: "/t1/audio/1.m4s", wantStatus: 200, wantHeader: map[string]string{"Content-Type": "audio/mp4"}, wantBody: "audio-bytes"},
		{name: "audio on-demand file", path: "/t1/audio.mp4", wantStatus: 200, wantHeader: map[string]string{"Content-Type": "audio/mp4"}, wantBody: "audio-file"},
		{name: "other file", path: "/t1/notes.txt", wantStatus: 200, wantHeader: map[string]string{"Content-Type": "text/plain; charset=utf-8"}, wantBody: "hello"},
		{name: "head", method: "HEAD", path: "/t1/360p/1.m4s", wantStatus: 200, wantBody: "", wantHeader: map[string]string{"Content-Length": "20"}},
		{name: "range", path: "/t1/360p/1.m4s", header: map[string]string{"Range": "bytes=10-14"}, wantStatus: 206, wantBody: "abcde",
			wantHeader: map[string]string{"Content-Range": "bytes 10-14/20", "Content-Length": "5"}},
		{name: "unsatisfiable range", path: "/t1/360p/1.m4s", header: map[string]string{"Range": "bytes=20-"}, wantStatus: 416,
			wantHeader: map[string]string{"Content-Range": "bytes */20"}},
		{name: "if-none-match", path: "/t1/360p/1.m4s", header: map[string]string{"If-None-Match": segETag}, wantStatus: 304, wantBody: "",
			wantHeader: map[string]string{"Etag": segETag, "Cache-Control": "public, max-age=31536000, immutable"}},
		{name: "if-modified-since", path: "/t1/360p/1.m4s", header: map[string]string{"If-Modified-Since": lastMod}, wantStatus: 304, wantBody: ""},
		{name: "if-match mismatch", path: "/t1/360p/1.m4s", header: map[string]string{"If-Match": `"nope"`}, wantStatus: 412},
		{name: "if-range stale", path: "/t1/360p/1.m4s", header: map[string]string{"Range": "bytes=0-0", "If-Range": `"old"`}, wantStatus: 200, wantBody: "0123456789abcdefghij"},
		{name: "preflight", method: "OPTIONS", path: "/t1/360p/1.m4s", wantStatus: 204,
			wantHeader: map[string]string{"Access-Control-Allow-Headers": "Range, If-None-Match, If-Modified-Since, If-Range"}},
		{name: "post", method: "POST", path: "/t1/manifest.mpd", wantStatus: 405, wantHeader: map[string]string{"Allow": "GET, HEAD, OPTIONS"}},
		{name: "missing", path: "/t1/nope.m4s", wantStatus: 404},
		{name: "directory", path: "/t1/", wantStatus: 404},
		{name: "root", path: "/", wantStatus: 404},
		{name: "dot dot", path: "/t1/../../etc/passwd", wantStatus: 400},
		{name: "backslash", path: `/t1/..\..\etc`, wantStatus: 400},
		{name: "staging title hidden", path: "/.t2.tmp-1/manifest.mpd", wantStatus: 404},
		{name: "symlink escape", path: "/t1/escape", wantStatus: 403},
		{name: "symlink inside", path: "/t1/inside.m4s", wantStatus: 200, wantBody: "0123456789abcdefghij"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = "GET"
			}
			r := httptest.NewRequest(method, "http://origin"+"/", nil)
			r.URL.Path = tc.path // as the server sees it after decoding, dot-dots and all
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			res := w.Result()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.wantStatus {
				t.Fatalf("%s %s: status %d, want %d (body %q)", method, tc.path, res.StatusCode, tc.wantStatus, body)
			}
			if tc.wantBody != "" || tc.wantStatus == 304 || method == "HEAD" {
				if string(body) != tc.wantBody {
					t.Errorf("%s %s: body %q, want %q", method, tc.path, body, tc.wantBody)
				}
			}
			for k, v := range tc.wantHeader {
				if got := res.Header.Get(k); got != v {
					t.Errorf("%s %s: %s = %q, want %q", method, tc.path, k, got, v)
				}
			}
			// Browser players need CORS on every answer, errors included.
			if res.Header.Get("Access-Control-Allow-Origin") != "*" || res.Header.Get("Timing-Allow-Origin") != "*" {
				t.Errorf("%s %s: CORS headers missing: %v", method, tc.path, res.Header)
			}
			if !strings.Contains(res.Header.Get("Access-Control-Expose-Headers"), "Content-Range") {
				t.Errorf("Content-Range not exposed")
			}
		})
	}
}

// TestServerLoopback serves over a real socket, as players see it, and
// checks that the metrics count what was served.
func TestServerLoopback(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	s := newTestServer(t, reg)
	ts := httptest.NewServer(s)
	defer ts.Close()
	for _, p := range []string{"/t1/360p/1.m4s", "/t1/360p/1.m4s", "/t1/missing"} {
		res, err := http.Get(ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	if got := testutil.ToFloat64(s.metrics.requests.WithLabelValues("GET", "2xx")); got != 2 {
		t.Errorf("requests{GET,2xx} = %v, want 2", got)
	}
	if got := testutil.ToFloat64(s.metrics.requests.WithLabelValues("GET", "4xx")); got != 1 {
		t.Errorf("requests{GET,4xx} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(s.metrics.bytes); got < 40 {
		t.Errorf("response bytes = %v, want >= 40", got)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) > 0 {
		t.Errorf("promlint: %v %v", err, problems)
	}
}

func TestNewRejects(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("New with no directory: no error")
	}
	if _, err := New(Config{Dir: filepath.Join(t.TempDir(), "missing")}); err == nil {
		t.Error("New with a missing directory: no error")
	}
}
