package httpx

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestObserveRemote(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Status", "edge; hit")
	}))
	defer srv.Close()
	var ips []string
	c := &http.Client{Transport: &ObserveRemote{Next: http.DefaultTransport, Seen: func(ip string, res *http.Response) {
		ips = append(ips, ip+" "+res.Header.Get("Cache-Status"))
	}}}
	for range 2 { // a new connection, then the kept-alive one
		res, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	if len(ips) != 2 || ips[0] != "127.0.0.1 edge; hit" || ips[1] != ips[0] {
		t.Errorf("seen %q", ips)
	}
	srv.Close()
	if res, err := c.Get(srv.URL); err == nil {
		res.Body.Close()
		t.Fatal("no error from a closed server")
	}
	if len(ips) != 2 {
		t.Errorf("a failed round trip was reported: %q", ips)
	}
}
