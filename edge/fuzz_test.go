package edge

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseDirectives(t *testing.T) {
	tests := []struct {
		in   string
		want directives
	}{
		{"max-age=60, public", directives{"max-age": "60", "public": ""}},
		{`MAX-AGE = 5 ,no-cache="Set-Cookie, X-Foo"`, directives{"max-age": "5", "no-cache": "Set-Cookie, X-Foo"}},
		{`private="a\"b", s-maxage=1`, directives{"private": `a"b`, "s-maxage": "1"}},
		{"max-age=1, max-age=2", directives{"max-age": "1"}},
		{",,, ,no-store", directives{"no-store": ""}},
		{`bad key=1, "x"=2, ok`, directives{"ok": ""}},
	}
	for _, tc := range tests {
		got := parseDirectives([]string{tc.in})
		if len(got) != len(tc.want) {
			t.Errorf("parseDirectives(%q) = %v, want %v", tc.in, got, tc.want)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("parseDirectives(%q)[%s] = %q, want %q", tc.in, k, got[k], v)
			}
		}
	}
	secs := []struct {
		v    string
		want int64
		ok   bool
	}{{"60", 60, true}, {"-1", 0, false}, {"1.5", 0, false}, {"", 0, false}, {"99999999999999999999", 1 << 31, true}}
	for _, tc := range secs {
		d, ok := directives{"max-age": tc.v}.seconds("max-age")
		if ok != tc.ok || int64(d.Seconds()) != tc.want {
			t.Errorf("seconds(%q) = %v, %v, want %ds, %v", tc.v, d, ok, tc.want, tc.ok)
		}
	}
}

func TestParseVary(t *testing.T) {
	names, star := parseVary(http.Header{"Vary": {"Accept-Encoding, ACCEPT-language", " ,Origin"}})
	if strings.Join(names, ",") != "accept-encoding,accept-language,origin" || star {
		t.Errorf("parseVary = %v, %v", names, star)
	}
	if names, _ := parseVary(http.Header{"Vary": {"0 0, a/b, ok"}}); strings.Join(names, ",") != "ok" { // found by FuzzParseVary
		t.Errorf("parseVary kept invalid names: %v", names)
	}
	if _, star := parseVary(http.Header{"Vary": {"Origin, *"}}); !star {
		t.Error("parseVary did not see *")
	}
}

func FuzzParseDirectives(f *testing.F) {
	for _, s := range []string{"max-age=60, public", `no-cache="a, b"`, `private="\"`, "s-maxage=1,,", "max-stale"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := parseDirectives([]string{s})
		for k := range d {
			if k == "" || k != strings.ToLower(k) {
				t.Fatalf("parseDirectives(%q) has key %q", s, k)
			}
			if v, ok := d.seconds(k); ok && v < 0 {
				t.Fatalf("seconds(%q) = %v", k, v)
			}
		}
		responsePolicy(200, http.Header{"Cache-Control": {s}, "Cdn-Cache-Control": {s}, "Expires": {s}}, time.Unix(0, 0))
	})
}

func FuzzParseVary(f *testing.F) {
	for _, s := range []string{"Accept-Encoding", "*", "a, b,,c", " "} {
		f.Add(s, "gzip")
	}
	f.Fuzz(func(t *testing.T, vary, value string) {
		names, _ := parseVary(http.Header{"Vary": {vary}})
		r, _ := http.NewRequest("GET", "/", nil)
		for _, n := range names {
			if n == "" || strings.ContainsAny(n, ", ") {
				t.Fatalf("parseVary(%q) gave name %q", vary, n)
			}
			r.Header.Set(n, value)
		}
		if k := varyKey(r, names); len(names) > 0 && k == "" {
			t.Fatalf("varyKey empty for %v", names)
		}
	})
}
