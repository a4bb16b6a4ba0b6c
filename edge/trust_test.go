package edge

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	streamtest "github.com/streamcdn/streamcdn/internal/testutil"
	"github.com/streamcdn/streamcdn/internal/testutil/slowclient"
)

// The tests in this file are the edge under hostile and careless
// traffic: each one is a defect that an earlier version had.

// raw sends target on a new connection exactly as written (no client
// cleaning the path) and reads the answer.
func raw(t *testing.T, base, method, target string, h ...string) reply {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n", method, target)
	for i := 0; i+1 < len(h); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", h[i], h[i+1])
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, target, err)
	}
	return reply{res.StatusCode, res.Header, string(body)}
}

// TestSafeMethodsDoNotInvalidate: a CORS preflight (OPTIONS) or a TRACE
// that succeeds upstream leaves the stored object; POST, PUT, DELETE and
// PATCH invalidate it (RFC 9111 §4.4 names unsafe methods only).
func TestSafeMethodsDoNotInvalidate(t *testing.T) {
	for _, tc := range []struct {
		method     string
		invalidate bool
	}{
		{"OPTIONS", false}, {"TRACE", false}, {"POST", true}, {"PUT", true}, {"DELETE", true}, {"PATCH", true},
	} {
		t.Run(tc.method, func(t *testing.T) {
			c := newClock()
			up := newUpstream(t, c, func(w http.ResponseWriter, r *http.Request) {
				if r.Method != "GET" {
					w.WriteHeader(http.StatusNoContent)
					return
				}
				w.Header().Set("Cache-Control", "max-age=600")
				io.WriteString(w, "segment")
			})
			s, edge := newEdge(t, up.URL, c)
			get(t, "GET", edge.URL+"/t/360p/1.m4s")
			waitIdle(t, s)
			get(t, tc.method, edge.URL+"/t/360p/1.m4s")
			r := get(t, "GET", edge.URL+"/t/360p/1.m4s")
			miss := strings.Contains(r.header.Get("Cache-Status"), "fwd=miss")
			if miss != tc.invalidate {
				t.Errorf("after %s: Cache-Status %q; invalidated %v, want %v", tc.method, r.header.Get("Cache-Status"), miss, tc.invalidate)
			}
		})
	}
}

// TestHeadMissIsStored: a HEAD miss is filled by a GET whose response is
// stored, so the GET after it is a hit: the body is paid for once.
func TestHeadMissIsStored(t *testing.T) {
	c := newClock()
	up := newUpstream(t, c, fixed("max-age=600", strings.Repeat("v", 5000))(0))
	s, edge := newEdge(t, up.URL, c)
	h := get(t, "HEAD", edge.URL+"/t/1.m4s")
	if h.status != 200 || h.body != "" || h.header.Get("Content-Length") != "5000" {
		t.Fatalf("HEAD: %d, %d body bytes, Content-Length %q", h.status, len(h.body), h.header.Get("Content-Length"))
	}
	waitIdle(t, s)
	r := get(t, "GET", edge.URL+"/t/1.m4s")
	if len(r.body) != 5000 || up.count.Load() != 1 {
		t.Errorf("GET after HEAD: %d bytes, %d upstream requests; want a hit", len(r.body), up.count.Load())
	}
}

// TestCoalescingHonoursVary: two concurrent requests that differ in a
// field the response varies on each get their own variant, even when
// the second joined the first one's fill.
func TestCoalescingHonoursVary(t *testing.T) {
	c := newClock()
	up := newUpstream(t, c, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(100 * time.Millisecond) // long enough for the second to join
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Vary", "Accept-Encoding")
		io.WriteString(w, "variant:"+r.Header.Get("Accept-Encoding"))
	})
	_, edge := newEdge(t, up.URL, c)
	encodings := []string{"gzip", "identity", "br", "gzip"}
	got := make([]string, len(encodings))
	var wg sync.WaitGroup
	for i, enc := range encodings {
		wg.Go(func() {
			if i > 0 {
				time.Sleep(10 * time.Millisecond)
			}
			got[i] = get(t, "GET", edge.URL+"/v", "Accept-Encoding", enc).body
		})
	}
	wg.Wait()
	for i, enc := range encodings {
		if got[i] != "variant:"+enc {
			t.Errorf("Accept-Encoding %s got %q", enc, got[i])
		}
	}
}

