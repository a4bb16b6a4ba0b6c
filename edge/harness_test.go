package edge

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamcdn/streamcdn/internal/h1"
	"github.com/streamcdn/streamcdn/internal/testutil"
)

// clock is a settable time source shared by a test's upstream and edge.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// upstream is a test origin: handler decides each answer; it counts the
// requests it gets.
type upstream struct {
	*httptest.Server
	count   atomic.Int64
	handler http.HandlerFunc
}

func newUpstream(t *testing.T, c *clock, h http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{handler: h}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.count.Add(1)
		w.Header().Set("Date", c.Now().Format(http.TimeFormat))
		u.handler(w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

// newEdge starts an edge in front of up on loopback.
func newEdge(t *testing.T, up string, c *clock, mutate ...func(*Config)) (*Server, *front) {
	t.Helper()
	cfg := Config{Upstream: up, Name: "edge-test", AdminToken: "secret"}
	if c != nil {
		cfg.Now = c.Now
	}
	for _, m := range mutate {
		m(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() }) // after the listener's (cleanups run last first)
	return s, newFront(t, s, s.ConnContext)
}

// front is an edge's public listener as the edge command serves it
// (internal/h1), on 127.0.0.1 until the test ends.
type front struct {
	URL string
	srv *h1.Server
}

func newFront(t testing.TB, h http.Handler, connContext func(context.Context, net.Conn) context.Context) *front {
	t.Helper()
	url, srv := testutil.ServeH1(t, h, connContext)
	return &front{URL: url, srv: srv}
}

// Close closes the listener and every connection, before the test ends.
func (f *front) Close() { _ = f.srv.Close() }

type reply struct {
	status int
	header http.Header
	body   string
}

// get sends a request to base+path with headers h (pairs) and reads the
// whole answer.
func get(t *testing.T, method, url string, h ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(h); i += 2 {
		req.Header.Add(h[i], h[i+1]) // a repeated name sends a second field line
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, url, err)
	}
	return reply{res.StatusCode, res.Header, string(b)}
}

func newTestServer(t testing.TB, h http.Handler) *front {
	t.Helper()
	return newFront(t, h, nil)
}

// waitIdle waits (boundedly) until no fill is in flight, so that a test
// that moves a fake clock between requests does not see a request join
// the previous request's fill while it stores its object.
func waitIdle(t *testing.T, s *Server) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		s.fillsMu.Lock()
		n := len(s.fills)
		s.fillsMu.Unlock()
		if n == 0 {
			return
		}
	}
	t.Fatal("fills still in flight after 5s")
}
