// Package h1 serves HTTP/1.1 over plain TCP for a public listener whose
// answers are mostly cache hits: one goroutine per connection, requests
// in the plain form clients send parsed by parseSimple and any other by
// net/http's own parser (http.ReadRequest), whose reading parseSimple's
// equals; a response's header written with its first body bytes, and
// for a handler that has it serialized already (a cache's stored
// response), taken as it is (WritePrepared).
//
// net/http's server spends, per request, a goroutine to watch the
// connection while the handler runs and a separate write of its header
// buffer. This server writes the header with the body, and watches the
// connection only for a handler that waits on its request's context
// (see reqContext): a hit does not, a request sent upstream does, and is
// cancelled when its client goes away, as on net/http. Edge's
// BenchmarkWireHit, a 100 KiB hit over a kept-alive loopback connection,
// costs about a quarter less on it than on net/http's. What it leaves
// out: a request with a body is not watched (its handler reads the
// connection and sees the client go away there), and connections that
// open with the HTTP/2 preface (h2c with prior knowledge) are handed
// whole to a net/http server, which serves them as before.
package h1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Server.
type Config struct {
	Handler http.Handler
	// ReadHeaderTimeout bounds the reading of a request's header, from
	// its first byte; IdleTimeout the wait for the next request on a
	// kept-alive connection (and for the first), which may end up to a
	// second (or an eighth of IdleTimeout, if less) early: see armIdle.
	ReadHeaderTimeout time.Duration // default 10s
	IdleTimeout       time.Duration // default 120s
	// MaxHeaderBytes bounds a request's header; more is answered 431.
	MaxHeaderBytes int // default 1 MiB, as net/http
	// ConnContext, if set, derives each connection's base context.
	ConnContext func(context.Context, net.Conn) context.Context
	// H2C serves the connections that open with the HTTP/2 preface; nil
	// closes them. Give it the same Handler and ConnContext.
	H2C *http.Server
	Log *slog.Logger
	// BusyConns is how many connections may be reading or serving a
	// request before the server counts as busy: then large responses
	// are written in two parts (see response.send). With more than 4×BusyConns connections open the
	// server is crowded: large file bodies go by sendfile(2), their
	// header in a segment of its own (see WantsFile). Default 32;
	// negative: always busy and crowded.
	BusyConns int
	// FileLowat is the TCP_NOTSENT_LOWAT (Linux) a connection is given
	// the first time it sends a body by sendfile(2): 0 leaves the
	// socket's as it is, a negative value gives it the kernel's
	// (net.ipv4.tcp_notsent_lowat). It stays for the connection's later
	// responses, however they are sent. A listener's cap bounds the
	// bytes copied into a socket's send buffer ahead of the client; what
	// sendfile queues are references to the file's pages, which the cap
	// does not save, while it costs a wait in the poller for each cap's
	// worth sent (README, "Memory is bounded").
	FileLowat int
}

func (c *Config) defaults() {
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = 10 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 120 * time.Second
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = http.DefaultMaxHeaderBytes
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.BusyConns == 0 {
		c.BusyConns = 32
	}
}

// Server serves HTTP/1.x connections. Serve it, then Shutdown or Close.
type Server struct {
	cfg Config
	h2  *chanListener // nil without Config.H2C

	closing atomic.Bool  // read on every request: not under mu
	active  atomic.Int64 // connections reading or serving a request
	open    atomic.Int64 // connections accepted and not yet closed

	mu       sync.Mutex
	lns      map[net.Listener]struct{}
	conns    map[*conn]struct{}
	connsWG  sync.WaitGroup
	h2Served sync.Once
}

// New returns a Server for cfg.
func New(cfg Config) *Server {
	cfg.defaults()
	s := &Server{cfg: cfg, lns: map[net.Listener]struct{}{}, conns: map[*conn]struct{}{}}
	if cfg.H2C != nil {
		s.h2 = newChanListener()
	}
	return s
}

// Serve accepts connections on ln until Shutdown or Close, after which
// it returns http.ErrServerClosed; any other error is the listener's.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.isClosing() {
		s.mu.Unlock()
		return http.ErrServerClosed
	}
	s.lns[ln] = struct{}{}
	s.mu.Unlock()
	if s.h2 != nil {
		s.h2Served.Do(func() {
			s.h2.addr = ln.Addr()
			go func() { _ = s.cfg.H2C.Serve(s.h2) }()
		})
	}
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.isClosing() {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || temporary(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.cfg.Log.Info("accept failed; retrying", "err", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("accept: %w", err)
		}
		backoff = 0
		cn := s.newConn(c)
		if cn == nil {
			c.Close()
			return http.ErrServerClosed
		}
		go cn.serve()
	}
}

// temporary reports whether a listener recovers from err (out of
// descriptors, a connection reset before it was accepted).
func temporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

func (s *Server) isClosing() bool { return s.closing.Load() }

// busy reports whether more than Config.BusyConns connections are
// active.
func (s *Server) busy() bool { return s.active.Load() > int64(s.cfg.BusyConns) }

// crowded reports whether more than 4×Config.BusyConns connections are
// open (idle or not: with small bodies few are ever being served at
// once, however many clients there are).
func (s *Server) crowded() bool { return s.open.Load() > 4*int64(s.cfg.BusyConns) }

func (s *Server) newConn(c net.Conn) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.isClosing() {
		return nil
	}
	cn := &conn{srv: s, rwc: c}
	s.conns[cn] = struct{}{}
	s.connsWG.Add(1)
	s.open.Add(1)
	return cn
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.open.Add(-1)
	s.connsWG.Done()
}

// Shutdown stops accepting, closes idle connections, lets requests in
// flight finish (their connections close after them) and waits for them
// until ctx ends, when it returns ctx's error. Connections handed to
// H2C are shut down by H2C.Shutdown.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeListeners()
	if s.h2 != nil {
		_ = s.h2.Close()
		if err := s.cfg.H2C.Shutdown(ctx); err != nil {
			return err
		}
	}
	for {
		s.mu.Lock()
		for c := range s.conns {
			c.closeIfIdle()
		}
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	s.closeListeners()
	if s.h2 != nil {
		_ = s.h2.Close()
		_ = s.cfg.H2C.Close()
	}
	s.mu.Lock()
	for c := range s.conns {
		c.rwc.Close()
	}
	s.mu.Unlock()
	s.connsWG.Wait()
	return nil
}

func (s *Server) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing.Store(true)
	for ln := range s.lns {
		ln.Close()
		delete(s.lns, ln)
	}
}

// chanListener is the listener the H2C server accepts handed-over
// connections from.
type chanListener struct {
	addr   net.Addr
	ch     chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newChanListener() *chanListener {
	return &chanListener{ch: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }

// hand passes c to the H2C server; false if it is closed.
func (l *chanListener) hand(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.closed:
		return false
	}
}

// prefixConn is a connection whose first bytes were already read into
// a buffer: reads drain the buffer first.
type prefixConn struct {
	net.Conn
	r io.Reader
}

func (c *prefixConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func handOver(c net.Conn, br *bufio.Reader) net.Conn {
	n := br.Buffered()
	b, _ := br.Peek(n)
	return &prefixConn{Conn: c, r: io.MultiReader(bytes.NewReader(append([]byte(nil), b...)), c)}
}
