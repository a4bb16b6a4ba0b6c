package cdndns

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// A batch read and written through the socket allocates nothing: the
// message headers and the system calls' closures are made once.
func TestBatchConnAllocatesNothing(t *testing.T) {
	server, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	client, err := net.DialUDP("udp", nil, server.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	in := make([]packet, batch)
	for i := range in {
		in[i].buf = make([]byte, readSize)
	}
	bc, err := newBatchConn(server, in)
	if err != nil {
		t.Fatal(err)
	}
	msg, echo := []byte("a query"), make([]byte, 64)
	const queries = 5
	allocs := testing.AllocsPerRun(50, func() {
		for range queries {
			if _, err := client.Write(msg); err != nil {
				t.Fatal(err)
			}
		}
		n, err := bc.read() // loopback delivers as the sender writes
		if err != nil || n != queries {
			t.Fatalf("read %d datagrams (%v), want %d", n, err, queries)
		}
		for i := range n {
			in[i].buf = in[i].buf[:in[i].n]
		}
		if _, err := bc.write(in[:n]); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			in[i].buf = in[i].buf[:cap(in[i].buf)]
			if k, err := client.Read(echo); err != nil || string(echo[:k]) != string(msg) {
				t.Fatalf("echo %d: %q, %v", i, echo[:k], err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations a batch, want 0", allocs)
	}
}

// On Linux ServeUDP serves the socket through a descriptor of its own,
// out of the network poller: the caller's conn is closed at once, and the
// socket goes on answering.
func TestServeUDPTakesSocketOver(t *testing.T) {
	s := exampleServer(t)
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.ServeUDP(ctx, pc) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeUDP: %v", err)
		}
	}()
	client, err := net.DialUDP("udp", nil, pc.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	q := query("a1105.kingcdn.com.", dns.TypeA)
	buf := make([]byte, 1500)
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i := range 2 {
		q.Id = uint16(i + 1)
		if _, err := client.Write(pack(t, q)); err != nil {
			t.Fatal(err)
		}
		k, err := client.Read(buf)
		if err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
		if m := new(dns.Msg); m.Unpack(buf[:k]) != nil || m.Id != q.Id || len(m.Answer) != 1 {
			t.Fatalf("query %d: answer %x", i, buf[:k])
		}
		// The first answer came from the worker: by then conn is closed.
		if i == 0 {
			if _, err := pc.WriteToUDP([]byte{0}, client.LocalAddr().(*net.UDPAddr)); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("writing on conn while ServeUDP serves: %v, want net.ErrClosed", err)
			}
		}
	}
}
