package check

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReproScriptRunsFromACopy moves a failing run's evidence folder elsewhere (as a CI
// artifact is downloaded), deletes the RTL it checked, and runs a case's repro.sh from the
// copy with a stand-in ringsim: the script must hand it the RTL kept in the copy and an
// output folder inside it, and pass extra arguments on.
func TestReproScriptRunsFromACopy(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	out, rtlDir := t.TempDir(), t.TempDir()
	if err := OverlayRTL(rtlDir, filepath.Join(brokenDir, "lint-unused")); err != nil {
		t.Fatal(err)
	}
	p := small()
	p.Lint = p.Lint[:1]
	rep := run(t, Options{Profile: p, RTLDir: rtlDir, Only: []string{Lint}, OutDir: out})
	if rep.Status != Fail {
		t.Fatalf("got %s, want fail", rep.Status)
	}
	cs := rep.Checks[0].Cases[0]
	checkReproScript(t, cs.Evidence.Dir, cs.ID)
	if err := os.RemoveAll(rtlDir); err != nil {
		t.Fatal(err)
	}
	moved := filepath.Join(t.TempDir(), "artifact")
	if err := os.CopyFS(moved, os.DirFS(out)); err != nil {
		t.Fatal(err)
	}
	// The stand-in prints its arguments, one a line, and fails as the real one would.
	fake := filepath.Join(t.TempDir(), "ringsim")
	script := "#!/bin/sh\nwhile [ $# -gt 0 ]; do echo \"$1\"; [ \"$1\" = --rtl ] && ls \"$2\" >&2; shift; done\nexit 1\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", filepath.Join(moved, "lint", "d16x1", "repro.sh"), "--log-level", "debug")
	cmd.Dir = t.TempDir() // anywhere
	cmd.Env = append(os.Environ(), "RINGSIM="+fake)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("repro.sh: exit %d (%v), want the stand-in's 1\n%s%s", code, err, stdout.String(), stderr.String())
	}
	args := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	want := []string{"check", "--profile", "small", "--only", "lint/d16x1", "--rtl", filepath.Join(moved, "lint", "d16x1", "..", "..", "rtl"),
		"--out", filepath.Join(moved, "lint", "d16x1", "repro"), "--log-level", "debug"}
	if strings.Join(args, " ") != strings.Join(want, " ") {
		t.Errorf("ringsim got\n  %q\nwant\n  %q", args, want)
	}
	if !strings.Contains(stderr.String(), "node_regs.sv") {
		t.Errorf("the RTL folder it got does not hold the RTL: %s", stderr.String())
	}
	// RINGSIM_RTL points it elsewhere.
	cmd = exec.Command("sh", filepath.Join(moved, "lint", "d16x1", "repro.sh"))
	cmd.Env = append(os.Environ(), "RINGSIM="+fake, "RINGSIM_RTL=/some/rtl")
	b, _ := cmd.Output()
	if !strings.Contains(string(b), "--rtl\n/some/rtl\n") {
		t.Errorf("with RINGSIM_RTL: %q", b)
	}
}

