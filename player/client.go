package player

import (
	"context"
	"errors"
	"fmt"
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
	// Conns bounds the idle connections kept per host; 0 means 2.
	Conns int
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
		MaxIdleConnsPerHost:   max(cfg.Conns, 2),
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
		res := newResolver(cfg.Resolver, cfg.LocalAddr)
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			ips, err := resolve(ctx, res, host)
			if err != nil {
				return nil, err
			}
			var errs []error
			for _, ip := range ips {
				c, err := dialer.DialContext(ctx, network, net.JoinHostPort(ip, port))
				if err == nil {
					return c, nil
				}
				errs = append(errs, err)
			}
			return nil, errors.Join(errs...)
		}
	}
	return &http.Client{Transport: tr}
}

// newResolver is a stub resolver that asks only addr.
func newResolver(addr string, local net.IP) *net.Resolver {
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

// maxCNAMEs bounds a CNAME chain followed by hand.
const maxCNAMEs = 8

// resolve returns host's addresses through res. An answer that carries
// the CNAME and its target's records resolves in one query; a server that
// answers with the CNAME alone is asked again for the target, up to
// maxCNAMEs times.
func resolve(ctx context.Context, res *net.Resolver, host string) ([]string, error) {
	if ip := net.ParseIP(host); ip != nil {
		return []string{host}, nil
	}
	name := host
	for range maxCNAMEs {
		addrs, err := res.LookupHost(ctx, name)
		if err == nil && len(addrs) > 0 {
			return addrs, nil
		}
		cname, cerr := res.LookupCNAME(ctx, name)
		cname = strings.TrimSuffix(cname, ".")
		if cerr != nil || cname == "" || strings.EqualFold(cname, name) {
			return nil, fmt.Errorf("resolve %s: %w", host, err)
		}
		name = cname
	}
	return nil, fmt.Errorf("resolve %s: CNAME chain longer than %d", host, maxCNAMEs)
}
