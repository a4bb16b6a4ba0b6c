package cdndns

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestServeTCP: ServeTCP answers on the listener it is given, and when
// ctx ends, whether before it started or while it serves, it returns nil
// with the listener closed.
func TestServeTCP(t *testing.T) {
	for _, early := range []bool{true, false} {
		name := "ended while serving"
		if early {
			name = "ended before it started"
		}
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if early {
				cancel()
			}
			done := make(chan error, 1)
			go func() { done <- exampleServer(t).ServeTCP(ctx, ln) }()
			if !early {
				c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second}
				r, _, err := c.Exchange(query("a1105.kingcdn.com.", dns.TypeA), addr)
				if err != nil || len(r.Answer) != 1 {
					t.Fatalf("no answer over TCP: %v %v", err, r)
				}
				cancel()
			}
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("ServeTCP: %v, want nil", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("ServeTCP did not return within 5 s of its context ending")
			}
			// Closing it again says whether ServeTCP closed it. (Binding
			// the port again would say so too, but another process may
			// take a freed port as its own at any moment.)
			if err := ln.Close(); !errors.Is(err, net.ErrClosed) {
				t.Errorf("the listener was left open: closing it again gave %v, want %v", err, net.ErrClosed)
			}
		})
	}
}