// TestBuildFailureReportedOnce checks RTL that does not compile: the first case that
// compiles it says so with the compiler's text (and keeps it), every later case says it
// was not run and points there, and the summary says so once, not per case.
func TestBuildFailureReportedOnce(t *testing.T) {
	bad := t.TempDir()
	if err := OverlayRTL(bad, filepath.Join(brokenDir, "lint-unused")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(bad, "node_regs.sv"))
	if err != nil {
		t.Fatal(err)
	}
	// A syntax error in a copy of our RTL.
	broken := strings.Replace(string(b), "assign wb_ack_o", "assign wb_ack_o = = ", 1)
	if err := os.WriteFile(filepath.Join(bad, "node_regs.sv"), []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		only   []string
		first  string // the case that reports it
		reason string // its reason's headline starts so
		what   string // what later cases say
		log    string // the evidence file with the compiler's output
	}{
		{"lint first", []string{Lint, Synth, Conformance}, "lint/d16x1", "RTL does not compile: %Error: node_regs.sv:",
			"not run: the RTL does not compile (see case lint/d16x1)", "tool.log"},
		{"simulation first", []string{Conformance}, "conformance/d16-bus-timing", "the model did not build: %Error: ",
			"not run: the model did not build (see case conformance/d16-bus-timing)", "build.log"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			rep := run(t, Options{Profile: small(), RTLDir: bad, Only: tt.only, OutDir: out})
			if rep.Status != Error || rep.ExitCode() != 2 {
				t.Fatalf("got %s (exit %d), want error (exit 2)", rep.Status, rep.ExitCode())
			}
			var first *CaseResult
			notRunCases := 0
			for i := range rep.Checks {
				for j := range rep.Checks[i].Cases {
					cs := &rep.Checks[i].Cases[j]
					switch {
					case first == nil:
						first = cs
					case cs.Status != Error || cs.Reason != tt.what:
						t.Errorf("%s: %s %q, want error %q", cs.ID, cs.Status, cs.Reason, tt.what)
					default:
						notRunCases++
					}
				}
			}
			if first.ID != tt.first || !strings.HasPrefix(first.Reason, tt.reason) || !strings.Contains(first.Reason, "syntax error") {
				t.Errorf("first case %s: %q, want %s: %q with the compiler's syntax error", first.ID, first.Reason, tt.first, tt.reason)
			}
			if first.Evidence == nil || !strings.Contains(strings.Join(first.Evidence.Files, " "), tt.log) {
				t.Errorf("first case's evidence %+v, want %s", first.Evidence, tt.log)
			} else if log, _ := os.ReadFile(filepath.Join(first.Evidence.Dir, tt.log)); !bytes.Contains(log, []byte("syntax error")) {
				t.Errorf("%s lacks the compiler's text:\n%s", tt.log, log)
			}
			var sum bytes.Buffer
			rep.Summary(&sum)
			if got := strings.Count(sum.String(), "syntax error"); got < 1 || strings.Count(sum.String(), tt.what) > len(rep.Checks) {
				t.Errorf("summary repeats itself (%d mentions of the error):\n%s", got, sum.String())
			}
			if notRunCases == 0 || !strings.Contains(sum.String(), "cases "+tt.what) {
				t.Errorf("summary does not group the %d cases not run:\n%s", notRunCases, sum.String())
			}
		})
	}
}

// TestFailFast checks that FailFast stops at the first failing case and skips the rest.
func TestFailFast(t *testing.T) {
	rep := run(t, Options{Profile: small(), RTLDir: variantDir(t, "lint-unused"), Only: []string{Lint, Synth}, FailFast: true})
	if rep.Status != Fail || rep.ExitCode() != 1 {
		t.Fatalf("got %s (exit %d), want fail (exit 1)", rep.Status, rep.ExitCode())
	}
	lint, synth := rep.Checks[0], rep.Checks[1]
	if lint.Cases[0].Status != Fail || lint.Cases[1].Status != Skip || synth.Status != Skip ||
		!strings.Contains(synth.Cases[0].Reason, "--fail-fast stopped the gate after lint/d16x1") {
		t.Errorf("lint %+v, synth %+v: want the first lint case failed and everything after it skipped", lint.Cases, synth.Cases)
	}
}

// TestInterruptedCaseKeepsEvidence interrupts a long case: it ends as an error at the cycle
// it reached, with its evidence (no rerun), and the cases after it are not run.
func TestInterruptedCaseKeepsEvidence(t *testing.T) {
	p := Profile{Name: "long", Soak: SoakSweep{Targets: []SoakTarget{{"crc", 16, 64 << 20}}, Faults: []FaultSet{clean},
		Seeds: []uint64{1, 2}, Latency: 16}}
	// Build the model first, so that the interrupt comes during the simulation.
	warm := p
	warm.Soak.Targets = []SoakTarget{{"crc", 16, 1 << 10}}
	warm.Soak.Seeds = []uint64{1}
	run(t, Options{Profile: warm})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	out := t.TempDir()
	rep, err := Run(ctx, Options{Profile: p, OutDir: out})
	if err != nil {
		t.Fatal(err)
	}
	cs, next := rep.Checks[0].Cases[0], rep.Checks[0].Cases[1]
	if cs.Status != Error || cs.Cycle == nil || *cs.Cycle == 0 || !strings.HasPrefix(cs.Reason, "interrupted at cycle") {
		t.Fatalf("interrupted case: %s at %v: %q", cs.Status, cs.Cycle, cs.Reason)
	}
	if next.Status != Error || !strings.HasPrefix(next.Reason, "not run: ") {
		t.Errorf("next case: %s %q, want not run", next.Status, next.Reason)
	}
	ev := cs.Evidence
	if ev == nil || !strings.Contains(ev.Note, "interrupted at cycle") {
		t.Fatalf("evidence %+v, want a note that the run was interrupted", ev)
	}
	for _, f := range []string{"case.json", "repro.sh"} {
		if _, err := os.Stat(filepath.Join(ev.Dir, f)); err != nil {
			t.Errorf("evidence: %v", err)
		}
	}
	checkReproScript(t, ev.Dir, cs.ID)
	if rep.ExitCode() != 2 {
		t.Errorf("exit %d, want 2", rep.ExitCode())
	}
}
