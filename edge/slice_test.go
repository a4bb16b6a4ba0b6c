package edge

import (
	"bytes"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSlicedLargeObject(t *testing.T) {
	const size = 10_000_000
	data := make([]byte, size)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	c := newClock()
	var ranged atomic.Int64
	up := newUpstream(t, c, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") != "" {
			ranged.Add(1)
		}
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("ETag", `"big-1"`)
		w.Header().Set("Content-Type", "video/mp4")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	})
	s, edge := newEdge(t, up.URL, c, func(cfg *Config) { cfg.MaxObjectBytes, cfg.SliceBytes = 1<<20, 256<<10 })

	r := get(t, "GET", edge.URL+"/big.mp4", "Range", "bytes=3000000-3000999")
	if r.status != 206 || r.body != string(data[3000000:3001000]) || r.header.Get("Content-Range") != "bytes 3000000-3000999/10000000" {
		t.Fatalf("cold range: %d, %d bytes, Content-Range %q", r.status, len(r.body), r.header.Get("Content-Range"))
	}
	if ranged.Load() != 1 {
		t.Errorf("a cold range fetched %d slices upstream, want 1", ranged.Load())
	}
	waitIdle(t, s)
	before := up.count.Load()
	r = get(t, "GET", edge.URL+"/big.mp4", "Range", "bytes=3000500-3001499")
	if r.status != 206 || r.body != string(data[3000500:3001500]) || up.count.Load() != before {
		t.Errorf("warm range in the same slice: %d, upstream %d -> %d", r.status, before, up.count.Load())
	}
	if !strings.Contains(r.header.Get("Cache-Status"), "hit") || !strings.Contains(r.header.Get("Cache-Status"), "detail=sliced") {
		t.Errorf("Cache-Status %q", r.header.Get("Cache-Status"))
	}
	r = get(t, "GET", edge.URL+"/big.mp4")
	if r.status != 200 || r.body != string(data) {
		t.Fatalf("whole object from slices: %d, %d bytes, equal=%v", r.status, len(r.body), r.body == string(data))
	}
	slices := int64((size + 256<<10 - 1) / (256 << 10))
	if ranged.Load() != slices {
		t.Errorf("upstream served %d slices, want each of the %d once", ranged.Load(), slices)
	}
	if r := get(t, "HEAD", edge.URL+"/big.mp4"); r.header.Get("Content-Length") != "10000000" {
		t.Errorf("HEAD Content-Length %q", r.header.Get("Content-Length"))
	}
	if r := get(t, "GET", edge.URL+"/big.mp4", "Range", "bytes=10000000-"); r.status != 416 {
		t.Errorf("range past the end: %d, want 416", r.status)
	}
	if r := get(t, "GET", edge.URL+"/big.mp4", "If-None-Match", `"big-1"`); r.status != 304 {
		t.Errorf("If-None-Match on a sliced object: %d, want 304", r.status)
	}
	if n, b := s.mem.stats(); b > 11<<20 || n != int(slices)+1 {
		t.Errorf("memory holds %d objects, %d bytes; want %d slices and the metadata", n, b, slices)
	}
}

// TestNotStorablePassesThrough: a response that may not be stored and is
// above MaxObjectBytes, or of unknown size, is neither stored nor sliced;
// each request gets it whole from upstream.
func TestNotStorablePassesThrough(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 2<<20)
	for _, tc := range []struct {
		name, detail string
		length       bool
	}{{"too big", "detail=too-big", true}, {"unknown size", "detail=unbounded", false}} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			up := newUpstream(t, c, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "no-store")
				if tc.length {
					w.Header().Set("Content-Length", strconv.Itoa(len(data)))
				}
				w.Write(data)
			})
			s, edge := newEdge(t, up.URL, c, func(cfg *Config) { cfg.MaxObjectBytes = 1 << 20 })
			for i := range 2 {
				r := get(t, "GET", edge.URL+"/private.mp4")
				if r.status != 200 || len(r.body) != len(data) || !strings.Contains(r.header.Get("Cache-Status"), tc.detail) {
					t.Fatalf("request %d: %d, %d bytes, Cache-Status %q", i, r.status, len(r.body), r.header.Get("Cache-Status"))
				}
				waitIdle(t, s)
			}
			if n, _ := s.mem.stats(); n != 0 {
				t.Errorf("%d objects stored, want none", n)
			}
		})
	}
}

// TestUpstreamBound: with MaxUpstream 2, exactly two fills are in flight
// upstream at once, and every request is answered. The first two fills
// are held until both have arrived and a little longer, so that the bound
// is reached for certain and a third fill, were the bound not kept,
// would arrive while they are held.
func TestUpstreamBound(t *testing.T) {
	var inFlight, peak, arrived atomic.Int64
	both := make(chan struct{})
	c := newClock()
	up := newUpstream(t, c, func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		switch arrived.Add(1) {
		case 1:
			select {
			case <-both:
			case <-time.After(10 * time.Second): // bounded: the test then fails on the peak
			}
		case 2:
			time.Sleep(50 * time.Millisecond)
			close(both)
		}
		inFlight.Add(-1)
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write([]byte(r.URL.Path))
	})
	_, edge := newEdge(t, up.URL, c, func(cfg *Config) { cfg.MaxUpstream = 2 })
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := "/obj-" + strconv.Itoa(i)
			if r := get(t, "GET", edge.URL+p); r.body != p {
				t.Errorf("GET %s: %q", p, r.body)
			}
		}()
	}
	wg.Wait()
	if peak.Load() != 2 || up.count.Load() != 8 {
		t.Errorf("peak upstream concurrency %d (want 2), %d upstream requests (want 8)", peak.Load(), up.count.Load())
	}
}
