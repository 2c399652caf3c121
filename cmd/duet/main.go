// Command duet is the Duet stranger-chat service: `duet serve` runs a node, `duet bench`
// measures nodes under load, `duet healthcheck` asks a node whether it is alive, `duet version`
// prints the build. Only this package reads configuration and wires the parts together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "duet:", err)
		os.Exit(1)
	}
}

const usage = `Duet, an anonymous stranger-chat service.

Usage:
  duet serve [flags]   run a node (duet serve -h lists every setting)
  duet bench [flags]   measure nodes under load (duet bench -h lists the flags)
  duet healthcheck     exit 0 when the node on this machine is alive (for containers)
  duet version         print the version (also duet --version)
`

// run is the whole program, callable from tests: it returns when the command is done or, for
// serve, when ctx ends and the node has shut down.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], getenv, stderr)
	case "bench":
		err = runBench(ctx, args[1:], stdout, stderr)
	case "healthcheck":
		err = healthcheck(ctx, args[1:], getenv, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "duet", version)
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
	if errors.Is(err, flag.ErrHelp) {
		return nil // help was asked for, and given: like `duet -h`, not a failure
	}
	return err
}
