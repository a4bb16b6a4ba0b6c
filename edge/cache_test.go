package edge

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// step is one request of a scenario and what must come of it.
type step struct {
	advance     time.Duration // move the clock first
	method      string
	path        string
	header      []string
	wantStatus  int
	wantBody    string
	wantCache   string // a substring of Cache-Status
	wantOrigin  int64  // upstream requests so far
	wantHeaders map[string]string
}

// TestCacheRules runs one scenario per RFC 9111 rule against a real
// upstream on loopback, with a shared fake clock.
func TestCacheRules(t *testing.T) {
	tests := []struct {
		name    string
		handler func(n int64) http.HandlerFunc // n: the upstream request number
		steps   []step
	}{
		{
			name:    "max-age: miss, hit, then stale and revalidated by a 304 that refreshes headers",
			handler: validated("max-age=60", `"v1"`, "body-1"),
			steps: []step{
				{path: "/a", wantStatus: 200, wantBody: "body-1", wantCache: "fwd=miss", wantOrigin: 1},
				{advance: 30 * time.Second, path: "/a", wantStatus: 200, wantBody: "body-1", wantCache: "hit; ttl=30", wantOrigin: 1,
					wantHeaders: map[string]string{"Age": "30", "Via": "1.1 edge-test"}},
				{advance: 40 * time.Second, path: "/a", wantStatus: 200, wantBody: "body-1", wantCache: "fwd=stale; fwd-status=304", wantOrigin: 2,
					wantHeaders: map[string]string{"X-Served": "2"}},
				{advance: 10 * time.Second, path: "/a", wantStatus: 200, wantCache: "hit", wantOrigin: 2, wantHeaders: map[string]string{"X-Served": "2"}},
			},
		},
		{
			name: "no explicit freshness and no validator: not stored",
			handler: func(n int64) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "x") }
			},
			steps: []step{
				{path: "/n", wantStatus: 200, wantCache: "fwd=miss", wantOrigin: 1},
				{path: "/n", wantStatus: 200, wantCache: "fwd=miss", wantOrigin: 2},
			},
		},
		{
			name:    "no-store is never stored",
			handler: fixed("no-store, max-age=60", "x"),
			steps: []step{
				{path: "/ns", wantStatus: 200, wantOrigin: 1},
				{path: "/ns", wantStatus: 200, wantOrigin: 2},
			},
		},
		{
			name:    "private is never stored",
			handler: fixed("private, max-age=60", "x"),
			steps:   []step{{path: "/p", wantOrigin: 1, wantStatus: 200}, {path: "/p", wantOrigin: 2, wantStatus: 200}},
		},
		{
			name: "heuristic freshness from Last-Modified: 10% of its age",
			handler: func(n int64) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Last-Modified", time.Date(2026, 2, 28, 12, 0, 0, 0, time.UTC).Format(http.TimeFormat))
					fmt.Fprint(w, "h")
				}
			},
			steps: []step{
				{path: "/h", wantOrigin: 1, wantStatus: 200},
				{advance: 2 * time.Hour, path: "/h", wantCache: "hit; ttl=", wantOrigin: 1, wantStatus: 200}, // lifetime 2.4h
				{advance: 1 * time.Hour, path: "/h", wantCache: "fwd=stale", wantOrigin: 2, wantStatus: 200},
			},
		},
		{
			name:    "CDN-Cache-Control takes precedence over Cache-Control",
			handler: withHeader(fixed("max-age=0", "c"), "CDN-Cache-Control", "max-age=600"),
			steps:   []step{{path: "/c", wantOrigin: 1, wantStatus: 200}, {advance: time.Minute, path: "/c", wantCache: "hit", wantOrigin: 1, wantStatus: 200}},
		},
		{
			name:    "s-maxage takes precedence over max-age",
			handler: fixed("max-age=1, s-maxage=100", "s"),
			steps:   []step{{path: "/s", wantOrigin: 1, wantStatus: 200}, {advance: 50 * time.Second, path: "/s", wantCache: "hit", wantOrigin: 1, wantStatus: 200}},
		},
		{
			name:    "Expires without max-age",
			handler: expires(90 * time.Second),
			steps: []step{
				{path: "/e", wantOrigin: 1, wantStatus: 200},
				{advance: 60 * time.Second, path: "/e", wantCache: "hit", wantOrigin: 1, wantStatus: 200},
				{advance: 60 * time.Second, path: "/e", wantCache: "fwd=stale; fwd-status=200", wantOrigin: 2, wantStatus: 200},
			},
		},
		{
			name: "Vary: each variant is stored apart",
			handler: func(n int64) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Cache-Control", "max-age=60")
					w.Header().Set("Vary", "Accept-Language")
					fmt.Fprint(w, "lang="+r.Header.Get("Accept-Language"))
				}
			},
			steps: []step{
				{path: "/v", header: []string{"Accept-Language", "en"}, wantBody: "lang=en", wantOrigin: 1, wantStatus: 200},
				{path: "/v", header: []string{"Accept-Language", "fr"}, wantBody: "lang=fr", wantOrigin: 2, wantStatus: 200},
				{path: "/v", header: []string{"Accept-Language", "en"}, wantBody: "lang=en", wantCache: "hit", wantOrigin: 2, wantStatus: 200},
				{path: "/v", header: []string{"Accept-Language", "fr"}, wantBody: "lang=fr", wantCache: "hit", wantOrigin: 2, wantStatus: 200},
			},
		},
		{
			name:    "request no-cache revalidates unless validated within the second, max-age in whole seconds; only-if-cached misses with 504",
			handler: validated("max-age=60", `"v"`, "r"),
			steps: []step{
				{path: "/oic", header: []string{"Cache-Control", "only-if-cached"}, wantStatus: 504, wantOrigin: 0},
				{path: "/r", wantOrigin: 1, wantStatus: 200},
				{path: "/r", header: []string{"Cache-Control", "no-cache"}, wantCache: "hit", wantOrigin: 1, wantStatus: 200},
				{advance: time.Second, path: "/r", header: []string{"Cache-Control", "no-cache"}, wantCache: "fwd=stale; fwd-status=304", wantOrigin: 2, wantStatus: 200},
				{path: "/r", header: []string{"Pragma", "no-cache"}, wantCache: "hit", wantOrigin: 2, wantStatus: 200},
				{advance: 500 * time.Millisecond, path: "/r", header: []string{"Cache-Control", "max-age=0"}, wantCache: "hit", wantOrigin: 2, wantStatus: 200},
				{advance: 500 * time.Millisecond, path: "/r", header: []string{"Cache-Control", "max-age=0"}, wantCache: "fwd=stale; fwd-status=304", wantOrigin: 3, wantStatus: 200},
				{path: "/r", header: []string{"Cache-Control", "only-if-cached"}, wantCache: "hit", wantOrigin: 3, wantStatus: 200},
			},
		},
		{
			name:    "request max-age and min-fresh force revalidation; max-stale accepts stale",
			handler: validated("max-age=60", `"v"`, "m"),
			steps: []step{
				{path: "/m", wantOrigin: 1, wantStatus: 200},
				{advance: 20 * time.Second, path: "/m", header: []string{"Cache-Control", "max-age=10"}, wantCache: "fwd=stale", wantOrigin: 2, wantStatus: 200},
				{advance: 30 * time.Second, path: "/m", header: []string{"Cache-Control", "min-fresh=40"}, wantCache: "fwd=stale", wantOrigin: 3, wantStatus: 200},
				{advance: 70 * time.Second, path: "/m", header: []string{"Cache-Control", "max-stale=30"}, wantCache: "detail=max-stale", wantOrigin: 3, wantStatus: 200},
			},
		},
		{
			name:    "response no-cache is revalidated on every use",
			handler: validated("no-cache", `"nc"`, "nc"),
			steps: []step{
				{path: "/nc", wantOrigin: 1, wantStatus: 200},
				{path: "/nc", wantCache: "fwd=stale; fwd-status=304", wantOrigin: 2, wantStatus: 200},
			},
		},
		{
			name:    "unsafe method invalidates",
			handler: fixed("max-age=600", "i"),
			steps: []step{
				{path: "/i", wantOrigin: 1, wantStatus: 200},
				{path: "/i", wantCache: "hit", wantOrigin: 1, wantStatus: 200},
				{method: "POST", path: "/i", wantCache: "fwd=method", wantOrigin: 2, wantStatus: 200},
				{path: "/i", wantCache: "fwd=miss", wantOrigin: 3, wantStatus: 200},
			},
		},
		{
			name:    "a response to a request with Authorization is not stored without public, s-maxage or must-revalidate",
			handler: fixed("max-age=600", "a"),
			steps: []step{
				{path: "/auth", header: []string{"Authorization", "Bearer x"}, wantCache: "fwd=miss", wantOrigin: 1, wantStatus: 200},
				{path: "/auth", header: []string{"Authorization", "Bearer x"}, wantCache: "fwd=miss", wantOrigin: 2, wantStatus: 200},
				{path: "/auth", wantCache: "fwd=miss", wantOrigin: 3, wantStatus: 200},
			},
		},
		{
			name:    "ranges, conditionals and HEAD from the cache",
			handler: validated("max-age=600", `"rg"`, "0123456789"),
			steps: []step{
				{path: "/rg", header: []string{"Range", "bytes=2-4"}, wantStatus: 206, wantBody: "234", wantOrigin: 1,
					wantHeaders: map[string]string{"Content-Range": "bytes 2-4/10"}},
				{path: "/rg", header: []string{"Range", "bytes=-3"}, wantStatus: 206, wantBody: "789", wantCache: "hit", wantOrigin: 1},
				{path: "/rg", header: []string{"Range", "bytes=20-"}, wantStatus: 416, wantCache: "hit", wantOrigin: 1},
				{path: "/rg", header: []string{"Range", "bytes=0-0", "If-Range", `"old"`}, wantStatus: 200, wantBody: "0123456789", wantOrigin: 1},
				{path: "/rg", header: []string{"If-None-Match", `"rg"`}, wantStatus: 304, wantCache: "hit", wantOrigin: 1},
				{method: "HEAD", path: "/rg", wantStatus: 200, wantBody: "", wantCache: "hit", wantOrigin: 1,
					wantHeaders: map[string]string{"Content-Length": "10"}},
			},
		},
		{
			name: "stale-if-error serves stale when upstream fails, 5xx passes beyond the window",
			handler: func(n int64) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					if n > 1 {
						http.Error(w, "down", http.StatusServiceUnavailable)
						return
					}
					w.Header().Set("Cache-Control", "max-age=10, stale-if-error=60")
					fmt.Fprint(w, "sie")
				}
			},
			steps: []step{
				{path: "/sie", wantBody: "sie", wantOrigin: 1, wantStatus: 200},
				{advance: 30 * time.Second, path: "/sie", wantBody: "sie", wantCache: "fwd-status=503; detail=stale-if-error", wantOrigin: 2, wantStatus: 200},
				{advance: 60 * time.Second, path: "/sie", wantStatus: 503, wantOrigin: 3},
			},
		},
		{
			name: "stale-while-revalidate serves stale at once and refreshes behind",
			handler: func(n int64) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Cache-Control", "max-age=10, stale-while-revalidate=60")
					fmt.Fprintf(w, "swr-%d", n)
				}
			},
			steps: []step{
				{path: "/swr", wantBody: "swr-1", wantOrigin: 1, wantStatus: 200},
				{advance: 20 * time.Second, path: "/swr", wantBody: "swr-1", wantCache: "detail=stale-while-revalidate", wantStatus: 200, wantOrigin: -1},
				// The background revalidation has stored the new answer.
				{path: "/swr", wantBody: "swr-2", wantCache: "hit", wantStatus: 200, wantOrigin: 2},
			},
		},
		{
			name:    "negative caching of a 404 with explicit freshness",
			handler: status404("max-age=60"),
			steps:   []step{{path: "/404", wantStatus: 404, wantOrigin: 1}, {path: "/404", wantStatus: 404, wantCache: "hit", wantOrigin: 1}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runScenario(t, tc.handler, tc.steps) })
	}
}

