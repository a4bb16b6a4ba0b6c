package httpx

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// BearerAuth lets through to next only requests bearing
// "Authorization: Bearer <token>", compared in constant time. A missing
// or wrong token is 401 with a WWW-Authenticate challenge for realm, and
// so is every request when token is empty (the API is then closed).
func BearerAuth(token, realm string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
