package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/streamcdn/streamcdn/edge"
	"github.com/streamcdn/streamcdn/manifest"
	"github.com/streamcdn/streamcdn/origin"
	"github.com/streamcdn/streamcdn/steer"
)

// TestSteerCommand runs "streamcdn steer --config" as an operator does,
// over a real origin and a real edge the sample was pushed to: the
// steered MPD offers the edge; "steer explain" says why, and says so
// when no healthy edge holds a title (exit status not 0, the decision
// still printed); a wrong token is refused.
func TestSteerCommand(t *testing.T) {
	o := newPushOrigin(t, manifest.ProfileLive, "sample")
	e := newPushTarget(t, o.pub.URL, edge.ModeHybrid, 1<<30)
	if out, err := pushCmd(t.Context(), t, "--mpd", o.pub.URL+"/sample/"+origin.ManifestName, "--edge", e.admin.URL); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "steer.yaml")
	os.WriteFile(config, []byte("origin: "+o.pub.URL+"/\nedges:\n  - {name: eu-west, url: '"+e.pub.URL+"/', admin: '"+e.admin.URL+"', lat: 53.35, lon: -6.26}\n"), 0o644)
	token := filepath.Join(dir, "token")
	os.WriteFile(token, []byte("push-secret\n"), 0o600)
	waitLog := runLogged(t, "steer", "--config", config, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--token-file", token)
	line := waitLog("steering")
	listen := regexp.MustCompile(`listen=(\S+)`).FindStringSubmatch(line)[1]
	admin := "http://" + regexp.MustCompile(`admin=(\S+)`).FindStringSubmatch(line)[1]

	res, err := http.Get("http://" + listen + "/sample/manifest.mpd")
	if err != nil {
		t.Fatal(err)
	}
	mpd, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m, err := manifest.Parse(mpd, "http://"+listen+"/sample/manifest.mpd")
	if err != nil || len(m.Pathways) != 1 || m.Pathways[0].BaseURL != e.pub.URL+"/sample/" {
		t.Fatalf("steered MPD: %+v, %v", m, err)
	}

	var out, errs bytes.Buffer
	if err := run(t.Context(), []string{"steer", "explain", "--admin", admin, "--token-file", token, "--client", "127.0.0.1", "sample"}, &out, &errs); err != nil {
		t.Fatalf("steer explain: %v\n%s", err, errs.String())
	}
	var d steer.Decision
	if err := json.Unmarshal(out.Bytes(), &d); err != nil || d.Pathways[0] != "eu-west" || d.Reason != "default" {
		t.Errorf("steer explain: %s (%v), want eu-west by default (the client is not located)", out.String(), err)
	}
	out.Reset()
	err = run(t.Context(), []string{"steer", "explain", "--admin", admin, "--token-file", token, "other"}, &out, &errs)
	if err == nil || !strings.Contains(err.Error(), `no healthy edge holds "other"`) || !strings.Contains(out.String(), `"title": "other"`) {
		t.Errorf("steer explain of a title nobody holds: %v, printed %q", err, out.String())
	}
	os.WriteFile(token, []byte("wrong\n"), 0o600)
	err = run(t.Context(), []string{"steer", "explain", "--admin", admin, "--token-file", token, "sample"}, &out, &errs)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("steer explain with a wrong token: %v", err)
	}
}
