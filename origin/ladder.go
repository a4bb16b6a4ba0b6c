package origin

import (
	"fmt"
	"strconv"
	"strings"
)

// Rung is one step of the bitrate ladder: a picture height and a target
// video bit rate.
type Rung struct {
	Height  int
	Bitrate int // bits per second
}

// Name is the rung's representation id, e.g. "360p".
func (r Rung) Name() string { return fmt.Sprintf("%dp", r.Height) }

// DefaultLadder is the ladder used when none is given.
var DefaultLadder = []Rung{{360, 400_000}, {540, 1_200_000}, {720, 3_000_000}, {1080, 6_000_000}}

// ParseLadder parses "360p:400k,540p:1200k,720p:3M": heights with a
// trailing p, bit rates with an optional k or M suffix.
func ParseLadder(s string) ([]Rung, error) {
	var ladder []Rung
	seen := map[int]bool{}
	for _, item := range strings.Split(s, ",") {
		h, b, ok := strings.Cut(strings.TrimSpace(item), ":")
		height, err := strconv.Atoi(strings.TrimSuffix(h, "p"))
		if !ok || err != nil || !strings.HasSuffix(h, "p") || height < 32 || height > 4320 || height%2 != 0 {
			return nil, fmt.Errorf("ladder rung %q: want HEIGHTp:BITRATE with an even height, e.g. 360p:400k", item)
		}
		rate, err := ParseBitrate(b)
		if err != nil {
			return nil, fmt.Errorf("ladder rung %q: %w", item, err)
		}
		if seen[height] {
			return nil, fmt.Errorf("ladder rung %q: height %d repeated", item, height)
		}
		seen[height] = true
		ladder = append(ladder, Rung{height, rate})
	}
	return ladder, nil
}

// ParseBitrate parses a bit rate such as 400k, 3M or 128000.
func ParseBitrate(s string) (int, error) {
	mult := 1
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1_000, strings.TrimSuffix(s, "k")
	case strings.HasSuffix(s, "M"):
		mult, s = 1_000_000, strings.TrimSuffix(s, "M")
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v <= 0 || v*float64(mult) < 10_000 || v*float64(mult) > 200_000_000 {
		return 0, fmt.Errorf("bit rate %q: want 10k to 200M", s)
	}
	return int(v * float64(mult)), nil
}
