package h1

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// sendFile sends n bytes of f from off as w's body: by w's SendFile
// where it has one (h1), else copied (net/http), as httpx does.
func sendFile(w http.ResponseWriter, f *os.File, off, n int64) {
	if fs, ok := w.(interface {
		SendFile(*os.File, int64, int64) (int64, error)
	}); ok {
		fs.SendFile(f, off, n)
		return
	}
	io.Copy(w, io.NewSectionReader(f, off, n))
}

// openBody writes content to a file and opens it, until the test ends.
func openBody(t *testing.T, content []byte) *os.File {
	t.Helper()
	name := filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(name, content, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestSendFileLikeNetHTTP: a body sent from a file answers as net/http
// answers the same bytes copied, whatever the framing: declared, sniffed,
// chunked, HEAD, after other writes, and a file shorter than declared.
func TestSendFileLikeNetHTTP(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789abcdef"), 40<<10) // 640 KiB: several socket buffers
	f := openBody(t, content)
	size := int64(len(content))
	get := "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
	tests := []struct {
		name, method, raw string
		h                 http.HandlerFunc
	}{
		{"declared", "GET", get, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "video/mp4")
			w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
			sendFile(w, f, 0, size)
		}},
		{"two ranges of it", "GET", get, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "video/mp4")
			w.Header().Set("Content-Length", "70000")
			sendFile(w, f, 1000, 65536)
			sendFile(w, f, 300000, 4464)
		}},
		{"after a small write", "GET", get, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "video/mp4")
			w.Header().Set("Content-Length", "10005")
			io.WriteString(w, "start")
			sendFile(w, f, 7, 10000)
		}},
		{"sniffed", "GET", get, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5000")
			sendFile(w, f, 0, 5000)
		}},
		{"length unknown: chunked", "GET", get, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "video/mp4")
			sendFile(w, f, 0, size)
		}},
		{"HEAD", "HEAD", "HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "video/mp4")
			w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
			sendFile(w, f, 0, size)
		}},
		{"file shorter than declared", "GET", get, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "video/mp4")
			w.Header().Set("Content-Length", "20000")
			sendFile(w, f, size-10000, 20000)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sameAsNetHTTP(t, tt.h, tt.method, tt.raw)
			if off, _ := f.Seek(0, io.SeekCurrent); off != 0 {
				t.Errorf("the file's offset moved to %d", off)
			}
		})
	}
}

// TestSendFileOnlyOnSockets: sendfile(2) is used on a TCP connection,
// and a connection that is not a socket is told to copy instead.
func TestSendFileOnlyOnSockets(t *testing.T) {
	f := openBody(t, []byte("0123456789"))
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	pc := &conn{srv: New(Config{}), rwc: a}
	pc.useSocket()
	if _, ok := pc.sendFile(f, 0, 10); ok {
		t.Error("sendFile over a pipe: ok, want a copy")
	}

	client, server := tcpPair(t)
	srv := New(Config{})
	for _, open := range []int64{1, 1000} { // the header with MSG_MORE, then alone
		srv.open.Store(open)
		c := &conn{srv: srv, rwc: server, wbuf: []byte("head:")}
		c.useSocket()
		n, ok := c.sendFile(f, 2, 5)
		if !ok || n != 5 || c.werr != nil {
			t.Fatalf("%d open: sendFile over TCP = %d, %v (err %v), want 5, true", open, n, ok, c.werr)
		}
		got := make([]byte, 10)
		if _, err := io.ReadFull(client, got); err != nil || string(got) != "head:23456" {
			t.Errorf("%d open: read %q, %v; want %q", open, got, err, "head:23456")
		}
	}
}

// TestWantsFile: sendfile is wanted for large bodies to a crowded
// server's sockets only: more than 4×BusyConns connections open, however
// few are being served.
func TestWantsFile(t *testing.T) {
	tcp, _ := tcpPair(t)
	pipe, other := net.Pipe()
	defer pipe.Close()
	defer other.Close()
	tests := []struct {
		name         string
		rwc          net.Conn
		open, active int64
		n            int64
		want         bool
	}{
		{"large, crowded", tcp, 129, 1, sendFileMin, true},
		{"small, crowded", tcp, 129, 1, sendFileMin - 1, false},
		{"large, busy, not crowded", tcp, 128, 128, 1 << 20, false},
		{"large, idle", tcp, 1, 1, 1 << 20, false},
		{"large, crowded, not a socket", pipe, 129, 129, 1 << 20, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := New(Config{})
			srv.open.Store(tt.open)
			srv.active.Store(tt.active)
			c := &conn{srv: srv, rwc: tt.rwc}
			c.useSocket()
			w := &response{c: c}
			if got := w.WantsFile(tt.n); got != tt.want {
				t.Errorf("WantsFile(%d) with %d open, %d active = %v, want %v", tt.n, tt.open, tt.active, got, tt.want)
			}
		})
	}
}

// tcpPair returns both ends of a loopback TCP connection, closed when
// the test ends.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	if server, err = ln.Accept(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	return client, server
}
