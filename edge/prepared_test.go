package edge

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamcdn/streamcdn/internal/h1"
	"github.com/streamcdn/streamcdn/internal/httpx"
	"github.com/streamcdn/streamcdn/internal/testutil"
)

// TestH1WriterIsPrepared: internal/h1's response writer has the method
// the prepared hit path looks for; if its signature drifted, every hit
// would quietly take the slow path.
func TestH1WriterIsPrepared(t *testing.T) {
	got := make(chan bool, 1)
	url, _ := testutil.ServeH1(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, ok := w.(preparedWriter)
		got <- ok
	}), nil)
	get(t, http.MethodGet, url+"/")
	if !<-got {
		t.Fatal("internal/h1's ResponseWriter is not a preparedWriter")
	}
}

// TestPreparedHitMatches serves the same stored objects to the same
// requests through internal/h1, where hits take the prepared path, and
// through net/http's server, where they go through the header map, and
// wants the same status, fields and body from both: with the bodies on
// the heap, in memfds written from their mapping, and in memfds sent by
// sendfile(2) (an h1 server that counts as crowded).
func TestPreparedHitMatches(t *testing.T) {
	for _, v := range []struct {
		name      string
		fileBody  int64 // Config.FileBodyBytes
		busyConns int   // h1.Config.BusyConns
		sendfile  bool
	}{
		{"heap", -1, 0, false},
		{"memfd", 1, 0, false},
		{"memfd-sendfile", 1, -1, true},
	} {
		t.Run(v.name, func(t *testing.T) { testPreparedHitMatches(t, v.fileBody, v.busyConns, v.sendfile) })
	}
}

