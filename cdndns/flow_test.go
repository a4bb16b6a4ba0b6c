package cdndns

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/streamcdn/streamcdn/internal/testutil"
)

// TestResolverFlow resolves video.netcinema.com through a real recursive
// resolver (Debian's unbound, as the client's LDNS, started by
// ../shared/tools/dns-flow) against our server: the CNAME, then the A of
// the cluster for each region's client subnet, sent as ECS by dig and
// forwarded by unbound.
func TestResolverFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("the unbound flow is skipped in -short mode")
	}
	testutil.RequireTool(t, "unbound")
	testutil.RequireTool(t, "dig")
	script := filepath.Join(testutil.SharedDir(t), "tools", "dns-flow", "dns-flow.sh")
	addr := serveOnePort(t, exampleServer(t))
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	// unbound binds a port we found free; another test's connection may
	// take it first (the port is the kernel's to give out), so a failed
	// bind is tried again on another port, three times at most.
	var out []byte
	var err error
	for range 3 {
		out, err = exec.CommandContext(ctx, "bash", script, "-n", addr, "-k", addr, "-p", fmt.Sprint(freePort(t)),
			"-e", "127.0.1.1", // unbound sends 127.0.0.0/24, which no region claims: the default cluster
			"-s", "127.0.1.0/24=127.0.1.1", "-s", "127.0.2.0/24=127.0.2.1", "-s", "127.0.3.0/24=127.0.3.1",
			"-s", "198.51.100.0/24=127.0.2.1", "-w", t.TempDir()).CombinedOutput()
		if err == nil || !bytes.Contains(out, []byte("Address already in use")) {
			break
		}
		t.Logf("unbound could not bind its port; trying another:\n%s", out)
	}
	if err != nil {
		t.Fatalf("dns-flow: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// serveOnePort serves s over UDP (ServeUDP) and TCP (miekg/dns's
// server) on one 127.0.0.1 port, as a resolver expects of a name server.
func serveOnePort(t *testing.T, s *Server) string {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			continue // the TCP port is taken; try another
		}
		ctx, cancel := context.WithCancel(context.Background())
		udpDone := make(chan error, 1)
		go func() { udpDone <- s.ServeUDP(ctx, pc.(*net.UDPConn)) }()
		tcpDone := make(chan error, 1)
		go func() { tcpDone <- s.ServeTCP(ctx, ln) }()
		t.Cleanup(func() {
			cancel()
			if err := <-udpDone; err != nil {
				t.Errorf("ServeUDP: %v", err)
			}
			if err := <-tcpDone; err != nil {
				t.Errorf("ServeTCP: %v", err)
			}
		})
		return pc.LocalAddr().String()
	}
	t.Fatal("no free port for UDP and TCP")
	return ""
}

// freePort returns a port free on 127.0.0.1 for both UDP and TCP now.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		pc.Close()
		if err == nil {
			ln.Close()
			return pc.LocalAddr().(*net.UDPAddr).Port
		}
	}
	t.Fatal("no port free for both UDP and TCP")
	return 0
}
