package edge

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/streamcdn/streamcdn/internal/accesslog"
)

// BenchmarkHit measures the cache-hit path for a 100 KiB object, handler
// only (no sockets).
func BenchmarkHit(b *testing.B) { benchHit(b, nil) }

// BenchmarkHitAccessLog is BenchmarkHit with a text access log to a file.
func BenchmarkHitAccessLog(b *testing.B) {
	al, err := accesslog.New(accesslog.Config{Path: filepath.Join(b.TempDir(), "access.log")})
	if err != nil {
		b.Fatal(err)
	}
	defer al.Close()
	benchHit(b, al)
}

func benchHit(b *testing.B, al *accesslog.Logger) {
	b.Helper()
	const size = 100 << 10
	up := benchOrigin(b, size)
	s, err := New(Config{Upstream: up.URL, AccessLog: al})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	// As on a real listener: the connection in the context, so the
	// per-request RTT sampling check is measured too.
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	req := httptest.NewRequest("GET", "/seg.m4s", nil)
	req = req.WithContext(s.ConnContext(req.Context(), c1))
	s.ServeHTTP(httptest.NewRecorder(), req) // fill
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.SetBytes(size)
	for b.Loop() {
		clear(w.h)
		s.ServeHTTP(w, req)
	}
}

// discardWriter is a response writer that discards the body. Like
// net/http's it has SetWriteDeadline, so the send timeout's bookkeeping
// is measured; net/http's resets a runtime timer, which this omits.
type discardWriter struct{ h http.Header }

func (d *discardWriter) SetWriteDeadline(time.Time) error { return nil }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkMemoryPerObject reports the heap an object costs in the memory
// tier beyond its body (struct, headers as an origin sends them, key, LRU
// entry, map slot).
func BenchmarkMemoryPerObject(b *testing.B) {
	const n = 100_000
	h := http.Header{
		"Content-Type": {"video/mp4"}, "Cache-Control": {"public, max-age=31536000, immutable"},
		"Etag": {`"18a2f-18ea0bf50665ffa8"`}, "Last-Modified": {"Sat, 21 Nov 2026 10:21:34 GMT"},
		"Date": {"Sat, 21 Nov 2026 10:21:36 GMT"}, "Content-Length": {"1024"}, "Accept-Ranges": {"bytes"},
		"Access-Control-Allow-Origin": {"*"}, "Timing-Allow-Origin": {"*"},
	}
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		m := newMemory(1<<40, true, nil)
		var bodies int64
		for i := range n {
			body := make([]byte, 1024)
			bodies += int64(len(body))
			o := &object{key: fmt.Sprintf("/title/1080p/%d.m4s", i), status: 200, header: h.Clone(), body: body,
				policy: responsePolicy(200, h, time.Now())}
			o.hitFields = hitFields(o) // as store does
			m.put(o)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(int64(after.HeapAlloc-before.HeapAlloc)-bodies)/n, "bytes/object")
		o, _ := m.get("/title/1080p/0.m4s")
		b.ReportMetric(float64(o.cost()-int64(len(o.body))), "counted-bytes/object")
		runtime.KeepAlive(m)
	}
}

// zipf samples ranks 0..n-1 with P(k) proportional to 1/(k+1)^s, for any
// s > 0 (math/rand's Zipf needs s > 1).
type zipf struct {
	cdf []float64
	rng *rand.Rand
}

func newZipf(n int, s float64, rng *rand.Rand) *zipf {
	z := &zipf{cdf: make([]float64, n), rng: rng}
	var sum float64
	for k := range n {
		sum += 1 / math.Pow(float64(k+1), s)
		z.cdf[k] = sum
	}
	for k := range z.cdf {
		z.cdf[k] /= sum
	}
	return z
}

func (z *zipf) next() int { return sort.SearchFloat64s(z.cdf, z.rng.Float64()) }

// BenchmarkZipfByteHitRatio replays a Zipf(0.8) request stream over a
// catalogue ten times larger than the memory tier (objects of 64 KiB to
// 2 MiB, like segments of a ladder) and reports the byte hit ratio of
// plain LRU, LRU with TinyLFU admission (ours), and golang-lru's 2Q sized
// by the mean object size.
func BenchmarkZipfByteHitRatio(b *testing.B) {
	const objects, requests = 20_000, 400_000
	rng := rand.New(rand.NewPCG(7, 8))
	sizes := make([]int, objects)
	var total int64
	for i := range sizes {
		sizes[i] = 64<<10 + rng.IntN(2<<20-64<<10)
		total += int64(sizes[i])
	}
	capacity := total / 10
	for _, policy := range []string{"lru", "tinylfu", "2q"} {
		b.Run(policy, func(b *testing.B) {
			for b.Loop() {
				z := newZipf(objects, 0.8, rand.New(rand.NewPCG(1, 2)))
				b.ReportMetric(replay(policy, z, sizes, capacity, requests), "byte-hit-%")
			}
		})
	}
}

func replay(policy string, z *zipf, sizes []int, capacity int64, requests int) float64 {
	var hitBytes, allBytes int64
	var lookup func(k int) bool
	switch policy {
	case "2q":
		q, _ := lru.New2Q[int, struct{}](int(capacity * int64(len(sizes)) / sum(sizes))) // entries of the mean size
		lookup = func(k int) bool {
			if _, ok := q.Get(k); ok {
				return true
			}
			q.Add(k, struct{}{})
			return false
		}
	default:
		m := newMemory(capacity, policy == "tinylfu", nil)
		shared := make([]byte, 2<<20) // bodies only count their length
		lookup = func(k int) bool {
			key := fmt.Sprint(k)
			if _, ok := m.get(key); ok {
				return true
			}
			m.put(&object{key: key, header: http.Header{}, body: shared[:sizes[k]-objectOverhead-len(key)]})
			return false
		}
	}
	for range requests {
		k := z.next()
		allBytes += int64(sizes[k])
		if lookup(k) {
			hitBytes += int64(sizes[k])
		}
	}
	return 100 * float64(hitBytes) / float64(allBytes)
}

