package httpx

import "net/http"

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
