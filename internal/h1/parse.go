package h1

import (
	"bufio"
	"bytes"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// readRequest reads the next request from br: by parseSimple when its
// whole header is buffered already and is in the plain form that
// browsers, players and load generators send, else by http.ReadRequest,
// whose result parseSimple's equals (FuzzParseSimple).
func readRequest(br *bufio.Reader) (*http.Request, error) {
	if b, err := br.Peek(br.Buffered()); err == nil {
		if req, n := parseSimple(b); req != nil {
			_, _ = br.Discard(n)
			return req, nil
		}
	}
	return http.ReadRequest(br)
}

// parseSimple parses the request header at the start of b if it is
// there whole and simple, and returns it with its length in bytes; nil
// if not (the caller then reads it with http.ReadRequest). Simple is:
// CRLF line ends; a request line of a token method other than CONNECT,
// a target starting with "/", and HTTP/1.1 or HTTP/1.0; then fields
// with token names followed at once by ":", and values of visible ASCII,
// spaces and tabs; no continuation lines, no Content-Length,
// Transfer-Encoding, Trailer or Pragma field, and at most one Host. Such a
// request has no body. Its header costs one string (the fields' names
// and values are substrings of it), one map and one slice of values,
// where http.ReadRequest makes a string per value and a reader.
func parseSimple(b []byte) (*http.Request, int) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		return nil, 0
	}
	n := end + 4
	if !crlfOnly(b[:n]) {
		return nil, 0
	}
	s := string(b[:end+2]) // the lines, each with its CR LF
	line, rest, _ := strings.Cut(s, "\r\n")
	method, line, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(line, " ")
	if !ok1 || !ok2 || method == "" || method == "CONNECT" || !isToken(method) || !strings.HasPrefix(target, "/") {
		return nil, 0
	}
	req := &http.Request{Method: method, RequestURI: target, Proto: proto, ProtoMajor: 1,
		Body: http.NoBody}
	switch proto {
	case "HTTP/1.1":
		req.ProtoMinor = 1
	case "HTTP/1.0":
	default:
		return nil, 0
	}
	var err error
	if req.URL, err = url.ParseRequestURI(target); err != nil {
		return nil, 0
	}
	lines := strings.Count(rest, "\r\n")
	h := make(http.Header, lines)
	values := make([]string, lines) // each field's values are a slice of this, while they fit
	for rest != "" {
		line, rest, _ = strings.Cut(rest, "\r\n")
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" || !isToken(name) || !isPlainValue(value) {
			return nil, 0
		}
		value = strings.Trim(value, " \t")
		key := textproto.CanonicalMIMEHeaderKey(name)
		switch key {
		case "Content-Length", "Transfer-Encoding", "Trailer", "Pragma":
			return nil, 0
		case "Host":
			if len(h["Host"]) > 0 {
				return nil, 0
			}
		}
		if vs := h[key]; len(vs) > 0 {
			h[key] = append(vs, value) // a repeated field: its own slice from here
			continue
		}
		values[0] = value
		h[key], values = values[:1:1], values[1:]
	}
	req.Header = h
	req.Host = req.URL.Host
	if vs := h["Host"]; req.Host == "" && len(vs) > 0 {
		req.Host = vs[0]
	}
	delete(h, "Host") // as http.ReadRequest: it is req.Host
	conn := h["Connection"]
	req.Close = httpguts.HeaderValuesContainsToken(conn, "close") ||
		req.ProtoMinor == 0 && !httpguts.HeaderValuesContainsToken(conn, "keep-alive")
	return req, n
}

// isToken reports whether s is an RFC 9110 token.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if !httpguts.IsTokenRune(rune(s[i])) {
			return false
		}
	}
	return true
}

// isPlainValue reports whether v holds only visible ASCII, spaces and
// tabs.
func isPlainValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c > '~' {
			return false
		}
	}
	return true
}

// crlfOnly reports whether every CR in b is followed by LF and every LF
// follows a CR: a bare one, which ReadRequest reads in its own ways,
// sends the request to it.
func crlfOnly(b []byte) bool {
	for i, c := range b {
		switch c {
		case '\r':
			if i+1 >= len(b) || b[i+1] != '\n' {
				return false
			}
		case '\n':
			if i == 0 || b[i-1] != '\r' {
				return false
			}
		}
	}
	return true
}