func testPreparedHitMatches(t *testing.T, fileBody int64, busyConns int, sendfile bool) {
	t.Helper()
	c := newClock()
	body := strings.Repeat("0123456789abcdef", 12288) // 192 KiB
	up := newUpstream(t, c, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "max-age=3600")
		switch r.URL.Path {
		case "/plain.m4s":
			h.Set("Content-Type", "video/mp4")
		case "/rich.m4s": // what a CDN in front of an origin sends
			h.Set("Content-Type", "video/mp4")
			h.Set("ETag", `"v1"`)
			h.Set("Last-Modified", "Sun, 01 Mar 2026 11:00:00 GMT")
			h.Set("Access-Control-Allow-Origin", "*")
			h.Set("Timing-Allow-Origin", "*")
			h["Via"] = []string{"1.1 shield", "1.1 origin"}
			h.Set("Age", "7")
			h.Set("Cache-Status", "shield; hit")
			h.Set("Accept-Ranges", "none")
			h.Add("X-Multi", "a")
			h.Add("X-Multi", "b")
		case "/twotypes.m4s":
			h["Content-Type"] = []string{"video/mp4", "text/plain"}
		case "/untyped.m4s": // sniffed: not prepared
			h["Content-Type"] = nil
		case "/ranged.m4s": // a stored Content-Range: sent on a 200, replaced on a 206; not prepared
			h.Set("Content-Type", "video/mp4")
			h.Set("Content-Range", "bytes 0-9/100")
		case "/reval.m4s": // revalidated: the 304's fields join the stored ones
			h.Set("Content-Type", "video/mp4")
			h.Set("ETag", `"r1"`)
			h.Set("Cache-Control", "max-age=60")
			if r.Header.Get("If-None-Match") == `"r1"` {
				h.Set("X-Version", "2")
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		w.Write([]byte(body))
	})
	s, front := newEdge(t, up.URL, c, func(cfg *Config) { cfg.FileBodyBytes = fileBody })
	// The h1 side counts the responses that take the prepared path, and
	// the bodies it sends by sendfile.
	var prepared, sent atomic.Int64
	counted, _ := testutil.ServeH1Config(t, h1.Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.ServeHTTP(countPrepared{w, &prepared, &sent}, r)
	}), ConnContext: s.ConnContext, BusyConns: busyConns})
	nh := httptest.NewUnstartedServer(s)
	nh.Config.ConnContext = s.ConnContext
	nh.Start()
	t.Cleanup(nh.Close)

	paths := []struct {
		path     string
		prepared bool
	}{{"/plain.m4s", true}, {"/rich.m4s", true}, {"/twotypes.m4s", true}, {"/untyped.m4s", false}, {"/ranged.m4s", false}, {"/reval.m4s", true}}
	for _, p := range paths {
		get(t, http.MethodGet, front.URL+p.path)
		waitIdle(t, s)
		o, of := s.lookup(s.fullKey(httptest.NewRequest(http.MethodGet, p.path, nil)))
		if of != nil {
			of.Close()
		}
		if o == nil {
			t.Fatalf("%s: not stored", p.path)
		}
		if got := o.hitFields != nil; got != p.prepared {
			t.Fatalf("%s: prepared %v, want %v", p.path, got, p.prepared)
		}
		if inFile := o.file != nil; inFile != (fileBody > 0) {
			t.Fatalf("%s: body in a memfd %v, want %v", p.path, inFile, fileBody > 0)
		}
	}
	c.Advance(90 * time.Second) // an Age of its own; /reval.m4s stale
	if r := get(t, http.MethodGet, front.URL+"/reval.m4s"); r.header.Get("X-Version") != "2" {
		t.Fatalf("revalidation: X-Version %q, want 2", r.header.Get("X-Version"))
	}
	waitIdle(t, s)

	requests := []struct {
		name   string
		method string
		header []string
	}{
		{"whole", http.MethodGet, nil},
		{"head", http.MethodHead, nil},
		{"range", http.MethodGet, []string{"Range", "bytes=100-199"}},
		{"suffix range", http.MethodGet, []string{"Range", "bytes=-10"}},
		{"open range", http.MethodGet, []string{"Range", "bytes=150000-"}},
		{"64 KiB range", http.MethodGet, []string{"Range", "bytes=65537-131072"}},
		{"range past the end", http.MethodGet, []string{"Range", "bytes=196600-299999"}},
		{"head with range", http.MethodHead, []string{"Range", "bytes=0-9"}},
		{"two ranges", http.MethodGet, []string{"Range", "bytes=0-9,20-29"}},
		{"unsatisfiable range", http.MethodGet, []string{"Range", "bytes=200000-"}},
		{"invalid range", http.MethodGet, []string{"Range", "bytes=x-y"}},
		{"if-none-match", http.MethodGet, []string{"If-None-Match", `"v1"`}},
		{"if-modified-since", http.MethodGet, []string{"If-Modified-Since", "Sun, 01 Mar 2026 12:00:00 GMT"}},
		{"if-range", http.MethodGet, []string{"Range", "bytes=0-9", "If-Range", `"v1"`}},
		{"max-stale", http.MethodGet, []string{"Cache-Control", "max-stale"}},
	}
	for _, p := range paths {
		for _, rq := range requests {
			t.Run(strings.TrimPrefix(p.path, "/")+"/"+rq.name, func(t *testing.T) {
				before, sentBefore := prepared.Load(), sent.Load()
				fast := get(t, rq.method, counted+p.path, rq.header...)
				took := prepared.Load() > before
				slow := get(t, rq.method, nh.URL+p.path, rq.header...)
				// Every 200 and single-range 206 of a prepared object takes
				// the prepared path, and nothing else does.
				multipart := strings.HasPrefix(fast.header.Get("Content-Type"), "multipart/")
				if want := p.prepared && (fast.status == http.StatusOK || fast.status == http.StatusPartialContent && !multipart); took != want {
					t.Fatalf("status %d: prepared path taken %v, want %v", fast.status, took, want)
				}
				// A body from a memfd of sendfile's size or more is handed
				// to sendfile when the server is crowded, and only then.
				wantSent := sendfile && rq.method == http.MethodGet && len(fast.body) >= 64<<10 && !multipart
				if got := sent.Load() > sentBefore; got != wantSent {
					t.Fatalf("status %d, %d body bytes: sent by sendfile %v, want %v", fast.status, len(fast.body), got, wantSent)
				}
				fast, slow = sameBoundary(fast), sameBoundary(slow)
				if fast.status != slow.status || fast.body != slow.body {
					t.Fatalf("h1: %d, %d body bytes; net/http: %d, %d body bytes", fast.status, len(fast.body), slow.status, len(slow.body))
				}
				if !maps.EqualFunc(fast.header, slow.header, slices.Equal) {
					t.Fatalf("fields differ\nh1:       %v\nnet/http: %v", fast.header, slow.header)
				}
			})
		}
	}
}

// sameBoundary replaces the random boundary of a multipart answer, in
// its Content-Type and its body, with a fixed one.
func sameBoundary(r reply) reply {
	ct := r.header.Get("Content-Type")
	_, b, ok := strings.Cut(ct, "boundary=")
	if !ok {
		return r
	}
	r.header = r.header.Clone()
	r.header.Set("Content-Type", strings.ReplaceAll(ct, b, "BOUNDARY"))
	r.body = strings.ReplaceAll(r.body, b, "BOUNDARY")
	return r
}

// countPrepared passes a response writer on, counting its prepared
// responses.
type countPrepared struct {
	http.ResponseWriter
	n, sent *atomic.Int64
}

func (c countPrepared) WritePrepared(code int, size int64, fields, more []byte) {
	c.n.Add(1)
	c.ResponseWriter.(preparedWriter).WritePrepared(code, size, fields, more)
}

func (c countPrepared) SendFile(f *os.File, off, n int64) (int64, error) {
	c.sent.Add(1)
	return c.ResponseWriter.(httpx.FileSender).SendFile(f, off, n)
}

func (c countPrepared) WantsFile(n int64) bool {
	return c.ResponseWriter.(httpx.FileSender).WantsFile(n)
}

// Unwrap gives http.ResponseController and the send timeout the writer.
func (c countPrepared) Unwrap() http.ResponseWriter { return c.ResponseWriter }
