package cdndns

import (
	"context"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"
)

// Sockets are a DNS server's sockets: UDP, answered in batches by
// Server.ServeUDP, one goroutine per socket, and TCP, by
// Server.ServeTCP.
type Sockets struct {
	udp []*net.UDPConn
	tcp net.Listener
}

// Listen binds addr over UDP, with workers sockets sharing the port
// (SO_REUSEPORT: the kernel spreads the clients over them), and the same
// port over TCP.
//
// With port 0 the TCP port is the one the system gave the UDP socket,
// which a TCP connection may hold already: then another is tried, a few
// times.
func Listen(addr string, workers int) (*Sockets, error) {
	workers = max(workers, 1)
	lc := net.ListenConfig{}
	if workers > 1 {
		lc.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			}); err != nil {
				return err
			}
			return serr
		}
	}
	_, port, _ := net.SplitHostPort(addr)
	for attempt := 1; ; attempt++ {
		d := &Sockets{}
		pc, err := lc.ListenPacket(context.Background(), "udp", addr)
		if err != nil {
			return nil, fmt.Errorf("dns udp: %w", err)
		}
		d.udp = append(d.udp, pc.(*net.UDPConn))
		bound := pc.LocalAddr().String()
		for len(d.udp) < workers {
			pc, err := lc.ListenPacket(context.Background(), "udp", bound)
			if err != nil {
				d.Close()
				return nil, fmt.Errorf("dns udp socket %d: %w", len(d.udp)+1, err)
			}
			d.udp = append(d.udp, pc.(*net.UDPConn))
		}
		if d.tcp, err = net.Listen("tcp", bound); err == nil {
			return d, nil
		}
		d.Close()
		if port != "0" || attempt == 5 {
			return nil, fmt.Errorf("dns tcp: %w", err)
		}
	}
}

// Addr is the address answered on.
func (d *Sockets) Addr() string { return d.udp[0].LocalAddr().String() }

// Serve answers on d with srv until ctx ends.
func (d *Sockets) Serve(ctx context.Context, srv *Server) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, u := range d.udp {
		g.Go(func() error { return srv.ServeUDP(ctx, u) })
	}
	g.Go(func() error { return srv.ServeTCP(ctx, d.tcp) })
	return g.Wait()
}

// Close closes the sockets.
func (d *Sockets) Close() {
	for _, u := range d.udp {
		_ = u.Close()
	}
	if d.tcp != nil {
		d.tcp.Close()
	}
}
