package h1

import (
	"bufio"
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
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		return c, bufio.NewReader(c)
	}
	read := func(br *bufio.Reader, want string) {
		t.Helper()
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || string(b) != want {
			t.Fatalf("body %q, %v; want %q", b, err, want)
		}
	}

	// Gone: the handler is cancelled, long before its 5 s.
	c, _ := dial()
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
	c, br := dial()
	io.WriteString(c, "GET /peek HTTP/1.1\r\nHost: x\r\n\r\n")
	read(br, "/peek")
	io.WriteString(c, "GET /peek HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /peek HTTP/1.1\r\nHost: x\r\n\r\n")
	read(br, "/peek")
	read(br, "/2")
	read(br, "/peek")
	// A request with a body is not watched; it is served as before.
	io.WriteString(c, "POST /peek HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
	read(br, "/peek")
	select {
	case p := <-cancelled:
		t.Fatalf("%s cancelled while its client kept the connection", p)
	default:
	}
}