// TestPurgeStopsFillInFlight: a fill that started before a purge stores
// nothing, and a request after the purge does not join it.
func TestPurgeStopsFillInFlight(t *testing.T) {
	c := newClock()
	started, release := make(chan struct{}, 4), make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	defer open() // a failing test must not leave the upstream handler blocked
	var version int
	var mu sync.Mutex
	up := newUpstream(t, c, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		version++
		v := version
		mu.Unlock()
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Content-Length", "8")
		io.WriteString(w, "v"+fmt.Sprint(v)+"-")
		w.(http.Flusher).Flush()
		started <- struct{}{}
		if v == 1 {
			<-release
		}
		io.WriteString(w, "body!!"[:8-len("v1-")])
	})
	s, edge := newEdge(t, up.URL, c)
	admin := httptestServer(t, s.Admin())
	first := make(chan reply, 1)
	go func() { first <- get(t, "GET", edge.URL+"/t/a.m4s") }()
	<-started
	req, _ := http.NewRequest("POST", admin+"/purge?url=/t/a.m4s", nil)
	req.Header.Set("Authorization", "Bearer secret")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	// A request after the purge fetches anew rather than joining.
	second := make(chan reply, 1)
	go func() { second <- get(t, "GET", edge.URL+"/t/a.m4s") }()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("a request after the purge joined the fill that started before it")
	}
	open()
	if r := <-first; !strings.HasPrefix(r.body, "v1-") {
		t.Fatalf("first: %q", r.body)
	}
	if r := <-second; !strings.HasPrefix(r.body, "v2-") {
		t.Fatalf("second: %q", r.body)
	}
	waitIdle(t, s)
	s.Close()
	if r := get(t, "GET", edge.URL+"/t/a.m4s"); !strings.HasPrefix(r.body, "v2-") {
		t.Errorf("after the purge: %q (Cache-Status %q), want the version fetched after it", r.body, r.header.Get("Cache-Status"))
	}
}

// TestPathAliases: "//", "/./", "/a/../" and "%2F" name the same object
// as the clean path: one cache key, one mode lookup.
func TestPathAliases(t *testing.T) {
	c := newClock()
	up := newUpstream(t, c, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "path:"+r.URL.Path)
	})
	_, edge := newEdge(t, up.URL, c, func(cfg *Config) { cfg.TitleModes = map[string]string{"sample": ModePush} })
	for _, target := range []string{"/sample/360p/1.m4s", "//sample/360p/1.m4s", "/./sample/360p/1.m4s",
		"/x/../sample/360p/1.m4s", "/sample%2F360p/1.m4s", "/%73ample/360p/1.m4s"} {
		if r := raw(t, edge.URL, "GET", target); r.status != http.StatusNotFound {
			t.Errorf("push-mode title as %s: %d %q, want 404 (not pushed)", target, r.status, r.body)
		}
	}
	if n := up.count.Load(); n != 0 {
		t.Fatalf("a push-mode title was pulled %d times", n)
	}
	for i, target := range []string{"/t/a.m4s", "//t/a.m4s", "/t/./a.m4s", "/t/b/../a.m4s", "/t%2Fa.m4s", "/t/%61.m4s", "/./t//a.m4s"} {
		r := raw(t, edge.URL, "GET", target)
		if r.status != 200 || r.body != "path:/t/a.m4s" {
			t.Errorf("%s: %d %q", target, r.status, r.body)
		}
		if hit := strings.Contains(r.header.Get("Cache-Status"), "hit"); hit != (i > 0) {
			t.Errorf("%s: Cache-Status %q", target, r.header.Get("Cache-Status"))
		}
	}
	if n := up.count.Load(); n != 1 {
		t.Errorf("aliases made %d upstream requests, want 1", n)
	}
}

