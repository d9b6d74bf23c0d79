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
)

// mutateRun runs `ringsim mutate` in process and returns its exit code and output.
func mutateRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := mutateCommand(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestMutateBadFlags checks that bad input exits 2 with a message, running nothing.
func TestMutateBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"--nope"}, "flag provided but not defined"},
		{"stray argument", []string{"x"}, `unexpected argument "x"`},
		{"bad profile", []string{"--profile", "huge"}, "--profile"},
		{"ci is quick", []string{"--ci", "--profile", "full"}, "--ci runs the quick profile"},
		{"no such mutant", []string{"--only", "nope.sv:x:1"}, "no such mutant"},
		{"no jobs", []string{"--jobs", "0"}, "--jobs"},
		{"missing allowlist", []string{"--allowlist", "/nonexistent"}, "--allowlist"},
		{"missing rtl", []string{"--rtl", "/nonexistent"}, "read rtl"},
		{"ci on other rtl", []string{"--ci", "--rtl", "../../rtl"}, "--ci runs ringsim's sample"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := mutateRun(t, tt.args...)
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tt.want)
			}
		})
	}
}

// TestMutateList checks --list: one line per mutant, ID, place and change.
func TestMutateList(t *testing.T) {
	code, out, stderr := mutateRun(t, "--list")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 50 || !strings.HasPrefix(lines[0], "node_regs.sv:") || !strings.Contains(out, "rx_ring_buffer.sv:counter-wrap:1\trx_ring_buffer.sv:") {
		t.Errorf("%d lines:\n%s", len(lines), out)
	}
	code, out, _ = mutateRun(t, "--list", "--ci")
	if n := strings.Count(out, "\n"); code != 0 || n == 0 || n >= len(lines) {
		t.Errorf("--list --ci: exit %d, %d mutants (of %d)", code, n, len(lines))
	}
}

// TestMutateRuns runs the ringsim binary's mutate command on one mutant that lint kills:
// the gate runs in its own process, the mutant counts as killed, the exit code is 0.
func TestMutateRuns(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "ringsim")
	if b, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	cache := os.Getenv("RINGSIM_CACHE") // the models of ringsim's own RTL, as the other tests built them
	if cache == "" {
		if d, err := os.UserCacheDir(); err == nil {
			cache = filepath.Join(d, "ringsim")
		}
	}
	report := filepath.Join(t.TempDir(), "mutants.json")
	cmd := exec.Command(bin, "mutate", "--profile", "quick", "--only", "node_regs.sv:swap-slice:1", "--json", report, "--cache", cache)
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 0 || !bytes.Contains(out, []byte("kill rate 100.0% (1 of 1)")) {
		t.Fatalf("exit %d, want 0 with the mutant killed:\n%s", code, out)
	}
	var rep struct {
		Results []struct{ ID, Verdict, By string }
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 1 || rep.Results[0].Verdict != "killed" || !strings.HasPrefix(rep.Results[0].By, "lint/") {
		t.Errorf("results %+v, want node_regs.sv:swap-slice:1 killed by lint", rep.Results)
	}
}
