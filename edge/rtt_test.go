package edge

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// TestRTTSamplesKeptOnlyWhileReporting: without RunReports, client RTTs
// go to the histogram only; nothing accumulates per prefix (nothing would
// ever drain it).
func TestRTTSamplesKeptOnlyWhileReporting(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "body")
	}))
	defer up.Close()
	s, err := New(Config{Upstream: up.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	es := httptest.NewUnstartedServer(s)
	es.Config.ConnContext = s.ConnContext
	es.Start()
	defer es.Close()
	get := func() {
		res, err := http.Get(es.URL + "/x")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	// The edge samples after the response has gone out: a client may
	// have it first. Wait (boundedly) for the sample.
	samples := func() uint64 {
		var m dto.Metric
		if err := s.metrics.clientRTT.Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetHistogram().GetSampleCount()
	}
	waitSamples := func(want uint64) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); samples() < want && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		}
		if n := samples(); n != want {
			t.Fatalf("client RTT samples = %d, want %d", n, want)
		}
	}
	get()
	waitSamples(1)
	if got := len(s.takeRTTs()); got != 0 {
		t.Errorf("%d prefixes held without reporting, want 0", got)
	}
	s.rtts.on.Store(true)
	es.CloseClientConnections() // a new connection samples at once
	get()
	waitSamples(2)
	if got := s.takeRTTs(); len(got) != 1 {
		t.Errorf("while reporting: %v, want one prefix (127.0.0.0/24)", got)
	}
}
