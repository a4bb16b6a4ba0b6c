package h1

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestContextCancelledWhenClientGoes: a handler waiting on its request's
// context learns that the client closed the connection; one that waits
// while the client keeps it (idle, or with the next request already
// sent) is not cancelled, and the connection serves on.
func TestContextCancelledWhenClientGoes(t *testing.T) {
	cancelled := make(chan string, 8)
	addr, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/wait": // until the client goes, or 5 s
			select {
			case <-r.Context().Done():
				cancelled <- r.URL.Path
			case <-time.After(5 * time.Second):
			}
			return
		case "/peek": // waits a little, not cancelled
			select {
			case <-r.Context().Done():
				cancelled <- r.URL.Path
			case <-time.After(100 * time.Millisecond):
			}
		}
		io.WriteString(w, r.URL.Path)
	}))
	// Gone: the handler is cancelled, long before its 5 s.
	c, _ := dial(t, addr)
	start := time.Now()
	io.WriteString(c, "GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(50 * time.Millisecond) // the handler waits
	c.Close()
	select {
	case p := <-cancelled:
		if p != "/wait" {
			t.Fatalf("cancelled: %s", p)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("the handler was not cancelled when its client closed the connection")
	}
	t.Logf("cancelled %v after the request", time.Since(start).Round(time.Millisecond))

	// Kept, idle then pipelined: no cancellation, every answer right.
	c, br := dial(t, addr)
	io.WriteString(c, "GET /peek HTTP/1.1\r\nHost: x\r\n\r\n")
	readBody(t, br, "GET", "/peek")
	io.WriteString(c, "GET /peek HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /peek HTTP/1.1\r\nHost: x\r\n\r\n")
	readBody(t, br, "GET", "/peek")
	readBody(t, br, "GET", "/2")
	readBody(t, br, "GET", "/peek")
	// A request with a body is not watched; it is served as before.
	io.WriteString(c, "POST /peek HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
	readBody(t, br, "POST", "/peek")
	select {
	case p := <-cancelled:
		t.Fatalf("%s cancelled while its client kept the connection", p)
	default:
	}
}

// TestHitIsNotWatched: a handler that never waits on its context (as a
// cache hit does not) starts no watch of the connection.
func TestHitIsNotWatched(t *testing.T) {
	ctxs := make(chan *reqContext, 1)
	addr, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctxs <- r.Context().(*reqContext)
		io.WriteString(w, "hit")
	}))
	c, br := dial(t, addr)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	readBody(t, br, "GET", "hit")
	x := <-ctxs
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.done != nil {
		t.Error("a handler that never called Done started a watch")
	}
}

// TestConnContextReachesRequests: a request's context carries the
// connection context's values, and is cancelled when that context is,
// whether or not the connection context can be cancelled at all.
func TestConnContextReachesRequests(t *testing.T) {
	type key struct{}
	for _, cancellable := range []bool{false, true} {
		t.Run(fmt.Sprintf("cancellable=%v", cancellable), func(t *testing.T) {
			cancels := make(chan context.CancelFunc, 1)
			got := make(chan string, 1)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := New(Config{
				Handler: http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
					v, _ := r.Context().Value(key{}).(string)
					if !cancellable {
						got <- v
						return
					}
					select {
					case <-r.Context().Done():
						got <- v + ", cancelled"
					case <-time.After(5 * time.Second):
						got <- v + ", not cancelled"
					}
				}),
				ConnContext: func(ctx context.Context, _ net.Conn) context.Context {
					ctx = context.WithValue(ctx, key{}, "value")
					if cancellable {
						var cancel context.CancelFunc
						ctx, cancel = context.WithCancel(ctx)
						cancels <- cancel
					}
					return ctx
				},
			})
			go func() { _ = srv.Serve(ln) }()
			t.Cleanup(func() { _ = srv.Close() })
			c, _ := dial(t, ln.Addr().String())
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			want := "value"
			if cancellable {
				(<-cancels)()
				want = "value, cancelled"
			}
			select {
			case v := <-got:
				if v != want {
					t.Errorf("the handler saw %q, want %q", v, want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the handler did not answer")
			}
		})
	}
}
