// Package certs holds the TLS certificates a listener serves: one or more
// certificate and key pairs from files, picked by the client's server
// name (SNI), and reloaded without a restart when the files change or on
// request (SIGHUP), so that connections in flight keep the certificate
// they started with and new handshakes get the new one.
package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// Pair names a certificate chain file and its private key file, PEM.
type Pair struct {
	Cert, Key string
}

// Store serves the certificates of its pairs. It is safe for concurrent
// use.
type Store struct {
	pairs []Pair

	mu     sync.RWMutex
	certs  []*tls.Certificate // in the order of pairs: the first is the default
	byName map[string]*tls.Certificate
	stamp  string // the files' sizes and modification times when loaded
}

// Load reads every pair. A missing file, a bad PEM block or a key that
// does not match its certificate is an error naming the pair.
func Load(pairs []Pair) (*Store, error) {
	if len(pairs) == 0 {
		return nil, fmt.Errorf("tls: no certificate")
	}
	s := &Store{pairs: pairs}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload reads the pairs again; on any error the certificates served so
// far stay and the error is returned.
func (s *Store) Reload() error {
	stamp := s.fileStamp()
	var certs []*tls.Certificate
	byName := map[string]*tls.Certificate{}
	for _, p := range s.pairs {
		c, err := tls.LoadX509KeyPair(p.Cert, p.Key)
		if err != nil {
			return fmt.Errorf("tls: certificate %s with key %s: %w", p.Cert, p.Key, err)
		}
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			return fmt.Errorf("tls: certificate %s: %w", p.Cert, err)
		}
		c.Leaf = leaf
		certs = append(certs, &c)
		for _, n := range leaf.DNSNames {
			if _, dup := byName[strings.ToLower(n)]; !dup {
				byName[strings.ToLower(n)] = &c
			}
		}
	}
	s.mu.Lock()
	s.certs, s.byName, s.stamp = certs, byName, stamp
	s.mu.Unlock()
	return nil
}

// fileStamp describes the files as they are now: a change in any size or
// modification time changes it.
func (s *Store) fileStamp() string {
	var b strings.Builder
	for _, p := range s.pairs {
		for _, f := range []string{p.Cert, p.Key} {
			if fi, err := os.Stat(f); err == nil {
				fmt.Fprintf(&b, "%s:%d:%d;", f, fi.Size(), fi.ModTime().UnixNano())
			}
		}
	}
	return b.String()
}

// Watch reloads the pairs when their files change, checking every
// interval until ctx ends. A reload that fails is logged and the running
// certificates stay; it is tried again at the next change.
func (s *Store) Watch(ctx context.Context, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.mu.RLock()
			old := s.stamp
			s.mu.RUnlock()
			if now := s.fileStamp(); now != old {
				if err := s.Reload(); err != nil {
					log.Error("reload TLS certificates", "err", err)
					s.mu.Lock()
					s.stamp = now // not again until the files change again
					s.mu.Unlock()
				} else {
					log.Info("reloaded TLS certificates")
				}
			}
		}
	}
}

// GetCertificate picks the certificate for a handshake: the one whose
// names hold the client's server name exactly, else by wildcard, else
// the first pair's.
func (s *Store) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if c, ok := s.byName[name]; ok {
		return c, nil
	}
	if _, parent, ok := strings.Cut(name, "."); ok {
		if c, ok := s.byName["*."+parent]; ok {
			return c, nil
		}
	}
	return s.certs[0], nil
}

// TLSConfig is a server configuration serving the store's certificates:
// TLS 1.2 and 1.3 with Go's defaults; net/http adds HTTP/2 by ALPN.
func (s *Store) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: s.GetCertificate}
}