// TestAsteriskTarget: "GET *" is a quiet 400, not an upstream request.
func TestAsteriskTarget(t *testing.T) {
	up := newUpstream(t, newClock(), fixed("max-age=60", "x")(0))
	var logs streamtest.SyncBuffer
	_, edge := newEdge(t, up.URL, nil, func(cfg *Config) { cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	for range 3 {
		if r := raw(t, edge.URL, "GET", "*"); r.status != http.StatusBadRequest {
			t.Errorf("GET *: %d, want 400", r.status)
		}
	}
	if up.count.Load() != 0 || logs.String() != "" {
		t.Errorf("GET *: %d upstream requests, logged %q", up.count.Load(), logs.String())
	}
}

// TestUpstreamFailsBeforeFirstByte: an upstream that sends its header
// and closes is a 502 with a body, not an empty reply, and says nothing
// was stored.
func TestUpstreamFailsBeforeFirstByte(t *testing.T) {
	up := newUpstream(t, newClock(), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
	})
	_, edge := newEdge(t, up.URL, nil)
	r := get(t, "GET", edge.URL+"/t/x")
	if r.status != http.StatusBadGateway || strings.Contains(r.header.Get("Cache-Status"), "stored") {
		t.Errorf("%d, Cache-Status %q; want 502, not stored", r.status, r.header.Get("Cache-Status"))
	}
}

// TestDiskTierRefusesWhatCannotFit: an object larger than the disk
// budget (but within MaxObjectBytes) is not written, and evicts nothing.
func TestDiskTierRefusesWhatCannotFit(t *testing.T) {
	c := newClock()
	up := newUpstream(t, c, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		n := 1000
		if strings.HasPrefix(r.URL.Path, "/big") {
			n = 300 << 10
		}
		w.Write(bytes.Repeat([]byte("b"), n))
	})
	s, edge := newEdge(t, up.URL, c, func(cfg *Config) { cfg.DiskDir, cfg.DiskBytes = t.TempDir(), 200<<10 })
	for i := range 5 {
		get(t, "GET", fmt.Sprintf("%s/small/%d", edge.URL, i))
	}
	waitIdle(t, s)
	s.wg.Wait()
	get(t, "GET", edge.URL+"/big")
	waitIdle(t, s)
	s.wg.Wait()
	if n, b := s.disk.stats(); n != 5 || b > 200<<10 {
		t.Errorf("disk tier: %d objects, %d bytes; want the 5 small ones kept and the big one refused", n, b)
	}
}

// TestDiskFullRecovers: a filesystem that fills before the disk budget
// is reached makes the tier evict to make room, not fail every write
// from then on. It mounts a 2 MiB tmpfs, so it needs root.
func TestDiskFullRecovers(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=2m"); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("mount tmpfs: %v (needs root)", err)
		}
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
	c := newClock()
	up := newUpstream(t, c, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Write(bytes.Repeat([]byte(r.URL.Path), (200<<10)/len(r.URL.Path)))
	})
	s, edge := newEdge(t, up.URL, c, func(cfg *Config) { cfg.DiskDir, cfg.DiskBytes, cfg.MemoryBytes = dir, 64<<20, 1<<20 })
	for i := range 30 {
		get(t, "GET", fmt.Sprintf("%s/seg/%02d", edge.URL, i))
		waitIdle(t, s)
		s.wg.Wait()
	}
	n, _ := s.disk.stats()
	of, err := s.disk.open("/seg/29")
	if err != nil || n < 4 {
		t.Fatalf("after the filesystem filled: %d objects on disk, the newest: %v; want the newest ones kept", n, err)
	}
	of.Close()
	if got := testutil.ToFloat64(s.metrics.evictions.WithLabelValues("disk")); got < 1 {
		t.Errorf("disk evictions = %v, want them counted", got)
	}
}

// TestDiskHeaderIsChecked: an object file whose header was edited (its
// Content-Type) is dropped, not served.
func TestDiskHeaderIsChecked(t *testing.T) {
	c := newClock()
	up := newUpstream(t, c, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Content-Type", "video/mp4")
		io.WriteString(w, "segment")
	})
	dir := t.TempDir()
	s1, e1 := newEdge(t, up.URL, c, func(cfg *Config) { cfg.DiskDir = dir })
	get(t, "GET", e1.URL+"/t/1.m4s")
	waitIdle(t, s1)
	e1.Close()
	s1.Close()
	path := s1.disk.path("/t/1.m4s")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edited := bytes.Replace(data, []byte("video/mp4"), []byte("text/html"), 1)
	if bytes.Equal(edited, data) {
		t.Fatal("no Content-Type in the file")
	}
	if err := os.WriteFile(path, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	s2, e2 := newEdge(t, up.URL, c, func(cfg *Config) { cfg.DiskDir = dir })
	r := get(t, "GET", e2.URL+"/t/1.m4s")
	if r.header.Get("Content-Type") != "video/mp4" || up.count.Load() != 2 {
		t.Errorf("edited header: Content-Type %q, %d upstream requests; want the file dropped and refetched",
			r.header.Get("Content-Type"), up.count.Load())
	}
	_ = s2
}

