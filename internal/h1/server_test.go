package h1

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// serve runs h on h1 on 127.0.0.1 (port 0), with net/http behind it for
// h2c, and returns its address.
func serve(t testing.TB, h http.Handler) (string, *Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := New(Config{Handler: h, H2C: &http.Server{Handler: h, Protocols: p}})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return ln.Addr().String(), srv
}

// dial opens a connection to addr, closed when the test ends, with a
// 10 s deadline on all of it, and a reader of its responses.
func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

// readBody reads the next response from br, to a request with method,
// and fails the test unless its body is want; it returns the header.
func readBody(t *testing.T, br *bufio.Reader, method, want string) http.Header {
	t.Helper()
	res, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s, want %q: %v", method, want, err)
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || string(b) != want {
		t.Fatalf("%s: body %q, %v; want %q", method, b, err, want)
	}
	return res.Header
}

// exchange sends raw on a new connection to addr, reads the response
// (to a request with method), then a second, plain GET on the same
// connection: keep says whether that one was answered.
type answer struct {
	status int
	header http.Header
	body   string
	keep   bool
	err    string
}

func exchange(t *testing.T, addr, method, raw string) answer {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		return answer{err: "no response"}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	a := answer{status: res.StatusCode, header: res.Header, body: string(b)}
	if err != nil {
		a.err = "body: " + err.Error()
		return a
	}
	if res.Close {
		return a
	}
	io.WriteString(c, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
	if res2, err := http.ReadResponse(br, nil); err == nil {
		io.Copy(io.Discard, res2.Body)
		res2.Body.Close()
		a.keep = true
	}
	return a
}

// TestLikeNetHTTP sends each request to the same handler behind net/http
// and behind h1: the status, the header fields (but Date), the body and
// whether the connection stays open must be the same.
func TestLikeNetHTTP(t *testing.T) {
	big := strings.Repeat("0123456789", 1000)
	tests := []struct {
		name, method, raw string
		h                 http.HandlerFunc
	}{
		{"known length", "GET", "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5")
			w.Header().Set("Content-Type", "video/mp4")
			io.WriteString(w, "hello")
		}},
		{"sniffed, small", "GET", "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "<html>hello</html>")
		}},
		{"unknown length, large", "GET", "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, big)
			io.WriteString(w, big)
		}},
		{"flushed then small writes", "GET", "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "first")
			http.NewResponseController(w).Flush()
			io.WriteString(w, "second")
		}},
		{"HEAD keeps Content-Length", "HEAD", "HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			w.Header().Set("Content-Type", "video/mp4")
		}},
		{"HEAD with a body written", "HEAD", "HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "ignored")
		}},
		{"304", "GET", "GET /a HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"v\"\r\n\r\n", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("ETag", `"v"`)
			w.Header().Set("Content-Type", "video/mp4")
			w.WriteHeader(http.StatusNotModified)
		}},
		{"204", "GET", "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		}},
		{"http.Error", "GET", "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "upstream unavailable", http.StatusBadGateway)
		}},
		{"no body at all", "GET", "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", func(w http.ResponseWriter, r *http.Request) {}},
		{"handler asks to close", "GET", "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			io.WriteString(w, "bye")
		}},
		{"client asks to close", "GET", "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "bye")
		}},
		{"HTTP/1.0", "GET", "GET /a HTTP/1.0\r\n\r\n", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "old")
		}},
		{"HTTP/1.0 keep-alive, known length", "GET", "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "3")
			io.WriteString(w, "old")
		}},
		{"POST echoed", "POST", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(w, r.Body)
		}},
		{"POST chunked, body left unread", "POST", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n0\r\n\r\n", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "ok")
		}},
		{"POST body closed by the handler", "POST", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody", func(w http.ResponseWriter, r *http.Request) {
			r.Body.Close()
			io.WriteString(w, "ok")
		}},
		{"informational 103", "GET", "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Del("Link")
			io.WriteString(w, "final")
		}},
		{"header value with a newline", "GET", "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", func(w http.ResponseWriter, r *http.Request) {
			w.Header()["X-Odd"] = []string{"a\r\nInjected: yes"}
			io.WriteString(w, "x")
		}},
		{"request header seen", "GET", "GET /a?q=1 HTTP/1.1\r\nHost: example.com\r\nRange: bytes=0-1\r\n\r\n", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, r.Host+" "+r.URL.RequestURI()+" "+r.Header.Get("Range")+" "+r.Method)
		}},
		{"malformed request line", "GET", "GARBAGE\r\n\r\n", func(w http.ResponseWriter, r *http.Request) {}},
		{"HTTP/1.1 without Host", "GET", "GET /a HTTP/1.1\r\n\r\n", func(w http.ResponseWriter, r *http.Request) {}},
		{"HTTP/2.0 request line", "GET", "GET /a HTTP/2.0\r\nHost: x\r\n\r\n", func(w http.ResponseWriter, r *http.Request) {}},
		{"bad header name", "GET", "GET /a HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n", func(w http.ResponseWriter, r *http.Request) {}},
		{"header too large", "GET", "GET /a HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 1<<20+8192) + "\r\n\r\n", func(w http.ResponseWriter, r *http.Request) {}},
		{"unsupported Expect", "GET", "GET /a HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n", func(w http.ResponseWriter, r *http.Request) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sameAsNetHTTP(t, tt.h, tt.method, tt.raw)
		})
	}
}

