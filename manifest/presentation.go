package manifest

import (
	"fmt"
	"time"
)

// Profile is a DASH profile that Build can write.
type Profile string

// The profiles Build writes.
const (
	ProfileLive     Profile = "live"
	ProfileOnDemand Profile = "ondemand"
)

// ParseProfile accepts "live" or "ondemand".
func ParseProfile(s string) (Profile, error) {
	switch p := Profile(s); p {
	case ProfileLive, ProfileOnDemand:
		return p, nil
	}
	return "", fmt.Errorf("unknown profile %q (want live or ondemand)", s)
}

// Live-profile file layout below the MPD's directory.
const (
	initTemplate  = "$RepresentationID$/init.mp4"
	mediaTemplate = "$RepresentationID$/$Number$.m4s"
	startNumber   = 1
)

// LiveInitPath is the path, relative to the MPD, of a live-profile
// representation's initialization segment.
func LiveInitPath(repID string) string { return repID + "/init.mp4" }

// LiveMediaPath is the path, relative to the MPD, of the live-profile media
// segment with index i (0-based) of a representation.
func LiveMediaPath(repID string, i int) string {
	return fmt.Sprintf("%s/%d.m4s", repID, i+startNumber)
}

// OnDemandPath is the path, relative to the MPD, of an on-demand
// representation's single file.
func OnDemandPath(repID string) string { return repID + ".mp4" }

// Presentation is a packaged title: everything Build needs to write its MPD.
type Presentation struct {
	Title    string
	Profile  Profile
	Duration time.Duration
	// MinBufferTime is the MPD@minBufferTime that the representations'
	// bandwidth values are computed for.
	MinBufferTime   time.Duration
	Representations []Representation
}

// Representation is one encoded rendition and its segment index.
type Representation struct {
	ID          string
	ContentType string // "video" or "audio"
	Codecs      string // RFC 6381, e.g. avc1.64001f, mp4a.40.2
	Bandwidth   uint32 // bits per second, ISO/IEC 23009-1 §5.3.5.2
	Width       uint32
	Height      uint32
	FrameRate   string // "30" or "30000/1001"
	SAR         string // "1:1"
	SampleRate  uint32
	Channels    uint32
	Lang        string
	Timescale   uint32
	// PresentationTimeOffset is the media time that is presentation time
	// zero: encoder priming and B-frame delay from the input's edit list.
	PresentationTimeOffset uint64
	Segments               []SegmentInfo
	// InitSize and IndexSize locate, in an on-demand file, the
	// initialization segment (bytes 0..InitSize-1) and the sidx box that
	// follows it.
	InitSize, IndexSize uint64
}

// SegmentInfo is one media segment: its earliest presentation time and
// duration in the representation's timescale, and its size in bytes.
type SegmentInfo struct {
	Start    uint64
	Duration uint64
	Size     uint64
}
