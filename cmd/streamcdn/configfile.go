package main

import (
	"flag"
)

// configFlag adds --config to fs: a file of the command's flag values.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "", "A YAML or JSON file of this command's flags, keyed by flag name (sizes and durations as strings, \"1GiB\", \"60s\"; a list for a repeatable flag). Flags given on the command line override it.")
}
