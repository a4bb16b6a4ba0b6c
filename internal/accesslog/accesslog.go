// Package accesslog writes one line per HTTP request, for the origin and
// the edge: nginx's combined fields plus what a CDN operator needs to
// debug a request (cache status, upstream status, duration, the player's
// CMCD session id), as text or JSON.
//
// Text (the combined format, then key="value" fields):
//
//	127.0.0.1 - - [02/Dec/2026:08:56:19 +0000] "GET /t/360p/1.m4s HTTP/1.1" 200 102400 "-" "dash.js" cache="edge; hit; ttl=59" upstream="-" rt=0.000143 sid="6e2fb550"
//
// JSON: one object a line with the keys time, remote, method, uri, proto,
// status, bytes, referer, user_agent, cache, upstream_status,
// duration_seconds, cmcd_sid.
//
// Lines are built in a reused buffer and written through a 64 KiB buffer
// flushed every second and on Reopen and Close, so a request costs no
// system call. Reopen (on SIGHUP) lets logrotate move the file away.
package accesslog

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config configures a Logger.
type Config struct {
	// Path is the file to append to, or "-" for standard output.
	Path string
	// Format is "text" (the default) or "json".
	Format string
	// Stdout is where "-" writes; nil: os.Stdout.
	Stdout io.Writer
}

// Logger appends access log lines to a file. It is safe for concurrent
// use.
type Logger struct {
	cfg  Config
	mu   sync.Mutex
	f    *os.File // nil for standard output
	w    *bufio.Writer
	line []byte
	stop chan struct{}
	done chan struct{}
}

// Entry is one request.
type Entry struct {
	Time     time.Time
	Request  *http.Request
	Status   int
	Bytes    int64
	Cache    string // the Cache-Status value, or ""
	Upstream string // the upstream status ("304", "502"), or ""
	Duration time.Duration
}

// New opens cfg.Path for appending and starts the flusher.
func New(cfg Config) (*Logger, error) {
	switch cfg.Format {
	case "":
		cfg.Format = "text"
	case "text", "json":
	default:
		return nil, fmt.Errorf("access log format %q: want text or json", cfg.Format)
	}
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	l := &Logger{cfg: cfg, stop: make(chan struct{}), done: make(chan struct{})}
	if err := l.open(); err != nil {
		return nil, err
	}
	go l.flushEvery(time.Second)
	return l, nil
}

func (l *Logger) open() error {
	if l.cfg.Path == "-" {
		l.w = bufio.NewWriterSize(l.cfg.Stdout, 64<<10)
		return nil
	}
	f, err := os.OpenFile(l.cfg.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("access log: %w", err)
	}
	l.f, l.w = f, bufio.NewWriterSize(f, 64<<10)
	return nil
}

// Reopen flushes and closes the file and opens Path again: after
// logrotate renamed it, new lines go to a new file.
func (l *Logger) Reopen() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.flushClose()
	if oerr := l.open(); oerr != nil {
		return oerr
	}
	return err
}

// Close flushes and closes the log.
func (l *Logger) Close() error {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.flushClose()
}

// flushClose writes out what is buffered and closes the file (not
// standard output). l.mu held.
func (l *Logger) flushClose() error {
	err := l.w.Flush()
	if l.f != nil {
		if cerr := l.f.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

func (l *Logger) flushEvery(d time.Duration) {
	defer close(l.done)
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.mu.Lock()
			_ = l.w.Flush()
			l.mu.Unlock()
		}
	}
}

// Log writes e's line.
func (l *Logger) Log(e Entry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cfg.Format == "json" {
		l.line = appendJSON(l.line[:0], e)
	} else {
		l.line = appendText(l.line[:0], e)
	}
	l.w.Write(l.line)
}