// TestDiskChangedWhileRunning: a disk object damaged while the edge runs
// (one byte of a later block flipped) is never served: the response is
// cut before the damaged block, the file is dropped, and the next request
// is a miss.
func TestDiskChangedWhileRunning(t *testing.T) {
	c := newClock()
	body := bytes.Repeat([]byte("0123456789abcdef"), (4*blockSize)/16)
	up := newUpstream(t, c, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Write(body)
	})
	// A memory tier too small for the object: it is served from disk.
	s, edge := newEdge(t, up.URL, c, func(cfg *Config) { cfg.DiskDir, cfg.MemoryBytes = t.TempDir(), 64<<10 })
	get(t, "GET", edge.URL+"/t/big")
	waitIdle(t, s)
	s.wg.Wait()
	if r := get(t, "GET", edge.URL+"/t/big"); r.body != string(body) || !strings.Contains(r.header.Get("Cache-Status"), "hit") {
		t.Fatalf("disk hit: %d bytes, %q", len(r.body), r.header.Get("Cache-Status"))
	}
	flip(t, s.disk.path("/t/big"), 3*blockSize+100) // a byte in the third block of the body (past the header)
	res, err := http.Get(edge.URL + "/t/big")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err == nil {
		t.Fatalf("a damaged object was served whole (%d bytes, equal: %v)", len(got), bytes.Equal(got, body))
	}
	if !bytes.Equal(got, body[:len(got)]) {
		t.Fatal("wrong bytes reached the client")
	}
	if r := get(t, "GET", edge.URL+"/t/big"); r.body != string(body) || !strings.Contains(r.header.Get("Cache-Status"), "fwd=miss") {
		t.Errorf("after the damage: %d bytes, %q; want a miss", len(r.body), r.header.Get("Cache-Status"))
	}
	if got := testutil.ToFloat64(s.metrics.corrupt); got != 1 {
		t.Errorf("corrupt objects = %v, want 1", got)
	}
}

// flip inverts the byte at off of the file at path, in place.
func flip(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b[:], off); err != nil {
		t.Fatal(err)
	}
}

// TestPinnedVerifiedOnRead: a pinned object damaged while the edge runs
// (a flipped byte, a truncation) is never served as it is: in push mode
// it is then a 404, in hybrid mode a pull from upstream.
func TestPinnedVerifiedOnRead(t *testing.T) {
	body := bytes.Repeat([]byte("pinned!!"), 1000)
	for _, tc := range []struct {
		name, mode string
		damage     func(t *testing.T, path string)
		want       int
		wantBody   string
	}{
		{"flipped byte, push", ModePush, func(t *testing.T, p string) { t.Helper(); flip(t, p, fileSizeOf(t, p)-4*2-100) }, 404, ""},
		{"flipped byte, hybrid", ModeHybrid, func(t *testing.T, p string) { t.Helper(); flip(t, p, fileSizeOf(t, p)-4*2-100) }, 200, "from upstream"},
		{"truncated, push", ModePush, func(t *testing.T, p string) { t.Helper(); os.Truncate(p, fileSizeOf(t, p)-500) }, 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, newClock(), fixed("max-age=60", "from upstream")(0))
			s, edge := newEdge(t, up.URL, nil, func(cfg *Config) { cfg.PinnedDir, cfg.Mode = t.TempDir(), tc.mode })
			if _, err := s.pins.put("/t/1.m4s", http.Header{"Content-Type": {"video/mp4"}}, int64(len(body)), sha(body),
				bytes.NewReader(body), time.Now()); err != nil {
				t.Fatal(err)
			}
			if r := get(t, "GET", edge.URL+"/t/1.m4s"); r.body != string(body) {
				t.Fatalf("before the damage: %d %d bytes", r.status, len(r.body))
			}
			tc.damage(t, s.pins.path("/t/1.m4s"))
			for range 2 {
				r := get(t, "GET", edge.URL+"/t/1.m4s")
				if r.status != tc.want || (tc.wantBody != "" && r.body != tc.wantBody) {
					t.Errorf("after the damage: %d %q (%d bytes), want %d %q", r.status, r.header.Get("Cache-Status"), len(r.body), tc.want, tc.wantBody)
				}
			}
			if s.pins.has("/t/1.m4s") {
				t.Error("the damaged object is still pinned")
			}
		})
	}
}

