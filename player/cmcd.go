package player

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
)

// CMCD is how a session sends Common Media Client Data (CTA-5004).
type CMCD string

// How CMCD is sent: not at all, as a query argument, or as headers.
const (
	CMCDOff     CMCD = ""
	CMCDQuery   CMCD = "query"   // a CMCD query argument
	CMCDHeaders CMCD = "headers" // CMCD-Object, CMCD-Request and CMCD-Session headers
)

// ParseCMCD checks a --cmcd value.
func ParseCMCD(s string) (CMCD, error) {
	switch c := CMCD(strings.ToLower(s)); c {
	case CMCDOff, CMCDQuery, CMCDHeaders:
		return c, nil
	}
	return "", fmt.Errorf("cmcd %q: want query or headers", s)
}

// cmcdData is one request's keys: br, bl, d, mtp, nor, ot, sid, su.
type cmcdData struct {
	brKbps   float64 // encoded bitrate of the object, 0 if none
	blMs     float64 // buffer length
	dMs      float64 // object duration, 0 if none
	mtpKbps  float64 // measured throughput, 0 before the first sample
	nor      string  // next object, relative to this one
	ot       string  // m (manifest), i (init), v (video), a (audio), o (other)
	sid      string
	startup  bool
	inBuffer bool // bl applies (media objects only)
}

// cmcd keys by header, as CTA-5004 §3 groups them.
var cmcdHeader = map[string]string{
	"br": "CMCD-Object", "d": "CMCD-Object", "ot": "CMCD-Object",
	"bl": "CMCD-Request", "mtp": "CMCD-Request", "nor": "CMCD-Request", "su": "CMCD-Request",
	"sid": "CMCD-Session",
}

// pairs returns the keys present, each encoded as CTA-5004 says: integers
// rounded (bl and mtp to the nearest 100), strings quoted, su a bare key.
func (c cmcdData) pairs() map[string]string {
	kv := map[string]string{"ot": c.ot}
	if c.brKbps > 0 {
		kv["br"] = strconv.Itoa(int(math.Round(c.brKbps)))
	}
	if c.inBuffer {
		kv["bl"] = strconv.Itoa(int(math.Round(c.blMs/100) * 100))
	}
	if c.dMs > 0 {
		kv["d"] = strconv.Itoa(int(math.Round(c.dMs)))
	}
	if c.mtpKbps > 0 {
		kv["mtp"] = strconv.Itoa(int(math.Round(c.mtpKbps/100) * 100))
	}
	if c.nor != "" {
		kv["nor"] = strconv.Quote(c.nor)
	}
	if c.sid != "" {
		kv["sid"] = strconv.Quote(c.sid)
	}
	if c.startup {
		kv["su"] = ""
	}
	return kv
}

func joinCMCD(kv map[string]string, keys []string) string {
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		if kv[k] == "" {
			parts = append(parts, k) // a true boolean is the bare key
		} else {
			parts = append(parts, k+"="+kv[k])
		}
	}
	return strings.Join(parts, ",")
}

// apply adds the data to req in the given mode.
func (c cmcdData) apply(req *http.Request, mode CMCD) {
	kv := c.pairs()
	switch mode {
	case CMCDQuery:
		keys := make([]string, 0, len(kv))
		for k := range kv {
			keys = append(keys, k)
		}
		q := req.URL.Query()
		q.Set("CMCD", joinCMCD(kv, keys))
		req.URL.RawQuery = q.Encode()
	case CMCDHeaders:
		byHeader := map[string][]string{}
		for k := range kv {
			byHeader[cmcdHeader[k]] = append(byHeader[cmcdHeader[k]], k)
		}
		for h, keys := range byHeader {
			req.Header.Set(h, joinCMCD(kv, keys))
		}
	}
}

// relativeURL returns next relative to cur, as the nor key wants it; a
// URL on another host stays absolute.
func relativeURL(cur, next string) string {
	cu, err1 := url.Parse(cur)
	nu, err2 := url.Parse(next)
	if err1 != nil || err2 != nil || cu.Scheme != nu.Scheme || cu.Host != nu.Host {
		return next
	}
	from := strings.Split(path.Dir(cu.Path), "/")
	to := strings.Split(nu.Path, "/")
	i := 0
	for i < len(from) && i < len(to)-1 && from[i] == to[i] {
		i++
	}
	rel := strings.Repeat("../", len(from)-i) + strings.Join(to[i:], "/")
	if nu.RawQuery != "" {
		rel += "?" + nu.RawQuery
	}
	return rel
}
