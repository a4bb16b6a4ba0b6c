package edge

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestCoalescing sends 200 concurrent requests for a cold 4 MB object:
// upstream must see one request, every client must get the whole body,
// and the first bytes must reach a client while upstream still holds the
// rest back.
func TestCoalescing(t *testing.T) {
	if testing.Short() {
		t.Skip("200 clients over sockets; TestCoalescingVirtual is the exact one")
	}
	const clients, size = 200, 4 << 20
	body := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range body {
		body[i] = byte(rng.Uint32())
	}
	want := sha256.Sum256(body)
	release := make(chan struct{})
	c := newClock()
	up := newUpstream(t, c, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Content-Length", strconv.Itoa(size))
		w.Write(body[:size/4])
		w.(http.Flusher).Flush()
		<-release // the rest only once a client has seen the first bytes
		w.Write(body[size/4:])
	})
	s, edge := newEdge(t, up.URL, c)
	firstByte := make(chan struct{})
	var once sync.Once
	sums := make([][32]byte, clients)
	errs := make([]error, clients)
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: clients}}
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := client.Get(edge.URL + "/big.m4s")
			if err != nil {
				errs[i] = err
				return
			}
			defer res.Body.Close()
			var one [1]byte
			if _, err := io.ReadFull(res.Body, one[:]); err != nil {
				errs[i] = err
				return
			}
			once.Do(func() { close(firstByte) })
			rest, err := io.ReadAll(res.Body)
			errs[i] = err
			sums[i] = sha256.Sum256(append(one[:], rest...))
		}()
	}
	// Every client but the one that started the fill must have joined it
	// before upstream sends the rest.
	deadline := time.Now().Add(20 * time.Second)
	for testutil.ToFloat64(s.metrics.coalesced) < clients-1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case <-firstByte:
	case <-time.After(20 * time.Second):
		close(release)
		t.Fatal("no client received a byte before upstream finished: the body is not streamed")
	}
	close(release)
	wg.Wait()
	if got := up.count.Load(); got != 1 {
		t.Errorf("upstream saw %d requests, want 1", got)
	}
	for i := range clients {
		if errs[i] != nil {
			t.Fatalf("client %d: %v", i, errs[i])
		}
		if !bytes.Equal(sums[i][:], want[:]) {
			t.Fatalf("client %d got a different body", i)
		}
	}
	if got := testutil.ToFloat64(s.metrics.coalesced); got != clients-1 {
		t.Errorf("coalesced = %v, want %d", got, clients-1)
	}
}

// TestWaiterGoneFillGoesOn cancels the only client mid-body: the fill must
// still complete and be stored.
func TestWaiterGoneFillGoesOn(t *testing.T) {
	release := make(chan struct{})
	c := newClock()
	up := newUpstream(t, c, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Content-Length", "8")
		w.Write([]byte("1234"))
		w.(http.Flusher).Flush()
		<-release
		w.Write([]byte("5678"))
	})
	_, edge := newEdge(t, up.URL, c)
	req, _ := http.NewRequest("GET", edge.URL+"/gone", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var four [4]byte
	io.ReadFull(res.Body, four[:])
	res.Body.Close() // the client goes away
	close(release)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		r := get(t, "GET", edge.URL+"/gone")
		if strings.Contains(r.header.Get("Cache-Status"), "hit") {
			if r.body != "12345678" || up.count.Load() != 1 {
				t.Fatalf("hit with body %q after %d upstream requests, want 12345678 after 1", r.body, up.count.Load())
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the fill did not complete after its client left")
}

// TestNextRequestFindsFill: a client that was sent a miss whole and at
// once asks for it again, on the same connection, gets a hit: the edge
// answers the second request after the first one's store, not in a race
// with it. Small and larger (spooled) bodies, with and without Vary.
func TestNextRequestFindsFill(t *testing.T) {
	for _, tt := range []struct {
		name string
		size int
		vary bool
	}{
		{"small", 1 << 10, false},
		{"small, varied", 1 << 10, true},
		{"4 MiB, spooled to disk", 4 << 20, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := bytes.Repeat([]byte("n"), tt.size)
			c := newClock()
			up := newUpstream(t, c, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=600")
				if tt.vary {
					w.Header().Set("Vary", "Accept-Language")
				}
				w.Write(body)
			})
			// A fill over an eighth of the memory tier is spooled.
			_, edge := newEdge(t, up.URL, c, func(cfg *Config) { cfg.MemoryBytes, cfg.DiskDir = 16<<20, t.TempDir() })
			client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
			defer client.CloseIdleConnections()
			get := func(path string) string {
				t.Helper()
				req, _ := http.NewRequest(http.MethodGet, edge.URL+path, nil)
				req.Header.Set("Accept-Language", "en")
				res, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				if n, err := io.Copy(io.Discard, res.Body); n != int64(tt.size) || err != nil {
					t.Fatalf("GET %s: %d bytes, %v", path, n, err)
				}
				return res.Header.Get("Cache-Status")
			}
			for i := range 50 {
				path := "/n/" + strconv.Itoa(i)
				get(path)
				if cs := get(path); !strings.Contains(cs, "; hit") {
					t.Fatalf("GET %s again, at once: Cache-Status %q, want a hit", path, cs)
				}
			}
			if n := up.count.Load(); n != 50 {
				t.Errorf("upstream saw %d requests for 50 objects", n)
			}
		})
	}
}