// runScenario sends steps to an edge in front of an upstream answering
// with handler, on loopback, with a shared fake clock: once with stored
// bodies on the heap, once with every body in a memfd (memFile).
func runScenario(t *testing.T, handler func(n int64) http.HandlerFunc, steps []step) {
	t.Helper()
	for _, b := range []struct {
		name string
		min  int64 // FileBodyBytes
	}{{"heap", -1}, {"memfd", 1}} {
		t.Run(b.name, func(t *testing.T) {
			runSteps(t, handler, steps, func(cfg *Config) { cfg.FileBodyBytes = b.min })
		})
	}
}

func runSteps(t *testing.T, handler func(n int64) http.HandlerFunc, steps []step, mutate func(*Config)) {
	t.Helper()
	c := newClock()
	var up *upstream
	up = newUpstream(t, c, func(w http.ResponseWriter, r *http.Request) { handler(up.count.Load())(w, r) })
	s, edge := newEdge(t, up.URL, c, mutate)
	for i, st := range steps {
		waitIdle(t, s)
		c.Advance(st.advance)
		method := st.method
		if method == "" {
			method = "GET"
		}
		got := get(t, method, edge.URL+st.path, st.header...)
		where := fmt.Sprintf("step %d (%s %s %v)", i, method, st.path, st.header)
		if got.status != st.wantStatus {
			t.Fatalf("%s: status %d, want %d (Cache-Status %q)", where, got.status, st.wantStatus, got.header.Get("Cache-Status"))
		}
		if st.wantBody != "" && got.body != st.wantBody {
			t.Errorf("%s: body %q, want %q", where, got.body, st.wantBody)
		}
		if cs := got.header.Get("Cache-Status"); !strings.HasPrefix(cs, "edge-test; ") || !strings.Contains(cs, st.wantCache) {
			t.Errorf("%s: Cache-Status %q, want it to contain %q", where, cs, st.wantCache)
		}
		if st.wantOrigin >= 0 && up.count.Load() != st.wantOrigin {
			t.Errorf("%s: upstream saw %d requests, want %d", where, up.count.Load(), st.wantOrigin)
		}
		for k, v := range st.wantHeaders {
			if got.header.Get(k) != v {
				t.Errorf("%s: %s = %q, want %q", where, k, got.header.Get(k), v)
			}
		}
	}
}

// validated answers with the given Cache-Control and ETag, 304 to a
// matching If-None-Match, and counts its answers in X-Served.
func validated(cc, etag, body string) func(int64) http.HandlerFunc {
	return func(n int64) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", cc)
			w.Header().Set("ETag", etag)
			w.Header().Set("X-Served", fmt.Sprint(n))
			if r.Header.Get("If-None-Match") == etag {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			fmt.Fprint(w, body)
		}
	}
}

func fixed(cc, body string) func(int64) http.HandlerFunc {
	return func(int64) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", cc)
			fmt.Fprint(w, body)
		}
	}
}

func withHeader(h func(int64) http.HandlerFunc, k, v string) func(int64) http.HandlerFunc {
	return func(n int64) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set(k, v)
			h(n)(w, r)
		}
	}
}

func expires(d time.Duration) func(int64) http.HandlerFunc {
	return func(int64) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			date, _ := http.ParseTime(w.Header().Get("Date"))
			w.Header().Set("Expires", date.Add(d).Format(http.TimeFormat))
			fmt.Fprint(w, "e")
		}
	}
}

func status404(cc string) func(int64) http.HandlerFunc {
	return func(int64) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", cc)
			http.Error(w, "no such segment", http.StatusNotFound)
		}
	}
}
