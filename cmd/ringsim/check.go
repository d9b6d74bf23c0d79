package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ringsim/ringsim/internal/check"
)

func init() {
	register(&command{name: "check", summary: "the pre-synthesis gate for ring buffer RTL (check merge combines shards)", run: checkMain})
}

func checkMain(ctx context.Context, args []string) int {
	return checkCommand(ctx, args, os.Stdout, os.Stderr)
}

// checkFlags are `ringsim check`'s flags.
type checkFlags struct {
	quick    bool
	profile  string
	only     string
	rtlDir   string
	outDir   string
	junit    string
	json     string
	shard    string
	cacheDir string
	logLevel string
	list     bool
	timeout  time.Duration
	cycles   uint64
	failFast bool
}

func (f *checkFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.quick, "quick", false, "the quick profile (under 2 minutes, for every commit); same as --profile quick")
	fs.StringVar(&f.profile, "profile", "full", "profile: full (under 15 minutes) or quick")
	fs.StringVar(&f.only, "only", "", "comma-separated checks (lint, synth, conformance, alignment, soak, scenarios) or case IDs (check/case) to run")
	fs.StringVar(&f.rtlDir, "rtl", "", "node RTL directory implementing the port contract (default: ringsim's)")
	fs.StringVar(&f.outDir, "out", "ringsim-check-out", "directory for the evidence of failures (seed, FST, pcap, reproduce command); empty keeps none")
	fs.StringVar(&f.junit, "junit", "", "write a JUnit XML report to this file")
	fs.StringVar(&f.json, "json", "", "write the JSON report to this file (what 'ringsim check merge' reads)")
	fs.StringVar(&f.shard, "shard", "", "run shard i of n (i/n, 1 <= i <= n) of the plan; combine the shards' --json with 'ringsim check merge'")
	fs.StringVar(&f.cacheDir, "cache", "", "model cache directory (default $RINGSIM_CACHE or the user cache dir)")
	fs.StringVar(&f.logLevel, "log-level", "warn", "log level: trace, debug, info, warn, error")
	fs.BoolVar(&f.list, "list", false, "list the cases of the plan (after --only and --shard) and exit")
	fs.DurationVar(&f.timeout, "case-timeout", check.DefaultCaseTimeout, "wall-clock limit of one case; a case that runs out fails at the cycle it reached, with evidence")
	fs.Uint64Var(&f.cycles, "case-cycles", check.DefaultCaseCycles, "simulated cycles one case may run; a case that runs out fails there, with evidence")
	fs.BoolVar(&f.failFast, "fail-fast", false, "stop at the first case that fails or cannot run and skip the rest (bisecting, mutation runs)")
}

const checkUsage = `usage: ringsim check [flags]
       ringsim check merge [--junit FILE] [--json FILE] SHARD.json...

Runs the pre-synthesis gate on ring buffer RTL: lint (Verilator), synth (a Yosys
synthesizability pre-check), conformance (SPEC section 2 directed tests and the
differential test), alignment (a sweep of depths, latencies and start offsets), soak
(TCP transfers over both framings under faults, and on the real link) and, in the full
profile, scenarios (upstream's demos with upstream's pass criteria).

Exit status: 0 every check passed, 1 a check failed, 2 the gate could not run (missing
tool, bad flags, RTL that does not compile). See docs/check.md.

flags:
`

func checkCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "merge" {
		return mergeCommand(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("ringsim check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f checkFlags
	f.register(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), checkUsage)
		fs.PrintDefaults()
	}
	if code, ok := parseArgs(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ringsim check: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	opt, err := f.options(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "ringsim check: %v\n", err)
		return 2
	}
	if f.list {
		ids, err := check.Plan(opt)
		if err != nil {
			fmt.Fprintf(stderr, "ringsim check: %v\n", err)
			return 2
		}
		fmt.Fprintln(stdout, strings.Join(ids, "\n"))
		return 0
	}
	opt.Progress = func(c check.CheckResult) {
		fmt.Fprintf(stdout, "  %-12s %-5s %6.1fs  %s\n", c.Name, strings.ToUpper(string(c.Status)), c.Seconds, firstLine(c.Reason))
	}
	rep, err := check.Run(ctx, opt)
	if err != nil {
		fmt.Fprintf(stderr, "ringsim check: %v\n", err)
		return 2
	}
	return writeReports(rep, f.junit, f.json, stdout, stderr)
}

