package edge

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

// TestConformance: cases of the HTTP caching test suite (cache-tests.fyi,
// named by their ids there) that earlier versions of the edge failed,
// each against a real upstream on loopback.
func TestConformance(t *testing.T) {
	// answer returns a handler that sets the header pairs (a value of
	// "" deletes the field; a repeated name adds a line) and writes body.
	answer := func(status int, body string, kv ...string) func(int64) http.HandlerFunc {
		return func(int64) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				seen := map[string]bool{}
				for i := 0; i+1 < len(kv); i += 2 {
					switch {
					case kv[i+1] == "":
						w.Header().Del(kv[i])
					case seen[kv[i]]:
						w.Header().Add(kv[i], kv[i+1])
					default:
						w.Header().Set(kv[i], kv[i+1])
					}
					seen[kv[i]] = true
				}
				w.WriteHeader(status)
				fmt.Fprint(w, body)
			}
		}
	}
	reused := func(path string) []step {
		return []step{{path: path, wantStatus: 200, wantOrigin: 1}, {advance: time.Second, path: path, wantStatus: 200, wantCache: "hit", wantOrigin: 1}}
	}
	notReused := func(path string) []step {
		return []step{{path: path, wantStatus: 200, wantOrigin: 1}, {advance: time.Second, path: path, wantStatus: 200, wantOrigin: 2}}
	}
	future := "Thu, 18 Aug 2050 02:01:18 GMT"
	tests := []struct {
		id      string
		handler func(int64) http.HandlerFunc
		steps   []step
	}{
		// Age is a list at most once: its first member counts.
		{"age-parse-suffix", answer(200, "a", "Cache-Control", "max-age=3600", "Age", "7200, 0"), notReused("/age")},
		{"age-parse-prefix", answer(200, "a", "Cache-Control", "max-age=3600", "Age", "0, 7200"), reused("/age")},
		{"age-parse-float", answer(200, "a", "Cache-Control", "max-age=3600", "Age", "7200.0"), reused("/age")},
		// Expires must be an HTTP-date to the letter, and only one.
		{"freshness-expires-future", answer(200, "e", "Expires", future), reused("/exp")},
		{"freshness-expires-invalid-1-digit-hour", answer(200, "e", "Expires", "Thu, 18 Aug 2050 2:01:18 GMT"), notReused("/exp")},
		{"freshness-expires-invalid-multiple-spaces", answer(200, "e", "Expires", "Thu, 18  Aug  2050 02:01:18 GMT"), notReused("/exp")},
		{"freshness-expires-invalid-multiple-lines", answer(200, "e", "Expires", future, "Expires", future), notReused("/exp")},
		{"freshness-expires-invalid-utc", answer(200, "e", "Expires", "Thu, 18 Aug 2050 02:01:18 UTC"), notReused("/exp")},
		{"freshness-expires-invalid-date-dashes", answer(200, "e", "Expires", "Thu, 18-Aug-2050 02:01:18 GMT"), notReused("/exp")},
		{"freshness-expires-wrong-case-tz", answer(200, "e", "Expires", "Thu, 18 Aug 2050 02:01:18 gMT"), reused("/exp")},
		{"freshness-expires-wrong-case-month", answer(200, "e", "Expires", "Thu, 18 AUG 2050 02:01:18 GMT"), reused("/exp")},
		{"freshness-expires-rfc850", answer(200, "e", "Expires", "Thursday, 18-Aug-50 02:01:18 GMT"), reused("/exp")},
		{"freshness-expires-ansi-c", answer(200, "e", "Expires", "Thu Aug 18 02:01:18 2050"), reused("/exp")},
		// An invalid Date: the time of the response stands in for it.
		{"freshness-expires-invalid-date", answer(200, "e", "Date", "not a date", "Expires", future), reused("/exp")},
		// CDN-Cache-Control replaces Cache-Control, no-store included.
		{"cdn-fresh-cc-nostore", answer(200, "c", "CDN-Cache-Control", "max-age=3600", "Cache-Control", "no-store"), reused("/cdn")},
		{"cdn-cc-invalid-sh-type-unknown", answer(200, "c", "CDN-Cache-Control", "max-age=3600", "Cache-Control", "private"), reused("/cdn")},
		{"cdn-no-store-cc-fresh", answer(200, "c", "CDN-Cache-Control", "no-store", "Cache-Control", "max-age=3600"), notReused("/cdn")},
		{"cdn-remove-header", answer(200, "c", "CDN-Cache-Control", "max-age=3600", "Expires", "0"), reused("/cdn")},
		// must-understand with a status the cache knows overrides no-store.
		{"cc-resp-must-understand-no-store", answer(200, "m", "Cache-Control", "must-understand, no-store, max-age=3600"), reused("/mu")},
		// public makes any status heuristically cacheable.
		{"heuristic-400-public", answer(400, "h", "Cache-Control", "public", "Last-Modified", "Thu, 18 Aug 2016 02:01:18 GMT"), []step{
			{path: "/h", wantStatus: 400, wantOrigin: 1}, {advance: time.Second, path: "/h", wantStatus: 400, wantCache: "hit", wantOrigin: 1}}},
		// If-Modified-Since against the stored Date when there is no Last-Modified.
		{"conditional-lm-fresh-no-lm", answer(200, "i", "Cache-Control", "max-age=3600"), []step{
			{path: "/ims", wantStatus: 200, wantOrigin: 1},
			{advance: time.Second, path: "/ims", header: []string{"If-Modified-Since", "Sun, 01 Mar 2026 12:00:00 GMT"}, wantStatus: 304, wantCache: "hit", wantOrigin: 1}}},
		// A response to a request with Authorization is stored when it
		// says a shared cache may.
		{"other-authorization-public", answer(200, "p", "Cache-Control", "public, max-age=3600"), []step{
			{path: "/auth", header: []string{"Authorization", "Basic dGVzdDp0ZXN0"}, wantStatus: 200, wantOrigin: 1},
			{advance: time.Second, path: "/auth", header: []string{"Authorization", "Basic dGVzdDp0ZXN0"}, wantStatus: 200, wantCache: "hit", wantOrigin: 1}}},
		{"other-authorization-smaxage", answer(200, "p", "Cache-Control", "s-maxage=3600"), []step{
			{path: "/auth", header: []string{"Authorization", "Basic dGVzdDp0ZXN0"}, wantStatus: 200, wantOrigin: 1},
			{advance: time.Second, path: "/auth", header: []string{"Authorization", "Basic dGVzdDp0ZXN0"}, wantStatus: 200, wantCache: "hit", wantOrigin: 1}}},
		{"other-authorization-must-revalidate", answer(200, "p", "Cache-Control", "must-revalidate, max-age=3600"), []step{
			{path: "/auth", header: []string{"Authorization", "Basic dGVzdDp0ZXN0"}, wantStatus: 200, wantOrigin: 1},
			{advance: time.Second, path: "/auth", header: []string{"Authorization", "Basic dGVzdDp0ZXN0"}, wantStatus: 200, wantCache: "hit", wantOrigin: 1}}},
		{"other-authorization", answer(200, "p", "Cache-Control", "max-age=3600"), []step{
			{path: "/auth", header: []string{"Authorization", "Basic dGVzdDp0ZXN0"}, wantStatus: 200, wantOrigin: 1},
			{advance: time.Second, path: "/auth", header: []string{"Authorization", "Basic dGVzdDp0ZXN0"}, wantStatus: 200, wantOrigin: 2}}},
		// Vary: request values are compared normalised.
		{"vary-normalise-space", answer(200, "v", "Cache-Control", "max-age=3600", "Vary", "Accept-Language"), []step{
			{path: "/v", header: []string{"Accept-Language", "en-US, fr"}, wantStatus: 200, wantOrigin: 1},
			{path: "/v", header: []string{"Accept-Language", "en-US,fr"}, wantStatus: 200, wantCache: "hit", wantOrigin: 1}}},
		{"vary-normalise-case", answer(200, "v", "Cache-Control", "max-age=3600", "Vary", "Accept-Language"), []step{
			{path: "/v", header: []string{"Accept-Language", "en-US"}, wantStatus: 200, wantOrigin: 1},
			{path: "/v", header: []string{"Accept-Language", "en-us"}, wantStatus: 200, wantCache: "hit", wantOrigin: 1}}},
		{"vary-normalise-lines", answer(200, "v", "Cache-Control", "max-age=3600", "Vary", "Accept-Encoding"), []step{
			{path: "/v", header: []string{"Accept-Encoding", "gzip, br"}, wantStatus: 200, wantOrigin: 1},
			{path: "/v", header: []string{"Accept-Encoding", "gzip", "Accept-Encoding", "br"}, wantStatus: 200, wantCache: "hit", wantOrigin: 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) { runScenario(t, tc.handler, tc.steps) })
	}
}

