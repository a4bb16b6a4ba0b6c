package origin

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamcdn/streamcdn/edge"
	sampletitle "github.com/streamcdn/streamcdn/internal/sample"
)

// TestPushWindowCloses closes the window after a few objects: the push
// stops starting objects, reports what is left and withholds the MPD; a
// rerun inside the window sends the rest and skips what arrived.
func TestPushWindowCloses(t *testing.T) {
	dir := t.TempDir()
	if _, err := Repackage(context.Background(), RepackageConfig{Source: sampletitle.FS(), Output: filepath.Join(dir, "sample")}); err != nil {
		t.Fatal(err)
	}
	o, err := New(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	pub := httptest.NewServer(o)
	defer pub.Close()
	e, err := edge.New(edge.Config{Upstream: pub.URL, PinnedDir: t.TempDir(), AdminToken: "k", Mode: edge.ModePush})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	adm := httptest.NewServer(e.Admin())
	defer adm.Close()

	w, _ := ParseWindow("02:00-06:00")
	var calls atomic.Int64
	closesAfter := int64(10) // clock reads inside the window, then it closes
	now := func() time.Time {
		h := 3
		if calls.Add(1) > closesAfter {
			h = 7
		}
		return time.Date(2026, 5, 1, h, 0, 0, 0, time.Local)
	}
	cfg := PushConfig{MPD: pub.URL + "/sample/" + ManifestName, Edges: []string{adm.URL}, Token: "k", Window: w, Now: now, Concurrency: 1}
	rep, err := Push(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ep := rep.Edges[0]
	if !rep.WindowClosed || ep.Left == 0 || ep.Pushed == 0 || ep.Pushed+ep.Left != rep.Objects || !rep.Failed() {
		t.Fatalf("window closed mid-push: %+v, edge %+v", rep, ep)
	}
	calls.Store(0)
	closesAfter = 1 << 40
	rep, err = Push(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if ep2 := rep.Edges[0]; rep.Failed() || ep2.Skipped != ep.Pushed || ep2.Pushed != ep.Left {
		t.Errorf("rerun: %+v, after a first push of %+v", ep2, ep)
	}
}
