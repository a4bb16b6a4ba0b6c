package tcpinfo

import (
	"net"
	"runtime"
	"testing"
	"time"
)

// TestRTT reads the RTT of both ends of a loopback connection after some
// traffic: positive and far below a second. Delay emulated in user space
// does not show here (the kernel measures the TCP round trip).
func TestRTT(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("TCP_INFO is Linux only")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	defer s.Close()
	buf := make([]byte, 1)
	for range 10 { // ping-pong so both ends have samples
		c.Write([]byte{1})
		s.Read(buf)
		s.Write([]byte{1})
		c.Read(buf)
	}
	for _, conn := range []net.Conn{c, s} {
		rtt, err := RTT(conn)
		if err != nil {
			t.Fatal(err)
		}
		if rtt <= 0 || rtt > time.Second {
			t.Errorf("loopback RTT %v", rtt)
		}
	}
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	if _, err := RTT(p1); err == nil {
		t.Error("RTT of a pipe: no error")
	}
}
