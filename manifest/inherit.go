package manifest

import "github.com/Eyevinn/dash-mpd/mpd"

// Segment addressing is inherited down Period → AdaptationSet →
// Representation, attribute by attribute (ISO/IEC 23009-1 §5.3.9.1): the
// merge functions overlay each level on the one above.

func mergeTemplate(levels ...*mpd.SegmentTemplateType) *mpd.SegmentTemplateType {
	out := &mpd.SegmentTemplateType{}
	for _, l := range levels {
		if l == nil {
			continue
		}
		out.Media = first(l.Media, out.Media)
		out.Index = first(l.Index, out.Index)
		out.Initialization = first(l.Initialization, out.Initialization)
		out.MultipleSegmentBaseType = overlayMultiple(out.MultipleSegmentBaseType, l.MultipleSegmentBaseType)
	}
	return out
}

func mergeList(levels ...*mpd.SegmentListType) *mpd.SegmentListType {
	out := &mpd.SegmentListType{}
	for _, l := range levels {
		if l == nil {
			continue
		}
		if len(l.SegmentURL) > 0 {
			out.SegmentURL = l.SegmentURL
		}
		out.MultipleSegmentBaseType = overlayMultiple(out.MultipleSegmentBaseType, l.MultipleSegmentBaseType)
	}
	return out
}

func mergeBase(levels ...*mpd.SegmentBaseType) *mpd.SegmentBaseType {
	out := &mpd.SegmentBaseType{}
	for _, l := range levels {
		if l != nil {
			*out = overlayBase(*out, *l)
		}
	}
	return out
}

func overlayMultiple(dst, src mpd.MultipleSegmentBaseType) mpd.MultipleSegmentBaseType {
	if src.Duration != nil {
		dst.Duration = src.Duration
	}
	if src.StartNumber != nil {
		dst.StartNumber = src.StartNumber
	}
	if src.SegmentTimeline != nil {
		dst.SegmentTimeline = src.SegmentTimeline
	}
	dst.SegmentBaseType = overlayBase(dst.SegmentBaseType, src.SegmentBaseType)
	return dst
}

func overlayBase(dst, src mpd.SegmentBaseType) mpd.SegmentBaseType {
	if src.Timescale != nil {
		dst.Timescale = src.Timescale
	}
	if src.PresentationTimeOffset != nil {
		dst.PresentationTimeOffset = src.PresentationTimeOffset
	}
	if src.IndexRange != "" {
		dst.IndexRange = src.IndexRange
	}
	if src.Initialization != nil {
		dst.Initialization = src.Initialization
	}
	if src.RepresentationIndex != nil {
		dst.RepresentationIndex = src.RepresentationIndex
	}
	return dst
}

// The three kinds of segment addressing, in the order of their [3]bool.
const (
	addrTemplate = iota
	addrList
	addrBase
	addrNone
)

// nearestAddressing returns the kind of addressing defined at the lowest
// level (Representation first) that defines any, preferring SegmentTemplate,
// then SegmentList, then SegmentBase within a level.
func nearestAddressing(levels ...[3]bool) int {
	for _, l := range levels {
		for kind, present := range l {
			if present {
				return kind
			}
		}
	}
	return addrNone
}
