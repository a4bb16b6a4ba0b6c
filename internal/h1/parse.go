package h1

import (
	"bytes"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// readRequest reads the next request: by parseSimple when its whole
// header is buffered already and is in the plain form that browsers,
// players and load generators send, else by http.ReadRequest, whose
// result parseSimple's equals (FuzzParseSimple). A header that has not
// come whole with its first bytes must come within ReadHeaderTimeout
// (armed only then: a deadline change is a runtime timer update).
func (c *conn) readRequest() (*http.Request, error) {
	b, _ := c.br.Peek(c.br.Buffered())
	end := headerEnd(b)
	if end > 0 {
		if req := parseSimple(b[:end]); req != nil {
			_, _ = c.br.Discard(end)
			return req, nil
		}
	}
	if end < 0 {
		_ = c.setReadDeadline(time.Now().Add(c.srv.cfg.ReadHeaderTimeout))
	}
	return http.ReadRequest(c.br)
}

// headerEnd is the length of the request header at the start of b,
// through its empty line, or -1 if that line is not in b (a header
// ending in bare LFs, which http.ReadRequest takes, counts too).
func headerEnd(b []byte) int {
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		return i + 4
	}
	if i := bytes.Index(b, []byte("\n\n")); i >= 0 {
		return i + 2
	}
	return -1
}

// parseSimple parses the request header b, through its empty line, if
// it is simple; nil if not (the caller then reads it with
// http.ReadRequest). Simple is:
// CRLF line ends; a request line of a token method other than CONNECT,
// a target starting with "/", and HTTP/1.1 or HTTP/1.0; then fields
// with token names followed at once by ":", and values of visible ASCII,
// spaces and tabs; no continuation lines, no Content-Length,
// Transfer-Encoding, Trailer or Pragma field, and at most one Host. Such a
// request has no body. Its header costs one string (the fields' names
// and values are substrings of it), one map and one slice of values,
// where http.ReadRequest makes a string per value and a reader.
func parseSimple(b []byte) *http.Request {
	if !bytes.HasSuffix(b, []byte("\r\n\r\n")) || !crlfOnly(b) {
		return nil
	}
	s := string(b[:len(b)-2]) // the lines, each with its CR LF
	line, rest, _ := strings.Cut(s, "\r\n")
	method, line, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(line, " ")
	if !ok1 || !ok2 || method == "CONNECT" || !httpguts.ValidHeaderFieldName(method) || !strings.HasPrefix(target, "/") {
		return nil
	}
	req := &http.Request{Method: method, RequestURI: target, Proto: proto, ProtoMajor: 1,
		Body: http.NoBody}
	switch proto {
	case "HTTP/1.1":
		req.ProtoMinor = 1
	case "HTTP/1.0":
	default:
		return nil
	}
	var err error
	if req.URL, err = url.ParseRequestURI(target); err != nil {
		return nil
	}
	lines := strings.Count(rest, "\r\n")
	h := make(http.Header, lines)
	values := make([]string, lines) // each field's values are a slice of this, while they fit
	for rest != "" {
		line, rest, _ = strings.Cut(rest, "\r\n")
		name, value, ok := strings.Cut(line, ":")
		if !ok || !httpguts.ValidHeaderFieldName(name) || !isPlainValue(value) {
			return nil
		}
		value = strings.Trim(value, " \t")
		key := textproto.CanonicalMIMEHeaderKey(name)
		switch key {
		case "Content-Length", "Transfer-Encoding", "Trailer", "Pragma":
			return nil
		case "Host":
			if len(h["Host"]) > 0 {
				return nil
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
	return req
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
