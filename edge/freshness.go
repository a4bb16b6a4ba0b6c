package edge

import (
	"net/http"
	"time"

	"github.com/streamcdn/streamcdn/internal/httpx"
)

// heuristicStatus lists the status codes that are heuristically cacheable
// (RFC 9110 §15.1) and so may be stored with only a validator.
var heuristicStatus = map[int]bool{200: true, 203: true, 204: true, 300: true, 301: true, 308: true,
	404: true, 405: true, 410: true, 414: true, 501: true}

// policy is what the response's caching headers say, evaluated once when
// it is stored or refreshed.
type policy struct {
	lifetime       time.Duration // freshness lifetime
	explicit       bool          // from max-age, s-maxage or Expires, not a heuristic
	noCache        bool          // revalidate before every use
	mustRevalidate bool          // never serve it stale
	swr, sie       time.Duration // stale-while-revalidate, stale-if-error windows
}

// cacheDirectives are the directives this cache obeys in a response:
// CDN-Cache-Control when present, which then overrides Cache-Control
// (and Expires) entirely, no-store included (RFC 9213 §2.1); else
// Cache-Control. cdn reports which.
func cacheDirectives(h http.Header) (cc directives, cdn bool) {
	if d := parseDirectives(h.Values("CDN-Cache-Control")); d != nil {
		return d, true
	}
	return parseDirectives(h.Values("Cache-Control")), false
}

// responsePolicy evaluates a response's freshness per RFC 9111 §4.2.1:
// s-maxage, max-age, Expires (unless CDN-Cache-Control is what is
// obeyed), else 10% of the time since Last-Modified (capped at a day)
// for heuristically cacheable statuses or a public response. respTime
// stands in for a missing or invalid Date.
func responsePolicy(status int, h http.Header, respTime time.Time) policy {
	cc, cdn := cacheDirectives(h)
	var p policy
	p.noCache = cc.has("no-cache")
	p.mustRevalidate = cc.has("must-revalidate") || cc.has("proxy-revalidate") || cc.has("s-maxage")
	p.swr, _ = cc.seconds("stale-while-revalidate")
	p.sie, _ = cc.seconds("stale-if-error")
	if d, ok := cc.seconds("s-maxage"); ok {
		p.lifetime, p.explicit = d, true
		return p
	}
	if d, ok := cc.seconds("max-age"); ok {
		p.lifetime, p.explicit = d, true
		return p
	}
	date := headerTime(h, "Date")
	if date.IsZero() {
		date = respTime
	}
	if _, ok := h["Expires"]; ok && !cdn {
		p.explicit = true
		// An invalid Expires, or more than one, means already expired.
		if t := headerTime(h, "Expires"); !t.IsZero() && t.After(date) {
			p.lifetime = t.Sub(date)
		}
		return p
	}
	if lm := headerTime(h, "Last-Modified"); (heuristicStatus[status] || cc.has("public")) && !lm.IsZero() && date.After(lm) {
		p.lifetime = min(date.Sub(lm)/10, 24*time.Hour)
	}
	return p
}

// understood reports whether status is one whose semantics this cache
// knows, for must-understand (RFC 9111 §5.2.2.3).
func understood(status int) bool {
	return status >= 200 && status != http.StatusPartialContent && status != http.StatusNotModified && http.StatusText(status) != ""
}

// storable reports whether a response to r may be stored (RFC 9111 §3):
// a GET, a final status we understand, no no-store (unless
// must-understand with a status we understand) or private, no
// Authorization unless the response allows shared caching, and
// explicit freshness or a validator (no default TTL).
func storable(r *http.Request, status int, h http.Header) bool {
	if r.Method != http.MethodGet || status < 200 || status == http.StatusPartialContent || status == http.StatusNotModified {
		return false
	}
	cc, _ := cacheDirectives(h)
	if cc.has("no-store") && !(cc.has("must-understand") && understood(status)) {
		return false
	}
	if cc.has("private") {
		return false
	}
	if parseDirectives(r.Header["Cache-Control"]).has("no-store") {
		return false
	}
	if r.Header.Get("Authorization") != "" && !(cc.has("public") || cc.has("s-maxage") || cc.has("must-revalidate")) {
		return false
	}
	if _, star := parseVary(h); star {
		return false
	}
	if responsePolicy(status, h, time.Now()).explicit {
		return true
	}
	return (heuristicStatus[status] || cc.has("public")) && (h.Get("ETag") != "" || h.Get("Last-Modified") != "")
}