// TestStaleOnDisconnect: when upstream closes the connection without an
// answer (the stale-close-* cases), a stale response is served unless it
// forbids that, and not beyond StaleIfDisconnected (an hour).
func TestStaleOnDisconnect(t *testing.T) {
	closing := func(cc string) func(int64) http.HandlerFunc {
		return func(n int64) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				if n > 1 { // every request after the first: the connection closes
					conn, _, err := http.NewResponseController(w).Hijack()
					if err == nil {
						conn.Close()
					}
					return
				}
				w.Header().Set("Cache-Control", cc)
				fmt.Fprint(w, "kept")
			}
		}
	}
	tests := []struct {
		id, cc  string
		advance time.Duration
		want    int
	}{
		{"stale-close", "max-age=1", 10 * time.Second, 200},
		{"stale-close-must-revalidate", "max-age=1, must-revalidate", 10 * time.Second, 502},
		{"stale-close-proxy-revalidate", "max-age=1, proxy-revalidate", 10 * time.Second, 502},
		{"stale-close-no-cache", "max-age=1, no-cache", 10 * time.Second, 502},
		{"stale-close-s-maxage", "s-maxage=1", 10 * time.Second, 502},
		{"stale-close-beyond-an-hour", "max-age=1", 2 * time.Hour, 502},
		{"stale-close-stale-if-error-bounds-it", "max-age=1, stale-if-error=5", 10 * time.Second, 502},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			// Upstream sees the request again: Go's transport retries an idempotent
			// request once when a reused connection closes without an answer.
			st := step{advance: tc.advance, path: "/sc", wantStatus: tc.want, wantOrigin: -1, wantCache: "detail=upstream-error"}
			if tc.want == 200 {
				st.wantBody, st.wantCache = "kept", "fwd=stale; fwd-status=502; detail=stale-if-disconnected"
			}
			runScenario(t, closing(tc.cc), []step{{path: "/sc", wantStatus: 200, wantBody: "kept", wantOrigin: 1}, st})
		})
	}
}

