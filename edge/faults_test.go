package edge

import (
	"bufio"
	"bytes"
	"context"
	"io"
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

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestUpstreamDiesMidBody: the client sees an error, nothing is stored.
func TestUpstreamDiesMidBody(t *testing.T) {
	up := newUpstream(t, newClock(), nil)
	up.handler = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Content-Length", "1000000")
		if up.count.Load() > 1 {
			w.Write(bytes.Repeat([]byte("b"), 1000000))
			return
		}
		w.Write(bytes.Repeat([]byte("a"), 100000))
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close() // the upstream dies
		}
	}
	s, edge := newEdge(t, up.URL, nil)
	res, err := http.Get(edge.URL + "/dies.m4s")
	if err == nil {
		_, err = io.ReadAll(res.Body)
		res.Body.Close()
	}
	if err == nil {
		t.Fatal("a truncated upstream body reached the client as a complete response")
	}
	waitIdle(t, s)
	r := get(t, "GET", edge.URL+"/dies.m4s")
	if up.count.Load() != 2 || len(r.body) != 1000000 || r.body[0] != 'b' || !strings.Contains(r.header.Get("Cache-Status"), "fwd=miss") {
		t.Errorf("after a failed fill: upstream %d, body %d bytes, Cache-Status %q; want a fresh miss", up.count.Load(), len(r.body), r.header.Get("Cache-Status"))
	}
}

// TestUpstreamDownStale: with the upstream gone, a stale object is served
// within stale-if-error, and 502 beyond.
func TestUpstreamDownStale(t *testing.T) {
	c := newClock()
	up := newUpstream(t, c, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=10, stale-if-error=60")
		io.WriteString(w, "kept")
	})
	s, edge := newEdge(t, up.URL, c)
	if r := get(t, "GET", edge.URL+"/x"); r.body != "kept" {
		t.Fatalf("first fetch: %q", r.body)
	}
	waitIdle(t, s)
	up.Close()
	c.Advance(30 * time.Second)
	r := get(t, "GET", edge.URL+"/x")
	if r.status != 200 || r.body != "kept" || !strings.Contains(r.header.Get("Cache-Status"), "detail=stale-if-error") {
		t.Errorf("within stale-if-error: %d %q %q", r.status, r.body, r.header.Get("Cache-Status"))
	}
	waitIdle(t, s)
	c.Advance(60 * time.Second)
	if r := get(t, "GET", edge.URL+"/x"); r.status != http.StatusBadGateway {
		t.Errorf("beyond stale-if-error: status %d, want 502 (the upstream refuses connections)", r.status)
	}
}

// TestDiskTierSurvivesRestart: objects written to disk are hits for a new
// server on the same directory; a corrupted file is dropped and refetched.
func TestDiskTierSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	up := newUpstream(t, c, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "segment:"+r.URL.Path)
	})
	withDisk := func(cfg *Config) { cfg.DiskDir = dir }
	s1, e1 := newEdge(t, up.URL, c, withDisk)
	for _, p := range []string{"/1.m4s", "/2.m4s"} {
		get(t, "GET", e1.URL+p)
	}
	e1.Close()
	s1.Close() // waits for the disk writes

	s2, e2 := newEdge(t, up.URL, c, withDisk)
	r := get(t, "GET", e2.URL+"/1.m4s")
	waitIdle(t, s2)
	if r.body != "segment:/1.m4s" || !strings.Contains(r.header.Get("Cache-Status"), "hit") || up.count.Load() != 2 {
		t.Fatalf("after restart: %q, %q, upstream %d; want a hit", r.body, r.header.Get("Cache-Status"), up.count.Load())
	}

	// Corrupt /2.m4s on disk: one flipped body byte.
	path := s2.disk.path("/2.m4s")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-1] ^= 0xff
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r = get(t, "GET", e2.URL+"/2.m4s")
	if r.body != "segment:/2.m4s" || !strings.Contains(r.header.Get("Cache-Status"), "fwd=miss") || up.count.Load() != 3 {
		t.Errorf("corrupt file: %q, %q, upstream %d; want a miss and a refetch", r.body, r.header.Get("Cache-Status"), up.count.Load())
	}
	if got := testutil.ToFloat64(s2.metrics.corrupt); got != 1 {
		t.Errorf("corrupt objects = %v, want 1", got)
	}
}

