package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ringsim/ringsim/internal/check"
	"github.com/ringsim/ringsim/internal/mutate"
)

func init() {
	register(&command{name: "mutate", summary: "the gate's mutation score: single-change variants of the RTL, and which survive check", run: mutateMain})
}

func mutateMain(ctx context.Context, args []string) int {
	return mutateCommand(ctx, args, os.Stdout, os.Stderr)
}

const mutateUsage = `usage: ringsim mutate [flags]

Makes single-change variants (mutants) of the RTL with mutation operators, runs the
pre-synthesis gate (ringsim check, stopping at its first failure) on each, and reports
the kill rate of each profile and every mutant that survived or hung the gate. Mutants
the allowlist argues no test can tell from the original count as equivalent. Each gate
runs in a process of its own, with a fresh model cache unless --cache is given.

  ringsim mutate                  # every mutant of ringsim's RTL, quick and full profiles
  ringsim mutate --ci             # the reviewed CI sample through --quick: exit 1 if one survives or hangs
  ringsim mutate --list           # the mutants, without running anything
  ringsim mutate --rtl DIR --profile quick --allowlist FILE

Exit status: 0 every mutant killed or argued equivalent, 1 a mutant survived, hung the
gate or had no verdict, 2 the campaign could not run. See docs/check.md.

flags:
`

// mutateFlags are `ringsim mutate`'s flags.
type mutateFlags struct {
	rtlDir      string
	profile     string
	ci          bool
	sample      string
	only        string
	allowlist   string
	list        bool
	json        string
	jobs        int
	timeout     time.Duration
	caseTimeout time.Duration
	cacheDir    string
}

func (f *mutateFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.rtlDir, "rtl", "", "RTL directory to mutate (default: ringsim's)")
	fs.StringVar(&f.profile, "profile", "both", "gate profile(s) to run each mutant through: quick, full or both")
	fs.BoolVar(&f.ci, "ci", false, "run ringsim's reviewed CI sample through the quick profile (implies --profile quick)")
	fs.StringVar(&f.sample, "sample", "", "run only the mutants of this list file (the format of internal/mutate/ci-sample.txt)")
	fs.StringVar(&f.only, "only", "", "run only these mutant IDs (comma-separated)")
	fs.StringVar(&f.allowlist, "allowlist", "", "allowlist of equivalent mutants (default: ringsim's, for ringsim's RTL)")
	fs.BoolVar(&f.list, "list", false, "list the mutants (ID, line, change) and exit")
	fs.StringVar(&f.json, "json", "", "write the JSON report to this file")
	fs.IntVar(&f.jobs, "jobs", 1, "mutants to run at once")
	fs.DurationVar(&f.timeout, "timeout", 15*time.Minute, "time one gate run may take on one mutant before it counts as hung")
	fs.DurationVar(&f.caseTimeout, "case-timeout", 2*time.Minute, "the gate's --case-timeout for mutant runs")
	fs.StringVar(&f.cacheDir, "cache", "", "model cache for the mutants (default: a fresh one, removed at the end; with --ci, ringsim check's)")
}

func mutateCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ringsim mutate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f mutateFlags
	f.register(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), mutateUsage)
		fs.PrintDefaults()
	}
	if code, ok := parseArgs(fs, args); !ok {
		return code
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "ringsim mutate: %v\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		return fail(fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	c, err := f.campaign()
	if err != nil {
		return fail(err)
	}
	if f.list {
		for _, m := range c.Mutants {
			fmt.Fprintf(stdout, "%s\t%s:%d\t%s\t=> %s\n", m.ID, m.File, m.Line, m.Before, m.After)
		}
		return 0
	}
	bin, err := os.Executable()
	if err != nil {
		return fail(fmt.Errorf("find the ringsim binary: %w", err))
	}
	work, err := os.MkdirTemp("", "ringsim-mutate-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(work)
	cache := f.cacheDir
	if cache == "" && !f.ci {
		// A campaign's mutants leave hundreds of models behind: keep them out of the user's
		// cache. The CI sample is small, and its run on the original RTL finds the models
		// the tests built in the default cache.
		cache = filepath.Join(work, "cache")
	}
	c.Work = filepath.Join(work, "rtl")
	c.Gate = processGate(bin, cache, f.caseTimeout, work)
	c.Timeout = f.timeout
	c.Progress = func(r mutate.Result) {
		by := r.By
		if r.Cycle != nil {
			by += fmt.Sprintf(" (cycle %d)", *r.Cycle)
		}
		if r.Verdict != mutate.Killed {
			by = r.Reason
		}
		fmt.Fprintf(stdout, "  %-10s %-5s %-44s %6.1fs  %s\n", r.Verdict, r.Profile, r.ID, r.Seconds, by)
	}
	fmt.Fprintf(stdout, "ringsim mutate: %d mutants x %s, %d at a time (each gate run stops at its first failure)\n",
		len(c.Mutants), strings.Join(c.Profiles, ", "), max(1, c.Jobs))
	rep, err := c.Run(ctx)
	if err != nil && rep == nil {
		return fail(err)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ringsim mutate: %v\n", err)
	}
	if f.ci {
		rep.Sample = "ci"
	} else if f.sample != "" {
		rep.Sample = f.sample
	}
	rep.Summary(stdout)
	if f.json != "" {
		if err := rep.WriteJSON(f.json); err != nil {
			return fail(err)
		}
	}
	switch {
	case err != nil:
		return 2
	case rep.Failed():
		return 1
	}
	return 0
}

// campaign builds the campaign the flags ask for (without its gate).
func (f *mutateFlags) campaign() (*mutate.Campaign, error) {
	files, err := mutate.ReadRTL(f.rtlDir)
	if err != nil {
		return nil, err
	}
	c := &mutate.Campaign{Files: files, RTL: "ringsim (embedded rtl/)", Jobs: f.jobs}
	if f.rtlDir != "" {
		abs, err := filepath.Abs(f.rtlDir)
		if err != nil {
			return nil, err
		}
		c.RTL = abs
	}
	switch {
	case f.ci && f.profile != "both" && f.profile != "quick":
		return nil, fmt.Errorf("--ci runs the quick profile, not %s", f.profile)
	case f.ci:
		c.Profiles = []string{"quick"}
	case f.profile == "both":
		c.Profiles = []string{"quick", "full"}
	case f.profile == "quick" || f.profile == "full":
		c.Profiles = []string{f.profile}
	default:
		return nil, fmt.Errorf("--profile %q: want quick, full or both", f.profile)
	}
	if f.jobs < 1 {
		return nil, fmt.Errorf("--jobs %d: want at least 1", f.jobs)
	}
	all := mutate.Generate(files)
	ours := f.rtlDir == ""
	switch {
	case f.allowlist != "":
		b, err := os.ReadFile(f.allowlist)
		if err != nil {
			return nil, fmt.Errorf("--allowlist: %w", err)
		}
		if c.Allow, err = mutate.ParseList(f.allowlist, string(b), true); err != nil {
			return nil, err
		}
	case ours:
		c.Allow = mutate.RingsimAllowlist()
	}
	if _, err := c.Allow.Match(all); err != nil {
		return nil, fmt.Errorf("allowlist: %w", err)
	}
	c.Mutants = all
	var sample mutate.List
	switch {
	case f.ci && !ours:
		return nil, errors.New("--ci runs ringsim's sample of ringsim's RTL; for other RTL give --sample FILE")
	case f.ci:
		sample = mutate.RingsimCISample()
	case f.sample != "":
		b, err := os.ReadFile(f.sample)
		if err != nil {
			return nil, fmt.Errorf("--sample: %w", err)
		}
		if sample, err = mutate.ParseList(f.sample, string(b), false); err != nil {
			return nil, err
		}
	}
	if sample != nil {
		if c.Mutants, err = sample.Match(all); err != nil {
			return nil, fmt.Errorf("sample: %w", err)
		}
	}
	if f.only != "" {
		want := map[string]bool{}
		for _, id := range strings.Split(f.only, ",") {
			want[strings.TrimSpace(id)] = true
		}
		var keep []mutate.Mutant
		for _, m := range c.Mutants {
			if want[m.ID] {
				keep = append(keep, m)
				delete(want, m.ID)
			}
		}
		if len(want) > 0 {
			var missing []string
			for id := range want {
				missing = append(missing, id)
			}
			return nil, fmt.Errorf("--only: no such mutant: %s (see --list)", strings.Join(missing, ", "))
		}
		c.Mutants = keep
	}
	return c, nil
}

// processGate runs `ringsim check` on a mutant in a process group of its own, so that a
// gate that hangs (or its Verilator and compiler children) can be killed when the mutant's
// time is up.
func processGate(bin, cache string, caseTimeout time.Duration, work string) mutate.Gate {
	return func(ctx context.Context, rtlDir, profile string) (*check.Report, error) {
		report := rtlDir + ".json"
		defer os.Remove(report)
		args := []string{"check", "--profile", profile, "--rtl", rtlDir, "--fail-fast", "--out", "", "--json", report,
			"--case-timeout", caseTimeout.String(), "--log-level", "error"}
		if cache != "" {
			args = append(args, "--cache", cache)
		}
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir = work
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = 10 * time.Second
		err := cmd.Run()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: killed after %s", mutate.ErrHung, "its time limit")
		}
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			return nil, fmt.Errorf("run the gate: %w", err)
		}
		rep, rerr := check.ReadJSON(report)
		if rerr != nil {
			return nil, fmt.Errorf("the gate wrote no report (exit %v): %s", err, lastLines(out.String(), 5))
		}
		return rep, nil
	}
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