// TestInterimResponses: 102 and 103 from upstream reach the client whose
// request started the fill, with their fields, and are not stored: the
// final response is, and the next request is a hit without them
// (interim-102, interim-103, interim-not-cached).
func TestInterimResponses(t *testing.T) {
	c := newClock()
	up := newUpstream(t, c, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusProcessing)
		w.Header().Set("Link", "</styles.css>; rel=preload; as=style")
		w.Header().Set("X-My-Header", "test")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Del("X-My-Header")
		w.Header().Set("Cache-Control", "max-age=100000")
		fmt.Fprint(w, "final")
	})
	_, edge := newEdge(t, up.URL, c)
	type got struct {
		code int
		link string
	}
	fetch := func() ([]got, reply) {
		var interims []got
		ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			interims = append(interims, got{code, h.Get("Link")})
			return nil
		}})
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, edge.URL+"/early", nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return interims, reply{res.StatusCode, res.Header, string(b)}
	}
	interims, r := fetch()
	want := []got{{102, ""}, {103, "</styles.css>; rel=preload; as=style"}}
	if fmt.Sprint(interims) != fmt.Sprint(want) || r.status != 200 || r.body != "final" {
		t.Fatalf("miss: interim %v, final %d %q; want interim %v, final 200 \"final\"", interims, r.status, r.body, want)
	}
	if r.header.Get("Link") != "" || r.header.Get("X-My-Header") != "" {
		t.Errorf("the final response carries the 103's fields: %v", r.header)
	}
	interims, r = fetch()
	if len(interims) != 0 || r.status != 200 || r.body != "final" || !strings.Contains(r.header.Get("Cache-Status"), "hit") {
		t.Errorf("second request: interim %v, %d %q, Cache-Status %q; want a hit without interim responses", interims, r.status, r.body, r.header.Get("Cache-Status"))
	}
	if n := up.count.Load(); n != 1 {
		t.Errorf("upstream saw %d requests, want 1", n)
	}
}

// TestAuthorizedFillNotShared: a request without Authorization that
// joins a fill started by one with it does not get that response unless
// it may be stored for everyone: it fetches its own.
func TestAuthorizedFillNotShared(t *testing.T) {
	c := newClock()
	started := make(chan struct{}, 4)
	up := newUpstream(t, c, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		if r.Header.Get("Authorization") != "" {
			started <- struct{}{}
			time.Sleep(200 * time.Millisecond)
			fmt.Fprint(w, "private to A")
			return
		}
		fmt.Fprint(w, "anonymous")
	})
	_, edge := newEdge(t, up.URL, c)
	done := make(chan reply, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, edge.URL+"/me", nil)
		req.Header.Set("Authorization", "Bearer A")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- reply{}
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		done <- reply{res.StatusCode, res.Header, string(b)}
	}()
	<-started // A's fill is in flight
	if r := get(t, "GET", edge.URL+"/me"); r.body != "anonymous" {
		t.Errorf("a request without Authorization during A's fill got %q (Cache-Status %q)", r.body, r.header.Get("Cache-Status"))
	}
	if a := <-done; a.body != "private to A" {
		t.Errorf("A got %q", a.body)
	}
}
