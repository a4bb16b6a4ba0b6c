package manifest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// templateVars are the values a SegmentTemplate's identifiers expand to.
type templateVars struct {
	RepresentationID string
	Bandwidth        uint32
	Number           uint64
	Time             uint64
}

// expandTemplate substitutes the identifiers of ISO/IEC 23009-1 §5.3.9.4.4
// in tpl: $RepresentationID$, $Number$, $Bandwidth$, $Time$, each but the
// first with an optional %0<width>d format tag, and $$ for a dollar sign.
func expandTemplate(tpl string, v templateVars) (string, error) {
	if !strings.Contains(tpl, "$") {
		return tpl, nil
	}
	var b strings.Builder
	for rest := tpl; ; {
		i := strings.IndexByte(rest, '$')
		if i < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		b.WriteString(rest[:i])
		j := strings.IndexByte(rest[i+1:], '$')
		if j < 0 {
			return "", fmt.Errorf("template %q: unterminated $", tpl)
		}
		ident := rest[i+1 : i+1+j]
		rest = rest[i+2+j:]
		s, err := expandIdent(ident, v)
		if err != nil {
			return "", fmt.Errorf("template %q: %w", tpl, err)
		}
		b.WriteString(s)
	}
}

func expandIdent(ident string, v templateVars) (string, error) {
	if ident == "" {
		return "$", nil
	}
	name, format, hasFormat := strings.Cut(ident, "%")
	var n uint64
	switch name {
	case "RepresentationID":
		if hasFormat {
			return "", errors.New("$RepresentationID$ takes no format tag")
		}
		return v.RepresentationID, nil
	case "Number":
		n = v.Number
	case "Time":
		n = v.Time
	case "Bandwidth":
		n = uint64(v.Bandwidth)
	default:
		return "", fmt.Errorf("unknown identifier $%s$", ident)
	}
	s := strconv.FormatUint(n, 10)
	if !hasFormat {
		return s, nil
	}
	width, err := parseWidth(format)
	if err != nil {
		return "", fmt.Errorf("$%s$: %w", ident, err)
	}
	if pad := width - len(s); pad > 0 {
		s = strings.Repeat("0", pad) + s
	}
	return s, nil
}

// parseWidth parses the format tag "0<width>d" (the leading zero optional,
// as players accept both); widths above 64 are refused.
func parseWidth(format string) (int, error) {
	digits, ok := strings.CutSuffix(format, "d")
	if !ok || digits == "" || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, fmt.Errorf("format tag %%%s is not %%0<width>d", format)
	}
	w, err := strconv.Atoi(digits)
	if err != nil || w > 64 {
		return 0, fmt.Errorf("format tag %%%s: width out of range", format)
	}
	return w, nil
}
