package origin

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestReadProgress parses ffmpeg's -progress stream into fractions of the
// input's duration.
func TestReadProgress(t *testing.T) {
	stream := "frame=10\nout_time_us=2500000\nprogress=continue\nout_time_ms=5000000\nout_time_us=N/A\nout_time_us=12000000\nprogress=end\n"
	var got []float64
	readProgress(strings.NewReader(stream), func(f float64) { got = append(got, f) }, 10*time.Second)
	if diff := cmp.Diff([]float64{0.25, 0.5, 1}, got); diff != "" {
		t.Errorf("readProgress (-want +got):\n%s", diff)
	}
}
