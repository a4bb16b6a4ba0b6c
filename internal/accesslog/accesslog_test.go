package accesslog

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func entry() Entry {
	r := httptest.NewRequest("GET", "/t/360p/1.m4s?CMCD=bl%3D2000%2Csid%3D%226e2fb550%22", nil)
	r.RemoteAddr = "192.0.2.7:51234"
	r.Header.Set("User-Agent", `dash.js "v5"`)
	return Entry{Time: time.Date(2026, 12, 2, 8, 56, 19, 0, time.UTC), Request: r, Status: 200, Bytes: 102400,
		Cache: "edge; fwd=stale; fwd-status=304", Upstream: "304", Duration: 143 * time.Microsecond}
}

func TestFormats(t *testing.T) {
	for _, tc := range []struct{ format, want string }{
		{"text", `192.0.2.7 - - [02/Dec/2026:08:56:19 +0000] "GET /t/360p/1.m4s?CMCD=bl%3D2000%2Csid%3D%226e2fb550%22 HTTP/1.1" 200 102400 "-" "dash.js \x22v5\x22" cache="edge; fwd=stale; fwd-status=304" upstream="304" rt=0.000143 sid="6e2fb550"` + "\n"},
		{"json", `{"time":"2026-12-02T08:56:19Z","remote":"192.0.2.7","method":"GET","uri":"/t/360p/1.m4s?CMCD=bl%3D2000%2Csid%3D%226e2fb550%22","proto":"HTTP/1.1","status":200,"bytes":102400,"user_agent":"dash.js \"v5\"","cache":"edge; fwd=stale; fwd-status=304","upstream_status":"304","duration_seconds":0.000143,"cmcd_sid":"6e2fb550"}` + "\n"},
	} {
		var b strings.Builder
		l, err := New(Config{Path: "-", Format: tc.format, Stdout: &b})
		if err != nil {
			t.Fatal(err)
		}
		l.Log(entry())
		l.Close()
		if b.String() != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.format, b.String(), tc.want)
		}
		if tc.format == "json" && !json.Valid([]byte(b.String())) {
			t.Errorf("not JSON: %s", b.String())
		}
	}
	if _, err := New(Config{Path: "-", Format: "xml"}); err == nil {
		t.Error("format xml accepted")
	}
}

// TestControlBytes: a request line with a newline or a quote stays one
// line, escaped.
func TestControlBytes(t *testing.T) {
	e := entry()
	e.Request.Header.Set("Referer", "a\"b\nc")
	got := string(appendText(nil, e))
	if strings.Count(got, "\n") != 1 || !strings.Contains(got, `"a\x22b\x0Ac"`) {
		t.Errorf("escaped line: %s", got)
	}
}

// TestReopen: after the file is renamed (logrotate) and Reopen called,
// new lines go to a new file at Path and the old one keeps the old lines.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	l, err := New(Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	l.Log(entry())
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	l.Log(entry())
	l.Log(entry())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path  string
		lines int
	}{{path + ".1", 1}, {path, 2}} {
		b, err := os.ReadFile(tc.path)
		if err != nil || strings.Count(string(b), "\n") != tc.lines {
			t.Errorf("%s: %d lines (%v), want %d", tc.path, strings.Count(string(b), "\n"), err, tc.lines)
		}
	}
}

func TestCMCDSession(t *testing.T) {
	for _, tc := range []struct{ header, query, want string }{
		{`sid="abc-1",sf=d`, "", "abc-1"},
		{"", "CMCD=" + "sid%3D%22q%22", "q"},
		{"", "", ""},
		{`st=v`, "", ""},
	} {
		r := httptest.NewRequest("GET", "/x?"+tc.query, nil)
		if tc.header != "" {
			r.Header.Set("Cmcd-Session", tc.header)
		}
		if got := CMCDSession(r); got != tc.want {
			t.Errorf("CMCDSession(%q, %q) = %q, want %q", tc.header, tc.query, got, tc.want)
		}
	}
}

func BenchmarkLogText(b *testing.B) {
	l, err := New(Config{Path: filepath.Join(b.TempDir(), "a.log")})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	e := entry()
	b.ReportAllocs()
	for b.Loop() {
		l.Log(e)
	}
}
