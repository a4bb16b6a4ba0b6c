package h1

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"testing"
)

// parsed is what a server reads of a request: the fields parseSimple
// must give as http.ReadRequest does.
type parsed struct {
	Method, RequestURI, Proto, Host string
	ProtoMajor, ProtoMinor          int
	URL                             *url.URL
	Header                          http.Header
	ContentLength                   int64
	TransferEncoding                []string
	Close                           bool
	NoBody                          bool
	Trailer                         http.Header
	Consumed                        int
}

func view(r *http.Request, consumed int) parsed {
	return parsed{r.Method, r.RequestURI, r.Proto, r.Host, r.ProtoMajor, r.ProtoMinor, r.URL, r.Header,
		r.ContentLength, r.TransferEncoding, r.Close, r.Body == http.NoBody, r.Trailer, consumed}
}

// sameAsReadRequest checks parseSimple's reading of in, if it took it,
// against http.ReadRequest's; it reports whether parseSimple took it.
func sameAsReadRequest(t *testing.T, in []byte) bool {
	t.Helper()
	n := headerEnd(in) // as conn.readRequest cuts it
	if n < 0 {
		return false
	}
	got := parseSimple(in[:n])
	if got == nil {
		return false
	}
	rd := bytes.NewReader(in)
	br := bufio.NewReader(rd)
	want, err := http.ReadRequest(br)
	if err != nil {
		t.Fatalf("parseSimple took %q, which http.ReadRequest refuses: %v", in, err)
	}
	g, w := view(got, n), view(want, len(in)-br.Buffered()-rd.Len())
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%q:\nparseSimple  %s\nReadRequest  %s", in, show(g), show(w))
	}
	return true
}

func show(p parsed) string {
	u := p.URL
	p.URL = nil
	return fmt.Sprintf("%+v URL=%#v", p, u)
}

