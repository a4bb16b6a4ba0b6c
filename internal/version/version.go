// Package version is the binary's version: the module version, and the
// VCS revision it was built from when built from a checkout.
package version

import "runtime/debug"

// String is the version, e.g. "(devel) 3f1c2e0… (modified)".
func String() string {
	v := "(devel)"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = &debug.BuildInfo{}
	}
	if bi.Main.Version != "" {
		v = bi.Main.Version
	}
	for _, s := range bi.Settings { // the VCS revision, when built from a checkout
		switch {
		case s.Key == "vcs.revision":
			v += " " + s.Value
		case s.Key == "vcs.modified" && s.Value == "true":
			v += " (modified)"
		}
	}
	return v
}
