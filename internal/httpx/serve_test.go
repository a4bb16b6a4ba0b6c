package httpx

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var (
	modTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	body    = []byte("0123456789abcdefghij")
)

func content() Content {
	return Content{
		Body:        bytes.NewReader(body),
		Size:        int64(len(body)),
		ContentType: "video/mp4",
		Validators:  Validators{ETag: `"v1"`, LastModified: modTime},
	}
}

func TestServe(t *testing.T) {
	lm := modTime.Format(http.TimeFormat)
	before := modTime.Add(-time.Hour).Format(http.TimeFormat)
	after := modTime.Add(time.Hour).Format(http.TimeFormat)
	tests := []struct {
		name         string
		method       string
		header       map[string]string
		wantStatus   int
		wantBody     string
		wantCR       string // Content-Range
		wantNoCtype  bool
		wantMultiCnt int
	}{
		{name: "plain", wantStatus: 200, wantBody: string(body)},
		{name: "head", method: "HEAD", wantStatus: 200},
		{name: "head ignores range", method: "HEAD", header: map[string]string{"Range": "bytes=0-1"}, wantStatus: 200},
		{name: "single range", header: map[string]string{"Range": "bytes=2-5"}, wantStatus: 206, wantBody: "2345", wantCR: "bytes 2-5/20"},
		{name: "suffix range", header: map[string]string{"Range": "bytes=-3"}, wantStatus: 206, wantBody: "hij", wantCR: "bytes 17-19/20"},
		{name: "unsatisfiable", header: map[string]string{"Range": "bytes=50-"}, wantStatus: 416, wantCR: "bytes */20"},
		{name: "malformed range ignored", header: map[string]string{"Range": "bytes=x"}, wantStatus: 200, wantBody: string(body)},
		{name: "multipart", header: map[string]string{"Range": "bytes=0-1,10-11"}, wantStatus: 206, wantMultiCnt: 2},
		{name: "overlapping ranges served whole", header: map[string]string{"Range": "bytes=0-5,3-8"}, wantStatus: 200, wantBody: string(body)},
		{name: "if-none-match hit", header: map[string]string{"If-None-Match": `"v1"`}, wantStatus: 304, wantNoCtype: true},
		{name: "if-none-match weak compare", header: map[string]string{"If-None-Match": `W/"v1"`}, wantStatus: 304, wantNoCtype: true},
		{name: "if-none-match list", header: map[string]string{"If-None-Match": `"a,b", "v1"`}, wantStatus: 304, wantNoCtype: true},
		{name: "if-none-match star", header: map[string]string{"If-None-Match": `*`}, wantStatus: 304, wantNoCtype: true},
		{name: "if-none-match miss", header: map[string]string{"If-None-Match": `"v0"`}, wantStatus: 200, wantBody: string(body)},
		{name: "if-modified-since equal", header: map[string]string{"If-Modified-Since": lm}, wantStatus: 304, wantNoCtype: true},
		{name: "if-modified-since before", header: map[string]string{"If-Modified-Since": before}, wantStatus: 200, wantBody: string(body)},
		{name: "inm takes precedence over ims", header: map[string]string{"If-None-Match": `"v0"`, "If-Modified-Since": after}, wantStatus: 200, wantBody: string(body)},
		{name: "if-match ok", header: map[string]string{"If-Match": `"v1"`}, wantStatus: 200, wantBody: string(body)},
		{name: "if-match fails", header: map[string]string{"If-Match": `"v0"`}, wantStatus: 412},
		{name: "if-match weak never matches", header: map[string]string{"If-Match": `W/"v1"`}, wantStatus: 412},
		{name: "if-unmodified-since fails", header: map[string]string{"If-Unmodified-Since": before}, wantStatus: 412},
		{name: "if-unmodified-since ok", header: map[string]string{"If-Unmodified-Since": lm}, wantStatus: 200, wantBody: string(body)},
		{name: "if-match before if-none-match", header: map[string]string{"If-Match": `"v0"`, "If-None-Match": `"v1"`}, wantStatus: 412},
		{name: "if-range etag match", header: map[string]string{"Range": "bytes=0-0", "If-Range": `"v1"`}, wantStatus: 206, wantBody: "0", wantCR: "bytes 0-0/20"},
		{name: "if-range etag mismatch", header: map[string]string{"Range": "bytes=0-0", "If-Range": `"v0"`}, wantStatus: 200, wantBody: string(body)},
		{name: "if-range weak etag", header: map[string]string{"Range": "bytes=0-0", "If-Range": `W/"v1"`}, wantStatus: 200, wantBody: string(body)},
		{name: "if-range date match", header: map[string]string{"Range": "bytes=1-1", "If-Range": lm}, wantStatus: 206, wantBody: "1", wantCR: "bytes 1-1/20"},
		{name: "if-range date mismatch", header: map[string]string{"Range": "bytes=1-1", "If-Range": after}, wantStatus: 200, wantBody: string(body)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			r := httptest.NewRequest(method, "/x", nil)
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			w.Header().Set("Cache-Control", "max-age=1")
			if _, err := Serve(w, r, content()); err != nil {
				t.Fatalf("Serve: %v", err)
			}
			res := w.Result()
			if res.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d", res.StatusCode, tc.wantStatus)
			}
			got, _ := io.ReadAll(res.Body)
			if tc.wantMultiCnt > 0 {
				checkMultipart(t, res, got, tc.wantMultiCnt)
				return
			}
			if tc.wantStatus != 416 && string(got) != tc.wantBody {
				t.Errorf("body = %q, want %q", got, tc.wantBody)
			}
			if cr := res.Header.Get("Content-Range"); cr != tc.wantCR {
				t.Errorf("Content-Range = %q, want %q", cr, tc.wantCR)
			}
			if res.Header.Get("ETag") != `"v1"` || res.Header.Get("Cache-Control") == "" {
				t.Errorf("ETag/Cache-Control lost: %v", res.Header)
			}
			if tc.wantNoCtype && res.Header.Get("Content-Type") != "" {
				t.Errorf("304 carries Content-Type %q", res.Header.Get("Content-Type"))
			}
		})
	}
}

func checkMultipart(t *testing.T, res *http.Response, raw []byte, n int) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/byteranges" {
		t.Fatalf("Content-Type = %q (%v), want multipart/byteranges", res.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(bytes.NewReader(raw), params["boundary"])
	var parts []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("NextPart: %v", err)
		}
		b, _ := io.ReadAll(p)
		parts = append(parts, p.Header.Get("Content-Range")+"="+string(b))
	}
	want := "bytes 0-1/20=01,bytes 10-11/20=ab"
	if got := strings.Join(parts, ","); len(parts) != n || got != want {
		t.Errorf("parts = %q, want %q", got, want)
	}
}
