// Package pushapi is the wire format of the edge's push API, shared by
// the edge (which serves it) and the push client in origin (which calls
// it): what an edge holds, fill lists and fill jobs, and the
// Content-Digest field that carries an upload's SHA-256.
package pushapi

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// StoredHeaders are the fields of an upload that an edge stores as the
// object's response header: representation metadata and caching
// directives, as object stores keep them. The push client sends the
// origin's values of these.
var StoredHeaders = []string{"Content-Type", "Content-Encoding", "Content-Language", "Content-Disposition",
	"Cache-Control", "CDN-Cache-Control", "Expires", "Etag", "Last-Modified",
	"Access-Control-Allow-Origin", "Access-Control-Expose-Headers", "Timing-Allow-Origin"}

// PinnedObject describes one object in an edge's pinned area.
type PinnedObject struct {
	URL      string    `json:"url"`
	Size     int64     `json:"size"`
	SHA256   string    `json:"sha256"`
	ETag     string    `json:"etag,omitempty"`
	PushedAt time.Time `json:"pushed_at"`
}

// Holdings is what GET /push/objects answers: the edge's modes, its
// pinned budget and what it holds under the asked prefix.
type Holdings struct {
	Name        string            `json:"name"`
	Mode        string            `json:"mode"`
	TitleModes  map[string]string `json:"title_modes,omitempty"`
	BudgetBytes int64             `json:"budget_bytes"`
	PinnedBytes int64             `json:"pinned_bytes"`
	Objects     []PinnedObject    `json:"objects"`
}

// FillRequest is the body of POST /push/fill: objects the edge fetches
// from its upstream itself and pins.
type FillRequest struct {
	// Objects are paths relative to the upstream, each with an optional
	// expected SHA-256 (hex).
	Objects []FillObject `json:"objects"`
	// RateBPS caps the job's upstream bits per second; 0: no cap.
	RateBPS float64 `json:"rate_bps,omitempty"`
	// Concurrency is how many objects are fetched at once; 0: 4.
	Concurrency int `json:"concurrency,omitempty"`
}

// FillObject is one object of a fill list.
type FillObject struct {
	URL    string `json:"url"`
	SHA256 string `json:"sha256,omitempty"`
}

// FillStatus is the state of a fill job, from GET /push/fill/{id}.
type FillStatus struct {
	ID       string        `json:"id"`
	State    string        `json:"state"` // running, done
	Total    int           `json:"total"`
	Done     int           `json:"done"`
	Bytes    int64         `json:"bytes"`
	Failures []FillFailure `json:"failures"`
	Started  time.Time     `json:"started"`
	Seconds  float64       `json:"seconds"`
}

// FillFailure is one object a fill job could not pin.
type FillFailure struct {
	URL    string `json:"url"`
	Reason string `json:"reason"`
	Error  string `json:"error"`
}

// ParseContentDigest returns the SHA-256 (hex) of a Content-Digest field
// (RFC 9530), e.g. `sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:`.
func ParseContentDigest(v string) (string, error) {
	for _, member := range strings.Split(v, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(member), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "sha-256") {
			continue
		}
		val = strings.TrimSpace(val)
		if len(val) < 2 || val[0] != ':' || val[len(val)-1] != ':' {
			return "", fmt.Errorf("Content-Digest: sha-256 value %q is not a byte sequence (:base64:)", val)
		}
		sum, err := base64.StdEncoding.DecodeString(val[1 : len(val)-1])
		if err != nil || len(sum) != 32 {
			return "", fmt.Errorf("Content-Digest: sha-256 value %q is not 32 bytes of base64", val)
		}
		return hex.EncodeToString(sum), nil
	}
	return "", errors.New("Content-Digest: no sha-256 member")
}

// ContentDigest is the Content-Digest field value for a SHA-256 given in hex.
func ContentDigest(sha256Hex string) string {
	b, _ := hex.DecodeString(sha256Hex)
	return "sha-256=:" + base64.StdEncoding.EncodeToString(b) + ":"
}
