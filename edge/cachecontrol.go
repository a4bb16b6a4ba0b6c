package edge

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// directives is a parsed Cache-Control (or CDN-Cache-Control) field:
// lower-cased directive names to their unquoted arguments ("" when none).
type directives map[string]string

// parseDirectives parses the lines of a Cache-Control-style field
// (RFC 9111 §5.2): comma-separated tokens with optional =token or
// =quoted-string arguments. Malformed members are skipped. The caller
// finds the lines: h.Values(name), or, in a request as net/http parsed it
// (canonical keys), h[name], which spares the hit path a canonicalising
// lookup.
func parseDirectives(lines []string) directives {
	if len(lines) == 0 {
		return nil
	}
	d := directives{}
	for _, line := range lines {
		for s := line; s != ""; {
			var item string
			item, s = nextItem(s)
			k, v, hasV := strings.Cut(item, "=")
			k = strings.ToLower(strings.TrimSpace(k))
			if k == "" || strings.ContainsAny(k, " \t\"") {
				continue
			}
			v = strings.TrimSpace(v)
			if hasV && strings.HasPrefix(v, `"`) {
				v = unquote(v)
			}
			if _, dup := d[k]; !dup { // the first occurrence wins
				d[k] = v
			}
		}
	}
	return d
}

// nextItem splits off the first comma-separated member of s, honouring
// quoted strings.
func nextItem(s string) (item, rest string) {
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && inQuote:
			i++
		case c == '"':
			inQuote = !inQuote
		case c == ',' && !inQuote:
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

func unquote(v string) string {
	v = strings.TrimPrefix(v, `"`)
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\' && i+1 < len(v):
			i++
			b.WriteByte(v[i])
		case c == '"':
			return b.String()
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func (d directives) has(name string) bool {
	_, ok := d[name]
	return ok
}

// seconds returns a delta-seconds argument (RFC 9111 §1.2.2). Invalid
// values are treated as absent, overflowing ones as the largest value.
func (d directives) seconds(name string) (time.Duration, bool) {
	v, ok := d[name]
	if !ok || v == "" || strings.TrimLeft(v, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n > 1<<31 {
		n = 1 << 31 // RFC 9111 §1.2.2: treat as 2^31
	}
	return time.Duration(n) * time.Second, true
}

// parseVary returns the lower-cased field names of a response's Vary, and
// whether it holds "*" (which no request can match).
func parseVary(h http.Header) (names []string, star bool) {
	for _, line := range h.Values("Vary") {
		for _, f := range strings.Split(line, ",") {
			f = strings.ToLower(strings.TrimSpace(f))
			switch {
			case f == "*":
				star = true
			case isToken(f):
				names = append(names, f)
			}
		}
	}
	return names, star
}

// caseless are the request fields whose values compare without regard
// to case (content codings, language tags, charsets): Vary selects the
// same variant for "en-US" and "en-us".
var caseless = map[string]bool{"Accept-Encoding": true, "Accept-Language": true, "Accept-Charset": true}

// varyKey returns the part of the cache key that the request's values of
// the varied fields give (RFC 9111 §4.1), normalised: field lines
// combined into one list, whitespace around members dropped and inside
// them collapsed, and case folded for caseless fields.

func varyKey(r *http.Request, names []string) string {
	if len(names) == 0 {
		return ""
	}
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte(':')
		fold := caseless[http.CanonicalHeaderKey(n)]
		first := true
		for _, v := range r.Header.Values(n) {
			for m := range strings.SplitSeq(v, ",") {
				m = strings.Join(strings.Fields(m), " ")
				if m == "" {
					continue
				}
				if !first {
					b.WriteByte(',')
				}
				first = false
				if fold {
					m = strings.ToLower(m)
				}
				b.WriteString(m)
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// isToken reports whether s is an RFC 9110 token, as field names are.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}
