package httpx

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestBearerAuth(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	tests := []struct {
		token, header string
		want          int
	}{
		{"s3cret", "Bearer s3cret", 204},
		{"s3cret", "bearer s3cret", 204}, // the scheme is case-insensitive
		{"s3cret", "BEARER s3cret", 204},
		{"s3cret", "Bearer  s3cret", 204},
		{"s3cret", "Bearer S3CRET", 401}, // the token is not
		{"s3cret", "Basic s3cret", 401},
		{"s3cret", "Bearer", 401},
		{"s3cret", "s3cret", 401},
		{"s3cret", "", 401},
		{"", "Bearer ", 401}, // no token configured: closed
	}
	for _, tc := range tests {
		r := httptest.NewRequest("POST", "/purge", nil)
		if tc.header != "" {
			r.Header.Set("Authorization", tc.header)
		}
		w := httptest.NewRecorder()
		BearerAuth(tc.token, "test", ok).ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("token %q, Authorization %q: %d, want %d", tc.token, tc.header, w.Code, tc.want)
		}
		if w.Code == 401 && w.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("Authorization %q: 401 without a challenge", tc.header)
		}
	}
}
