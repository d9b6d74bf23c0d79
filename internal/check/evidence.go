package check

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// evidence is what a case's rerun records for a failure: an FST from shortly before the
// failing cycle, pcaps, and notes on what it could not record.
type evidence struct {
	dir   string
	cycle uint64 // the failing cycle of the first run
	start *uint64
	files []string
	notes []string
}

// file returns the path of a new evidence file called name.
func (ev *evidence) file(name string) string {
	ev.files = append(ev.files, name)
	return filepath.Join(ev.dir, name)
}

// waveFrom is the first cycle the FST dumps: a few rotations and at least 2000 cycles
// before the failing cycle, so that the cause is in view and the file stays small.
func (ev *evidence) waveFrom(depth int) uint64 {
	from := ev.cycle - min(ev.cycle, uint64(8*depth+2000))
	ev.start = &from
	return from
}

func (ev *evidence) note(format string, a ...any) {
	ev.notes = append(ev.notes, fmt.Sprintf(format, a...))
}

// keep writes the evidence of a case that failed or could not run into the output
// directory: the case's result (with its seed and first failing cycle), a reproduce script
// that runs from the folder wherever it is copied, tool or compiler output and, when rerun
// is set, the waveforms and pcaps of a second run of the case.
func (e *env) keep(ctx context.Context, t task, cs *CaseResult, o outcome, rerun bool) (*Evidence, error) {
	dir := filepath.Join(e.opt.OutDir, t.check, t.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("evidence dir: %w", err)
	}
	ev := &evidence{dir: dir}
	if o.cycle != nil {
		ev.cycle = *o.cycle
	}
	if o.log != "" {
		name := o.logName
		switch {
		case name != "":
		case o.cycle != nil:
			name = "panic.log" // simulations: the firmware's stack
		default:
			name = "tool.log" // lint and synth: the tool's output
		}
		if err := writeFile(ev.file(name), o.log); err != nil {
			return nil, err
		}
	}
	switch {
	case o.interrupted:
		ev.note("the run was interrupted at cycle %d; nothing was rerun: run repro.sh for the waveforms", ev.cycle)
	case o.status != Fail:
	case rerun && o.cycle != nil:
		// A case that ran out of its limits is rerun up to the cycle it reached: the rerun
		// ends there, with the waveform of what it was doing.
		var budget uint64
		if o.ranOut {
			budget = *o.cycle
		}
		again := e.runCase(ctx, t, ev, budget)
		switch {
		case o.ranOut:
			ev.note("the case ran out of its limits; the waveform ends at cycle %d, where it was", *o.cycle)
		case again.status != Fail:
			ev.note("the rerun with waveforms did not fail (%s: %s): the case is not deterministic", again.status, again.reason)
		case again.cycle == nil || *again.cycle != *o.cycle:
			ev.note("the rerun with waveforms failed at another cycle: %s", firstLine(again.reason))
		}
	case o.cycle != nil:
		ev.note("waveforms are kept for the first failing case of each check only; run repro.sh for this one's")
	}
	if err := e.keepRTL(); err != nil {
		return nil, err
	}
	if err := writeFile(ev.file("repro.sh"), e.reproScript(t)); err != nil {
		return nil, err
	}
	if err := os.Chmod(filepath.Join(dir, "repro.sh"), 0o755); err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	out := &Evidence{Dir: dir, WaveformFrom: ev.start, Note: strings.Join(ev.notes, "; ")}
	out.Files = append(out.Files, "case.json")
	for _, f := range ev.files {
		if st, err := os.Stat(filepath.Join(dir, f)); err == nil && st.Size() > 0 {
			out.Files = append(out.Files, f)
		}
	}
	sort.Strings(out.Files)
	withEv := *cs
	withEv.Evidence = out
	b, err := json.MarshalIndent(withEv, "", "  ")
	if err != nil {
		return out, fmt.Errorf("evidence: %w", err)
	}
	return out, writeFile(filepath.Join(dir, "case.json"), string(b)+"\n")
}

// repro is the command that runs one case again on this machine, as this run ran it.
func (e *env) repro(t task) string {
	args := append([]string{e.opt.Program, "check"}, e.caseFlags()...)
	if e.src.dir != "" {
		args = append(args, "--rtl", e.src.dir)
	}
	args = append(args, "--only", t.id())
	if e.opt.OutDir != "" {
		if abs, err := filepath.Abs(e.opt.OutDir); err == nil {
			args = append(args, "--out", filepath.Join(abs, "repro"))
		}
	}
	for i, a := range args {
		args[i] = shellQuote(a)
	}
	return strings.Join(args, " ")
}

// caseFlags are the flags that make a case run as it ran here: the profile and the
// per-case limits when they are not the defaults.
func (e *env) caseFlags() []string {
	var args []string
	switch e.opt.Profile.Name {
	case "quick":
		args = append(args, "--quick")
	case "full":
	default:
		args = append(args, "--profile", e.opt.Profile.Name)
	}
	if e.opt.CaseTimeout != DefaultCaseTimeout {
		args = append(args, "--case-timeout", e.opt.CaseTimeout.String())
	}
	if e.opt.CaseCycles != DefaultCaseCycles {
		args = append(args, "--case-cycles", fmt.Sprint(e.opt.CaseCycles))
	}
	return args
}

// rtlCopy is the folder of the evidence directory that holds the RTL under test.
const rtlCopy = "rtl"

// keepRTL copies the RTL under test into the evidence directory once per run (replacing
// an older copy), so that the reproduce scripts run from a downloaded CI artifact.
func (e *env) keepRTL() error {
	if e.rtlKept {
		return nil
	}
	dir := filepath.Join(e.opt.OutDir, rtlCopy)
	if abs, err := filepath.Abs(dir); err == nil && abs == e.src.dir {
		e.rtlKept = true // checking the copy an earlier run kept: it is there already
		return nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("evidence: %w", err)
	}
	if err := e.src.materialize(dir); err != nil {
		return fmt.Errorf("evidence: %w", err)
	}
	e.rtlKept = true
	return nil
}

// reproScript is a case's repro.sh. It uses no path of the machine that wrote it: it runs
// from the directory it is in, checks the RTL copy two levels up (OUT/rtl, or
// $RINGSIM_RTL), runs the ringsim on PATH (or $RINGSIM) and writes its evidence next to
// itself. Extra arguments go to ringsim check.
func (e *env) reproScript(t task) string {
	var flags []string
	for _, a := range append(e.caseFlags(), "--only", t.id()) {
		flags = append(flags, shellQuote(a))
	}
	return fmt.Sprintf(`#!/bin/sh
# Reproduces %[1]s (seed %[2]d) of ringsim check.
# Run it from a copy of this evidence folder anywhere: it checks the RTL kept in
# ../../%[3]s (or $RINGSIM_RTL) with the ringsim on PATH (or $RINGSIM) and writes what it
# finds to ./repro. Exit 1: the case fails again.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
rtl=${RINGSIM_RTL:-$(cd "$here/../../%[3]s" && pwd)}
exec "${RINGSIM:-ringsim}" check %[4]s --rtl "$rtl" --out "$here/repro" "$@"
`, t.id(), t.seed, rtlCopy, strings.Join(flags, " "))
}

// shellQuote quotes s for a POSIX shell if it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func writeFile(path, s string) error {
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}
