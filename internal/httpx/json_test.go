package httpx

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDoJSON(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer k" {
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		var in map[string]int
		if r.Method == http.MethodPost {
			if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&in) != nil {
				http.Error(w, "bad body", http.StatusBadRequest)
				return
			}
		}
		if r.URL.Path == "/broken" {
			w.Write([]byte("{"))
			return
		}
		WriteJSON(w, map[string]int{"got": in["n"]})
	}))
	defer srv.Close()
	tests := []struct {
		name, method, path, token string
		in                        any
		want                      int
		err                       string
	}{
		{"post", http.MethodPost, "/", "k", map[string]int{"n": 7}, 7, ""},
		{"get", http.MethodGet, "/", "k", nil, 0, ""},
		{"no token", http.MethodGet, "/", "", nil, 0, "401 Unauthorized: who are you"},
		{"bad answer", http.MethodGet, "/broken", "k", nil, 0, "GET " + srv.URL + "/broken"},
	}
	for _, tc := range tests {
		var out struct{ Got int }
		err := DoJSON(context.Background(), srv.Client(), tc.method, srv.URL+tc.path, tc.token, tc.in, &out)
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) || out.Got != tc.want {
			t.Errorf("%s: got %d, %v; want %d, %q", tc.name, out.Got, err, tc.want, tc.err)
		}
	}
}

func TestProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/down" {
			http.Error(w, "no healthy backend", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	}))
	defer srv.Close()
	for path, want := range map[string]int{"/healthz": http.StatusOK, "/down": http.StatusServiceUnavailable} {
		if code, err := Probe(t.Context(), srv.Client(), srv.URL+path); err != nil || code != want {
			t.Errorf("Probe(%s) = %d, %v; want %d", path, code, err, want)
		}
	}
	srv.Close()
	if _, err := Probe(t.Context(), srv.Client(), srv.URL+"/healthz"); err == nil {
		t.Error("Probe of a closed server: no error")
	}
}