// TestOpenDiskCleansUp: leftovers of interrupted writes and foreign files
// are removed when the index is rebuilt.
func TestOpenDiskCleansUp(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"ab/abcd.tmp-123": "partial", "cd/junk": "not an object"} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(body), 0o644)
	}
	d, err := openDisk(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := d.stats(); n != 0 {
		t.Errorf("index has %d objects, want 0", n)
	}
	for _, name := range []string{"ab/abcd.tmp-123", "cd/junk"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			t.Errorf("%s left in place", name)
		}
	}
}

func TestPurge(t *testing.T) {
	c := newClock()
	up := newUpstream(t, c, fixed("max-age=600", "p")(0))
	s, edge := newEdge(t, up.URL, c)
	admin := httptestServer(t, s.Admin())
	for _, p := range []string{"/t/a", "/t/b", "/u/c"} {
		get(t, "GET", edge.URL+p)
	}
	waitIdle(t, s)
	tests := []struct {
		name, query, token string
		want               int
		wantBody           string
	}{
		{"no token", "url=/t/a", "", 401, ""},
		{"wrong token", "url=/t/a", "nope", 401, ""},
		{"exact", "url=/t/a", "secret", 200, `{"purged":1}`},
		{"prefix", "prefix=/t/", "secret", 200, `{"purged":1}`},
		{"neither", "", "secret", 400, ""},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest("POST", admin+"/purge?"+tc.query, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.want || (tc.wantBody != "" && strings.TrimSpace(string(b)) != tc.wantBody) {
			t.Errorf("%s: %d %q, want %d %q", tc.name, res.StatusCode, b, tc.want, tc.wantBody)
		}
	}
	before := up.count.Load()
	get(t, "GET", edge.URL+"/t/a")
	get(t, "GET", edge.URL+"/t/b")
	get(t, "GET", edge.URL+"/u/c")
	if got := up.count.Load() - before; got != 2 {
		t.Errorf("after purges, %d refetches, want 2 (/t/a and /t/b)", got)
	}
	// The public listener has no admin API.
	if r := get(t, "POST", edge.URL+"/purge?url=/u/c"); strings.Contains(r.body, "purged") {
		t.Error("purge answered on the public listener")
	}
}

func httptestServer(t *testing.T, h http.Handler) string {
	t.Helper()
	ts := newTestServer(t, h)
	return ts.URL
}

// TestSpoiledConnectionRetry: an upstream that answers a second request
// on a kept-alive connection with garbage (as one does after sending
// more body than its Content-Length) fails the request sent on it; the
// edge sends a GET (a fill) or a DELETE once more, on a new connection.
// A POST (not idempotent) or a PUT with a body (the body is gone once
// sent) could not be sent again, so the edge never sends them on a
// kept-alive connection: they get the upstream's answer, sent once.
func TestSpoiledConnectionRetry(t *testing.T) {
	sent := map[string]*atomic.Int32{http.MethodDelete: {}, http.MethodPut: {}, http.MethodPost: {}}
	up := spoilingUpstream(t, func(r *http.Request) {
		if n, ok := sent[r.Method]; ok {
			n.Add(1)
		}
	})
	for _, tc := range []struct {
		method, body string
		status       int
		want         int32
	}{
		{http.MethodDelete, "", http.StatusNoContent, 2},
		{http.MethodPut, "new", http.StatusNoContent, 1},
		{http.MethodPost, "", http.StatusNoContent, 1},
	} {
		_, edge := newEdge(t, up, nil)
		// Each GET leaves a connection idle in the edge's pool, and the
		// next request takes it: the second GET is retried.
		for i := range 2 {
			if r := get(t, "GET", edge.URL+"/t/"+tc.method); r.status != 200 || r.body != "ok" {
				t.Fatalf("GET %d: %d %q", i+1, r.status, r.body)
			}
		}
		req, err := http.NewRequest(tc.method, edge.URL+"/t/"+tc.method, strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != tc.status {
			t.Errorf("%s on a spoiled connection: %d, want %d", tc.method, res.StatusCode, tc.status)
		}
		if n := sent[tc.method].Load(); n != tc.want {
			t.Errorf("upstream got %d %s requests, want %d", n, tc.method, tc.want)
		}
	}
}

// spoilingUpstream serves on loopback a first request on each connection
// properly (a GET with "ok", not to be stored; anything else with 204)
// and a second with a line of garbage, then closes the connection; seen
// is called with every request. It returns its URL.
func spoilingUpstream(t *testing.T, seen func(*http.Request)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				br := bufio.NewReader(c)
				for n := 0; ; n++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					seen(req)
					switch {
					case n > 0:
						io.WriteString(c, "9b2f-rest-of-a-body\r\n\r\n")
						return
					case req.Method == http.MethodGet:
						io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nCache-Control: no-store\r\n\r\nok")
					default:
						io.WriteString(c, "HTTP/1.1 204 No Content\r\n\r\n")
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// TestNoRetryAfterTimeoutOrClientGone: the retry of a failed idempotent
// request (Server.do) is not made when the upstream timed out, which
// would double the client's wait, nor when the client went away.
func TestNoRetryAfterTimeoutOrClientGone(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method string
		mutate func(*Config)
		// clientTimeout, when set, makes the client give up first.
		clientTimeout time.Duration
	}{
		{"upstream timeout", http.MethodGet, func(c *Config) { c.UpstreamTimeout = 300 * time.Millisecond }, 0},
		{"response header timeout", http.MethodGet, func(c *Config) {
			c.Transport = &http.Transport{ResponseHeaderTimeout: 300 * time.Millisecond}
		}, 0},
		{"client gone", http.MethodDelete, nil, 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen, ended atomic.Int32
			release := make(chan struct{})
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen.Add(1)
				defer ended.Add(1)
				select { // hang until the edge gives up
				case <-r.Context().Done():
				case <-release:
				}
			}))
			defer up.Close()
			defer close(release)
			var mutate []func(*Config)
			if tc.mutate != nil {
				mutate = append(mutate, tc.mutate)
			}
			_, edge := newEdge(t, up.URL, nil, mutate...)
			ctx := t.Context()
			if tc.clientTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.clientTimeout)
				defer cancel()
			}
			req, err := http.NewRequestWithContext(ctx, tc.method, edge.URL+"/hang", nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := http.DefaultClient.Do(req)
			if err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode < 500 {
					t.Errorf("status %d, want a 5xx", res.StatusCode)
				}
			} else if tc.clientTimeout == 0 {
				t.Fatal(err)
			}
			// The first request has ended at the upstream (the edge gave up
			// on it); a retry would start at once. Give it a second.
			for i := 0; ended.Load() == 0 && i < 500; i++ {
				time.Sleep(10 * time.Millisecond)
			}
			if ended.Load() == 0 {
				t.Fatal("the edge never gave up on the upstream request")
			}
			for i := 0; seen.Load() == 1 && i < 100; i++ {
				time.Sleep(10 * time.Millisecond)
			}
			if n := seen.Load(); n != 1 {
				t.Errorf("upstream got %d requests, want 1", n)
			}
		})
	}
}

