package cdndns

import (
	"net"
	"testing"
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
