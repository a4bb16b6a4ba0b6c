package cdndns

import (
	"context"
	"net"
	"time"

	"github.com/miekg/dns"
)

// ServeTCP answers DNS over TCP on ln (RFC 7766) until ctx ends, with
// miekg/dns's server: any query, through ServeDNS, and the well-known
// TSIG key. It takes ln over and closes it; it returns nil when ctx ended
// it.
func (s *Server) ServeTCP(ctx context.Context, ln net.Listener) error {
	defer ln.Close()
	srv := &dns.Server{Listener: ln, Handler: s, TsigProvider: wellKnownKey{}, MsgAcceptFunc: accept,
		DecorateReader: func(r dns.Reader) dns.Reader { return ecsCheckReader{r} }}
	stop := context.AfterFunc(ctx, func() {
		if srv.Shutdown() != nil {
			ln.Close() // not started yet: it will find the listener closed
		}
	})
	defer stop()
	err := srv.ActivateAndServe()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// accept is miekg/dns's admission rules for both transports, except
// that a message with an unknown opcode goes to ServeDNS, which answers
// NOTIMP with the header alone (miekg/dns's server would copy the query's
// flags).
func accept(h dns.Header) dns.MsgAcceptAction {
	if a := dns.DefaultMsgAcceptFunc(h); a != dns.MsgRejectNotImplemented {
		return a
	}
	return dns.MsgAccept
}

// ecsCheckReader makes a TCP query whose Client Subnet address has the
// wrong length for its prefix (ecsWireOK) fail to unpack, so that the
// server answers it FORMERR as it does over UDP: it sets the option's
// family to one no unpacker accepts.
type ecsCheckReader struct{ dns.Reader }

func (r ecsCheckReader) ReadTCP(conn net.Conn, timeout time.Duration) ([]byte, error) {
	p, err := r.Reader.ReadTCP(conn, timeout)
	if err == nil && !ecsWireOK(p) {
		poisonECS(p)
	}
	return p, err
}
