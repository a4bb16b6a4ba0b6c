package certs

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamcdn/streamcdn/internal/testutil"
)

// issue writes a certificate for names with serial, and its key.
func issue(t *testing.T, ca *testutil.CA, dir, file string, serial int64, names ...string) Pair {
	t.Helper()
	c, k := ca.Issue(t, dir, file, serial, names...)
	return Pair{Cert: c, Key: k}
}

// serve runs an HTTPS server (HTTP/1.1 and HTTP/2) with the store.
func serve(t *testing.T, s *Store) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	srv := &http.Server{TLSConfig: s.TLSConfig(), Protocols: p, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	})}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func client(ca *testutil.CA, name string, keepAlive bool) *http.Client {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Protocols: p, DisableKeepAlives: !keepAlive,
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool, ServerName: name}}}
}

// TestSNIAndHTTP2: the certificate is picked by server name (exact, then
// wildcard, then the first pair's), and HTTP/2 is negotiated by ALPN.
func TestSNIAndHTTP2(t *testing.T) {
	dir, ca := t.TempDir(), testutil.NewCA(t)
	s, err := Load([]Pair{issue(t, ca, dir, "a", 10, "edge.example"), issue(t, ca, dir, "b", 20, "*.video.example", "video.example")})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, s)
	for _, tc := range []struct {
		name   string
		serial int64
	}{{"edge.example", 10}, {"video.example", 20}, {"cdn1.video.example", 20}} {
		res, err := client(ca, tc.name, true).Get("https://" + addr + "/")
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if got := res.TLS.PeerCertificates[0].SerialNumber.Int64(); got != tc.serial || string(b) != "HTTP/2.0" || res.TLS.NegotiatedProtocol != "h2" {
			t.Errorf("%s: certificate %d, %s, ALPN %q; want certificate %d over HTTP/2", tc.name, got, b, res.TLS.NegotiatedProtocol, tc.serial)
		}
	}
}

// TestBadPairs: a key that does not match its certificate, or a missing
// file, is an error naming the pair; a reload that fails keeps the
// running certificate.
func TestBadPairs(t *testing.T) {
	dir, ca := t.TempDir(), testutil.NewCA(t)
	a, b := issue(t, ca, dir, "a", 1, "a.example"), issue(t, ca, dir, "b", 2, "b.example")
	if _, err := Load([]Pair{{Cert: a.Cert, Key: b.Key}}); err == nil || !strings.Contains(err.Error(), "does not match") || !strings.Contains(err.Error(), a.Cert) {
		t.Errorf("mismatched pair: %v", err)
	}
	if _, err := Load([]Pair{{Cert: filepath.Join(dir, "nope.crt"), Key: a.Key}}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	s, err := Load([]Pair{a})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(a.Cert, []byte("garbage"), 0o644)
	if err := s.Reload(); err == nil {
		t.Error("a reload of garbage succeeded")
	}
	if c, _ := s.GetCertificate(&tls.ClientHelloInfo{ServerName: "a.example"}); c.Leaf.SerialNumber.Int64() != 1 {
		t.Errorf("after a failed reload the certificate is %d, want the old one", c.Leaf.SerialNumber.Int64())
	}
}

// TestRotationUnderLoad: clients keep requesting, on new and kept-alive
// connections, while the files are replaced; Watch reloads them. No
// request fails, and new handshakes get the new certificate.
func TestRotationUnderLoad(t *testing.T) {
	dir, ca := t.TempDir(), testutil.NewCA(t)
	s, err := Load([]Pair{issue(t, ca, dir, "edge", 1, "edge.example")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Watch(ctx, 20*time.Millisecond, slog.New(slog.DiscardHandler))
	addr := serve(t, s)
	var failed, requests atomic.Int64
	var sawNew atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := client(ca, "edge.example", i%2 == 0)
			for n := 0; n < 5000; n++ { // bounded
				select {
				case <-stop:
					return
				default:
				}
				res, err := c.Get("https://" + addr + "/")
				requests.Add(1)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.TLS.PeerCertificates[0].SerialNumber.Int64() == 2 {
					sawNew.Store(true)
				}
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	issue(t, ca, dir, "edge", 2, "edge.example") // the rotation
	for deadline := time.Now().Add(5 * time.Second); !sawNew.Load() && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
	}
	close(stop)
	wg.Wait()
	if !sawNew.Load() {
		t.Error("no handshake got the new certificate")
	}
	if failed.Load() > 0 {
		t.Errorf("%d of %d requests failed during the rotation", failed.Load(), requests.Load())
	}
}
