package edge

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestRequestMetrics checks that requests and body bytes are counted
// under their cache status and status class, through the counters that
// observe resolves once and then reuses, and for a status outside them.
func TestRequestMetrics(t *testing.T) {
	c := newClock()
	up := newUpstream(t, c, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/gone":
			w.WriteHeader(http.StatusNotFound)
		default:
			w.Header().Set("Cache-Control", "max-age=60")
			w.Write([]byte("12345"))
		}
	})
	reg := prometheus.NewRegistry()
	s, err := New(Config{Upstream: up.URL, Now: c.Now, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct{ method, target string }{
		{"GET", "/a"}, {"GET", "/a"}, {"GET", "/a"}, {"HEAD", "/a"},
		{"GET", "/gone"}, {"POST", "/a"}, {"GET", "*"},
	} {
		s.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(tc.method, tc.target, strings.NewReader("")))
	}
	for _, tc := range []struct {
		cache, class string
		requests     float64
	}{
		{"miss", "2xx", 1},
		{"hit", "2xx", 3},
		{"miss", "4xx", 1},
		{"bypass", "2xx", 1},
		{"bypass", "4xx", 1},
	} {
		if got := testutil.ToFloat64(s.metrics.requests.WithLabelValues(tc.cache, tc.class)); got != tc.requests {
			t.Errorf("requests{cache=%s,code_class=%s} = %v, want %v", tc.cache, tc.class, got, tc.requests)
		}
	}
	if got := testutil.ToFloat64(s.metrics.bytes.WithLabelValues("hit")); got != 10 {
		t.Errorf("body bytes{cache=hit} = %v, want 10 (two GETs of 5; HEAD sends none)", got)
	}
	if n := testutil.CollectAndCount(s.metrics.requests); n != 5 {
		t.Errorf("%d request series, want 5: only the label values seen", n)
	}
}