func fileSizeOf(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestDiskOutOfDescriptors: when the process runs out of file
// descriptors, disk objects it cannot open are misses, and nothing is
// deleted. The edge runs in a child process whose descriptor limit is
// lowered to what it has open (setrlimit), so every open fails EMFILE.
func TestDiskOutOfDescriptors(t *testing.T) {
	if dir := os.Getenv("EDGE_FD_CHILD"); dir != "" {
		fdChild(dir)
		return
	}
	dir := t.TempDir()
	c := newClock()
	up := newUpstream(t, c, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "object:"+r.URL.Path)
	})
	s, edge := newEdge(t, up.URL, c, func(cfg *Config) { cfg.DiskDir = dir })
	for i := range 16 {
		get(t, "GET", fmt.Sprintf("%s/t/%d", edge.URL, i))
	}
	waitIdle(t, s)
	edge.Close()
	s.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDiskOutOfDescriptors$")
	cmd.Env = append(os.Environ(), "EDGE_FD_CHILD="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "16 misses, 16 files, 16 hits") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

// fdChild opens an edge on dir, reads its 16 objects with no descriptor
// to spare, then again with descriptors, and prints what it saw.
func fdChild(dir string) {
	s, err := New(Config{Upstream: "http://127.0.0.1:1", DiskDir: dir, MemoryBytes: 1 << 10})
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	ents, _ := os.ReadDir("/proc/self/fd")
	var old syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old)
	runtime.LockOSThread()
	lim := syscall.Rlimit{Cur: uint64(len(ents) - 1), Max: old.Max} // ReadDir's own descriptor is closed again
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Println("setrlimit:", err)
		os.Exit(1)
	}
	var held []*os.File // whatever slots are left, taken
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			break
		}
		held = append(held, f)
	}
	misses := 0
	for i := range 16 {
		if o, of := s.lookup(fmt.Sprintf("/t/%d", i)); o == nil && of == nil {
			misses++
		}
	}
	for _, f := range held {
		f.Close()
	}
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old)
	files := 0
	filepath.WalkDir(dir, func(_ string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			files++
		}
		return nil
	})
	hits := 0
	for i := range 16 {
		o, of := s.lookup(fmt.Sprintf("/t/%d", i))
		body := []byte(nil)
		if of != nil {
			body, _ = of.readAll()
			of.Close()
		} else if o != nil {
			body = o.body
		}
		if string(body) == fmt.Sprintf("object:/t/%d", i) {
			hits++
		}
	}
	fmt.Printf("%d misses, %d files, %d hits\n", misses, files, hits)
	os.Exit(0)
}

// TestSlowReadersDoNotHoldObjects: clients that request a large disk
// object and do not read hold a block each, not the object: the heap
// stays far below what copies of the object would take.
func TestSlowReadersDoNotHoldObjects(t *testing.T) {
	const size = 24 << 20
	c := newClock()
	up := newUpstream(t, c, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Write(bytes.Repeat([]byte("s"), size))
	})
	s, edge := newEdge(t, up.URL, c, func(cfg *Config) { cfg.DiskDir, cfg.MemoryBytes = t.TempDir(), 4<<20 })
	if r := get(t, "GET", edge.URL+"/t/big"); len(r.body) != size {
		t.Fatalf("fill: %d bytes", len(r.body))
	}
	waitIdle(t, s)
	s.wg.Wait()
	before := heapInUse()
	const readers = 12
	var conns []net.Conn
	for range readers {
		conn := dialWindow(t, edge.URL, 4096)
		conns = append(conns, conn)
		io.WriteString(conn, "GET /t/big HTTP/1.1\r\nHost: edge\r\n\r\n")
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// Bounded wait for every reader's handler to be blocked writing.
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
	}
	grew := heapInUse() - before
	if grew > readers*size/4 {
		t.Errorf("%d readers that do not read grew the heap by %d MiB (the object is %d MiB)", readers, grew>>20, size>>20)
	}
	t.Logf("heap grew by %.1f MiB for %d stalled readers of a %d MiB disk object", float64(grew)/(1<<20), readers, size>>20)
}

func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

