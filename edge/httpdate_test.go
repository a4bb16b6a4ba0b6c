package edge

import (
	"fmt"
	"net/http"
	"os"
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
		got, ok := parseHTTPDate(tc.in)
		if ok != tc.ok || (ok && !got.Equal(want)) {
			t.Errorf("parseHTTPDate(%q) = %v, %v; want %v, %v", tc.in, got, ok, want, tc.ok)
		}
	}
	if _, ok := parseHTTPDate("Thursday, 18-Aug-50 02:01:18 GMT"); !ok {
		t.Error("RFC 850 date with year 50")
	}
}

// FuzzParseHTTPDate: any input is rejected or parsed to a time whose
// IMF-fixdate parses back to it.
func FuzzParseHTTPDate(f *testing.F) {
	for _, s := range []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Thu, 18 Aug 2050 2:01:18 GMT"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseHTTPDate(s)
		if !ok {
			return
		}
		back, ok := parseHTTPDate(got.Format(http.TimeFormat))
		if !ok || !back.Equal(got) {
			t.Fatalf("%q -> %v -> %q does not parse back", s, got, got.Format(http.TimeFormat))
		}
	})
}

// FuzzObjectFile: a file of any bytes either fails the object file's
// checks or reads back as a body of the header's size (its blocks
// verified against their CRCs); it never panics or allocates what the
// file does not hold.
func FuzzObjectFile(f *testing.F) {
	dir := f.TempDir()
	for i, body := range []string{"", "x", string(make([]byte, blockSize+10))} {
		path := fmt.Sprintf("%s/seed-%d", dir, i)
		fh, err := os.Create(path)
		if err != nil {
			f.Fatal(err)
		}
		w, err := newObjectWriter(fh, diskHeader{Key: "/k", Status: 200, Header: http.Header{"Etag": {`"e"`}}})
		if err != nil {
			f.Fatal(err)
		}
		w.Write([]byte(body))
		if _, _, err := w.finish(); err != nil {
			f.Fatal(err)
		}
		fh.Close()
		b, _ := os.ReadFile(path)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		path := t.TempDir() + "/obj"
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		of, err := openObjectFile(path)
		if err != nil {
			return
		}
		defer of.Close()
		body, err := of.readAll()
		if err != nil {
			return
		}
		if int64(len(body)) != of.hdr.Size || of.hdr.Size > int64(len(b)) {
			t.Fatalf("a file of %d bytes that passed its checks read back %d bytes; header says %d", len(b), len(body), of.hdr.Size)
		}
	})
}
