package origin

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/streamcdn/streamcdn/internal/atomicfile"
	"github.com/streamcdn/streamcdn/manifest"
	"golang.org/x/sync/errgroup"
)

// titleSpec is where and how writeTitle writes a title.
type titleSpec struct {
	dir     string
	title   string
	profile manifest.Profile
	segDur  time.Duration
	force   bool
}

// ManifestName is the file name of every title's MPD.
const ManifestName = "manifest.mpd"

// writeTitle cuts the sources into aligned segments and writes them with
// their MPD into a staging directory beside spec.dir, fsyncs it, and renames
// it to spec.dir. On error the staging directory is removed.
func writeTitle(spec titleSpec, sources []source) (p *manifest.Presentation, err error) {
	tracks := make([]*track, len(sources))
	for i, s := range sources {
		tracks[i] = s.t
	}
	cuts, err := planCuts(tracks, spec.segDur)
	if err != nil {
		return nil, err
	}
	parent := filepath.Dir(filepath.Clean(spec.dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	stage, err := os.MkdirTemp(parent, "."+filepath.Base(spec.dir)+".tmp-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(stage)
		}
	}()
	if err := os.Chmod(stage, 0o755); err != nil {
		return nil, err
	}
	p = &manifest.Presentation{Title: spec.title, Profile: spec.profile, MinBufferTime: 2 * spec.segDur}
	p.Representations = make([]manifest.Representation, len(sources))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, s := range sources {
		r := rendition{id: s.id, t: s.t, segs: split(s.t, cuts[i]), target: s.target, minBuffer: p.MinBufferTime}
		g.Go(func() (err error) {
			if spec.profile == manifest.ProfileOnDemand {
				p.Representations[i], err = r.writeOnDemand(stage)
			} else {
				p.Representations[i], err = r.writeLive(stage)
			}
			return err
		})
		p.Duration = max(p.Duration, presentationEnd(s.t))
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	mpd, err := manifest.Marshal(p)
	if err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(stage, ManifestName), writeBytes(mpd)); err != nil {
		return nil, err
	}
	if err := syncTree(stage); err != nil {
		return nil, err
	}
	return p, replaceDir(stage, spec.dir, spec.force)
}

func presentationEnd(t *track) time.Duration {
	end := latestEnd(t.samples) - int64(t.pto)
	return time.Duration(float64(end) / float64(t.timescale) * float64(time.Second)).Round(time.Millisecond)
}

func writeBytes(b []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	}
}

// syncTree fsyncs every directory below and including root, so that the
// file entries written there are durable before the rename publishes them.
func syncTree(root string) error {
	return filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		return atomicfile.SyncDir(path)
	})
}

// replaceDir renames stage to dir. An existing dir (allowed only with
// force) is moved aside first and removed after.
func replaceDir(stage, dir string, force bool) error {
	var old string
	if _, err := os.Stat(dir); err == nil {
		if !force {
			return fmt.Errorf("output %s exists (use force to replace it)", dir)
		}
		old = stage + ".old"
		if err := os.Rename(dir, old); err != nil {
			return err
		}
	}
	if err := os.Rename(stage, dir); err != nil {
		if old != "" {
			if rerr := os.Rename(old, dir); rerr != nil {
				return errors.Join(err, fmt.Errorf("put back %s: %w", dir, rerr))
			}
		}
		return err
	}
	if old != "" {
		os.RemoveAll(old)
	}
	return atomicfile.SyncDir(filepath.Dir(filepath.Clean(dir)))
}
