package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestRunSaveRestore saves a real-link run at the aligned boundary and continues it from
// the file in another process's stead: the restored run's JSON report (less wall-clock
// fields and the occupancy samples, which start where each run started) and its pcaps are
// byte for byte the saving run's. Then the ways to misuse it, each refused with exit 2.
func TestRunSaveRestore(t *testing.T) {
	dir := t.TempDir()
	ck := filepath.Join(dir, "aligned.ckpt")
	save := []string{"--bytes", "128KiB", "--seed", "5", "--clock-control", "--progress", "none",
		"--save-aligned", ck, "--json", filepath.Join(dir, "save.json"), "--pcap", filepath.Join(dir, "save")}
	if code := runMain(context.Background(), save); code != 0 {
		t.Fatalf("saving run: exit %d", code)
	}
	restore := []string{"--restore", ck, "--progress", "none", "--json", filepath.Join(dir, "restore.json"),
		"--pcap", filepath.Join(dir, "restore")}
	if code := runMain(context.Background(), restore); code != 0 {
		t.Fatalf("restored run: exit %d", code)
	}
	report := func(name string) []byte {
		m := stableReport(t, filepath.Join(dir, name))
		if rl, ok := m["real_link"].(map[string]any); ok {
			delete(rl, "occupancy")
		} else {
			t.Fatalf("%s: no real_link", name)
		}
		b, _ := json.Marshal(m)
		return b
	}
	if a, b := report("save.json"), report("restore.json"); !bytes.Equal(a, b) {
		t.Errorf("saving and restored reports differ:\n%s\n---\n%s", a, b)
	}
	sp, rp := readDir(t, filepath.Join(dir, "save")), readDir(t, filepath.Join(dir, "restore"))
	if len(sp) != 2 {
		t.Fatalf("%d pcaps, want 2", len(sp))
	}
	for name, b := range sp {
		if !bytes.Equal(b, rp[name]) {
			t.Errorf("%s: the restored run's capture differs (%d and %d bytes)", name, len(b), len(rp[name]))
		}
	}

	garbage := filepath.Join(dir, "garbage")
	if err := os.WriteFile(garbage, []byte("not a checkpoint\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	full, _ := os.ReadFile(ck)
	cut := filepath.Join(dir, "cut")
	if err := os.WriteFile(cut, full[:len(full)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	topo := filepath.Join(dir, "topo.json")
	if err := os.WriteFile(topo, []byte(`{"nodes": 2, "ports": 1, "links": [{"from": {"node": 0, "port": 0}, `+
		`"to": {"node": 1, "port": 0}, "latency": 16, "bidirectional": true}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tck := filepath.Join(dir, "topo.ckpt")
	if code := runMain(context.Background(), []string{"--topology", topo, "--bytes", "4KiB", "--progress", "none", "--save-aligned", tck}); code != 0 {
		t.Fatalf("saving run on a topology file: exit %d", code)
	}
	if err := os.WriteFile(topo, bytes.Replace(must(os.ReadFile(topo)), []byte(`16`), []byte(`20`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"the topology file changed since", []string{"--restore", tck}},
		{"a job flag with -restore", []string{"--restore", ck, "--seed", "6"}},
		{"not a checkpoint", []string{"--restore", garbage}},
		{"a checkpoint cut short", []string{"--restore", cut}},
		{"no such file", []string{"--restore", filepath.Join(dir, "none")}},
		{"upstream's firmware", []string{"--firmware", "upstream-async", "--save-aligned", filepath.Join(dir, "x")}},
		{"no packet phase", []string{"--app", "align", "--save-aligned", filepath.Join(dir, "y")}},
		{"with a waveform", []string{"--trace", filepath.Join(dir, "w.fst"), "--save-aligned", filepath.Join(dir, "z")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if code := runMain(context.Background(), append(tt.args, "--progress", "none")); code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
		})
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
