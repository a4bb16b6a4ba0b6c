package player

import (
	"context"
	"net"
	"net/http"
	"strings"
	"time"
)

// ClientConfig is how a session reaches its server.
type ClientConfig struct {
	// Resolver, when set (host:port), is the DNS server that names the
	// server's address: the host is resolved there, CNAMEs followed,
	// instead of by the system resolver.
	Resolver string
	// LocalAddr, when valid, is the address to connect (and query the
	// resolver) from, as a client in a given network would.
	LocalAddr net.IP
	// HTTP2 speaks HTTP/2: over TLS for https URLs, with prior knowledge
	// (h2c) for http URLs. Otherwise HTTP/1.1 with keep-alive.
	HTTP2 bool
}

// NewClient returns an HTTP client for sessions: keep-alive, no overall
// timeout (a session's context bounds each request), and its own
// resolver when asked.
func NewClient(cfg ClientConfig) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if cfg.LocalAddr != nil {
		dialer.LocalAddr = &net.TCPAddr{IP: cfg.LocalAddr}
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		ForceAttemptHTTP2:     cfg.HTTP2,
	}
	if cfg.HTTP2 {
		p := new(http.Protocols)
		p.SetHTTP2(true)
		p.SetUnencryptedHTTP2(true)
		tr.Protocols = p
	}
	if cfg.Resolver != "" {
		dialer.Resolver = NewResolver(cfg.Resolver, cfg.LocalAddr)
	}
	return &http.Client{Transport: tr}
}

// NewResolver is a stub resolver that asks only the DNS server at addr
// (host:port), from local when set: a client's local DNS as the CDN's DNS
// sees it. CNAMEs are followed within the answer, as a recursive resolver
// or an authoritative server holding both zones gives them.
func NewResolver(addr string, local net.IP) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		d := net.Dialer{Timeout: 5 * time.Second}
		if local != nil {
			if strings.HasPrefix(network, "udp") {
				d.LocalAddr = &net.UDPAddr{IP: local}
			} else {
				d.LocalAddr = &net.TCPAddr{IP: local}
			}
		}
		return d.DialContext(ctx, network, addr)
	}}
}
