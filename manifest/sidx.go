package manifest

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Sidx is a parsed Segment Index box (ISO/IEC 14496-12 §8.16.3).
type Sidx struct {
	ReferenceID              uint32
	Timescale                uint32
	EarliestPresentationTime uint64
	// FirstOffset is the distance from the byte after the sidx box to the
	// first referenced byte.
	FirstOffset uint64
	// Size is the size of the box itself, in bytes.
	Size       uint64
	References []SidxReference
}

// SidxReference is one entry of a sidx box.
type SidxReference struct {
	// Index is true when the reference points at another sidx box
	// (hierarchical indexing) rather than at media.
	Index         bool
	Size          uint32
	Duration      uint32
	StartsWithSAP bool
	SAPType       uint8
	SAPDeltaTime  uint32
}

// ParseSidx parses the first box of data, which must be a sidx box
// (optionally preceded by nothing else). Trailing bytes are ignored.
func ParseSidx(data []byte) (*Sidx, error) {
	if len(data) < 8 {
		return nil, errors.New("sidx: shorter than a box header")
	}
	size := uint64(binary.BigEndian.Uint32(data))
	typ := string(data[4:8])
	hdr := uint64(8)
	if size == 1 {
		if len(data) < 16 {
			return nil, errors.New("sidx: truncated largesize")
		}
		size, hdr = binary.BigEndian.Uint64(data[8:]), 16
	}
	if typ != "sidx" {
		return nil, fmt.Errorf("sidx: first box is %q", typ)
	}
	if size < hdr || size > uint64(len(data)) {
		return nil, fmt.Errorf("sidx: box size %d, have %d bytes", size, len(data))
	}
	s, err := parseSidxBody(data[hdr:size])
	if err != nil {
		return nil, fmt.Errorf("sidx: %w", err)
	}
	s.Size = size
	return s, nil
}

func parseSidxBody(b []byte) (*Sidx, error) {
	if len(b) < 12 {
		return nil, errors.New("truncated header")
	}
	version := b[0]
	s := &Sidx{ReferenceID: binary.BigEndian.Uint32(b[4:]), Timescale: binary.BigEndian.Uint32(b[8:])}
	b = b[12:]
	switch version {
	case 0:
		if len(b) < 12 {
			return nil, errors.New("truncated times")
		}
		s.EarliestPresentationTime = uint64(binary.BigEndian.Uint32(b))
		s.FirstOffset = uint64(binary.BigEndian.Uint32(b[4:]))
		b = b[8:]
	case 1:
		if len(b) < 20 {
			return nil, errors.New("truncated times")
		}
		s.EarliestPresentationTime = binary.BigEndian.Uint64(b)
		s.FirstOffset = binary.BigEndian.Uint64(b[8:])
		b = b[16:]
	default:
		return nil, fmt.Errorf("unknown version %d", version)
	}
	if s.Timescale == 0 {
		return nil, errors.New("zero timescale")
	}
	count := int(binary.BigEndian.Uint16(b[2:]))
	b = b[4:]
	if len(b) < 12*count {
		return nil, fmt.Errorf("%d references need %d bytes, have %d", count, 12*count, len(b))
	}
	s.References = make([]SidxReference, count)
	for i := range s.References {
		e := b[12*i:]
		v0, v2 := binary.BigEndian.Uint32(e), binary.BigEndian.Uint32(e[8:])
		s.References[i] = SidxReference{
			Index:         v0>>31 == 1,
			Size:          v0 & 0x7fffffff,
			Duration:      binary.BigEndian.Uint32(e[4:]),
			StartsWithSAP: v2>>31 == 1,
			SAPType:       uint8(v2 >> 28 & 7),
			SAPDeltaTime:  v2 & 0x0fffffff,
		}
	}
	return s, nil
}
