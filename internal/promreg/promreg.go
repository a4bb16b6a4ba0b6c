// Package promreg holds the project's one metrics rule: a component
// registers its collectors on the Registerer it is given, and a nil one
// means no metrics, never the global registry and never a panic.
package promreg

import "github.com/prometheus/client_golang/prometheus"

// Register registers cs on reg, stopping at the first error; with a nil
// reg it registers nothing.
func Register(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	if reg == nil {
		return nil
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
