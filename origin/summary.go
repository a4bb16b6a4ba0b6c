package origin

import (
	"fmt"
	"io"
	"time"

	"github.com/streamcdn/streamcdn/manifest"
)

// WriteSummary writes what packaging p into dir made: a row per
// representation, and the encode and segment times when known.
func WriteSummary(w io.Writer, dir string, p *manifest.Presentation, encode, segment time.Duration) {
	fmt.Fprintf(w, "packaged %q (%s profile, %v) into %s/%s\n", p.Title, p.Profile, p.Duration, dir, ManifestName)
	for _, r := range p.Representations {
		fmt.Fprintf(w, "  %-6s %-12s %5dx%-5d %8d bit/s  %d segments\n", r.ID, r.Codecs, r.Width, r.Height, r.Bandwidth, len(r.Segments))
	}
	if encode > 0 || segment > 0 {
		fmt.Fprintf(w, "encode %.2fs, segment %.3fs\n", encode.Seconds(), segment.Seconds())
	}
}