// ageOf computes the current age of a stored response (RFC 9111 §4.2.3).
func ageOf(o *object, now time.Time) time.Duration {
	apparent := time.Duration(0)
	if !o.date.IsZero() {
		apparent = max(0, o.respTime.Sub(o.date))
	}
	corrected := o.ageValue + o.respTime.Sub(o.reqTime)
	return max(apparent, corrected) + now.Sub(o.respTime)
}

// requestPolicy holds the request directives of RFC 9111 §5.2.1.
type requestPolicy struct {
	noCache      bool
	maxAge       time.Duration
	hasMaxAge    bool
	maxStale     time.Duration // -1: any staleness
	minFresh     time.Duration
	onlyIfCached bool
}

func parseRequestPolicy(r *http.Request) requestPolicy {
	cc := parseDirectives(r.Header["Cache-Control"])
	var p requestPolicy
	p.noCache = cc.has("no-cache") || (cc == nil && httpx.Field(r.Header, "Pragma") == "no-cache")
	p.maxAge, p.hasMaxAge = cc.seconds("max-age")
	if cc.has("max-stale") {
		p.maxStale = -1
		if d, ok := cc.seconds("max-stale"); ok {
			p.maxStale = d
		}
	}
	p.minFresh, _ = cc.seconds("min-fresh")
	p.onlyIfCached = cc.has("only-if-cached")
	return p
}

// usable says how a stored object may answer a request now.
type usable int

const (
	useFresh      usable = iota // serve it
	useStale                    // serve it, stale but acceptable (max-stale)
	useSWR                      // serve it stale and revalidate in the background
	useRevalidate               // ask upstream first (conditional GET)
)

// clientRevalidateFloor is how recent a validation at upstream must be to
// satisfy a client's no-cache (or Pragma: no-cache): a crowd of reloading
// clients costs upstream at most one revalidation per object per floor,
// and the ones that arrive while it is in flight wait for it.
const clientRevalidateFloor = time.Second

// decide applies the response's and the request's directives to a stored
// object of the given age, validated at upstream since ago.
//
// A client's max-age compares whole seconds, as Age does (max-age=0 is
// met by a response less than a second old), and a client's no-cache is
// met by a validation less than clientRevalidateFloor ago: neither lets a
// crowd turn one cached object into a flood of upstream requests. The
// response's own no-cache is honoured on every use.
func decide(o *object, age, since time.Duration, rp requestPolicy) usable {
	p := o.policy
	if p.noCache || (rp.noCache && (since < 0 || since >= clientRevalidateFloor)) {
		return useRevalidate
	}
	if rp.hasMaxAge && age.Truncate(time.Second) > rp.maxAge {
		return useRevalidate
	}
	left := p.lifetime - age
	if left >= rp.minFresh && left > 0 {
		return useFresh
	}
	if p.mustRevalidate {
		return useRevalidate
	}
	stale := -left
	if rp.maxStale < 0 || (rp.maxStale > 0 && stale <= rp.maxStale) {
		return useStale
	}
	if p.swr > 0 && stale <= p.swr {
		return useSWR
	}
	return useRevalidate
}

// headerTime is the HTTP-date in h's field name, zero if it is absent,
// invalid (httpx.ParseDate), or given more than once.
func headerTime(h http.Header, name string) time.Time {
	vs := h[http.CanonicalHeaderKey(name)]
	if len(vs) != 1 {
		return time.Time{}
	}
	t, ok := httpx.ParseDate(vs[0])
	if !ok {
		return time.Time{}
	}
	return t
}
