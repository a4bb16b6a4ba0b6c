package edge

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// pipeUpstream is an upstream in memory: each request gets the headers
// at once and a body that body writes into a pipe as it pleases.
type pipeUpstream struct {
	header http.Header
	body   func(w io.Writer)
	count  atomic.Int64
}

func (u *pipeUpstream) RoundTrip(req *http.Request) (*http.Response, error) {
	u.count.Add(1)
	pr, pw := io.Pipe()
	go func() {
		u.body(pw)
		pw.Close()
	}()
	n, _ := strconv.ParseInt(u.header.Get("Content-Length"), 10, 64)
	return &http.Response{StatusCode: http.StatusOK, Header: u.header.Clone(), Body: pr, ContentLength: n, Request: req,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}, nil
}

// streamWriter is a client's response writer that signals its first
// body byte.
type streamWriter struct {
	*httptest.ResponseRecorder
	first func()
	once  sync.Once
}

func (w *streamWriter) Write(b []byte) (int, error) {
	if len(b) > 0 {
		w.once.Do(w.first)
	}
	return w.ResponseRecorder.Write(b)
}

// TestCoalescingVirtual is TestCoalescing on virtual time, in memory:
// 100 concurrent requests for a cold 1 MiB object while upstream holds
// back three quarters of it. Once every goroutine is blocked
// (synctest.Wait, not a polling loop), exactly 99 have joined the one
// fill, upstream has had one request, and the first quarter has reached
// the clients; released, every client gets the whole body.
func TestCoalescingVirtual(t *testing.T) {
	const clients, size = 100, 1 << 20
	body := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range body {
		body[i] = byte(rng.Uint32())
	}
	want := sha256.Sum256(body)
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		up := &pipeUpstream{header: http.Header{"Cache-Control": {"max-age=600"}, "Content-Length": {strconv.Itoa(size)},
			"Date": {time.Now().UTC().Format(http.TimeFormat)}}, body: func(w io.Writer) {
			w.Write(body[:size/4])
			<-release
			w.Write(body[size/4:])
		}}
		s, err := New(Config{Upstream: "http://origin.test", Name: "edge-test", Transport: up})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var started atomic.Int64
		writers := make([]*streamWriter, clients)
		var wg sync.WaitGroup
		for i := range clients {
			writers[i] = &streamWriter{ResponseRecorder: httptest.NewRecorder(), first: func() { started.Add(1) }}
			wg.Go(func() { s.ServeHTTP(writers[i], httptest.NewRequest("GET", "/big.m4s", nil)) })
		}
		synctest.Wait()
		if got := testutil.ToFloat64(s.metrics.coalesced); got != clients-1 {
			t.Errorf("coalesced = %v with every client waiting, want %d", got, clients-1)
		}
		if got := up.count.Load(); got != 1 {
			t.Errorf("upstream saw %d requests, want 1", got)
		}
		if started.Load() == 0 {
			t.Error("no client received a byte while upstream held the rest back: the body is not streamed")
		}
		close(release)
		wg.Wait()
		for i, w := range writers {
			if got := sha256.Sum256(w.Body.Bytes()); w.Code != http.StatusOK || !bytes.Equal(got[:], want[:]) {
				t.Fatalf("client %d: %d, %d bytes, a different body", i, w.Code, w.Body.Len())
			}
		}
	})
}
