// Command gofloor is the floor that scripts/bench-gofloor.sh measures Go
// against nginx's static server: 64 bodies in memory, each request's path
// picking one, no cache logic and no HTTP beyond finding the end of the
// request header. It serves in one of seven ways:
//
//	writev        a goroutine per connection (net package), header and
//	              body in one writev
//	write2        the same, header and body in two writes
//	split         the same, header with the body's first bytes up to
//	              4 KiB, then the rest (what internal/h1 does when busy)
//	epoll         an epoll loop per core (golang.org/x/sys/unix, no
//	              goroutines, no net package), one writev
//	epoll-split   the epoll loop with split writes
//	sendfile      a goroutine per connection, the header written with
//	              MSG_MORE, then the body sent by sendfile(2) from a
//	              memfd holding it (what nginx does from the page cache)
//	sendfile-alone  the same, the header in a segment of its own (no
//	              MSG_MORE), as nginx sends it
//
// Usage: gofloor -mode MODE -listen 127.0.0.1:PORT [-size BYTES]
package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

const nBodies = 64

func main() {
	mode := flag.String("mode", "writev", "writev, write2, split, epoll, epoll-split, sendfile or sendfile-alone")
	listen := flag.String("listen", "127.0.0.1:18960", "the address to serve on")
	size := flag.Int("size", 100<<10, "the body size in bytes")
	flag.Parse()
	if err := run(*mode, *listen, *size); err != nil {
		fmt.Fprintln(os.Stderr, "gofloor:", err)
		os.Exit(1)
	}
}

// floor is what every mode serves.
type floor struct {
	header []byte
	bodies [nBodies][]byte
	fds    [nBodies]int // the bodies in memfds, for the sendfile modes (never closed)
}

func run(mode, listen string, size int) error {
	f := &floor{header: []byte("HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: " + strconv.Itoa(size) +
		"\r\nCache-Status: gofloor; hit\r\nAge: 1\r\nVia: 1.1 gofloor\r\nAccept-Ranges: bytes\r\nDate: Thu, 03 Dec 2026 06:00:00 GMT\r\n\r\n")}
	for i := range f.bodies {
		f.bodies[i] = make([]byte, size)
		_, _ = rand.Read(f.bodies[i])
	}
	if strings.HasPrefix(mode, "sendfile") {
		for i, b := range f.bodies {
			fd, err := unix.MemfdCreate("body", unix.MFD_CLOEXEC)
			if err != nil {
				return fmt.Errorf("memfd: %w", err)
			}
			for p := b; len(p) > 0; { // not through an *os.File: its cleanup would close fd
				n, err := unix.Write(fd, p)
				if err != nil {
					return fmt.Errorf("write a memfd: %w", err)
				}
				p = p[n:]
			}
			f.fds[i] = fd
		}
	}
	switch mode {
	case "writev", "write2", "split", "sendfile", "sendfile-alone":
		ln, err := net.Listen("tcp", listen)
		if err != nil {
			return err
		}
		for {
			c, err := ln.Accept()
			if err != nil {
				return err
			}
			go f.serveConn(c, mode)
		}
	case "epoll", "epoll-split":
		ap, err := netip.ParseAddrPort(listen)
		if err != nil || !ap.Addr().Is4() {
			return fmt.Errorf("-listen %q: want an IPv4 address and port", listen)
		}
		errc := make(chan error, runtime.GOMAXPROCS(0))
		for range runtime.GOMAXPROCS(0) {
			go func() { errc <- f.loop(ap, mode == "epoll-split") }()
		}
		return <-errc
	}
	return fmt.Errorf("unknown -mode %q", mode)
}

// body is the body a request header names, and its index: /…/N.m4s
// picks body N mod 64.
func (f *floor) body(req []byte) ([]byte, int) {
	_, rest, _ := bytes.Cut(req, []byte(" "))
	path, _, _ := bytes.Cut(rest, []byte(" "))
	if i := bytes.LastIndexByte(path, '/'); i >= 0 {
		path = path[i+1:]
	}
	n, _ := strconv.Atoi(string(bytes.TrimSuffix(path, []byte(".m4s"))))
	i := (n%nBodies + nBodies) % nBodies
	return f.bodies[i], i
}

// sendFile writes header to c, with MSG_MORE if more (so that it leaves
// with the body's first bytes rather than in a packet alone), then sends n bytes
// of the file fd from its start by sendfile(2) with an explicit offset
// (the file's own is shared by every connection), waiting in the poller
// whenever the socket is full.
func sendFile(c net.Conn, header []byte, more bool, fd int, n int64) error {
	flags := 0
	if more {
		flags = unix.MSG_MORE
	}
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return err
	}
	var off int64
	var serr error
	err = rc.Write(func(sock uintptr) bool {
		for serr == nil && (len(header) > 0 || off < n) {
			var m int
			var err error
			if len(header) > 0 {
				m, err = unix.SendmsgN(int(sock), header, nil, nil, flags)
				header = header[max(m, 0):]
			} else if m, err = unix.Sendfile(int(sock), fd, &off, int(n-off)); err == nil && m == 0 {
				err = errors.New("sendfile: nothing sent")
			}
			if errors.Is(err, unix.EAGAIN) {
				return false
			}
			serr = err
		}
		return true
	})
	if err != nil {
		return err
	}
	return serr
}

