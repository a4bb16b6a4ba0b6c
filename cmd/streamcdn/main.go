// Command streamcdn is the streamcdn video CDN in one binary: a DASH
// packager and origin, caching edges, and the demo that runs them together.
//
// Usage:
//
//	streamcdn <command> [flags]
//
// Run "streamcdn help" for the list of commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/streamcdn/streamcdn/internal/version"
)

// command is one subcommand: its name, a one-line summary and its run
// function, which gets the arguments after the name.
type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"package", "package a video (or the built-in sample) into a DASH ladder", runPackage},
		{"origin", "serve packaged titles over HTTP like a CDN origin", runOrigin},
		{"edge", "run a caching edge (or shield) in front of an origin", runEdge},
		{"push", "fill edges' pinned areas with a title, or the most requested titles, ahead of demand", runPush},
		{"dns", "serve the provider and CDN zones, choosing edge clusters by health, RTT, geography and load", runDNS},
		{"steer", "tell players which edges to use, best first (DASH Content Steering), among those holding the title", runSteer},
		{"play", "stream a DASH title as a headless player with ABR, over real HTTP, optionally shaped by a trace", runPlay},
		{"bench", "run a fleet of players against a server or in virtual time; tables, CSV, JSON and charts", runBench},
		{"sim", "run ABR algorithms in virtual time on network traces (Sabre's model)", runSim},
		{"deploy", "run a topology's CDN across emulated regions (up, status, down, play), or render it for Kubernetes", runDeploy},
		{"wan", "emulate wide-area links: TCP proxies with delay and rate by client network (deploy up runs them)", runWAN},
		{"demo", "package the built-in sample, serve it through origin, shield, edges and DNS, and stream it", runDemo},
		{"version", "print the build version", runVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "streamcdn:", err)
	}
	os.Exit(exitCode(err))
}

// exitCode is 0 for success and for help asked for (-h), 1 otherwise.
func exitCode(err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 1
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		return runVersion(ctx, nil, stdout, stderr)
	}
	return dispatch(ctx, "", commands(), args, stdout, stderr)
}

// dispatch runs the command of cmds that args name, after group ("" for
// the binary's own commands).
func dispatch(ctx context.Context, group string, cmds []command, args []string, stdout, stderr io.Writer) error {
	name := strings.TrimSpace("streamcdn " + group)
	usage := func() {
		fmt.Fprintf(stderr, "usage: %s <command> [flags]\n\ncommands:\n", name)
		for _, c := range cmds {
			fmt.Fprintf(stderr, "  %-8s %s\n", c.name, c.summary)
		}
		fmt.Fprintf(stderr, "\nRun \"%s <command> -h\" for a command's flags.\n\n", name)
		if u, ok := usages[group]; ok {
			u.writeExamples(stderr)
		}
	}
	if len(args) == 0 {
		usage()
		return fmt.Errorf("%s: no command", name)
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage()
		return flag.ErrHelp
	}
	for _, c := range cmds {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	usage()
	return fmt.Errorf("%s: unknown command %q", name, args[0])
}

func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) error {
	_, err := fmt.Fprintln(stdout, "streamcdn", version.String())
	return err
}
