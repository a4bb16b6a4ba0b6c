package testutil

import (
	"context"
	"net"
	"net/http"
	"testing"

	"github.com/streamcdn/streamcdn/internal/h1"
)

// ServeH1 serves h as an edge's public listener is served (internal/h1)
// on 127.0.0.1, port 0, until the test ends (or the server is closed),
// and returns its base URL and the server. connContext may be nil.
func ServeH1(t testing.TB, h http.Handler, connContext func(context.Context, net.Conn) context.Context) (string, *h1.Server) {
	t.Helper()
	return ServeH1Config(t, h1.Config{Handler: h, ConnContext: connContext})
}

// ServeH1Config is ServeH1 with the whole server configuration.
func ServeH1Config(t testing.TB, cfg h1.Config) (string, *h1.Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := h1.New(cfg)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String(), srv
}
