package httpx

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// BearerAuth lets through to next only requests bearing
// "Authorization: Bearer <token>", the token compared in constant time
// and the scheme in any case (RFC 9110 §11.1). A missing
// or wrong token is 401 with a WWW-Authenticate challenge for realm, and
// so is every request when token is empty (the API is then closed).
func BearerAuth(token, realm string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		got = strings.TrimLeft(got, " ")
		if !strings.EqualFold(scheme, "Bearer") || token == "" || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
