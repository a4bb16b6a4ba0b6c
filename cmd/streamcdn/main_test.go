package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunUsage(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), nil, &out, &out); err == nil {
		t.Error("run with no command: no error")
	}
	if err := run(t.Context(), []string{"bogus"}, &out, &out); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Errorf("run(bogus) = %v", err)
	}
	if err := run(t.Context(), []string{"package", "-o", t.TempDir()}, io.Discard, io.Discard); err == nil {
		t.Error("package without -i or --sample: no error")
	}
}

func TestPackageSample(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sample")
	var out bytes.Buffer
	if err := run(t.Context(), []string{"package", "--sample", "--profile", "ondemand", "-o", dir}, &out, io.Discard); err != nil {
		t.Fatalf("package --sample: %v", err)
	}
	for _, f := range []string{"manifest.mpd", "180p.mp4", "270p.mp4", "360p.mp4", "audio.mp4"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("package --sample did not write %s: %v", f, err)
		}
	}
	if !strings.Contains(out.String(), "ondemand profile") {
		t.Errorf("summary = %q", out.String())
	}
}

// TestDemo runs the demo on free ports, fetches the MPD it prints and a
// segment, and stops it by cancelling its context.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"demo", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"}, pw, io.Discard)
		pw.Close()
	}()
	var mpdURL, metricsURL string
	sc := bufio.NewScanner(pr)
	for sc.Scan() && (mpdURL == "" || metricsURL == "") {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == "MPD" {
			mpdURL = f[1]
		}
		if len(f) == 2 && f[0] == "metrics" {
			metricsURL = f[1]
		}
	}
	go io.Copy(io.Discard, pr)
	for _, u := range []string{mpdURL, strings.TrimSuffix(mpdURL, "manifest.mpd") + "360p/1.m4s", metricsURL} {
		res, err := http.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || len(body) == 0 {
			t.Errorf("GET %s: %d, %d bytes", u, res.StatusCode, len(body))
		}
		if strings.HasSuffix(u, "/metrics") && !strings.Contains(string(body), "streamcdn_origin_requests_total") {
			t.Errorf("metrics lack streamcdn_origin_requests_total")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("demo returned %v after cancel", err)
	}
}
