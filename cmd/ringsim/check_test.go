package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringsim/ringsim/internal/check"
)

// checkRun runs `ringsim check` in process and returns its exit code and output.
func checkRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := checkCommand(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestCheckBadFlags checks that bad input exits 2 with a message, without running
// anything.
func TestCheckBadFlags(t *testing.T) {
	notJSON := filepath.Join(t.TempDir(), "x.json")
	if err := os.WriteFile(notJSON, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string // part of the message on stderr
	}{
		{"unknown flag", []string{"--nope"}, "flag provided but not defined"},
		{"stray argument", []string{"lint"}, `unexpected argument "lint"`},
		{"bad profile", []string{"--profile", "huge"}, "--profile"},
		{"quick and full", []string{"--quick", "--profile", "nightly"}, "disagree"},
		{"unknown check", []string{"--only", "timing"}, "no such check or case"},
		{"unknown case", []string{"--only", "lint/d3x1"}, "no such check or case"},
		{"shard zero", []string{"--shard", "0/2"}, "--shard"},
		{"shard past the count", []string{"--shard", "3/2"}, "--shard"},
		{"shard not a fraction", []string{"--shard", "half"}, "--shard"},
		{"missing rtl", []string{"--rtl", "/nonexistent"}, "not a directory"},
		{"rtl without sources", []string{"--rtl", t.TempDir()}, "no *.sv or *.v files"},
		{"bad log level", []string{"--log-level", "loud"}, "--log-level"},
		{"merge of nothing", []string{"merge"}, "no shard reports"},
		{"merge of a missing file", []string{"merge", "/nonexistent.json"}, "no such file"},
		{"merge of another file", []string{"merge", notJSON}, "not a ringsim check report"},
		{"merge flag", []string{"merge", "--nope"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := checkRun(t, tt.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q does not say %q", stderr, tt.want)
			}
		})
	}
}

// TestCheckList checks --list against --only and --shard.
func TestCheckList(t *testing.T) {
	code, out, _ := checkRun(t, "--quick", "--list", "--only", "lint,synth/d16x1")
	if code != 0 || out != "lint/d8x1\nlint/d13x2\nlint/d16x1\nlint/d16x2\nlint/d200x1\nlint/d256x1\nsynth/d16x1\n" {
		t.Errorf("exit %d, list:\n%s", code, out)
	}
	_, one, _ := checkRun(t, "--list", "--shard", "1/2")
	_, two, _ := checkRun(t, "--list", "--shard", "2/2")
	_, all, _ := checkRun(t, "--list")
	if n := strings.Count(one, "\n") + strings.Count(two, "\n"); n != strings.Count(all, "\n") || one == two {
		t.Errorf("shards of %d and %d cases, plan of %d", strings.Count(one, "\n"), strings.Count(two, "\n"), strings.Count(all, "\n"))
	}
}

// TestCheckShardsAndMerge runs lint and synth of the quick profile in two shards with JSON
// reports, merges them, and checks the merged JUnit and JSON and the exit codes.
func TestCheckShardsAndMerge(t *testing.T) {
	dir := t.TempDir()
	var shards []string
	for _, s := range []string{"1/2", "2/2"} {
		path := filepath.Join(dir, "shard-"+s[:1]+".json")
		code, out, stderr := checkRun(t, "--quick", "--only", "lint,synth", "--shard", s, "--json", path, "--out", "")
		if code != 0 {
			t.Fatalf("shard %s: exit %d\n%s%s", s, code, out, stderr)
		}
		if !strings.Contains(out, "shard "+s) || !strings.Contains(out, "PASS: all 2 checks passed") {
			t.Errorf("shard %s summary:\n%s", s, out)
		}
		shards = append(shards, path)
	}
	junit, merged := filepath.Join(dir, "merged.xml"), filepath.Join(dir, "merged.json")
	code, out, stderr := checkRun(t, append([]string{"merge", "--junit", junit, "--json", merged}, shards...)...)
	if code != 0 {
		t.Fatalf("merge: exit %d\n%s%s", code, out, stderr)
	}
	if !strings.Contains(out, "merged from shards 1/2 2/2") {
		t.Errorf("merge summary:\n%s", out)
	}
	var rep struct {
		Status string
		Checks []struct {
			Name    string
			Planned int `json:"planned_cases"`
			Cases   []struct{ ID string }
		}
	}
	b, err := os.ReadFile(merged)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Status != "pass" || len(rep.Checks) != 2 {
		t.Fatalf("merged report: %s with %d checks", rep.Status, len(rep.Checks))
	}
	for _, c := range rep.Checks {
		if len(c.Cases) != c.Planned {
			t.Errorf("merged %s: %d of %d planned cases", c.Name, len(c.Cases), c.Planned)
		}
	}
	x, err := os.ReadFile(junit)
	if err != nil || !bytes.Contains(x, []byte(`<testsuite name="lint" tests="6" failures="0"`)) {
		t.Errorf("merged JUnit (%v):\n%s", err, x)
	}
	// One shard alone is not a verdict.
	if code, out, _ := checkRun(t, "merge", shards[0]); code != 2 || !strings.Contains(out, "missing shard(s) 2/2") {
		t.Errorf("merge of one shard: exit %d, want 2 naming the missing shard:\n%s", code, out)
	}
}

// TestCheckFails checks that a failing check exits 1 and keeps its evidence.
func TestCheckFails(t *testing.T) {
	out := t.TempDir()
	rtlDir := t.TempDir()
	if err := check.OverlayRTL(rtlDir, "../../testdata/broken/lint-unused"); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ := checkRun(t, "--quick", "--only", "lint/d16x1", "--rtl", rtlDir, "--out", out)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, stdout)
	}
	for _, want := range []string{"FAIL lint/d16x1: 1 lint warning(s)", "UNUSEDSIGNAL", "reproduce: ", "FAIL: 1 of 1 checks failed"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	for _, f := range []string{"case.json", "repro.sh", "tool.log"} {
		if _, err := os.Stat(filepath.Join(out, "lint", "d16x1", f)); err != nil {
			t.Errorf("evidence: %v", err)
		}
	}
}

