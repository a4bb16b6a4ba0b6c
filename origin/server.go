package origin

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/streamcdn/streamcdn/internal/accesslog"
	"github.com/streamcdn/streamcdn/internal/httpx"
)

// Config configures a Server.
type Config struct {
	// Dir holds the titles, each at Dir/<title>/manifest.mpd. Required.
	Dir string `json:"dir"`
	// MPDMaxAge is the Cache-Control max-age of MPDs. If zero, defaults
	// to 10s.
	MPDMaxAge time.Duration `json:"mpd_max_age"`
	// SegmentMaxAge is the Cache-Control max-age of segments, which are
	// also marked immutable. If zero, defaults to one year.
	SegmentMaxAge time.Duration `json:"segment_max_age"`
	// AccessLog, if not nil, gets a line per request (cmd's
	// --access-log).
	AccessLog *accesslog.Logger `json:"-"`

	Logger   *slog.Logger          `json:"-"` // nil: discard
	Registry prometheus.Registerer `json:"-"` // nil: metrics are not exported
	Now      func() time.Time      `json:"-"` // nil: time.Now
}

// Server serves packaged titles. It is an http.Handler.
type Server struct {
	root    *os.Root
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	demand  demand
}

// New opens cfg.Dir and returns a Server for it.
func New(cfg Config) (*Server, error) {
	if cfg.Dir == "" {
		return nil, errors.New("origin: no directory")
	}
	root, err := os.OpenRoot(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("origin: %w", err)
	}
	if cfg.MPDMaxAge == 0 {
		cfg.MPDMaxAge = 10 * time.Second
	}
	if cfg.SegmentMaxAge == 0 {
		cfg.SegmentMaxAge = 365 * 24 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		_ = root.Close()
		return nil, err
	}
	return &Server{root: root, cfg: cfg, log: cfg.Logger.With("component", "origin"), metrics: m}, nil
}

func (s *Server) now() time.Time { return s.cfg.Now() }

// Close releases the directory.
func (s *Server) Close() error { return s.root.Close() }

// statusError is an error with the HTTP status it maps to.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

var (
	errNotFound  = &statusError{http.StatusNotFound, "not found"}
	errForbidden = &statusError{http.StatusForbidden, "forbidden"}
	errBadPath   = &statusError{http.StatusBadRequest, "bad path"}
)

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &httpx.Recorder{ResponseWriter: w}
	setCORS(rec.Header())
	if err := s.serve(rec, r); err != nil {
		s.writeError(rec, r, err)
	}
	if name, err := cleanPath(r.URL.Path); err == nil && rec.Status() < 400 && r.Method != http.MethodOptions {
		if title, ok := titleOf(name); ok {
			s.demand.record(title, strings.HasSuffix(name, ".mpd"), rec.Bytes, s.now())
		}
	}
	s.metrics.observe(r.Method, rec.Status(), rec.Bytes, time.Since(start))
	if s.cfg.AccessLog != nil {
		s.cfg.AccessLog.Log(accesslog.Entry{Time: start, Request: r, Status: rec.Status(), Bytes: rec.Bytes, Duration: time.Since(start)})
	}
}

// writeError is the one place that maps errors to responses and logs them.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var se *statusError
	if !errors.As(err, &se) {
		s.log.Error("serve", "path", r.URL.Path, "err", err)
		se = &statusError{http.StatusInternalServerError, "internal error"}
	}
	if se.code == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
	}
	http.Error(w, se.msg, se.code)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		w.WriteHeader(http.StatusNoContent)
		return nil
	default:
		return &statusError{http.StatusMethodNotAllowed, "method not allowed"}
	}
	name, err := cleanPath(r.URL.Path)
	if err != nil {
		return err
	}
	f, err := s.root.Open(name)
	if err != nil {
		return openError(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return errNotFound
	}
	w.Header().Set("Cache-Control", s.cacheControl(name))
	_, err = httpx.Serve(w, r, httpx.Content{
		Body: f, Size: fi.Size(), ContentType: contentType(name),
		Validators: httpx.Validators{ETag: etag(fi), LastModified: fi.ModTime()},
	})
	if err != nil {
		s.log.Debug("client went away", "path", name, "err", err)
	}
	return nil
}

// cleanPath turns a request path into a name relative to the root. It
// refuses ".." segments, NUL bytes and backslashes, and hides dot files
// (such as titles still being staged).
func cleanPath(p string) (string, error) {
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\x00\\") {
		return "", errBadPath
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return "", errBadPath
		}
		if strings.HasPrefix(seg, ".") {
			return "", errNotFound
		}
	}
	name := strings.TrimPrefix(path.Clean(p), "/")
	if name == "" || name == "." {
		return "", errNotFound
	}
	return name, nil
}

func openError(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errNotFound
	case errors.Is(err, fs.ErrPermission):
		return errForbidden
	case strings.Contains(err.Error(), "escapes from parent"), strings.Contains(err.Error(), "path escapes"):
		return errForbidden // a symlink pointing out of the root
	}
	return err
}

func (s *Server) cacheControl(name string) string {
	if strings.HasSuffix(name, ".mpd") {
		return fmt.Sprintf("public, max-age=%d", int(s.cfg.MPDMaxAge.Seconds()))
	}
	return fmt.Sprintf("public, max-age=%d, immutable", int(s.cfg.SegmentMaxAge.Seconds()))
}

// contentType maps our file names to media types. Segments of a
// representation whose id starts with "audio" are audio/mp4.
func contentType(name string) string {
	ext := path.Ext(name)
	switch ext {
	case ".mpd":
		return "application/dash+xml"
	case ".m4s", ".mp4", ".m4v":
		// name is <title>/<rep>/<n>.m4s or <title>/<rep>.mp4
		if parts := strings.SplitN(name, "/", 3); len(parts) > 1 && strings.HasPrefix(parts[1], "audio") {
			return "audio/mp4"
		}
		return "video/mp4"
	case ".m4a":
		return "audio/mp4"
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

// etag is a strong validator from size and modification time: titles are
// renamed into place whole, so a new version has a new mtime.
func etag(fi os.FileInfo) string {
	return `"` + strconv.FormatInt(fi.Size(), 16) + "-" + strconv.FormatInt(fi.ModTime().UnixNano(), 16) + `"`
}

// setCORS lets browser players on any origin fetch and time our responses.
func setCORS(h http.Header) {
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Range, If-None-Match, If-Modified-Since, If-Range")
	h.Set("Access-Control-Expose-Headers", "Content-Length, Content-Range, Content-Type, Date, ETag, Last-Modified, Age")
	h.Set("Access-Control-Max-Age", "86400")
	h.Set("Timing-Allow-Origin", "*")
}
