package cdndns

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// tcpServe serves the example on a loopback TCP port with opts.
func tcpServe(t *testing.T, opts Options) string {
	t.Helper()
	cfg, err := LoadConfigFile("examples/kingcdn.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Options = opts
	s, err := New(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeTCP(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeTCP: %v", err)
		}
	})
	return ln.Addr().String()
}

func frame(t *testing.T, m *dns.Msg) []byte {
	t.Helper()
	b := pack(t, m)
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)
}

// TestTCPPipelined: 300 queries written at once on one connection are
// all answered, in order, and the connection stays usable (RFC 7766
// §6.2.1); miekg/dns's server closed after 128 with a reset that lost
// answers already written.
func TestTCPPipelined(t *testing.T) {
	addr := tcpServe(t, Options{})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var burst []byte
	for i := range 300 {
		q := query("a1105.kingcdn.com.", dns.TypeA)
		q.Id = uint16(i)
		burst = append(burst, frame(t, q)...)
	}
	if _, err := c.Write(burst); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	read := func() (*dns.Msg, error) {
		var l [2]byte
		if _, err := io.ReadFull(br, l[:]); err != nil {
			return nil, err
		}
		b := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, err
		}
		m := new(dns.Msg)
		return m, m.Unpack(b)
	}
	for i := range 300 {
		m, err := read()
		if err != nil {
			t.Fatalf("answer %d of 300: %v", i+1, err)
		}
		if m.Id != uint16(i) || len(m.Answer) != 1 {
			t.Fatalf("answer %d: id %d, %d records", i+1, m.Id, len(m.Answer))
		}
	}
	if _, err := c.Write(frame(t, query("a1105.kingcdn.com.", dns.TypeA))); err != nil {
		t.Fatal(err)
	}
	if _, err := read(); err != nil {
		t.Errorf("query 301: %v", err)
	}
}

// TestTCPEmptyFrames: a client that sends only empty frames is closed
// after the idle timeout; empty frames are not activity.
func TestTCPEmptyFrames(t *testing.T) {
	addr := tcpServe(t, Options{TCPIdleTimeout: 300 * time.Millisecond})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	closed := make(chan struct{})
	go func() {
		io.Copy(io.Discard, c)
		close(closed)
	}()
	for range 50 { // 5 s of "\0\0" every 100 ms
		select {
		case <-closed:
			return
		case <-time.After(100 * time.Millisecond):
			c.Write([]byte{0, 0})
		}
	}
	t.Error("a connection sending empty frames every 100 ms is open 5 s later (idle timeout 300 ms)")
}

// TestTCPConnectionCap runs the server in a child process whose
// descriptor limit is 1,024, opens 3,000 idle TCP connections to it,
// and then asks a query on a new one: it must be answered (the server
// closes the idlest connections to make room, and does not spin on
// EMFILE).
func TestTCPConnectionCap(t *testing.T) {
	if os.Getenv("CDNDNS_TCP_CHILD") != "" {
		tcpChild()
		return
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); lim.Max < 4000 {
		t.Skipf("the test needs 4,000 descriptors; the hard limit is %d", lim.Max)
	}
	if lim.Cur < 4000 {
		raised := syscall.Rlimit{Cur: min(lim.Max, 8192), Max: lim.Max}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
			t.Skip(err)
		}
		defer syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestTCPConnectionCap$")
	cmd.Env = append(os.Environ(), "CDNDNS_TCP_CHILD=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		t.Fatalf("child: %q %v", line, err)
	}
	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	for range 3000 {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v", len(idle)+1, err)
		}
		idle = append(idle, c)
	}
	start := time.Now()
	c := &dns.Client{Net: "tcp", Timeout: 10 * time.Second}
	r, _, err := c.Exchange(query("a1105.kingcdn.com.", dns.TypeA), addr)
	if err != nil || len(r.Answer) != 1 {
		t.Fatalf("a new TCP client with 3,000 idle connections open (server limit 1,024 descriptors): %v %v", r, err)
	}
	t.Logf("a new TCP client was answered in %v with 3,000 idle connections open against a 1,024-descriptor limit", time.Since(start).Round(time.Millisecond))
}

// tcpChild serves the example over TCP under a 1,024-descriptor limit
// until stdin closes.
func tcpChild() {
	lim := syscall.Rlimit{Cur: 1024, Max: 1024}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Println("setrlimit:", err)
		os.Exit(1)
	}
	cfg, err := LoadConfigFile("examples/kingcdn.yaml")
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	s, err := New(*cfg) // the cap derived from the limit
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go s.ServeTCP(ctx, ln)
	fmt.Println("listening", ln.Addr())
	io.Copy(io.Discard, os.Stdin)
	cancel()
	os.Exit(0)
}