func appendText(b []byte, e Entry) []byte {
	r := e.Request
	b = append(b, remoteHost(r)...)
	b = append(b, " - "...)
	b = appendUser(b, r)
	b = append(b, " ["...)
	b = e.Time.AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	b = append(b, "] \""...)
	b = appendSafe(b, r.Method)
	b = append(b, ' ')
	b = appendSafe(b, r.RequestURI)
	b = append(b, ' ')
	b = appendSafe(b, r.Proto)
	b = append(b, "\" "...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.Bytes, 10)
	b = appendQuoted(b, r.Header.Get("Referer"))
	b = appendQuoted(b, r.Header.Get("User-Agent"))
	b = append(b, " cache="...)
	b = appendQuoted(b, e.Cache)
	b = append(b, " upstream="...)
	b = appendQuoted(b, e.Upstream)
	b = append(b, " rt="...)
	b = strconv.AppendFloat(b, e.Duration.Seconds(), 'f', 6, 64)
	b = append(b, " sid="...)
	b = appendQuoted(b, CMCDSession(r))
	return append(b, '\n')
}

// appendQuoted appends s in double quotes, "-" when empty, with quotes,
// backslashes and control bytes escaped (\xHH) as nginx does. The space
// before it is the caller's, except after the status fields.
func appendQuoted(b []byte, s string) []byte {
	if n := len(b); n > 0 && b[n-1] != '=' {
		b = append(b, ' ')
	}
	b = append(b, '"')
	if s == "" {
		s = "-"
	}
	b = appendSafe(b, s)
	return append(b, '"')
}

// appendSafe appends s with quotes, backslashes and bytes outside
// printable ASCII as \xHH, so that a line is always one line.
func appendSafe(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			b = append(b, '\\', 'x', hex[c>>4], hex[c&0xF])
			continue
		}
		b = append(b, c)
	}
	return b
}

func appendUser(b []byte, r *http.Request) []byte {
	if u, _, ok := r.BasicAuth(); ok && u != "" {
		return appendSafe(b, u)
	}
	return append(b, '-')
}

func remoteHost(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// jsonEntry is the JSON line's shape.
type jsonEntry struct {
	Time      string  `json:"time"`
	Remote    string  `json:"remote"`
	Method    string  `json:"method"`
	URI       string  `json:"uri"`
	Proto     string  `json:"proto"`
	Status    int     `json:"status"`
	Bytes     int64   `json:"bytes"`
	Referer   string  `json:"referer,omitempty"`
	UserAgent string  `json:"user_agent,omitempty"`
	Cache     string  `json:"cache,omitempty"`
	Upstream  string  `json:"upstream_status,omitempty"`
	Duration  float64 `json:"duration_seconds"`
	SID       string  `json:"cmcd_sid,omitempty"`
}

func appendJSON(b []byte, e Entry) []byte {
	r := e.Request
	j, err := json.Marshal(jsonEntry{
		Time: e.Time.UTC().Format(time.RFC3339Nano), Remote: remoteHost(r), Method: r.Method, URI: r.RequestURI, Proto: r.Proto,
		Status: e.Status, Bytes: e.Bytes, Referer: r.Header.Get("Referer"), UserAgent: r.Header.Get("User-Agent"),
		Cache: e.Cache, Upstream: e.Upstream, Duration: e.Duration.Seconds(), SID: CMCDSession(r),
	})
	if err != nil { // only strings and numbers: cannot happen
		return b
	}
	b = append(b, j...)
	return append(b, '\n')
}

// CMCDSession returns the CMCD session id (CTA-5004 "sid") of r: from
// the CMCD-Session header, or the CMCD query parameter; "" if none.
func CMCDSession(r *http.Request) string {
	if v := r.Header.Get("Cmcd-Session"); v != "" {
		if sid := cmcdKey(v, "sid"); sid != "" {
			return sid
		}
	}
	if strings.Contains(r.URL.RawQuery, "CMCD=") {
		if v, err := url.QueryUnescape(r.URL.Query().Get("CMCD")); err == nil {
			return cmcdKey(v, "sid")
		}
	}
	return ""
}

// cmcdKey returns the string value of key in a CMCD list
// (key=value,key="string",...).
func cmcdKey(list, key string) string {
	for kv := range strings.SplitSeq(list, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if ok && k == key {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}