// TestReloadCrowd: a crowd of clients that each send Cache-Control:
// no-cache (or max-age=0) for a cached object costs upstream at most one
// revalidation per object per second of the edge's clock, however many
// they are and however they interleave.
func TestReloadCrowd(t *testing.T) {
	for _, h := range [][]string{{"Cache-Control", "no-cache"}, {"Pragma", "no-cache"}, {"Cache-Control", "max-age=0"}} {
		t.Run(h[0]+": "+h[1], func(t *testing.T) {
			c := newClock()
			up := newUpstream(t, c, func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(5 * time.Millisecond) // a revalidation takes a while
				validated("max-age=60", `"crowd"`, "segment")(0)(w, r)
			})
			_, ts := newEdge(t, up.URL, c)
			if got := get(t, "GET", ts.URL+"/seg"); got.body != "segment" {
				t.Fatalf("first GET: %+v", got)
			}
			for round := 1; round <= 3; round++ {
				c.Advance(2 * time.Second)
				var wg sync.WaitGroup
				errs := make(chan string, 200)
				for range 200 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						req, _ := http.NewRequest(http.MethodGet, ts.URL+"/seg", nil)
						req.Header.Set(h[0], h[1])
						res, err := http.DefaultClient.Do(req)
						if err != nil {
							errs <- err.Error()
							return
						}
						b, _ := io.ReadAll(res.Body)
						res.Body.Close()
						if res.StatusCode != 200 || string(b) != "segment" {
							errs <- fmt.Sprintf("%d %q", res.StatusCode, b)
						}
					}()
				}
				wg.Wait()
				close(errs)
				for e := range errs {
					t.Fatal(e)
				}
				if n := up.count.Load(); n != int64(1+round) {
					t.Fatalf("after %d bursts of 200 reloads, one every 2 s: %d upstream requests, want %d", round, n, 1+round)
				}
			}
		})
	}
}

// TestFillsAreSpooled: clients that ask for large objects that are not
// cached and then never read do not make the edge hold those bodies in
// memory: a fill beyond the in-flight budget (or of unknown size) is
// spooled to a file while it streams. With or without a disk tier, of
// known size and chunked; the stalled clients still get every byte
// right once they read.
func TestFillsAreSpooled(t *testing.T) {
	const size, objects = 16 << 20, 8
	for _, tc := range []struct {
		name    string
		disk    bool
		chunked bool
	}{{"disk tier, Content-Length", true, false}, {"disk tier, chunked", true, true}, {"memory only, Content-Length", false, false}, {"memory only, chunked", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			up := newUpstream(t, c, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=600")
				if !tc.chunked {
					w.Header().Set("Content-Length", fmt.Sprint(size))
				}
				b := bytes.Repeat([]byte(r.URL.Path[len(r.URL.Path)-1:]), 64<<10)
				for range size / len(b) {
					w.Write(b)
				}
			})
			s, edge := newEdge(t, up.URL, c, func(cfg *Config) {
				cfg.MemoryBytes = 4 << 20
				if tc.disk {
					cfg.DiskDir = t.TempDir()
				}
			})
			runtime.GC()
			before := heapInUse()
			var conns []net.Conn
			defer func() {
				for _, c := range conns {
					c.Close()
				}
			}()
			for i := range objects {
				conn := dialWindow(t, edge.URL, 4096)
				conns = append(conns, conn)
				fmt.Fprintf(conn, "GET /t/big-%d HTTP/1.1\r\nHost: edge\r\n\r\n", i)
			}
			// Every fill ends (upstream is fast; the clients do not read).
			for deadline := time.Now().Add(20 * time.Second); up.count.Load() < objects && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			}
			waitIdle(t, s)
			grew := heapInUse() - before
			t.Logf("heap grew by %.1f MiB for %d stalled fills of %d MiB", float64(grew)/(1<<20), objects, size>>20)
			if grew > objects*size/8 {
				t.Errorf("%d stalled fills of %d MiB grew the heap by %d MiB", objects, size>>20, grew>>20)
			}
			// The stalled client now reads: the whole body, right.
			conns[3].SetReadDeadline(time.Now().Add(20 * time.Second))
			res, err := http.ReadResponse(bufio.NewReader(conns[3]), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			if err != nil || len(body) != size || bytes.Count(body, []byte("3")) != size {
				t.Fatalf("stalled client, once it reads: %d bytes (%v)", len(body), err)
			}
			if tc.disk {
				if r := get(t, "GET", edge.URL+"/t/big-5"); len(r.body) != size || !strings.Contains(r.header.Get("Cache-Status"), "hit") {
					t.Fatalf("a spooled fill is stored on disk: %d bytes, %s", len(r.body), r.header.Get("Cache-Status"))
				}
			}
		})
	}
}

