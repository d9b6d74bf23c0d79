package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// stableReport reads a run report and drops the wall-clock fields.
func stableReport(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "wall_seconds")
	delete(m, "cycles_per_second")
	return m
}

func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// TestRunEmbeddedAndRemote runs the main job in-process and against a real `ringsim serve`
// process: both pass, and, the seed being the same, the co-simulations are identical:
// same report (wall-clock fields aside) and the same pcap bytes.
func TestRunEmbeddedAndRemote(t *testing.T) {
	dir := t.TempDir()
	args := func(name string) []string {
		return []string{"--bytes", "128KiB", "--progress", "none", "--seed", "3",
			"--json", filepath.Join(dir, name+".json"), "--pcap", filepath.Join(dir, name)}
	}
	if code := runMain(context.Background(), args("local")); code != 0 {
		t.Fatalf("embedded run: exit %d, want 0", code)
	}
	p := startServe(t, nil)
	if code := runMain(context.Background(), append(args("remote"), "--sim", p.target)); code != 0 {
		t.Fatalf("remote run: exit %d, want 0", code)
	}
	local, remote := stableReport(t, filepath.Join(dir, "local.json")), stableReport(t, filepath.Join(dir, "remote.json"))
	lj, _ := json.Marshal(local)
	rj, _ := json.Marshal(remote)
	if !bytes.Equal(lj, rj) {
		t.Errorf("embedded and remote reports differ:\n%s\n---\n%s", lj, rj)
	}
	if local["sha256_match"] != true {
		t.Errorf("sha256_match = %v, want true", local["sha256_match"])
	}
	lp, rp := readDir(t, filepath.Join(dir, "local")), readDir(t, filepath.Join(dir, "remote"))
	if len(lp) != 2 {
		t.Fatalf("got %d pcap files, want 2", len(lp))
	}
	for name, b := range lp {
		if !bytes.Equal(b, rp[name]) {
			t.Errorf("%s: embedded and remote pcaps differ (%d and %d bytes)", name, len(b), len(rp[name]))
		}
	}
}

// TestRunFails checks that a run that cannot finish exits 1 and says why.
func TestRunFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	code := runMain(context.Background(), []string{"--bytes", "1MiB", "--progress", "none",
		"--deadline", "30000", "--json", path})
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	r := stableReport(t, path)
	if msg, _ := r["error"].(string); msg == "" {
		t.Errorf("report has no error: %v", r)
	}
}

// TestRunBadFlags checks that bad input exits 2 without running anything.
func TestRunBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"unknown flag", []string{"--nope"}},
		{"bad framing", []string{"--framing", "xyz"}},
		{"ip framing needs depth 188", []string{"--framing", "ip", "--depth", "128"}},
		{"depth 1", []string{"--depth", "1"}},
		{"ber above 1", []string{"--ber", "2"}},
		{"negative drop", []string{"--drop", "-0.1"}},
		{"bad bytes", []string{"--bytes", "lots"}},
		{"bad topology", []string{"--topology", "star"}},
		{"mesh of one", []string{"--topology", "mesh", "--nodes", "1"}},
		{"missing topology file", []string{"--topology", "/nonexistent.json"}},
		{"bad addressing", []string{"--addressing", "dhcp"}},
		{"bad progress", []string{"--progress", "fancy"}},
		{"bad app", []string{"--app", "ftp"}},
		{"bad log level", []string{"--log-level", "loud"}},
		{"stray argument", []string{"extra"}},
		{"trace with remote", []string{"--trace", "x.fst", "--sim", "unix:/nonexistent"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code := runMain(context.Background(), tt.args); code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
		})
	}
}
