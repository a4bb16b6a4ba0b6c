package edge

import (
	"net/http"
	"strings"
	"time"

	"github.com/streamcdn/streamcdn/internal/httpx"
)

// object is one stored response.
type object struct {
	key    string // primary key and vary key
	status int
	header http.Header // hop-by-hop fields removed
	body   []byte
	// reqTime and respTime are when the request that produced (or last
	// revalidated) it was sent and its response received.
	reqTime, respTime time.Time
	policy            policy
	varyNames         []string
}

// objectOverhead approximates the memory an object takes beyond its body
// and headers: the struct, its LRU entry and map slot.
const objectOverhead = 320

// cost is what the object counts against the memory budget.
func (o *object) cost() int64 {
	n := int64(len(o.body)+len(o.key)) + objectOverhead
	for k, vs := range o.header {
		n += int64(len(k)) + 16
		for _, v := range vs {
			n += int64(len(v)) + 16
		}
	}
	return n
}

func (o *object) validators() httpx.Validators {
	return httpx.Validators{ETag: o.header.Get("Etag"), LastModified: headerTime(o.header, "Last-Modified")}
}

// hopByHop are the fields a proxy must not forward or store (RFC 9110 §7.6.1).
var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// endToEnd returns a copy of h without its hop-by-hop fields, including
// those that Connection names.
func endToEnd(h http.Header) http.Header {
	out := h.Clone()
	for _, c := range h.Values("Connection") {
		for _, f := range splitList(c) {
			out.Del(f)
		}
	}
	for _, f := range hopByHop {
		out.Del(f)
	}
	return out
}

// refresh merges the header fields of a 304 into the stored header
// (RFC 9111 §3.2), keeping Content-Length and the body.
func (o *object) refresh(h http.Header, reqTime, respTime time.Time) *object {
	n := *o
	n.header = o.header.Clone()
	for k, vs := range endToEnd(h) {
		if k == "Content-Length" || k == "Content-Range" {
			continue
		}
		n.header[k] = vs
	}
	n.reqTime, n.respTime = reqTime, respTime
	n.policy = responsePolicy(n.status, n.header)
	return &n
}

// splitList splits a comma-separated header list into trimmed members.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