func (f *floor) serveConn(c net.Conn, mode string) {
	defer c.Close()
	br := bufio.NewReaderSize(c, 4096)
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return
		}
		body, i := f.body(line)
		for { // the rest of the header
			l, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(l) <= 2 {
				break
			}
		}
		switch mode {
		case "writev":
			bufs := net.Buffers{f.header, body}
			_, err = bufs.WriteTo(c)
		case "write2":
			if _, err = c.Write(f.header); err == nil {
				_, err = c.Write(body)
			}
		case "split":
			n := min(4096-len(f.header), len(body))
			bufs := net.Buffers{f.header, body[:n]}
			if _, err = bufs.WriteTo(c); err == nil {
				_, err = c.Write(body[n:])
			}
		case "sendfile", "sendfile-alone":
			err = sendFile(c, f.header, mode == "sendfile", f.fds[i], int64(len(body)))
		}
		if err != nil {
			return
		}
	}
}

// epollConn is a connection of the epoll loop: its unread input and the
// writes it still owes (each a list of slices for one writev).
type epollConn struct {
	fd     int
	in     []byte
	out    [][][]byte
	wantWr bool
}

// loop is one epoll loop with its own SO_REUSEPORT listener.
func (f *floor) loop(ap netip.AddrPort, split bool) error {
	runtime.LockOSThread()
	lfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return err
	}
	_ = unix.SetsockoptInt(lfd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	_ = unix.SetsockoptInt(lfd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if err := unix.Bind(lfd, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	if err := unix.Listen(lfd, 4096); err != nil {
		return err
	}
	ep, err := unix.EpollCreate1(0)
	if err != nil {
		return err
	}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, lfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(lfd)}); err != nil {
		return err
	}
	conns := map[int]*epollConn{}
	evs := make([]unix.EpollEvent, 256)
	buf := make([]byte, 4096)
	for {
		n, err := unix.EpollWait(ep, evs, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return err
		}
		for _, ev := range evs[:n] {
			fd := int(ev.Fd)
			if fd == lfd {
				for {
					cfd, _, err := unix.Accept4(lfd, unix.SOCK_NONBLOCK)
					if err != nil {
						break
					}
					_ = unix.SetsockoptInt(cfd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
					conns[cfd] = &epollConn{fd: cfd}
					_ = unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, cfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(cfd)})
				}
				continue
			}
			c := conns[fd]
			if ev.Events&unix.EPOLLIN != 0 {
				m, err := unix.Read(fd, buf)
				if m <= 0 || err != nil {
					if errors.Is(err, unix.EAGAIN) {
						continue
					}
					_ = unix.Close(fd)
					delete(conns, fd)
					continue
				}
				c.in = append(c.in, buf[:m]...)
				for {
					i := bytes.Index(c.in, []byte("\r\n\r\n"))
					if i < 0 {
						break
					}
					body, _ := f.body(c.in[:i])
					c.in = c.in[i+4:]
					if k := min(4096-len(f.header), len(body)); split && len(conns) > 32 {
						c.out = append(c.out, [][]byte{f.header, body[:k]}, [][]byte{body[k:]})
					} else {
						c.out = append(c.out, [][]byte{f.header, body})
					}
				}
			}
			if !flush(ep, c) {
				_ = unix.Close(fd)
				delete(conns, fd)
			}
		}
	}
}

// flush writes what c owes until the socket is full; false on an error.
func flush(ep int, c *epollConn) bool {
	for len(c.out) > 0 {
		w, err := unix.Writev(c.fd, c.out[0])
		if errors.Is(err, unix.EAGAIN) {
			break
		}
		if err != nil {
			return false
		}
		for w > 0 { // drop what was written
			v := c.out[0]
			if w >= len(v[0]) {
				w -= len(v[0])
				c.out[0] = v[1:]
			} else {
				v[0] = v[0][w:]
				w = 0
			}
		}
		for len(c.out) > 0 && len(c.out[0]) == 0 {
			c.out = c.out[1:]
		}
	}
	if want := len(c.out) > 0; want != c.wantWr {
		c.wantWr = want
		events := uint32(unix.EPOLLIN)
		if want {
			events |= unix.EPOLLOUT
		}
		_ = unix.EpollCtl(ep, unix.EPOLL_CTL_MOD, c.fd, &unix.EpollEvent{Events: events, Fd: int32(c.fd)})
	}
	return true
}
