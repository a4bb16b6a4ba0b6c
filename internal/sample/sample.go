// Package sample embeds the built-in sample title: 30 s of a test pattern
// with a clock, a frame counter and a tone, packaged by our own packager in
// the live profile (three video rungs, 2 s segments). The demo and the
// tests use it so that they run without ffmpeg; scripts/make-sample.sh
// regenerates it.
package sample

import (
	"embed"
	"io/fs"
)

//go:embed title
var files embed.FS

// FS returns the title: manifest.mpd at its root, segments below.
func FS() fs.FS {
	sub, err := fs.Sub(files, "title")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}
