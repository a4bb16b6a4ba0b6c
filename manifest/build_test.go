package manifest

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/streamcdn/streamcdn/internal/testutil"
)

// fixture is a small two-rung ladder with audio whose timelines exercise
// repeats, a discontinuity-free irregular audio cadence and the
// presentationTimeOffset of encoder priming.
func fixture(profile Profile) *Presentation {
	video := func(id string, bw, w, h uint32, sizes ...uint64) Representation {
		r := Representation{
			ID: id, ContentType: "video", Codecs: "avc1.64001f", Bandwidth: bw, Width: w, Height: h,
			FrameRate: "30", SAR: "1:1", Timescale: 15360, PresentationTimeOffset: 1024, InitSize: 700, IndexSize: 68,
		}
		for i, s := range sizes {
			r.Segments = append(r.Segments, SegmentInfo{Start: 1024 + uint64(i)*61440, Duration: 61440, Size: s})
		}
		r.Segments[len(r.Segments)-1].Duration = 30720
		return r
	}
	audio := Representation{
		ID: "audio", ContentType: "audio", Codecs: "mp4a.40.2", Bandwidth: 128000, SampleRate: 48000, Channels: 2,
		Timescale: 48000, PresentationTimeOffset: 1024, InitSize: 640, IndexSize: 68,
		Segments: []SegmentInfo{{0, 193536, 64000}, {193536, 191488, 64000}, {385024, 97280, 32000}},
	}
	return &Presentation{
		Title: "fixture", Profile: profile, Duration: 10 * time.Second, MinBufferTime: 8 * time.Second,
		Representations: []Representation{
			video("720p", 3000000, 1280, 720, 1500000, 1400000, 700000),
			video("360p", 800000, 640, 360, 400000, 390000, 200000),
			audio,
		},
	}
}

func TestBuildGolden(t *testing.T) {
	for _, profile := range []Profile{ProfileLive, ProfileOnDemand} {
		t.Run(string(profile), func(t *testing.T) {
			got, err := Marshal(fixture(profile))
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			checkGolden(t, filepath.Join("testdata/golden", "build-"+string(profile)+".mpd"), string(got))
		})
	}
}

// TestBuildParseRoundTrip checks that Parse reads back from a built
// live-profile MPD exactly the segments that went in.
func TestBuildParseRoundTrip(t *testing.T) {
	p := fixture(ProfileLive)
	data, err := Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(data, "http://o/t/manifest.mpd")
	if err != nil {
		t.Fatalf("Parse(Marshal(p)): %v", err)
	}
	type seg struct {
		URL   string
		Start time.Duration
	}
	for _, rep := range p.Representations {
		var want, got []seg
		for i, s := range rep.Segments {
			start := scaleSigned(int64(s.Start)-int64(rep.PresentationTimeOffset), rep.Timescale)
			want = append(want, seg{"http://o/t/" + LiveMediaPath(rep.ID, i), start})
		}
		for _, tr := range m.Tracks {
			if tr.ID != rep.ID {
				continue
			}
			if tr.Init == nil || tr.Init.URL != "http://o/t/"+LiveInitPath(rep.ID) {
				t.Errorf("%s: init = %+v", rep.ID, tr.Init)
			}
			for _, s := range tr.Segments {
				got = append(got, seg{s.URL, s.Start})
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("representation %s segments (-want +got):\n%s", rep.ID, diff)
		}
	}
}

func TestBuildRejects(t *testing.T) {
	tests := map[string]func(p *Presentation){
		"no representations": func(p *Presentation) { p.Representations = nil },
		"bad profile":        func(p *Presentation) { p.Profile = "full" },
		"duplicate id":       func(p *Presentation) { p.Representations[1].ID = p.Representations[0].ID },
		"no segments":        func(p *Presentation) { p.Representations[0].Segments = nil },
		"zero timescale":     func(p *Presentation) { p.Representations[0].Timescale = 0 },
	}
	for name, mutate := range tests {
		p := fixture(ProfileLive)
		mutate(p)
		if _, err := Build(p); err == nil {
			t.Errorf("Build with %s: no error", name)
		}
	}
}

// TestBuildValidates checks the golden MPDs against the DASH schema.
func TestBuildValidates(t *testing.T) {
	for _, profile := range []Profile{ProfileLive, ProfileOnDemand} {
		testutil.ValidateMPD(t, filepath.Join("testdata/golden", "build-"+string(profile)+".mpd"))
	}
}
