// Package conf decodes the configuration files people write (the DNS
// configuration, topologies): YAML or JSON, strictly, and durations
// written as "80ms".
package conf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	yaml3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/yaml"
)

// Decode decodes one YAML or JSON document into v. An unknown field is
// an error naming it, and so is a stream of several YAML documents,
// whose later ones would otherwise be dropped without a word. A value
// of the wrong type (a negative TTL, a bad duration) is an error naming
// its full path, with indexes ("zones[0].records[3].ttl"), and its line
// in a YAML file.
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
	err = dec.Decode(v)
	if err != nil && strings.HasPrefix(err.Error(), "json: unknown field ") {
		if path := unknownPath(js, reflect.TypeOf(v)); path != "" {
			name, _ := strings.CutPrefix(err.Error(), "json: ")
			return &PathError{Path: path, Line: Line(data, path), Err: errors.New(name)}
		}
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		path := indexedPath(js, te.Field, te.Type)
		what := te.Value // a Duration's own message
		if te.Type != durationType {
			what = "want " + te.Type.String() + ", not " + te.Value
		}
		return &PathError{Path: path, Line: Line(data, path), Err: errors.New(what)}
	}
	return err
}

// PathError is a fault at a field of a configuration: its path with
// indexes, and its line in a YAML file (0 if unknown).
type PathError struct {
	Path string
	Line int
	Err  error
}

func (e *PathError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s (line %d): %v", e.Path, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Path, e.Err)
}

func (e *PathError) Unwrap() error { return e.Err }

// indexedPath finds, in the JSON document js, the first value at the
// dotted field path (arrays crossed without indexes, as encoding/json
// reports it) that does not decode as typ, and returns its path with
// indexes; the dotted path if none is found.
func indexedPath(js []byte, dotted string, typ reflect.Type) string {
	var tree any
	if json.Unmarshal(js, &tree) != nil || typ == nil {
		return dotted
	}
	var walk func(v any, fields []string, at string) (string, bool)
	walk = func(v any, fields []string, at string) (string, bool) {
		if arr, ok := v.([]any); ok {
			for i, e := range arr {
				if p, ok := walk(e, fields, fmt.Sprintf("%s[%d]", at, i)); ok {
					return p, true
				}
			}
			return "", false
		}
		if len(fields) == 0 {
			b, _ := json.Marshal(v)
			return at, json.Unmarshal(b, reflect.New(typ).Interface()) != nil
		}
		m, ok := v.(map[string]any)
		if !ok {
			return "", false
		}
		for k, e := range m {
			if strings.EqualFold(k, fields[0]) {
				next := fields[0]
				if at != "" {
					next = at + "." + fields[0]
				}
				return walk(e, fields[1:], next)
			}
		}
		return "", false
	}
	if p, ok := walk(tree, strings.Split(dotted, "."), ""); ok {
		return p
	}
	return dotted
}

// unknownPath returns the path with indexes of the first key in the
// JSON document js that no field of typ (a struct, through pointers,
// slices and maps) takes, as encoding/json matches names; "" if none.
func unknownPath(js []byte, typ reflect.Type) string {
	var tree any
	if json.Unmarshal(js, &tree) != nil {
		return ""
	}
	var walk func(v any, t reflect.Type, at string) string
	walk = func(v any, t reflect.Type, at string) string {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch v := v.(type) {
		case []any:
			if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
				return ""
			}
			for i, e := range v {
				if p := walk(e, t.Elem(), fmt.Sprintf("%s[%d]", at, i)); p != "" {
					return p
				}
			}
		case map[string]any:
			if t.Kind() == reflect.Map {
				for k, e := range v {
					if p := walk(e, t.Elem(), join(at, k)); p != "" {
						return p
					}
				}
				return ""
			}
			if t.Kind() != reflect.Struct {
				return ""
			}
			for k, e := range v {
				f, ok := fieldFor(t, k)
				if !ok {
					return join(at, k)
				}
				if p := walk(e, f.Type, join(at, k)); p != "" {
					return p
				}
			}
		}
		return ""
	}
	return walk(tree, typ, "")
}

func join(at, k string) string {
	if at == "" {
		return k
	}
	return at + "." + k
}

// fieldFor finds the field of struct t that JSON key k decodes into:
// by its json tag, else its name, without regard to case, as
// encoding/json does (embedded structs included).
func fieldFor(t reflect.Type, k string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				if g, ok := fieldFor(ft, k); ok {
					return g, true
				}
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		if strings.EqualFold(name, k) && f.IsExported() {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// Line returns the line of the field at path ("zones[0].records[3].ttl")
// in the YAML (or JSON) document data (its key's line, or its element's
// in a sequence), or 0.
func Line(data []byte, path string) int {
	var doc yaml3.Node
	if yaml3.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return 0
	}
	n, line := doc.Content[0], 0
	for _, seg := range strings.Split(path, ".") {
		name, rest, _ := strings.Cut(seg, "[")
		if name != "" {
			if n.Kind != yaml3.MappingNode {
				return 0
			}
			var found *yaml3.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == name {
					found, line = n.Content[i+1], n.Content[i].Line // the key's line
				}
			}
			if found == nil {
				return 0
			}
			n = found
		}
		for rest != "" {
			idx, after, _ := strings.Cut(rest, "]")
			i, err := strconv.Atoi(idx)
			if err != nil || n.Kind != yaml3.SequenceNode || i >= len(n.Content) {
				return 0
			}
			n, line = n.Content[i], n.Content[i].Line
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return line
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
		return &json.UnmarshalTypeError{Value: `want a duration string such as "2s"`, Type: durationType}
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return &json.UnmarshalTypeError{Value: fmt.Sprintf(`%q: bad duration: want a positive one such as "2s"`, s), Type: durationType}
	}
	*d = Duration(v)
	return nil
}

var durationType = reflect.TypeFor[Duration]()
