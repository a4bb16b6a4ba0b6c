package edge

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamcdn/streamcdn/internal/h1"
	"github.com/streamcdn/streamcdn/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestMemFileBodies: bodies from FileBodyBytes up are kept in memfds and
// answer hits, ranges and HEADs byte for byte, written from their
// mapping to an idle server's connections and sent by sendfile by a busy
// one; smaller bodies stay on the heap.
func TestMemFileBodies(t *testing.T) {
	const size = 300_000 // over h1's sendfile threshold
	c := newClock()
	up := newUpstream(t, c, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Content-Type", "video/mp4")
		n := size
		if strings.HasPrefix(r.URL.Path, "/small") {
			n = 500
		}
		w.Write(bodyFor(r.URL.Path, n))
	})
	s, idle := newEdge(t, up.URL, c, func(cfg *Config) { cfg.FileBodyBytes = 1000 })
	busyURL, _ := testutil.ServeH1Config(t, h1.Config{Handler: s, ConnContext: s.ConnContext, BusyConns: -1})
	for _, p := range []string{"/big", "/small"} {
		get(t, "GET", idle.URL+p)
		waitIdle(t, s)
	}
	big, ok := s.mem.get(s.fullKeyFor(t, "/big"))
	if !ok || big.file == nil || big.body != nil || big.size != size {
		t.Fatalf("/big in memory: %v; want its %d bytes in a memfd", ok, size)
	}
	if small, ok := s.mem.get(s.fullKeyFor(t, "/small")); !ok || small.file != nil || len(small.body) != 500 {
		t.Fatalf("/small in memory: %v; want its 500 bytes on the heap", ok)
	}
	want := bodyFor("/big", size)
	tests := []struct {
		name, method string
		header       []string
		status       int
		body         []byte
	}{
		{"whole", "GET", nil, 200, want},
		{"small range", "GET", []string{"Range", "bytes=1000-1999"}, 206, want[1000:2000]},
		{"large range", "GET", []string{"Range", "bytes=10000-299999"}, 206, want[10000:]},
		{"suffix range", "GET", []string{"Range", "bytes=-10"}, 206, want[size-10:]},
		{"two ranges", "GET", []string{"Range", "bytes=0-9,4000-4009"}, 206, nil},
		{"HEAD", "HEAD", nil, 200, nil},
		{"not modified", "GET", []string{"If-Modified-Since", c.Now().Add(time.Hour).Format(http.TimeFormat)}, 304, nil},
	}
	for _, front := range []struct{ name, url string }{{"idle", idle.URL}, {"busy", busyURL}} {
		for _, tt := range tests {
			t.Run(front.name+"/"+tt.name, func(t *testing.T) {
				r := get(t, tt.method, front.url+"/big", tt.header...)
				if r.status != tt.status || !strings.Contains(r.header.Get("Cache-Status"), "hit") {
					t.Fatalf("%d (Cache-Status %q), want %d from the cache", r.status, r.header.Get("Cache-Status"), tt.status)
				}
				if tt.body != nil && r.body != string(tt.body) {
					t.Errorf("body %d bytes, differs from the stored one", len(r.body))
				}
				if tt.name == "two ranges" && (!strings.Contains(r.body, string(want[:10])) || !strings.Contains(r.body, string(want[4000:4010]))) {
					t.Errorf("multipart body %q lacks a range", r.body)
				}
				if tt.method == "HEAD" && (r.body != "" || r.header.Get("Content-Length") != strconv.Itoa(size)) {
					t.Errorf("HEAD: %d body bytes, Content-Length %q", len(r.body), r.header.Get("Content-Length"))
				}
			})
		}
	}
	if up.count.Load() != 2 {
		t.Errorf("upstream saw %d requests, want 2", up.count.Load())
	}
}