// sameAsNetHTTP sends raw (a method request) to h served by h1 and by
// net/http's server, and wants the same answer from both: status, body,
// keep-alive, error and fields (Date aside).
func sameAsNetHTTP(t *testing.T, h http.HandlerFunc, method, raw string) {
	t.Helper()
	ref := httptest.NewServer(h)
	defer ref.Close()
	addr, _ := serve(t, h)
	want := exchange(t, strings.TrimPrefix(ref.URL, "http://"), method, raw)
	got := exchange(t, addr, method, raw)
	for _, a := range []*answer{&want, &got} {
		if a.header != nil {
			a.header.Del("Date")
		}
	}
	if got.status != want.status || got.body != want.body || got.keep != want.keep || got.err != want.err {
		t.Errorf("h1: %d %q keep=%v err=%q\nnet/http: %d %q keep=%v err=%q",
			got.status, trim(got.body), got.keep, got.err, want.status, trim(want.body), want.keep, want.err)
	}
	if !sameHeader(got.header, want.header) {
		t.Errorf("header\nh1:       %v\nnet/http: %v", got.header, want.header)
	}
}

func trim(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// sameHeader compares headers, but for the framing each server may
// choose for a body of unknown length (both are valid).
func sameHeader(a, b http.Header) bool {
	norm := func(h http.Header) map[string][]string {
		m := map[string][]string{}
		for k, v := range h {
			if k != "Content-Length" && k != "Transfer-Encoding" {
				m[k] = v
			}
		}
		return m
	}
	x, y := norm(a), norm(b)
	if len(x) != len(y) {
		return false
	}
	for k, v := range x {
		if !slices.Equal(v, y[k]) {
			return false
		}
	}
	return true
}

// TestHitIsOneWrite checks that a response with a known length reaches
// the client as one segment: its header and body in one writev.
func TestHitIsOneWrite(t *testing.T) {
	body := strings.Repeat("x", 100<<10)
	addr, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "102400")
		io.WriteString(w, body)
	}))
	a := exchange(t, addr, "GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if a.status != 200 || a.body != body || !a.keep {
		t.Fatalf("got %d, %d bytes, keep=%v", a.status, len(a.body), a.keep)
	}
}

// TestPipelined: pipelined requests are answered in order, and the
// response header map, the connection's and reused, starts empty for
// each: a field the first response set is not in the next.
func TestPipelined(t *testing.T) {
	addr, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(w.Header()) != 0 {
			t.Errorf("%s: handler found fields %v", r.URL.Path, w.Header())
		}
		if r.URL.Path == "/1" {
			w.Header().Set("X-First", "1")
		}
		io.WriteString(w, r.URL.Path)
	}))
	c, br := dial(t, addr)
	io.WriteString(c, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /3 HTTP/1.1\r\nHost: x\r\n\r\nGET /4 HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []struct{ method, body, first string }{{"GET", "/1", "1"}, {"GET", "/2", ""}, {"HEAD", "", ""}, {"GET", "/4", ""}} {
		h := readBody(t, br, want.method, want.body)
		if got := h.Get("X-First"); got != want.first {
			t.Errorf("%s %q: X-First %q, want %q", want.method, want.body, got, want.first)
		}
	}
}

// TestAbort checks that http.ErrAbortHandler cuts the response: the
// client sees a short body, never one that looks whole.
func TestAbort(t *testing.T) {
	addr, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000")
		io.WriteString(w, strings.Repeat("x", 50000))
		panic(http.ErrAbortHandler)
	}))
	res, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if _, err := io.ReadAll(res.Body); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("read the aborted body: %v, want unexpected EOF", err)
	}
}