// parseArgs parses a command's flags; when it returns false the command exits with the
// code (0 after -h, 2 after a flag error, which the flag package has printed).
func parseArgs(fs *flag.FlagSet, args []string) (int, bool) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return 0, true
	case errors.Is(err, flag.ErrHelp):
		return 0, false
	}
	return 2, false
}

// options validates the flags.
func (f *checkFlags) options(stderr io.Writer) (check.Options, error) {
	var opt check.Options
	level := hclog.LevelFromString(f.logLevel)
	if level == hclog.NoLevel {
		return opt, fmt.Errorf("--log-level %q: want trace, debug, info, warn or error", f.logLevel)
	}
	opt.Logger = hclog.New(&hclog.LoggerOptions{Name: "ringsim", Level: level, Output: stderr})
	opt.OnModelBuild = newBuildLine().event
	if f.timeout <= 0 || f.cycles == 0 {
		return opt, fmt.Errorf("--case-timeout %v and --case-cycles %d must be positive", f.timeout, f.cycles)
	}
	opt.CaseTimeout, opt.CaseCycles, opt.FailFast = f.timeout, f.cycles, f.failFast
	switch {
	case f.quick && f.profile != "full" && f.profile != "quick":
		return opt, fmt.Errorf("--quick and --profile %s disagree", f.profile)
	case f.quick || f.profile == "quick":
		opt.Profile = check.Quick()
	case f.profile == "full":
		opt.Profile = check.Full()
	default:
		return opt, fmt.Errorf("--profile %q: want full or quick", f.profile)
	}
	if f.only != "" {
		for _, n := range strings.Split(f.only, ",") {
			if n = strings.TrimSpace(n); n != "" {
				opt.Only = append(opt.Only, n)
			}
		}
	}
	if f.shard != "" {
		sh, err := check.ParseShard(f.shard)
		if err != nil {
			return opt, fmt.Errorf("--shard: %w", err)
		}
		opt.Shard = sh
	}
	if f.rtlDir != "" {
		if st, err := os.Stat(f.rtlDir); err != nil || !st.IsDir() {
			return opt, fmt.Errorf("--rtl %s: not a directory", f.rtlDir)
		}
	}
	opt.RTLDir, opt.OutDir, opt.CacheDir, opt.Program = f.rtlDir, f.outDir, f.cacheDir, os.Args[0]
	return opt, nil
}

// writeReports prints the summary, writes the requested report files and returns the exit
// code.
func writeReports(rep *check.Report, junit, json string, stdout, stderr io.Writer) int {
	rep.Summary(stdout)
	code := rep.ExitCode()
	if json != "" {
		if err := rep.WriteJSON(json); err != nil {
			fmt.Fprintf(stderr, "ringsim check: --json: %v\n", err)
			code = 2
		}
	}
	if junit != "" {
		if err := rep.WriteJUnit(junit); err != nil {
			fmt.Fprintf(stderr, "ringsim check: --junit: %v\n", err)
			code = 2
		}
	}
	return code
}

// mergeCommand is `ringsim check merge`: it combines shard JSON reports into one.
func mergeCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ringsim check merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	junit := fs.String("junit", "", "write the merged JUnit XML report to this file")
	json := fs.String("json", "", "write the merged JSON report to this file")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: ringsim check merge [--junit FILE] [--json FILE] SHARD.json...\n\n"+
			"Combines the --json reports of 'ringsim check --shard i/n' runs into one report.\n"+
			"Exit status as ringsim check's; 2 if a shard is missing or the reports do not belong together.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parseArgs(fs, args); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "ringsim check merge: no shard reports given")
		fs.Usage()
		return 2
	}
	var reps []*check.Report
	for _, p := range fs.Args() {
		r, err := check.ReadJSON(p)
		if err != nil {
			fmt.Fprintf(stderr, "ringsim check merge: %v\n", err)
			return 2
		}
		reps = append(reps, r)
	}
	rep, err := check.Merge(reps)
	if err != nil {
		fmt.Fprintf(stderr, "ringsim check merge: %v\n", err)
		return 2
	}
	return writeReports(rep, *junit, *json, stdout, stderr)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
