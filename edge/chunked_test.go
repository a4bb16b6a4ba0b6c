package edge

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestChunkedFillHeaderNotShared: a fill of unknown length stores its
// object with a Content-Length added, while the request that started it
// may still be copying the fill's header to its client: the stored header
// must be a copy. Run with -race; 50 fills make the overlap likely.
func TestChunkedFillHeaderNotShared(t *testing.T) {
	body := strings.Repeat("x", 100_000)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Type", "video/mp4")
		io.WriteString(w, body) // no Content-Length: chunked
	}))
	defer up.Close()
	s, err := New(Config{Upstream: up.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	es := newFront(t, s, s.ConnContext)
	for i := range 50 {
		res, err := http.Get(fmt.Sprintf("%s/seg-%d.m4s", es.URL, i))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if len(b) != len(body) {
			t.Fatalf("fill %d: %d bytes, want %d", i, len(b), len(body))
		}
	}
}