// TestCheckReproFromArtifact runs the ringsim binary on failing RTL, moves its evidence
// folder elsewhere (as a CI artifact is downloaded), deletes the RTL it checked and runs a
// case's repro.sh from the copy, from another directory: it must fail the same case again,
// on the RTL kept in the evidence folder, and keep its evidence next to itself.
func TestCheckReproFromArtifact(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	bin := filepath.Join(t.TempDir(), "ringsim")
	if b, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	rtlDir, out := t.TempDir(), t.TempDir()
	if err := check.OverlayRTL(rtlDir, "../../testdata/broken/lint-unused"); err != nil {
		t.Fatal(err)
	}
	gate := exec.Command(bin, "check", "--quick", "--only", "lint/d16x1", "--rtl", rtlDir, "--out", out)
	if b, _ := gate.CombinedOutput(); gate.ProcessState.ExitCode() != 1 {
		t.Fatalf("gate: exit %d, want 1\n%s", gate.ProcessState.ExitCode(), b)
	}
	if err := os.RemoveAll(rtlDir); err != nil {
		t.Fatal(err)
	}
	moved := filepath.Join(t.TempDir(), "artifact")
	if err := os.CopyFS(moved, os.DirFS(out)); err != nil {
		t.Fatal(err)
	}
	repro := exec.Command("sh", filepath.Join(moved, "lint", "d16x1", "repro.sh"))
	repro.Dir = t.TempDir()
	repro.Env = append(os.Environ(), "RINGSIM="+bin)
	b, _ := repro.CombinedOutput()
	if code := repro.ProcessState.ExitCode(); code != 1 || !bytes.Contains(b, []byte("FAIL lint/d16x1")) ||
		!bytes.Contains(b, []byte("UNUSEDSIGNAL")) {
		t.Fatalf("repro.sh from the copy: exit %d, want 1 failing lint/d16x1 again:\n%s", code, b)
	}
	if _, err := os.Stat(filepath.Join(moved, "lint", "d16x1", "repro", "lint", "d16x1", "tool.log")); err != nil {
		t.Errorf("the rerun kept no evidence next to the script: %v", err)
	}
}
