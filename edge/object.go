package edge

import (
	"net/http"
	"strconv"
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
	// file, instead of body, holds a large body in memory out of the Go
	// heap (memFile); size is then its size.
	file *memFile
	// reqTime and respTime are when the request that produced (or last
	// revalidated) it was sent and its response received.
	reqTime, respTime time.Time
	policy            policy
	varyNames         []string
	// sliced is, for a large object cached as slices, its size: the
	// object itself then holds no body, only the header.
	sliced int64
	// size is the body's size when body is nil: an object read from the
	// disk tier and served from its file, or one whose body is in file.
	size int64
	// gen is the purge generation when the response was requested (or
	// the object read from disk): a purge after it means it is not
	// stored.
	gen uint64
	// Parsed once, for the hit path: Date, Age and the validators.
	date         time.Time
	ageValue     time.Duration
	lastModified time.Time
	// hitFields is the serialized stored fields a prepared hit writes
	// (see hitFields), made when the object goes into memory; nil: hits
	// take the slow path.
	hitFields []byte
}

// prepared fills the fields derived from the header and returns o.
func (o *object) prepared() *object {
	o.policy = responsePolicy(o.status, o.header, o.respTime)
	o.date = headerTime(o.header, "Date")
	o.lastModified = headerTime(o.header, "Last-Modified")
	o.ageValue = ageValue(o.header)
	return o
}

// ageValue is the response's Age (RFC 9111 §5.1): the first member of
// the first field line, if it is a non-negative integer; else zero.
func ageValue(h http.Header) time.Duration {
	vs := h["Age"]
	if len(vs) == 0 {
		return 0
	}
	first, _, _ := strings.Cut(vs[0], ",")
	first = strings.TrimSpace(first)
	if first == "" || strings.Trim(first, "0123456789") != "" {
		return 0
	}
	v, err := strconv.ParseInt(first, 10, 64)
	if err != nil { // beyond int64: as old as may be said
		v = 1 << 31
	}
	return time.Duration(min(v, 1<<31)) * time.Second
}

// objectOverhead and fieldOverhead approximate the memory an object takes
// beyond its body, key, header bytes and serialized hit fields: the
// struct, its LRU entry and map slot, and each header field's map entry
// and slice. With them cost comes within 10% of what
// BenchmarkMemoryPerObject measures (2,322 bytes for an object with an
// origin's nine header fields, 2,144 counted).
const (
	objectOverhead = 700
	fieldOverhead  = 100
)

// bodySize is the size of the body, in memory or on disk.
func (o *object) bodySize() int64 {
	if o.body != nil {
		return int64(len(o.body))
	}
	return o.size
}

// cost is what the object counts against the memory budget.
func (o *object) cost() int64 {
	if o.file != nil {
		return o.costWith(o.file.size)
	}
	return o.costWith(int64(len(o.body)))
}

// onDisk reports whether o's body is only in the disk tier: neither in
// memory nor sliced.
func (o *object) onDisk() bool { return o.body == nil && o.file == nil && o.sliced == 0 }

// costWith is the cost of o with a body of size bytes in memory.
func (o *object) costWith(size int64) int64 {
	n := size + int64(len(o.key)) + int64(cap(o.hitFields)) + objectOverhead
	for k, vs := range o.header {
		n += int64(len(k)) + fieldOverhead
		for _, v := range vs {
			n += int64(len(v))
		}
	}
	return n
}

// content is o's representation, for httpx.Serve and Decide: its body in
// memory (nil when on disk), size, type and validators.
func (o *object) content() httpx.Content {
	c := httpx.Content{Data: o.body, Size: o.bodySize(), ContentType: httpx.Field(o.header, "Content-Type"), Validators: o.validators()}
	if o.file != nil {
		c.File, c.Data = o.file.f, o.file.data
	}
	return c
}

func (o *object) validators() httpx.Validators {
	return httpx.Validators{ETag: httpx.Field(o.header, "Etag"), LastModified: o.lastModified, Date: o.date}
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
	n.header, n.hitFields = o.header.Clone(), nil
	for k, vs := range endToEnd(h) {
		if k == "Content-Length" || k == "Content-Range" {
			continue
		}
		n.header[k] = vs
	}
	n.reqTime, n.respTime = reqTime, respTime
	return n.prepared()
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
