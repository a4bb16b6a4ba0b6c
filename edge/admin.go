package edge

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/streamcdn/streamcdn/internal/httpx"
)

// Admin returns the handler for the admin listener, never the public one:
//
//	GET  /healthz                  200 "ok" while the server runs
//	GET  /readyz                   200 once the disk index is loaded (always, after New)
//	POST /purge?url=/title/x.m4s   drop one URL, every variant of it
//	POST /purge?prefix=/title/     drop every URL under a prefix
//	PUT  /push/object?url=/p       pin one object (Content-Length, Content-Digest: sha-256=:...:)
//	DELETE /push/object?url=|prefix=  unpin
//	GET  /push/objects?prefix=/t/  the modes, the pinned budget and what is pinned under a prefix
//	POST /push/fill                start a fill job (FillRequest): the edge fetches and pins
//	GET  /push/fill/{id}           a fill job's FillStatus
//
// Purge and push need "Authorization: Bearer <AdminToken>"; a missing or
// wrong token is 401, and so is any token when none is configured. Purge
// drops cached copies, never pinned objects.
func (s *Server) Admin() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, map[string]string{"status": "ok", "name": s.cfg.Name, "region": s.cfg.Region})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, map[string]string{"status": "ready"})
	})
	auth := func(h http.HandlerFunc) http.Handler { return httpx.BearerAuth(s.cfg.AdminToken, "streamcdn-edge", h) }
	mux.Handle("POST /purge", auth(s.handlePurge))
	mux.Handle("PUT /push/object", auth(s.handlePushObject))
	mux.Handle("DELETE /push/object", auth(s.handleUnpin))
	mux.Handle("GET /push/objects", auth(s.handleHoldings))
	mux.Handle("POST /push/fill", auth(s.handleFill))
	mux.Handle("GET /push/fill/{id}", auth(s.handleFillStatus))
	return mux
}

func (s *Server) handlePurge(w http.ResponseWriter, r *http.Request) {
	match, err := targets(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	httpx.WriteJSON(w, map[string]int{"purged": s.purge(match)})
}

// canonical is target (a path with an optional query) with its path
// normalised as the public listener normalises request targets, so that
// a purge of an alias reaches the stored object.
func canonical(target string) string {
	u, err := url.ParseRequestURI(target)
	if target == "" || err != nil || !normalise(u) {
		return target
	}
	return u.RequestURI()
}

// targets reads which stored keys a purge or an unpin names: url=/path
// (every variant of it) or prefix=/path/.
func targets(r *http.Request) (func(key string) bool, error) {
	q := r.URL.Query()
	exact, prefix := canonical(q.Get("url")), canonical(q.Get("prefix"))
	switch {
	case exact != "" && prefix == "":
		return func(k string) bool { return k == exact || strings.HasPrefix(k, exact+"\x00") }, nil
	case prefix != "" && exact == "" && strings.HasPrefix(prefix, "/"):
		return func(k string) bool { return strings.HasPrefix(k, prefix) }, nil
	}
	return nil, errors.New("give exactly one of url=/path or prefix=/path/")
}
