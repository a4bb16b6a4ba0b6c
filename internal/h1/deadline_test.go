package h1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/streamcdn/streamcdn/internal/testutil/slowclient"
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

// TestSendTimeout: after SetSendTimeout a body goes out in one Write
// whose deadline the server moves on as the client takes it: a client
// that reads slowly but steadily gets the whole body though it takes
// more than two timeouts, and one that stops reading is cut, its
// Write failing with a deadline error. Over a pipe there is no socket
// to write by hand, and SetSendTimeout says so.
func TestSendTimeout(t *testing.T) {
	const size, timeout = 8 << 20, time.Second
	body := bytes.Repeat([]byte("s"), size)
	writes := make(chan error, 2)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !w.(*response).SetSendTimeout(timeout, 256<<10) {
			t.Error("SetSendTimeout on a TCP connection: false")
		}
		w.Header().Set("Content-Length", strconv.Itoa(size))
		_, err := w.Write(body)
		writes <- err
	})
	addr, _ := serve(t, h)
	dial := func(rcvbuf int) net.Conn {
		c := slowclient.Dial(t, addr, rcvbuf)
		t.Cleanup(func() { c.Close() })
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		return c
	}
	dial(4096) // asks, then never reads
	// 64 KiB every 20 ms: 8 MiB in more than 2.5 s (see the edge's
	// TestStalledClientIsDropped for why not slower).
	got, err := slowclient.ReadResponse(dial(0), 64<<10, 20*time.Millisecond, 60*time.Second)
	if err != nil || got != size {
		t.Errorf("steady slow reader: %d of %d bytes: %v", got, size, err)
	}
	var cut, whole int
	for range 2 {
		select {
		case err := <-writes:
			switch {
			case err == nil:
				whole++
			case errors.Is(err, os.ErrDeadlineExceeded):
				cut++
			default:
				t.Errorf("Write: %v, want a deadline error or nil", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("a Write still blocked 30 s after the steady reader finished")
		}
	}
	if cut != 1 || whole != 1 {
		t.Errorf("%d Writes cut and %d whole, want one of each", cut, whole)
	}

	synctest.Test(t, func(t *testing.T) {
		ln := newChanListener()
		var ok bool
		srv := New(Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ok = w.(*response).SetSendTimeout(timeout, 256<<10)
		})})
		go srv.Serve(ln)
		defer srv.Close()
		c := dialPipe(t, ln)
		defer c.Close()
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if ok {
			t.Error("SetSendTimeout over a pipe: true")
		}
	})
}

// TestSendTimeoutEndsWithResponse: the deadline a send timeout left on
// the connection does not outlive its response. A later response on the
// same connection, written by a handler that sets no timeout after the
// client was idle longer than the old one, goes out whole.
func TestSendTimeoutEndsWithResponse(t *testing.T) {
	const timeout = 100 * time.Millisecond
	addr, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/timed" && !w.(*response).SetSendTimeout(timeout, 256<<10) {
			t.Error("SetSendTimeout on a TCP connection: false")
		}
		io.WriteString(w, r.URL.Path)
	}))
	c, br := dial(t, addr)
	for _, path := range []string{"/timed", "/plain", "/timed", "/plain"} {
		time.Sleep(3 * timeout) // idle past the last send timeout
		io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
		readBody(t, br, "GET", path)
	}
}

// deadlineConn records the read deadlines set on it.
type deadlineConn struct {
	net.Conn
	set []time.Time
}

func (d *deadlineConn) SetReadDeadline(t time.Time) error {
	d.set = append(d.set, t)
	return nil
}

// TestArmIdle checks when the wait for the next request moves the read
// deadline: not while the one set is within the slack of idle from now,
// always after anything else set it (a header's, a body's none, a
// watch's past one).
func TestArmIdle(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	const idle = 120 * time.Second
	for _, tt := range []struct {
		name  string
		prev  time.Time // zero: none set
		moved bool
	}{
		{"none set", time.Time{}, true},
		{"set just now", now.Add(idle), false},
		{"set under a second ago", now.Add(idle - 999*time.Millisecond), false},
		{"set a second ago", now.Add(idle - time.Second), true},
		{"set a minute ago", now.Add(idle - time.Minute), true},
		{"a header's, shorter", now.Add(10 * time.Second), true},
		{"a watch's, past", aLongTimeAgo, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := &deadlineConn{}
			c := &conn{rwc: d}
			_ = c.setReadDeadline(tt.prev)
			c.armIdle(now, idle)
			moved := len(d.set) == 2
			if moved != tt.moved {
				t.Fatalf("moved %v (set %v), want %v", moved, d.set, tt.moved)
			}
			if moved && !d.set[1].Equal(now.Add(idle)) {
				t.Fatalf("moved to %v, want %v", d.set[1], now.Add(idle))
			}
		})
	}
	if got := idleSlack(400 * time.Millisecond); got != 50*time.Millisecond {
		t.Fatalf("slack of a 400ms idle timeout: %v, want 50ms", got)
	}
}
