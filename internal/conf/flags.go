package conf

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
)

// ApplyFlags sets every flag of fs that the command line did not
// set and the file at path names: one document, YAML or JSON, whose keys
// are flag names and whose values are what the flag takes, or a list of
// them for a repeatable flag. An unknown key, a nested object or a value
// the flag refuses is an error naming the key and its line.
func ApplyFlags(fs *flag.FlagSet, path string) error {
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var values map[string]any
	if err := Decode(data, &values); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fault := func(err error) error {
			return &PathError{Path: k, Line: Line(data, k), Err: err}
		}
		f := fs.Lookup(k)
		if f == nil || k == "config" {
			return fmt.Errorf("%s: %w", path, fault(errors.New("unknown field")))
		}
		if set[k] {
			continue // the command line wins
		}
		vs, err := flagValues(values[k])
		if err != nil {
			return fmt.Errorf("%s: %w", path, fault(err))
		}
		for _, v := range vs {
			if err := f.Value.Set(v); err != nil {
				return fmt.Errorf("%s: %w", path, fault(err))
			}
		}
	}
	return nil
}

// flagValues turns a decoded value into the strings a flag is set from.
func flagValues(v any) ([]string, error) {
	switch v := v.(type) {
	case string:
		return []string{v}, nil
	case bool:
		return []string{strconv.FormatBool(v)}, nil
	case float64:
		return []string{strconv.FormatFloat(v, 'f', -1, 64)}, nil
	case []any:
		var out []string
		for _, e := range v {
			s, err := flagValues(e)
			if err != nil || len(s) != 1 {
				return nil, errors.New("want a list of values")
			}
			out = append(out, s[0])
		}
		return out, nil
	}
	return nil, fmt.Errorf("want a value or a list of values, not %T", v)
}
