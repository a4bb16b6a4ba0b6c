package httpx

import (
	"net/http"
	"strings"
	"time"
)

// Validators identify one version of a representation.
type Validators struct {
	// ETag is the entity tag with its quotes, e.g. `"5f1c-3a9"`, or
	// `W/"x"` for a weak one. Empty: none.
	ETag string
	// LastModified is the modification time. Zero: none.
	LastModified time.Time
	// Date, for a stored response without Last-Modified, is its Date
	// (or when it was received): what If-Modified-Since is evaluated
	// against (RFC 9111 §4.3.2). It is not sent as Last-Modified.
	Date time.Time
}

// CheckPreconditions evaluates the request's preconditions against v in the
// order of RFC 9110 §13.2.2 and returns the status to answer instead of the
// normal response: 304 (Not Modified), 412 (Precondition Failed), or 0 to
// go on. If-Range is evaluated separately, by RangeApplies.
func CheckPreconditions(r *http.Request, v Validators) int {
	safe := r.Method == http.MethodGet || r.Method == http.MethodHead
	if im := Field(r.Header, "If-Match"); im != "" {
		if !matchETag(im, v.ETag, true) {
			return http.StatusPreconditionFailed
		}
	} else if t, ok := ParseDate(Field(r.Header, "If-Unmodified-Since")); ok && !v.LastModified.IsZero() {
		if v.LastModified.Truncate(time.Second).After(t) {
			return http.StatusPreconditionFailed
		}
	}
	if inm := Field(r.Header, "If-None-Match"); inm != "" {
		if matchETag(inm, v.ETag, false) {
			if safe {
				return http.StatusNotModified
			}
			return http.StatusPreconditionFailed
		}
	} else if t, ok := ParseDate(Field(r.Header, "If-Modified-Since")); ok && safe {
		lm := v.LastModified
		if lm.IsZero() {
			lm = v.Date
		}
		if !lm.IsZero() && !lm.Truncate(time.Second).After(t) {
			return http.StatusNotModified
		}
	}
	return 0
}

// RangeApplies reports whether the Range header of r is to be honoured:
// true without If-Range, otherwise only if If-Range names the current
// version by a strong ETag or by the exact Last-Modified date (RFC 9110
// §13.1.5).
func RangeApplies(r *http.Request, v Validators) bool {
	ir := strings.TrimSpace(Field(r.Header, "If-Range"))
	if ir == "" {
		return true
	}
	if strings.HasPrefix(ir, `"`) || strings.HasPrefix(ir, "W/") {
		return !isWeak(ir) && !isWeak(v.ETag) && ir == v.ETag
	}
	t, ok := ParseDate(ir)
	return ok && !v.LastModified.IsZero() && v.LastModified.Truncate(time.Second).Equal(t)
}

func isWeak(tag string) bool { return strings.HasPrefix(tag, "W/") }

// matchETag reports whether the If-Match / If-None-Match field value list
// matches current, with the strong comparison (If-Match) or the weak one
// (If-None-Match) of RFC 9110 §8.8.3.2.
func matchETag(list, current string, strong bool) bool {
	if current == "" {
		return false
	}
	if strings.TrimSpace(list) == "*" {
		return true
	}
	for _, tag := range splitETags(list) {
		if strong {
			if !isWeak(tag) && !isWeak(current) && tag == current {
				return true
			}
			continue
		}
		if strings.TrimPrefix(tag, "W/") == strings.TrimPrefix(current, "W/") {
			return true
		}
	}
	return false
}

// splitETags splits a comma-separated list of entity tags. An entity tag's
// opaque part may itself hold commas, so it scans quotes rather than
// splitting on commas; malformed members are skipped.
func splitETags(list string) []string {
	var tags []string
	for s := list; s != ""; {
		s = strings.TrimLeft(s, " \t,")
		start := 0
		if strings.HasPrefix(s, "W/") {
			start = 2
		}
		if len(s) <= start || s[start] != '"' {
			i := strings.IndexByte(s, ',')
			if i < 0 {
				break
			}
			s = s[i+1:]
			continue
		}
		end := strings.IndexByte(s[start+1:], '"')
		if end < 0 {
			break
		}
		n := start + 1 + end + 1
		tags = append(tags, s[:n])
		s = s[n:]
	}
	return tags
}
