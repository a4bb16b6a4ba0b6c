package conf

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// list is a repeatable flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

// TestApplyFlags: a config file sets the flags the command line did not, from
// YAML or JSON; a broken file is an error naming the key and its line.
func TestApplyFlags(t *testing.T) {
	newFlags := func() (*flag.FlagSet, *string, *time.Duration, *bool, *list) {
		fs := flag.NewFlagSet("edge", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		mem := fs.String("mem", "1GiB", "")
		timeout := fs.Duration("send-timeout", time.Minute, "")
		verbose := fs.Bool("verbose", false, "")
		var modes list
		fs.Var(&modes, "title-mode", "")
		fs.String("config", "", "")
		return fs, mem, timeout, verbose, &modes
	}
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	good := write("edge.yaml", "mem: 2GiB\nsend-timeout: 30s\nverbose: true\ntitle-mode: [a=pull, b=push]\n")
	fs, mem, timeout, verbose, modes := newFlags()
	if err := fs.Parse([]string{"--config", good, "--mem", "3GiB"}); err != nil {
		t.Fatal(err)
	}
	if err := ApplyFlags(fs, good); err != nil {
		t.Fatal(err)
	}
	if *mem != "3GiB" || *timeout != 30*time.Second || !*verbose || strings.Join(*modes, ",") != "a=pull,b=push" {
		t.Errorf("mem %s (want the command line's 3GiB), send-timeout %v, verbose %v, title modes %v", *mem, *timeout, *verbose, *modes)
	}
	js := write("edge.json", `{"send-timeout": "5s", "mem": "64MiB"}`)
	fs, mem, timeout, _, _ = newFlags()
	if err := ApplyFlags(fs, js); err != nil || *mem != "64MiB" || *timeout != 5*time.Second {
		t.Errorf("JSON: %v, mem %s, send-timeout %v", err, *mem, *timeout)
	}

	for _, tc := range []struct{ name, body, want string }{
		{"unknown.yaml", "mem: 1GiB\nmemory: 2GiB\n", "memory (line 2): unknown field"},
		{"duration.yaml", "mem: 1GiB\n\nsend-timeout: 30\n", "send-timeout (line 3): parse error"},
		{"nested.yaml", "mem:\n  size: 1GiB\n", "mem (line 1): want a value or a list of values"},
		{"list.yaml", "title-mode:\n  - [a, b]\n", "title-mode (line 1): want a list of values"},
		{"itself.yaml", "config: other.yaml\n", "config (line 1): unknown field"},
		{"two.yaml", "mem: 1GiB\n---\nmem: 2GiB\n", "document"},
		{"notamap.yaml", "- mem\n", "cannot unmarshal"},
	} {
		p := write(tc.name, tc.body)
		fs, _, _, _, _ := newFlags()
		err := ApplyFlags(fs, p)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v, want an error naming the file and %q", tc.name, err, tc.want)
		}
	}
}