func sum(s []int) int64 {
	var t int64
	for _, v := range s {
		t += int64(v)
	}
	return t
}

// BenchmarkDiskHit is the disk tier's hit path for a 1 MiB object too
// large to promote to memory: a file open, its header checked, and the
// body from the file.
func BenchmarkDiskHit(b *testing.B) {
	up := benchOrigin(b, 1<<20)
	// A memory tier of 4 MiB promotes nothing over 512 KiB.
	s, err := New(Config{Upstream: up.URL, MemoryBytes: 4 << 20, DiskDir: b.TempDir(), DiskBytes: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	req := httptest.NewRequest("GET", "/big.m4s", nil)
	s.ServeHTTP(httptest.NewRecorder(), req) // fill
	s.wg.Wait()                              // the disk write
	s.mem.remove(s.fullKey(req))
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.SetBytes(1 << 20)
	for b.Loop() {
		clear(w.h)
		s.ServeHTTP(w, req)
	}
}

// BenchmarkRangeHit is BenchmarkHit for a 64 KiB range of a 1 MiB
// object in memory: it should cost no more than a 64 KiB object.
func BenchmarkRangeHit(b *testing.B) {
	up := benchOrigin(b, 1<<20)
	s, err := New(Config{Upstream: up.URL})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	req := httptest.NewRequest("GET", "/big.m4s", nil)
	s.ServeHTTP(httptest.NewRecorder(), req) // fill
	req.Header.Set("Range", "bytes=65536-131071")
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.SetBytes(64 << 10)
	for b.Loop() {
		clear(w.h)
		s.ServeHTTP(w, req)
	}
}

// benchOrigin is an upstream that answers every request with size bytes
// of video, cacheable for an hour; it is closed when b ends.
func benchOrigin(b *testing.B, size int) *httptest.Server {
	b.Helper()
	body := make([]byte, size)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Content-Type", "video/mp4")
		w.Write(body)
	}))
	b.Cleanup(up.Close)
	return up
}

// BenchmarkWireHit is a 100 KiB hit over a loopback connection kept
// alive, request written and response read by one client: the whole
// per-request cost of the public listener, served by internal/h1 (as the
// edge command does) and by net/http's server, side by side.
func BenchmarkWireHit(b *testing.B) {
	const size = 100 << 10
	up := benchOrigin(b, size)
	s, err := New(Config{Upstream: up.URL})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	nh := httptest.NewUnstartedServer(s)
	nh.Config.ConnContext = s.ConnContext
	nh.Start()
	defer nh.Close()
	for _, srv := range []struct{ name, url string }{
		{"h1", newFront(b, s, s.ConnContext).URL},
		{"net-http", nh.URL},
	} {
		b.Run(srv.name, func(b *testing.B) {
			get := wireClient(b, strings.TrimPrefix(srv.url, "http://"), "GET /seg.m4s HTTP/1.1\r\nHost: edge\r\n\r\n", size)
			get() // fill
			b.ReportAllocs()
			b.SetBytes(size)
			for b.Loop() {
				get()
			}
		})
	}
}

// BenchmarkWireRange puts a 64 KiB range of a 1 MiB object beside a
// whole 64 KiB object, both hits over a loopback connection kept alive
// to internal/h1: a range should cost no more than an object of its
// size.
func BenchmarkWireRange(b *testing.B) {
	const size = 64 << 10
	big, small := make([]byte, 1<<20), make([]byte, size)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Content-Type", "video/mp4")
		if r.URL.Path == "/big.m4s" {
			w.Write(big)
			return
		}
		w.Write(small)
	}))
	defer up.Close()
	s, err := New(Config{Upstream: up.URL})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	addr := strings.TrimPrefix(newFront(b, s, s.ConnContext).URL, "http://")
	for _, tc := range []struct{ name, req string }{
		{"object-64KiB", "GET /small.m4s HTTP/1.1\r\nHost: edge\r\n\r\n"},
		{"range-64KiB-of-1MiB", "GET /big.m4s HTTP/1.1\r\nHost: edge\r\nRange: bytes=65536-131071\r\n\r\n"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			get := wireClient(b, addr, tc.req, size)
			// Fill with a whole GET: a range on a miss goes upstream, and
			// this origin answers it whole.
			if res, err := http.Get("http://" + addr + strings.Fields(tc.req)[1]); err != nil {
				b.Fatal(err)
			} else {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
			get()
			b.ReportAllocs()
			b.SetBytes(size)
			for b.Loop() {
				get()
			}
		})
	}
}

// wireClient dials addr and returns a function that sends req on that
// connection and reads the whole response, which must have a body of
// size bytes. The connection is closed when b ends.
func wireClient(b *testing.B, addr, req string, size int64) func() {
	b.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	br := bufio.NewReaderSize(c, 64<<10)
	return func() {
		if _, err := io.WriteString(c, req); err != nil {
			b.Fatal(err)
		}
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, res.Body); err != nil || n != size {
			b.Fatalf("read %d bytes: %v", n, err)
		}
		res.Body.Close()
	}
}
