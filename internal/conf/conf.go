// Package conf decodes the configuration files people write (the DNS
// configuration, topologies): YAML or JSON, strictly, and durations
// written as "80ms".
package conf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// Decode decodes one YAML or JSON document into v. An unknown field is
// an error naming it, and so is a stream of several YAML documents,
// whose later ones would otherwise be dropped without a word.
func Decode(data []byte, v any) error {
	if err := oneDocument(data); err != nil {
		return err
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func oneDocument(data []byte) error {
	content := false
	for line := range strings.Lines(string(data)) {
		l := strings.TrimRight(line, " \t\r\n")
		switch {
		case l == "---" || strings.HasPrefix(l, "--- "):
			if content {
				return errors.New("yaml: more than one document; want one per file")
			}
		case l != "" && !strings.HasPrefix(strings.TrimSpace(l), "#"):
			content = true
		}
	}
	return nil
}

// Duration is a time.Duration written as "2s" in YAML and JSON.
type Duration time.Duration

// D is the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes the duration as "1.5s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads "1.5s"-style durations, not negative.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`want a duration string such as "2s"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("bad duration %q", s)
	}
	*d = Duration(v)
	return nil
}
