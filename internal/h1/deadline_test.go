package h1

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"testing/synctest"
	"time"
)

// dialPipe returns the client end of a net.Pipe whose server end l's
// server accepts; pipes' deadlines run on the synctest bubble's clock.
func dialPipe(t *testing.T, l *chanListener) net.Conn {
	t.Helper()
	client, server := net.Pipe()
	if !l.hand(server) {
		t.Fatal("listener closed")
	}
	return client
}

// TestDeadlinesNeverEarly: an idle timeout or a handler's write
// deadline shorter than the whole exchange never cuts a client that
// keeps up (each request, each chunk moves it on); one that stops
// reading is cut when the deadline passes.
func TestDeadlinesNeverEarly(t *testing.T) {
	const timeout, gap, chunks = 300 * time.Millisecond, 100 * time.Millisecond, 20
	synctest.Test(t, func(t *testing.T) {
		var (
			cutAfter time.Duration
			cut      = make(chan struct{})
		)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/slow" {
				io.WriteString(w, "ok")
				return
			}
			w.Header().Set("Content-Length", fmt.Sprint(chunks*1024))
			rc := http.NewResponseController(w)
			for range chunks {
				asked := time.Now()
				if err := rc.SetWriteDeadline(asked.Add(timeout)); err != nil {
					t.Errorf("SetWriteDeadline: %v", err)
				}
				if _, err := w.Write(make([]byte, 1024)); err != nil {
					cutAfter = time.Since(asked)
					close(cut)
					return
				}
				if err := rc.Flush(); err != nil {
					cutAfter = time.Since(asked)
					close(cut)
					return
				}
				time.Sleep(gap)
			}
		})
		ln := newChanListener()
		srv := New(Config{Handler: h, IdleTimeout: timeout})
		go srv.Serve(ln)
		defer srv.Close()

		// Requests 2/3 of the idle timeout apart, for five timeouts.
		c := dialPipe(t, ln)
		br := bufio.NewReader(c)
		for i := range 8 {
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("request %d, %v after the first: %v", i, time.Duration(i)*timeout*2/3, err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			time.Sleep(timeout * 2 / 3)
		}

		// A body written a chunk every third of the send timeout, taking
		// more than six timeouts in all, read as it comes.
		io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if n != chunks*1024 || err != nil {
			t.Fatalf("steady reader got %d of %d bytes: %v", n, chunks*1024, err)
		}
		c.Close()

		// A client that stops reading is cut.
		c = dialPipe(t, ln)
		defer c.Close()
		io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
		res, err = http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		<-cut
		if cutAfter != timeout {
			t.Errorf("a stalled client was cut %v after the write deadline was set, want %v", cutAfter, timeout)
		}
	})
}
