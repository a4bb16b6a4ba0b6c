package httpx

import (
	"net/http"
	"testing"
	"time"
)

func TestParseHTTPDate(t *testing.T) {
	want := time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)
	tests := []struct {
		in string
		ok bool
	}{
		{"Sun, 06 Nov 1994 08:49:37 GMT", true},
		{"Sunday, 06-Nov-94 08:49:37 GMT", true},
		{"Sun Nov  6 08:49:37 1994", true},
		{"SUN, 06 NOV 1994 08:49:37 gmt", true}, // names without regard to case
		{"Sun, 06 Nov 1994 8:49:37 GMT", false}, // one-digit hour
		{"Sun, 06  Nov 1994 08:49:37 GMT", false},
		{"Sun, 06 Nov 1994 08:49:37 UTC", false},
		{"Sun, 06-Nov-1994 08:49:37 GMT", false},
		{"Sun 06 Nov 1994 08:49:37 GMT", false},
		{"Sun, 06 Nov 94 08:49:37 GMT", false},
		{"Sun, 06 Nov 1994 08.49.37 GMT", false},
		{"Sun, 06 Nov 1994 24:49:37 GMT", false},
		{"Sun, 31 Feb 1994 08:49:37 GMT", false},
		{"Sun, 06 Nov 1994 08:49:37 GMT ", false},
		{"Sunday, 06-Nov-94 08:49:37 UTC", false},
		{"Sun Nov 6 08:49:37 1994", false},
		{"0", false},
		{"", false},
	}
	for _, tc := range tests {
		got, ok := ParseDate(tc.in)
		if ok != tc.ok || (ok && !got.Equal(want)) {
			t.Errorf("ParseDate(%q) = %v, %v; want %v, %v", tc.in, got, ok, want, tc.ok)
		}
	}
	if _, ok := ParseDate("Thursday, 18-Aug-50 02:01:18 GMT"); !ok {
		t.Error("RFC 850 date with year 50")
	}
}

// FuzzParseDate: any input is rejected or parsed to a time whose
// IMF-fixdate parses back to it.
func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Thu, 18 Aug 2050 2:01:18 GMT"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParseDate(s)
		if !ok {
			return
		}
		back, ok := ParseDate(got.Format(http.TimeFormat))
		if !ok || !back.Equal(got) {
			t.Fatalf("%q -> %v -> %q does not parse back", s, got, got.Format(http.TimeFormat))
		}
	})
}
