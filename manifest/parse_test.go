package manifest

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

const corpusURL = "http://cdn.example/title/manifest.mpd"

// TestParseCorpus parses every MPD in testdata/corpus (ffmpeg's dash muxer
// in both its modes, our own in both profiles, hand-written edge cases) and
// compares a summary of every resolved segment with a golden file.
func TestParseCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/corpus/*.mpd")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Parse(data, corpusURL)
			if err != nil {
				t.Fatalf("Parse(%s) error: %v", name, err)
			}
			for _, tr := range m.Tracks {
				if tr.Index == nil {
					continue
				}
				sidx, err := os.ReadFile(file + "." + tr.ID + ".sidx")
				if err != nil {
					continue // the index of this representation is not in the corpus
				}
				if err := tr.ExpandIndex(sidx); err != nil {
					t.Fatalf("ExpandIndex(%s): %v", tr.ID, err)
				}
			}
			checkGolden(t, filepath.Join("testdata/golden", name+".golden"), summarize(m))
		})
	}
}

// summarize renders a manifest as text: every track, its init, index and
// segments.
func summarize(m *Manifest) string {
	var b strings.Builder
	fmt.Fprintf(&b, "type=%s duration=%v minBufferTime=%v tracks=%d\n", m.Type, m.Duration, m.MinBufferTime, len(m.Tracks))
	for _, t := range m.Tracks {
		fmt.Fprintf(&b, "\nperiod=%d start=%v as=%d id=%s type=%s mime=%s codecs=%s bandwidth=%d size=%dx%d timescale=%d pto=%d\n",
			t.Period, t.PeriodStart, t.AdaptationSet, t.ID, t.ContentType, t.MimeType, t.Codecs, t.Bandwidth,
			t.Width, t.Height, t.Timescale, t.PresentationTimeOffset)
		if t.Init != nil {
			fmt.Fprintf(&b, "  init  %s\n", segText(*t.Init))
		}
		if t.Index != nil {
			fmt.Fprintf(&b, "  index %s\n", segText(*t.Index))
		}
		fmt.Fprintf(&b, "  segments=%d\n", len(t.Segments))
		for _, s := range t.Segments {
			fmt.Fprintf(&b, "  %4d  %s  t=%d start=%v dur=%v\n", s.Number, segText(s), s.Time, s.Start, s.Duration)
		}
	}
	return b.String()
}

func segText(s Segment) string {
	if s.Range == nil {
		return s.URL
	}
	return s.URL + " " + s.Range.Header()
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func TestParseErrorsNameTheElement(t *testing.T) {
	const head = `<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT10S">`
	tests := []struct {
		name, mpd, want string
	}{
		{"not xml", `hello`, "mpd: xml:"},
		// Found by FuzzParse: this hung dash-mpd's XML decoder forever.
		{"truncated attribute", "?xml version=\"1.0\" encoding=\"utf-8\"?>\n<MPD xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-i\nnns\tts=acenm\"xl\"",
			"attribute name without ="},
		{"wrong root", `<Foo/>`, "but have <Foo>"},
		// Found by FuzzParse: a bare '>' in text hung dash-mpd's decoder.
		{"bare > in text", `<MPD minBufferTime="PT4S">></MPD>`, "MPD: no Period"},
		{"no period", head + `</MPD>`, "mpd: MPD: no Period"},
		{"no representation", head + `<Period><AdaptationSet/></Period></MPD>`,
			"Period[0]/AdaptationSet[0]: no Representation"},
		{"no media", head + `<Period><AdaptationSet><SegmentTemplate duration="2"/><Representation id="a"/></AdaptationSet></Period></MPD>`,
			"Period[0]/AdaptationSet[0]/Representation[a]/SegmentTemplate: no @media"},
		{"unknown identifier", head + `<Period><AdaptationSet><Representation id="v"><SegmentTemplate media="$Foo$.m4s" duration="2"/></Representation></AdaptationSet></Period></MPD>`,
			"Representation[v]/SegmentTemplate: @media: template \"$Foo$.m4s\": unknown identifier $Foo$"},
		{"unterminated", head + `<Period><AdaptationSet><Representation id="v"><SegmentTemplate media="$Number.m4s" duration="2"/></Representation></AdaptationSet></Period></MPD>`,
			"unterminated $"},
		{"no duration or timeline", head + `<Period><AdaptationSet><Representation id="v"><SegmentTemplate media="$Number$.m4s"/></Representation></AdaptationSet></Period></MPD>`,
			"Representation[v]/SegmentTemplate: neither SegmentTimeline nor @duration"},
		{"zero d", head + `<Period><AdaptationSet><Representation id="v"><SegmentTemplate media="$Number$"><SegmentTimeline><S t="0"/></SegmentTimeline></SegmentTemplate></Representation></AdaptationSet></Period></MPD>`,
			"SegmentTimeline/S[0]: missing or zero @d"},
		{"huge repeat", head + `<Period><AdaptationSet><Representation id="v"><SegmentTemplate media="$Number$"><SegmentTimeline><S d="1" r="2000000000"/></SegmentTimeline></SegmentTemplate></Representation></AdaptationSet></Period></MPD>`,
			"SegmentTimeline/S[0]: the MPD expands to more than"},
		{"unbounded r=-1", `<MPD type="dynamic"><Period><AdaptationSet><Representation id="v"><SegmentTemplate media="$Number$"><SegmentTimeline><S d="1" r="-1"/></SegmentTimeline></SegmentTemplate></Representation></AdaptationSet></Period></MPD>`,
			"S[0]: r=-1 with no end"},
		{"bad index range", head + `<Period><AdaptationSet><Representation id="v"><BaseURL>v.mp4</BaseURL><SegmentBase indexRange="9-1"/></Representation></AdaptationSet></Period></MPD>`,
			"Representation[v]/SegmentBase: @indexRange: byte range \"9-1\" is not first-last"},
		{"bad media range", head + `<Period><AdaptationSet><Representation id="v"><SegmentList><SegmentURL mediaRange="x"/></SegmentList></Representation></AdaptationSet></Period></MPD>`,
			"SegmentList: SegmentURL[0]@mediaRange"},
		// Found by FuzzParse: divided by zero.
		{"zero timescale", head + `<Period><AdaptationSet><Representation id="v"><SegmentTemplate timescale="0" media="$Number$" duration="2"/></Representation></AdaptationSet></Period></MPD>`,
			"Representation[v]/SegmentTemplate: @timescale is zero"},
		{"template width", head + `<Period><AdaptationSet><Representation id="v"><SegmentTemplate media="$Number%99d$" duration="2"/></Representation></AdaptationSet></Period></MPD>`,
			"width out of range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.mpd), corpusURL)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse(%s) error = %v, want it to contain %q", tc.name, err, tc.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Errorf("Parse(%s) error is %T, want *ParseError", tc.name, err)
			}
		})
	}
}

func TestExpandTemplate(t *testing.T) {
	v := templateVars{RepresentationID: "v1", Bandwidth: 64000, Number: 7, Time: 123456}
	tests := []struct{ tpl, want, err string }{
		{"plain.m4s", "plain.m4s", ""},
		{"$RepresentationID$/$Number$.m4s", "v1/7.m4s", ""},
		{"$Number%05d$", "00007", ""},
		{"$Number%5d$", "00007", ""},
		{"$Time$-$Bandwidth$", "123456-64000", ""},
		{"$Time%03d$", "123456", ""},
		{"cost$$5", "cost$5", ""},
		{"$RepresentationID%02d$", "", "takes no format tag"},
		{"$Number%x$", "", "is not %0<width>d"},
		{"$SubNumber$", "", "unknown identifier"},
		{"$Number", "", "unterminated"},
	}
	for _, tc := range tests {
		got, err := expandTemplate(tc.tpl, v)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("expandTemplate(%q) error = %v, want %q", tc.tpl, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("expandTemplate(%q) = %q, %v, want %q", tc.tpl, got, err, tc.want)
		}
	}
}
