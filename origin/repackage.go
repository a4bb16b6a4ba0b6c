package origin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/streamcdn/streamcdn/manifest"
)

// RepackageConfig configures Repackage.
type RepackageConfig struct {
	// Source holds a packaged title: manifest.mpd and its segments, in
	// either profile. Required.
	Source fs.FS
	// Output is the new title's directory, as in PackageConfig. Required.
	Output string
	// Profile is the profile to write. If empty, defaults to live.
	Profile manifest.Profile
	// SegmentDuration is the target segment length. If zero, the source's
	// segment duration is kept.
	SegmentDuration time.Duration
	// Title is the MPD's title. If empty, the source's title is kept.
	Title string
	// Force replaces an existing Output.
	Force bool
	// Logger logs progress. Nil: discard.
	Logger *slog.Logger
}

// Repackage reads a title that this package wrote (from the built-in
// sample, say) and writes it again in cfg.Profile, without transcoding:
// live-profile segments become one on-demand file with a sidx, or back.
func Repackage(ctx context.Context, cfg RepackageConfig) (*manifest.Presentation, error) {
	if cfg.Source == nil || cfg.Output == "" {
		return nil, errors.New("repackage: source and output are required")
	}
	if cfg.Profile == "" {
		cfg.Profile = manifest.ProfileLive
	}
	if err := checkOutput(cfg.Output, cfg.Force); err != nil {
		return nil, err
	}
	data, err := fs.ReadFile(cfg.Source, ManifestName)
	if err != nil {
		return nil, fmt.Errorf("repackage: %w", err)
	}
	m, err := manifest.Parse(data, "")
	if err != nil {
		return nil, fmt.Errorf("repackage: %w", err)
	}
	var sources []source
	for _, t := range m.Tracks {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		tr, err := readTitleTrack(cfg.Source, t)
		if err != nil {
			return nil, fmt.Errorf("repackage %s: %w", t.ID, err)
		}
		sources = append(sources, source{id: t.ID, target: t.Bandwidth, t: tr})
	}
	if len(sources) == 0 {
		return nil, errors.New("repackage: the source MPD has no representations")
	}
	spec := titleSpec{dir: cfg.Output, title: cfg.Title, profile: cfg.Profile, segDur: cfg.SegmentDuration, force: cfg.Force}
	if spec.title == "" && len(m.MPD.ProgramInformation) > 0 {
		spec.title = m.MPD.ProgramInformation[0].Title
	}
	if spec.segDur == 0 {
		spec.segDur = firstSegmentDuration(m)
	}
	return writeTitle(spec, sources)
}

// firstSegmentDuration is the first video segment's duration rounded to
// 100 ms, the source's nominal segment duration.
func firstSegmentDuration(m *manifest.Manifest) time.Duration {
	for _, t := range m.Tracks {
		if t.ContentType == "video" && len(t.Segments) > 0 {
			return max(t.Segments[0].Duration.Round(100*time.Millisecond), 500*time.Millisecond)
		}
	}
	return 4 * time.Second
}

// readTitleTrack loads one representation's init and media segments from
// fsys, expanding a SegmentBase index first.
func readTitleTrack(fsys fs.FS, t *manifest.Track) (*track, error) {
	if t.Init == nil {
		return nil, errors.New("no initialization segment")
	}
	if t.Index != nil {
		idx, err := readRef(fsys, *t.Index)
		if err != nil {
			return nil, err
		}
		if err := t.ExpandIndex(idx); err != nil {
			return nil, err
		}
	}
	init, err := readRef(fsys, *t.Init)
	if err != nil {
		return nil, err
	}
	media := make([][]byte, len(t.Segments))
	for i, s := range t.Segments {
		if media[i], err = readRef(fsys, s); err != nil {
			return nil, err
		}
	}
	return readFragmented(init, media, t.PresentationTimeOffset)
}

// readRef reads a segment reference (a relative URL and an optional byte
// range) from fsys.
func readRef(fsys fs.FS, s manifest.Segment) ([]byte, error) {
	u, err := url.Parse(s.URL)
	if err != nil {
		return nil, err
	}
	name := strings.TrimPrefix(path.Clean(u.Path), "/")
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	if s.Range == nil {
		return data, nil
	}
	if s.Range.Last >= uint64(len(data)) {
		return nil, fmt.Errorf("%s: range %s beyond %d bytes", name, s.Range.Header(), len(data))
	}
	return data[s.Range.First : s.Range.Last+1], nil
}
