// Package units parses the byte sizes written in flags and
// configuration files: 512MiB, 1GiB, 20GB.
package units

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseSize parses byte sizes such as 512MiB, 1GiB, 20GB or 1048576.
func ParseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	mult := int64(1)
	num := strings.TrimSpace(s)
	for _, u := range units {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSuffix(num, u.suffix), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || v <= 0 || v*float64(mult) > 1<<62 {
		return 0, fmt.Errorf("size %q: want a positive number of bytes, e.g. 512MiB or 1GiB", s)
	}
	return int64(v * float64(mult)), nil
}

// Size is a byte size that a flag sets from text (flag.Value): 1GiB.
type Size int64

// Set parses s (ParseSize).
func (z *Size) Set(s string) error {
	v, err := ParseSize(s)
	if err != nil {
		return err
	}
	*z = Size(v)
	return nil
}

// String writes the size in the largest binary unit that divides it.
func (z *Size) String() string {
	if z == nil {
		return "0"
	}
	v := int64(*z)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if v != 0 && v%u.mult == 0 {
			return strconv.FormatInt(v/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(v, 10) + "B"
}
