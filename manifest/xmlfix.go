package manifest

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
)

// canonicalize prepares network input for dash-mpd's XML decoder (a fork
// of encoding/xml, v0.17.0), which loops forever on some inputs: a bare
// '>' in character data, which XML allows (<MPD>></MPD> is well-formed),
// truncated attributes, and odd declarations. The document is read with
// the standard library's decoder, which fails fast on anything malformed,
// and written out again in the plainest form: elements with their
// prefixes, attributes and text, every value escaped; comments,
// processing instructions and declarations dropped. dash-mpd only ever
// sees that.
func canonicalize(data []byte) ([]byte, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	var out bytes.Buffer
	out.Grow(len(data))
	depth := 0
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("xml: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			out.WriteByte('<')
			writeName(&out, t.Name)
			for _, a := range t.Attr {
				out.WriteByte(' ')
				writeName(&out, a.Name)
				out.WriteString(`="`)
				_ = xml.EscapeText(&out, []byte(a.Value))
				out.WriteByte('"')
			}
			out.WriteByte('>')
		case xml.EndElement:
			depth--
			out.WriteString("</")
			writeName(&out, t.Name)
			out.WriteByte('>')
		case xml.CharData:
			if depth > 0 {
				_ = xml.EscapeText(&out, t)
			}
		}
	}
	// RawToken does not match start and end tags; a full pass does.
	if err := checkWellFormed(out.Bytes()); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func writeName(b *bytes.Buffer, n xml.Name) {
	if n.Space != "" {
		b.WriteString(n.Space)
		b.WriteByte(':')
	}
	b.WriteString(n.Local)
}

// checkWellFormed reads every token of data with the standard decoder.
func checkWellFormed(data []byte) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		if _, err := d.Token(); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("xml: %w", err)
		}
	}
}
