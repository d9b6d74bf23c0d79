// Command ringsim co-simulates bittide ring buffer RTL: N Verilated nodes in lockstep, the
// ring buffer alignment protocol and a TCP/IP stack per node over the ring buffers.
//
//	ringsim run      align, bring up TCP and move data between simulated nodes (main job)
//	ringsim serve    serve the simulator over gRPC
//	ringsim check    the pre-synthesis gate for ring buffer RTL
//	ringsim mutate   the gate's mutation score on single-change variants of the RTL
//	ringsim sweep    run a grid of jobs (and shards of it) and tabulate the results
//
// Run `ringsim <command> -h` for a command's flags.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand. run returns the process exit code: 0 success, 1 the job ran
// and failed, 2 the job could not run (bad flags, missing tools).
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string) int
}

var commands = map[string]*command{}

// register adds a subcommand; each subcommand's file calls it from init.
func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("ringsim: duplicate command " + c.name)
	}
	commands[c.name] = c
}

func usage() {
	fmt.Fprintf(os.Stderr, "usage: ringsim <command> [flags]\n\ncommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(os.Stderr, "\nrun `ringsim <command> -h` for its flags\n")
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	name := os.Args[1]
	if name == "-h" || name == "--help" || name == "help" {
		usage()
		os.Exit(0)
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "ringsim: unknown command %q\n\n", name)
		usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := c.run(ctx, os.Args[2:])
	stop()
	os.Exit(code)
}
