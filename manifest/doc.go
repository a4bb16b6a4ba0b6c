// Package manifest builds and parses DASH Media Presentation Descriptions
// (ISO/IEC 23009-1) and resolves every segment of every representation to a
// URL, a byte range and a presentation time. It does no I/O.
//
// Build turns a Presentation (a packaged ladder and its segment index) into
// a static MPD in one of two profiles:
//
//   - live (urn:mpeg:dash:profile:isoff-live:2011): one SegmentTemplate with
//     $RepresentationID$/$Number$ naming and an exact SegmentTimeline;
//   - on-demand (urn:mpeg:dash:profile:isoff-on-demand:2011): one file per
//     representation, addressed by SegmentBase@indexRange, whose sidx box
//     lists the subsegments' byte ranges.
//
// Parse reads any MPD (SegmentTemplate with $Number$, $Time$,
// $RepresentationID$, $Bandwidth$ and printf widths, SegmentTimeline with
// repeats including r=-1, SegmentBase with a sidx, SegmentList, BaseURL at
// every level) into Tracks. For SegmentBase the caller fetches the index
// range and hands its bytes to Track.ExpandIndex, which parses the sidx box.
//
// This package is the project's only dependency on
// github.com/Eyevinn/dash-mpd; its *mpd.MPD appears in the API on purpose.
package manifest
