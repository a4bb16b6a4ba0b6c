package origin

import (
	"fmt"
	"io/fs"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/streamcdn/streamcdn/internal/httpx"
)

// demandRetention is how far back request counts are kept, in one-minute
// buckets.
const demandRetention = 7 * 24 * time.Hour

// demand counts the requests each title gets, per minute, so that the
// most requested titles over a recent window can be pushed to edges.
type demand struct {
	mu     sync.Mutex
	titles map[string][]demandBucket // oldest first
}

type demandBucket struct {
	minute                 int64 // Unix minute
	requests, plays, bytes int64
}

// record counts one answered request for title; an MPD request is a play.
func (d *demand) record(title string, play bool, bytes int64, now time.Time) {
	minute := now.Unix() / 60
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.titles == nil {
		d.titles = map[string][]demandBucket{}
	}
	bs := d.titles[title]
	if len(bs) == 0 || bs[len(bs)-1].minute != minute {
		oldest := minute - int64(demandRetention/time.Minute)
		i := 0
		for i < len(bs) && bs[i].minute <= oldest {
			i++
		}
		bs = append(bs[i:], demandBucket{minute: minute})
	}
	b := &bs[len(bs)-1]
	b.requests++
	b.bytes += bytes
	if play {
		b.plays++
	}
	d.titles[title] = bs
}

// TitleDemand is one title's demand over a window.
type TitleDemand struct {
	Title    string `json:"title"`
	Requests int64  `json:"requests"`
	// Plays counts MPD requests: sessions started.
	Plays int64 `json:"plays"`
	// BytesServed is the response body bytes sent for the title.
	BytesServed int64 `json:"bytes_served"`
	// SizeBytes is what the title takes on disk: what a full push sends,
	// in Files files.
	SizeBytes int64 `json:"size_bytes"`
	Files     int   `json:"files"`
}

// top returns each title's demand since the given time, most requested
// first (ties by name).
func (d *demand) top(since time.Time) []TitleDemand {
	from := since.Unix() / 60
	d.mu.Lock()
	out := make([]TitleDemand, 0, len(d.titles))
	for title, bs := range d.titles {
		td := TitleDemand{Title: title}
		for _, b := range bs {
			if b.minute >= from {
				td.Requests += b.requests
				td.Plays += b.plays
				td.BytesServed += b.bytes
			}
		}
		if td.Requests > 0 {
			out = append(out, td)
		}
	}
	d.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Requests != out[j].Requests {
			return out[i].Requests > out[j].Requests
		}
		return out[i].Title < out[j].Title
	})
	return out
}

// Demand is what GET /titles answers.
type Demand struct {
	Since  time.Time     `json:"since"`
	Titles []TitleDemand `json:"titles"`
}

// Admin returns the handler for the origin's admin listener:
//
//	GET /healthz                 200 while the server runs
//	GET /titles?since=24h        titles by requests over the window (default 24h, at most 7 days), with sizes
//
// Request counts are kept per minute for 7 days, in memory: they start
// again from zero when the origin restarts.
func (s *Server) Admin() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /titles", func(w http.ResponseWriter, r *http.Request) {
		window := 24 * time.Hour
		if v := r.URL.Query().Get("since"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 || d > demandRetention {
				http.Error(w, fmt.Sprintf("since=%q: want a duration up to %s, e.g. 24h", v, demandRetention), http.StatusBadRequest)
				return
			}
			window = d
		}
		since := s.now().Add(-window)
		titles := s.demand.top(since)
		for i := range titles {
			titles[i].SizeBytes, titles[i].Files = s.titleSize(titles[i].Title)
		}
		httpx.WriteJSON(w, Demand{Since: since.UTC(), Titles: titles})
	})
	return mux
}

// titleSize sums the sizes of a title's files and counts them.
func (s *Server) titleSize(title string) (size int64, files int) {
	_ = fs.WalkDir(s.root.FS(), title, func(_ string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			if fi, err := e.Info(); err == nil {
				size += fi.Size()
				files++
			}
		}
		return nil
	})
	return size, files
}

// titleOf is the title of a cleaned request name: its first segment, if
// it is a directory name (not a file at the root).
func titleOf(name string) (string, bool) {
	title, rest, ok := strings.Cut(name, "/")
	return title, ok && rest != ""
}