func TestExpectContinue(t *testing.T) {
	addr, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(w, r.Body)
	}))
	c, br := dial(t, addr)
	io.WriteString(c, "PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
	line, err := br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("got %q, %v; want 100 Continue before the body is sent", line, err)
	}
	br.ReadString('\n')
	io.WriteString(c, "body")
	readBody(t, br, "PUT", "body")
}

// TestH2C checks that a connection that opens with the HTTP/2 preface
// is served by net/http, as HTTP/2.
func TestH2C(t *testing.T) {
	addr, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}))
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: p}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr}).Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if b, _ := io.ReadAll(res.Body); string(b) != "HTTP/2.0" {
		t.Fatalf("served as %q, want HTTP/2.0", b)
	}
}

// TestShutdown checks that Shutdown closes idle connections at once and
// lets a request in flight finish, with Connection: close.
func TestShutdown(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	addr, srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			<-release
		}
		io.WriteString(w, "done")
	}))
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	busy, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	<-started
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("idle connection: %v, want EOF", err)
	}
	close(release)
	busy.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(busy), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if b, _ := io.ReadAll(res.Body); string(b) != "done" || !res.Close {
		t.Errorf("request in flight: %q, close=%v; want done, close", b, res.Close)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
}

// TestTimeouts checks that a connection is closed when no request comes
// (IdleTimeout) and when a header does not come whole
// (ReadHeaderTimeout), each shorter than the other.
func TestTimeouts(t *testing.T) {
	for _, tt := range []struct {
		name, send   string
		idle, header time.Duration
	}{
		{"idle", "", 50 * time.Millisecond, time.Minute},
		{"header", "GET / HTTP/1.1\r\nHost: x\r\n", time.Minute, 50 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := New(Config{Handler: http.NotFoundHandler(), IdleTimeout: tt.idle, ReadHeaderTimeout: tt.header})
			go srv.Serve(ln)
			defer srv.Close()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			io.WriteString(c, tt.send)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
				t.Fatalf("read: %v, want EOF (closed by the server)", err)
			}
		})
	}
}

// TestBusyWrites checks the responses of a busy server (more than
// Config.BusyConns requests in flight), which go out in two writes: the body
// arrives whole, with a small header and with one over the write buffer.
func TestBusyWrites(t *testing.T) {
	body := strings.Repeat("0123456789abcdef", 100<<10/16)
	release := make(chan struct{})
	addr, srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			<-release
			return
		}
		w.Header().Set("X-Big", strings.Repeat("h", len(r.URL.Query().Get("h"))))
		w.Header().Set("Content-Length", "102400")
		io.WriteString(w, body)
	}))
	var wg sync.WaitGroup
	defer func() { close(release); wg.Wait() }()
	for range srv.cfg.BusyConns + 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if res, err := http.Get("http://" + addr + "/block"); err == nil {
				res.Body.Close()
			}
		}()
	}
	for deadline := time.Now().Add(5 * time.Second); !srv.busy(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections active, want more than %d", srv.active.Load(), srv.cfg.BusyConns)
		}
	}
	for _, h := range []int{0, 6 << 10} {
		a := exchange(t, addr, "GET", "GET /big?h="+strings.Repeat("x", h)+" HTTP/1.1\r\nHost: x\r\n\r\n")
		if a.status != 200 || a.body != body || len(a.header.Get("X-Big")) != h {
			t.Errorf("header field of %d bytes: %d, %d bytes of body (want %d), field of %d", h, a.status, len(a.body), len(body), len(a.header.Get("X-Big")))
		}
	}
}

// TestCrowded: the server counts as crowded with more than 4×BusyConns
// connections open, idle ones included, and stops when they close.
func TestCrowded(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := New(Config{Handler: http.NotFoundHandler(), BusyConns: 1})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	waitFor := func(want bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); srv.crowded() != want; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d connections open: crowded %v, want %v", srv.open.Load(), !want, want)
			}
		}
	}
	var conns []net.Conn
	for i := range 5 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if i == 3 {
			waitFor(false) // four open: not yet
			for deadline := time.Now().Add(5 * time.Second); srv.open.Load() < 4; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%d connections open, want 4", srv.open.Load())
				}
			}
			if srv.crowded() {
				t.Fatal("crowded with 4 connections open and BusyConns 1")
			}
		}
	}
	waitFor(true)
	for _, c := range conns {
		c.Close()
	}
	waitFor(false)
}
