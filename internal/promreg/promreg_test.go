package promreg

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestRegister: a nil registerer takes nothing; a collector registered
// twice is an error, the first is kept.
func TestRegister(t *testing.T) {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "x_total", Help: "x"})
	if err := Register(nil, c); err != nil {
		t.Errorf("nil registerer: %v", err)
	}
	reg := prometheus.NewRegistry()
	if err := Register(reg, c); err != nil {
		t.Fatal(err)
	}
	if err := Register(reg, c); err == nil {
		t.Error("registered twice: no error")
	}
	if fams, _ := reg.Gather(); len(fams) != 1 {
		t.Errorf("%d families, want 1", len(fams))
	}
}