var simpleSeeds = []struct {
	name   string
	in     string
	simple bool
}{
	{"wrk", "GET /bench/100k/7.m4s HTTP/1.1\r\nHost: 127.0.0.1:18902\r\n\r\n", true},
	{"wrk range", "GET /bench/1m/7.m4s HTTP/1.1\r\nHost: 127.0.0.1:18902\r\nRange: bytes=65536-131071\r\n\r\n", true},
	{"curl", "GET /v/seg-1.m4s HTTP/1.1\r\nHost: edge:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n", true},
	{"browser", "GET /v/720p/seg-3.m4s?x=1&y=%20 HTTP/1.1\r\nHost: video.netcinema.com\r\nConnection: keep-alive\r\n" +
		"sec-ch-ua: \"Chromium\";v=\"131\"\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: */*\r\n" +
		"Origin: http://player\r\nReferer: http://player/\r\nAccept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\n" +
		"Range: bytes=0-\r\nIf-None-Match: \"abc\"\r\nCMCD: br=3000,d=4004,ot=v,sid=\"6e2fb550\"\r\n\r\n", true},
	{"http/1.0", "GET / HTTP/1.0\r\n\r\n", true},
	{"http/1.0 keep-alive", "HEAD /a HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true},
	{"close", "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", true},
	{"repeated field", "GET / HTTP/1.1\r\nHost: x\r\nAccept: a\r\nX-A: 1\r\naccept: b\r\nX-A: 2\r\nAccept: c\r\n\r\n", true},
	{"odd spacing", "GET / HTTP/1.1\r\nhost:x\r\nX-Empty:\r\nX-Tab:\t v \t\r\nX-Sp:   \r\n\r\n", true},
	{"no host", "GET / HTTP/1.1\r\n\r\n", true},
	{"other method", "PURGE /a HTTP/1.1\r\nHost: x\r\n\r\n", true},
	{"followed by the next", "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\n", true},
	{"dot segments", "GET /a/../b//c HTTP/1.1\r\nHost: x\r\n\r\n", true},
	{"body", "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody", false},
	{"chunked", "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false},
	{"pragma", "GET / HTTP/1.1\r\nHost: x\r\nPragma: no-cache\r\n\r\n", false},
	{"trailer", "GET / HTTP/1.1\r\nHost: x\r\nTrailer: X\r\n\r\n", false},
	{"two hosts", "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", false},
	{"bare lf", "GET / HTTP/1.1\nHost: x\n\n", false},
	{"bare lf inside", "GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n", false},
	{"bare cr", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", false},
	{"continuation", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", false},
	{"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", false},
	{"non-ascii value", "GET / HTTP/1.1\r\nX: caf\xc3\xa9\r\n\r\n", false},
	{"control in value", "GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n", false},
	{"absolute form", "GET http://x/a HTTP/1.1\r\nHost: y\r\n\r\n", false},
	{"asterisk", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", false},
	{"connect", "CONNECT /x HTTP/1.1\r\nHost: x\r\n\r\n", false},
	{"http/2", "GET / HTTP/2.0\r\n\r\n", false},
	{"two spaces", "GET  / HTTP/1.1\r\n\r\n", false},
	{"bad target", "GET /%zz HTTP/1.1\r\n\r\n", false},
	{"not whole", "GET / HTTP/1.1\r\nHost: x\r\n", false},
	{"blank first", "\r\nGET / HTTP/1.1\r\n\r\n", false},
}

// TestParseSimple: the requests clients send take the fast path and
// read as http.ReadRequest reads them; anything out of the ordinary is
// left to it.
func TestParseSimple(t *testing.T) {
	for _, tt := range simpleSeeds {
		t.Run(tt.name, func(t *testing.T) {
			if got := sameAsReadRequest(t, []byte(tt.in)); got != tt.simple {
				t.Fatalf("parseSimple took it: %v, want %v", got, tt.simple)
			}
		})
	}
}

// FuzzParseSimple: whatever parseSimple takes, http.ReadRequest reads
// the same, to the byte.
func FuzzParseSimple(f *testing.F) {
	for _, tt := range simpleSeeds {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) { sameAsReadRequest(t, in) })
}

// TestReadRequestFallsBack: a request parseSimple leaves is read by
// http.ReadRequest from the same reader, and the one after it too.
func TestReadRequestFallsBack(t *testing.T) {
	br := bufio.NewReader(bytes.NewReader([]byte("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok" +
		"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")))
	c := &conn{srv: New(Config{}), rwc: &deadlineConn{}, br: br}
	br.Peek(1)
	first, err := c.readRequest()
	if err != nil || first.ContentLength != 2 {
		t.Fatalf("first: %v, %v", first, err)
	}
	if b, _ := bufio.NewReader(first.Body).Peek(2); string(b) != "ok" {
		t.Fatalf("body %q", b)
	}
	next, err := c.readRequest()
	if err != nil || next.URL.Path != "/next" || next.Body != http.NoBody {
		t.Fatalf("next: %v, %v", next, err)
	}
}

// TestReadRequestTakesTheFastPath: the server reads a plain request
// through parseSimple, which allocates less than http.ReadRequest.
func TestReadRequestTakesTheFastPath(t *testing.T) {
	in := []byte(simpleSeeds[0].in)
	rd := bytes.NewReader(in)
	br := bufio.NewReader(rd)
	c := &conn{srv: New(Config{}), rwc: &deadlineConn{}, br: br}
	allocs := func(read func() (*http.Request, error)) float64 {
		return testing.AllocsPerRun(100, func() {
			rd.Reset(in)
			br.Reset(rd)
			br.Peek(1)
			if _, err := read(); err != nil {
				t.Fatal(err)
			}
		})
	}
	fast := allocs(c.readRequest)
	slow := allocs(func() (*http.Request, error) { return http.ReadRequest(br) })
	if fast >= slow {
		t.Fatalf("conn.readRequest: %v allocations, http.ReadRequest %v: the fast path was not taken", fast, slow)
	}
}
