package edge

import (
	"net/http"
	"strings"

	"github.com/streamcdn/streamcdn/internal/httpx"
)

// Admin returns the handler for the admin listener, never the public one:
//
//	GET  /healthz                  200 "ok" while the server runs
//	GET  /readyz                   200 once the disk index is loaded (always, after New)
//	POST /purge?url=/title/x.m4s   drop one URL, every variant of it
//	POST /purge?prefix=/title/     drop every URL under a prefix
//
// Purge needs "Authorization: Bearer <AdminToken>"; a missing or wrong
// token is 401, and so is any token when none is configured.
func (s *Server) Admin() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, map[string]string{"status": "ok", "name": s.cfg.Name, "region": s.cfg.Region})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, map[string]string{"status": "ready"})
	})
	mux.Handle("POST /purge", httpx.BearerAuth(s.cfg.AdminToken, "streamcdn-edge", http.HandlerFunc(s.handlePurge)))
	return mux
}

func (s *Server) handlePurge(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	exact, prefix := q.Get("url"), q.Get("prefix")
	var n int
	switch {
	case exact != "" && prefix == "":
		n = s.purge(func(k string) bool { return k == exact || strings.HasPrefix(k, exact+"\x00") })
	case prefix != "" && exact == "" && strings.HasPrefix(prefix, "/"):
		n = s.purge(func(k string) bool { return strings.HasPrefix(k, prefix) })
	default:
		http.Error(w, "give exactly one of url=/path or prefix=/path/", http.StatusBadRequest)
		return
	}
	httpx.WriteJSON(w, map[string]int{"purged": n})
}