// TestStalledClientIsDropped: a client that stops reading is dropped
// after SendTimeout, whatever the size of the object (its goroutine,
// descriptor and buffers with it); one that reads slowly but steadily
// gets the whole body, though it takes many SendTimeouts.
func TestStalledClientIsDropped(t *testing.T) {
	const size = 8 << 20
	c := newClock()
	up := newUpstream(t, c, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Write(bytes.Repeat([]byte("d"), size))
	})
	_, edge := newEdge(t, up.URL, c, func(cfg *Config) { cfg.DiskDir, cfg.SendTimeout = t.TempDir(), time.Second })
	if r := get(t, "GET", edge.URL+"/t/big"); len(r.body) != size {
		t.Fatalf("fill: %d bytes", len(r.body))
	}
	dial := func(rcvbuf int) net.Conn {
		conn := dialWindow(t, edge.URL, rcvbuf)
		t.Cleanup(func() { conn.Close() })
		io.WriteString(conn, "GET /t/big HTTP/1.1\r\nHost: edge\r\n\r\n")
		return conn
	}
	// The stalled client has a tiny receive window; the steady one the
	// system's default (a window of 4 KiB against loopback's 64 KiB MSS
	// stalls TCP itself).
	stalled, steady := dial(4096), dial(0)

	// The steady reader takes 64 KiB every 20 ms, 8 MiB in more than two
	// send timeouts: its pauses are short of the send timeout even
	// counted as the kernel wakes a blocked writer (when half its send
	// buffer, up to 4 MiB, has drained: 640 ms).
	done := make(chan error, 1)
	go func() {
		got, err := slowclient.ReadResponse(steady, 64<<10, 20*time.Millisecond, 60*time.Second)
		if err == nil && got != size {
			err = fmt.Errorf("%d bytes, want %d", got, size)
		}
		done <- err
	}()

	time.Sleep(4 * time.Second) // four send timeouts without reading a byte
	stalled.SetReadDeadline(time.Now().Add(30 * time.Second))
	n, _ := io.Copy(io.Discard, stalled)
	if n >= size {
		t.Errorf("a client that stopped reading for 4 s (send timeout 1 s) still got all %d bytes", n)
	}
	if err := <-done; err != nil {
		t.Errorf("steady slow reader: %v", err)
	}
}

// TestPromotionStampede: many clients that ask at once for an object on
// disk and not in memory make one copy of it in memory, not one each
// (and readers that stall keep nothing more).
func TestPromotionStampede(t *testing.T) {
	const size, readers = 6 << 20, 40
	c := newClock()
	up := newUpstream(t, c, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Write(bytes.Repeat([]byte("p"), size))
	})
	dir := t.TempDir()
	first, firstEdge := newEdge(t, up.URL, c, func(cfg *Config) { cfg.DiskDir = dir })
	if r := get(t, "GET", firstEdge.URL+"/t/seg"); len(r.body) != size {
		t.Fatalf("fill: %d bytes", len(r.body))
	}
	waitIdle(t, first)
	first.wg.Wait()                                                                                     // on disk
	_, edge := newEdge(t, up.URL, c, func(cfg *Config) { cfg.DiskDir, cfg.MemoryBytes = dir, 256<<20 }) // a restart: memory empty
	before := heapInUse()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range readers {
		conn := dialWindow(t, edge.URL, 4096)
		conns = append(conns, conn)
		io.WriteString(conn, "GET /t/seg HTTP/1.1\r\nHost: edge\r\n\r\n")
	}
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
	}
	grew := heapInUse() - before
	t.Logf("heap grew by %.1f MiB for %d stalled readers of a %d MiB object on disk", float64(grew)/(1<<20), readers, size>>20)
	if grew > 4*size {
		t.Errorf("%d readers of a %d MiB disk object grew the heap by %d MiB", readers, size>>20, grew>>20)
	}
	if up.count.Load() != 1 {
		t.Errorf("upstream saw %d requests, want 1", up.count.Load())
	}
}

// dialWindow connects to the server at base with a receive buffer of
// rcvbuf bytes (0: the system's default): a slow reader's window.
func dialWindow(t *testing.T, base string, rcvbuf int) net.Conn {
	t.Helper()
	return slowclient.Dial(t, strings.TrimPrefix(base, "http://"), rcvbuf)
}