// TestMemFilesReleased: memfds of evicted objects are released (the
// edge collects them once they add up), so memory in memfds stays near
// the memory budget however many objects pass through it.
func TestMemFilesReleased(t *testing.T) {
	c := newClock()
	up := newUpstream(t, c, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Write(bodyFor(r.URL.Path, 20000))
	})
	const budget = 200_000
	s, edge := newEdge(t, up.URL, c, func(cfg *Config) {
		cfg.FileBodyBytes, cfg.MemoryBytes, cfg.NoAdmission = 1000, budget, true
	})
	for i := range 100 { // 2 MB through a 200 kB budget
		p := fmt.Sprintf("/o/%d", i)
		if r := get(t, "GET", edge.URL+p); r.body != string(bodyFor(p, 20000)) {
			t.Fatalf("%s: %d bytes, not the upstream's", p, len(r.body))
		}
		waitIdle(t, s)
	}
	limit := int64(budget + budget/8 + 20000) // the trigger, and the object over it
	deadline := time.Now().Add(5 * time.Second)
	for s.fileBytes.Load() > limit && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // the edge's collection, then its cleanups, run in the background
	}
	if n := s.fileBytes.Load(); n > limit {
		t.Errorf("%d bytes in memfds after 2 MB went through a %d-byte budget; want at most %d", n, budget, limit)
	}
	_, stored := s.mem.stats()
	deadline = time.Now().Add(5 * time.Second)
	for s.fileBytes.Load() > stored && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if n := s.fileBytes.Load(); n > stored {
		t.Errorf("after a collection, %d bytes in memfds, more than the memory tier's %d", n, stored)
	}
}

// bodyFor is size bytes that differ by path.
func bodyFor(path string, size int) []byte {
	return bytes.Repeat([]byte(path+"|"), size/(len(path)+1)+1)[:size]
}

// fullKeyFor is the cache key of a plain GET for path.
func (s *Server) fullKeyFor(t *testing.T, path string) string {
	t.Helper()
	r, err := http.NewRequest("GET", "http://edge"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s.fullKey(r)
}

// TestMaxFileBodies: past MaxFileBodies memfds alive, bodies stay on the
// heap and are served all the same; the default leaves descriptors and
// mappings for everything else.
func TestMaxFileBodies(t *testing.T) {
	c := newClock()
	up := newUpstream(t, c, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Write(bodyFor(r.URL.Path, 5000))
	})
	s, edge := newEdge(t, up.URL, c, func(cfg *Config) { cfg.FileBodyBytes, cfg.MaxFileBodies = 1000, 2 })
	for i := range 4 {
		p := fmt.Sprintf("/o/%d", i)
		get(t, "GET", edge.URL+p)
		waitIdle(t, s)
		o, ok := s.mem.get(s.fullKeyFor(t, p))
		if !ok {
			t.Fatalf("%s not in memory", p)
		}
		if inFile := o.file != nil; inFile != (i < 2) {
			t.Errorf("%s: in a memfd %v, want %v (2 at most)", p, inFile, i < 2)
		}
		if r := get(t, "GET", edge.URL+p); r.body != string(bodyFor(p, 5000)) || !strings.Contains(r.header.Get("Cache-Status"), "hit") {
			t.Errorf("%s: %d bytes (Cache-Status %q), want the upstream's from the cache", p, len(r.body), r.header.Get("Cache-Status"))
		}
	}
	if n := s.fileCount.Load(); n != 2 {
		t.Errorf("%d memfds alive, want 2", n)
	}

	limit := fileBodiesLimit()
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if limit <= 0 || (rl.Cur != unix.RLIM_INFINITY && uint64(limit) > rl.Cur/2) {
		t.Errorf("fileBodiesLimit() = %d with an open-file limit of %d", limit, rl.Cur)
	}
	if b, err := os.ReadFile("/proc/sys/vm/max_map_count"); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && limit > n/4 {
			t.Errorf("fileBodiesLimit() = %d with vm.max_map_count %d", limit, n)
		}
	}
}
