package httpx

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxRanges bounds the number of ranges honoured in one Range header. A
// request for more is answered with the whole representation (RFC 9110
// §14.2 lets a server ignore Range), which defeats range-amplification
// attacks cheaply.
const MaxRanges = 16

var (
	// ErrUnsatisfiable means that no range of a valid Range header overlaps
	// the representation: the answer is 416.
	ErrUnsatisfiable = errors.New("range not satisfiable")
	// ErrIgnore means that the Range header is malformed, not in bytes, or
	// asks for too many ranges: the answer is the whole representation (200).
	ErrIgnore = errors.New("range ignored")
)

// Range is a satisfiable byte range: Start is the first byte and Length the
// number of bytes, both within the representation.
type Range struct {
	Start, Length int64
}

// End returns the offset of the last byte, inclusive, as in Content-Range.
func (r Range) End() int64 { return r.Start + r.Length - 1 }

// ContentRange formats the Content-Range field value for r of a
// representation of size bytes.
func (r Range) ContentRange(size int64) string {
	var b [64]byte
	return string(r.AppendContentRange(b[:0], size))
}

// AppendContentRange appends ContentRange(size) to b.
func (r Range) AppendContentRange(b []byte, size int64) []byte {
	b = strconv.AppendInt(append(b, "bytes "...), r.Start, 10)
	b = strconv.AppendInt(append(b, '-'), r.End(), 10)
	return strconv.AppendInt(append(b, '/'), size, 10)
}

// ParseRange parses a Range header field value (RFC 9110 §14.1.1) against a
// representation of size bytes. It returns the satisfiable ranges in request
// order, ErrUnsatisfiable when the header is valid but none is satisfiable,
// or ErrIgnore when the header is to be ignored.
func ParseRange(header string, size int64) ([]Range, error) {
	unit, set, ok := strings.Cut(header, "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(unit), "bytes") {
		return nil, ErrIgnore
	}
	specs := strings.Split(set, ",")
	if len(specs) > MaxRanges {
		return nil, ErrIgnore
	}
	var out []Range
	valid := 0
	for _, spec := range specs {
		spec = strings.TrimSpace(spec)
		if spec == "" {
			continue // RFC 9110 §5.6.1: empty list elements are ignored
		}
		r, satisfiable, err := parseSpec(spec, size)
		if err != nil {
			return nil, ErrIgnore
		}
		valid++
		if satisfiable {
			out = append(out, r)
		}
	}
	switch {
	case valid == 0:
		return nil, ErrIgnore
	case len(out) == 0:
		return nil, ErrUnsatisfiable
	}
	return out, nil
}

// ParseOneRange is ParseRange for a caller that serves one range only:
// the range and true when ParseRange would return exactly one. A header
// without a comma (one range: what players send) is parsed without
// ParseRange's allocations.
func ParseOneRange(header string, size int64) (Range, bool) {
	unit, set, ok := strings.Cut(header, "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(unit), "bytes") {
		return Range{}, false
	}
	if strings.Contains(set, ",") {
		rs, err := ParseRange(header, size)
		if err != nil || len(rs) != 1 {
			return Range{}, false
		}
		return rs[0], true
	}
	spec := strings.TrimSpace(set)
	if spec == "" {
		return Range{}, false
	}
	r, satisfiable, err := parseSpec(spec, size)
	return r, err == nil && satisfiable
}

// parseSpec parses one int-range or suffix-range.
func parseSpec(spec string, size int64) (r Range, satisfiable bool, err error) {
	first, last, ok := strings.Cut(spec, "-")
	if !ok {
		return r, false, errors.New("no dash")
	}
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	if first == "" { // suffix-range: the last N bytes
		n, err := parseDigits(last)
		if err != nil {
			return r, false, err
		}
		if n == 0 || size == 0 {
			return r, false, nil
		}
		n = min(n, size)
		return Range{Start: size - n, Length: n}, true, nil
	}
	start, err := parseDigits(first)
	if err != nil {
		return r, false, err
	}
	end := size - 1
	if last != "" {
		if end, err = parseDigits(last); err != nil {
			return r, false, err
		}
		if end < start {
			return r, false, errors.New("last before first")
		}
		end = min(end, size-1)
	}
	if start >= size {
		return r, false, nil
	}
	return Range{Start: start, Length: end - start + 1}, true, nil
}

// parseDigits accepts only 1*DIGIT, unlike strconv, which also takes signs.
func parseDigits(s string) (int64, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("not digits: %q", s)
	}
	return strconv.ParseInt(s, 10, 64)
}

// overlapping reports whether any two ranges overlap. Overlapping ranges
// are a classic amplification trick, so such a set is answered whole, as
// RFC 9110 §14.2 allows.
func overlapping(rs []Range) bool {
	for i := range rs {
		for j := i + 1; j < len(rs); j++ {
			a, b := rs[i], rs[j]
			if a.Start <= b.End() && b.Start <= a.End() {
				return true
			}
		}
	}
	return false
}
