package h1

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// pipeListener hands out the server ends of net.Pipe connections, whose
// deadlines run on the synctest bubble's clock.
type pipeListener struct {
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) dial() net.Conn {
	client, server := net.Pipe()
	l.conns <- server
	return client
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

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
		ln := newPipeListener()
		srv := New(Config{Handler: h, IdleTimeout: timeout})
		go srv.Serve(ln)
		defer srv.Close()

		// Requests 2/3 of the idle timeout apart, for five timeouts.
		c := ln.dial()
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
		c = ln.dial()
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