// doneCounter is a context that counts the calls of Done: on h1, the
// first one starts a watch of the client's connection.
type doneCounter struct {
	context.Context
	calls atomic.Int32
}

func (d *doneCounter) Done() <-chan struct{} {
	d.calls.Add(1)
	return d.Context.Done()
}

// TestHitNeverWaitsOnContext: a hit, whole or a range, never waits on
// its request's context, so on h1 it costs no watch of the connection;
// nor does a miss, whose fill runs on its own; a request forwarded
// upstream does, and is cancelled if its client goes.
func TestHitNeverWaitsOnContext(t *testing.T) {
	c := newClock()
	up := newUpstream(t, c, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Write(bytes.Repeat([]byte("h"), 100<<10))
	})
	s, _ := newEdge(t, up.URL, c)
	for _, tc := range []struct {
		name, method, rng, cache string
		waits                    bool
	}{
		{"miss", http.MethodGet, "", "miss", false},
		{"hit", http.MethodGet, "", "hit", false},
		{"range hit", http.MethodGet, "bytes=0-99", "hit", false},
		{"forward", http.MethodPost, "", "method", true},
	} {
		ctx := &doneCounter{Context: t.Context()}
		req := httptest.NewRequest(tc.method, "/seg.m4s", nil).WithContext(ctx)
		if tc.rng != "" {
			req.Header.Set("Range", tc.rng)
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if cs := rec.Header().Get("Cache-Status"); !strings.Contains(cs, "; "+tc.cache) && !strings.Contains(cs, "fwd="+tc.cache) {
			t.Fatalf("%s: Cache-Status %q, want %s", tc.name, cs, tc.cache)
		}
		if waited := ctx.calls.Load() > 0; waited != tc.waits {
			t.Errorf("%s: Done called %d times, want a wait %v", tc.name, ctx.calls.Load(), tc.waits)
		}
	}
}
