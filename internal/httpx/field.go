package httpx

import (
	"net/http"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// Field returns the first value of the field key in h, or "". Unlike
// h.Get it does not canonicalise key, which must already be in
// canonical form (as net/http stores the fields it parses): on a cache
// hit the canonicalisation of every lookup is a measurable cost.
func Field(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// AppendFields appends h's fields to b as HTTP/1 header lines, in the
// map's order: names that are not tokens are left out, and CR and LF in
// values become spaces, as net/http's server writes them.
func AppendFields(b []byte, h http.Header) []byte {
	for k, vs := range h {
		if !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ": "...)
			if strings.IndexByte(v, '\r') < 0 && strings.IndexByte(v, '\n') < 0 {
				b = append(b, v...)
			} else {
				for i := 0; i < len(v); i++ {
					switch c := v[i]; c {
					case '\r', '\n':
						b = append(b, ' ')
					default:
						b = append(b, c)
					}
				}
			}
			b = append(b, "\r\n"...)
		}
	}
	return b
}
