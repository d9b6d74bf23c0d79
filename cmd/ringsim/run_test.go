package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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
	// What built ringsim and the model (versions, hashes) is not the run's behaviour.
	delete(m, "ringsim")
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
		{"bad firmware", []string{"--firmware", "smoltcp"}},
		{"firmware for node 2 of a pair", []string{"--firmware", "2=upstream-async"}},
		{"two default firmwares", []string{"--firmware", "ringsim,upstream-async"}},
		{"soft-UGN with TCP", []string{"--firmware", "upstream-softugn", "--app", "transfer"}},
		{"soft-UGN demo on ringsim's firmware", []string{"--app", "softugn", "--firmware", "ringsim"}},
		{"soft-UGN timing without the demo", []string{"--softugn-events", "10"}},
		{"soft-UGN demo without events", []string{"--app", "softugn", "--softugn-events", "0"}},
		{"auto-centre without ringsim's firmware", []string{"--app", "softugn", "--auto-centre=false"}},
		{"bytes in the soft-UGN demo", []string{"--app", "softugn", "--bytes", "4096"}},
		{"rig of 3", []string{"--topology", "rig", "--nodes", "3"}},
		{"manager -2", []string{"--manager", "-2"}},
		{"manager outside", []string{"--app", "exchange", "--manager", "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code := runMain(context.Background(), tt.args); code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
		})
	}
}

// TestRunFirmware runs `ringsim run` with firmware profiles on the embedded RTL: upstream's
// serial alignment stops on the built-in ring with the diagnosis (exit 1, the stall in the
// JSON), ringsim's firmware runs the exchange on the rig with node 6 collecting the
// labelled report (hardware UGNs on the real link, none on the ideal one), the soft-UGN
// demo passes upstream's criterion on a real-link pair (app softugn picks its firmware and
// clock control), and the soft-UGN alignment alone aligns a pair.
func TestRunFirmware(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		code  int
		check func(t *testing.T, r map[string]any)
	}{
		{"upstream-async on the ring", []string{"--topology", "ring", "--nodes", "3", "--depth", "128",
			"--firmware", "upstream-async", "--app", "exchange"}, 1, func(t *testing.T, r map[string]any) {
			st, _ := r["stall"].(map[string]any)
			chain, _ := st["chain"].([]any)
			if st["cause"] != "alignment deadlock" || len(chain) != 3 {
				t.Errorf("stall %v: want the alignment deadlock with a chain of 3", st)
			}
			if r["firmware"] != "upstream-async" || r["addressing"] != "upstream" {
				t.Errorf("firmware %v, addressing %v: want upstream-async and upstream", r["firmware"], r["addressing"])
			}
		}},
		{"ringsim on the rig", []string{"--topology", "rig", "--depth", "128", "--app", "exchange"}, 0, func(t *testing.T, r map[string]any) {
			edges, _ := r["edges"].([]any)
			if r["manager"] != 6.0 || len(edges) != 56 {
				t.Fatalf("manager %v, %d edges: want 6 and 56", r["manager"], len(edges))
			}
			// Each edge carries the UGN its src end read from UGN capture. A UGN is the
			// receiver's counter minus the sender's, so it may be negative, but the two
			// directions of a link add up to the round trip's latency, which is positive.
			ugn := map[string]float64{}
			key := func(e map[string]any, a, b string) string {
				s, _ := e[a].(map[string]any)
				d, _ := e[b].(map[string]any)
				return fmt.Sprint(s["node"], ".", s["port"], ">", d["node"], ".", d["port"])
			}
			for _, x := range edges {
				e, _ := x.(map[string]any)
				v, ok := e["hardware_ugn"].(float64)
				if !ok {
					t.Fatalf("edge %v: want a numeric \"hardware_ugn\" on the real link", e)
				}
				ugn[key(e, "src", "dst")] = v
			}
			for _, x := range edges {
				e, _ := x.(map[string]any)
				there, back := ugn[key(e, "src", "dst")], ugn[key(e, "dst", "src")]
				if there+back <= 0 {
					t.Errorf("edge %v: UGNs %v and %v of the two directions add up to %v, want a positive round trip", e, there, back, there+back)
				}
			}
			if _, ok := r["firmware"]; ok {
				t.Errorf("firmware %v in the report of a ringsim run, want none", r["firmware"])
			}
		}},
		{"ringsim on the ideal rig", []string{"--link", "ideal", "--topology", "rig", "--depth", "128", "--app", "exchange"}, 0, func(t *testing.T, r map[string]any) {
			edges, _ := r["edges"].([]any)
			if len(edges) != 56 {
				t.Fatalf("%d edges: want 56", len(edges))
			}
			e, _ := edges[0].(map[string]any)
			if v, ok := e["hardware_ugn"]; !ok || v != nil {
				t.Errorf("edge %v: want \"hardware_ugn\": null (the ideal link has no UGN capture)", e)
			}
		}},
		{"soft-UGN demo on a pair", []string{"--depth", "4000", "--app", "softugn", "--softugn-settle", "100000", "--softugn-start-delay", "48000"}, 0,
			func(t *testing.T, r map[string]any) {
				cfg, _ := r["config"].(map[string]any)
				if fw, _ := cfg["firmware"].([]any); len(fw) != 2 || fw[0] != "upstream-softugn" {
					t.Errorf("firmware %v: app softugn should default it to upstream-softugn", cfg["firmware"])
				}
				sim, _ := cfg["sim"].(map[string]any)
				if real, _ := sim["real"].(map[string]any); real["clock_control"] != true || real["settled"] != true {
					t.Errorf("real link %v: app softugn should default to clock control from a settled start", sim["real"])
				}
				topo, _ := sim["topology"].(map[string]any)
				for _, l := range topo["links"].([]any) {
					if f, _ := l.(map[string]any)["faults"].(map[string]any); f["bit_flip"] != nil && f["bit_flip"] != 0.0 {
						t.Errorf("link %v: app softugn should default to a clean link (its messages have no checksum)", l)
					}
				}
				su, _ := r["soft_ugn"].(map[string]any)
				edges, _ := su["edges"].([]any)
				if su["passed"] != true || len(edges) != 2 || su["hardware_ugn_source"] != "capture" {
					t.Fatalf("soft_ugn %v: want passed with 2 edges judged against UGN capture", su)
				}
				for _, e := range edges {
					e, _ := e.(map[string]any)
					if hw, sw := e["hardware_ugn"].(float64), e["software_ugn"].(float64); sw != hw+1 {
						t.Errorf("edge %v: software UGN is not hardware UGN + 1", e)
					}
				}
				if nodes, _ := r["soft_ugn_nodes"].([]any); len(nodes) != 2 {
					t.Errorf("soft_ugn_nodes %v: want both nodes", nodes)
				}
			}},
		{"upstream-softugn aligning a pair", []string{"--depth", "128", "--firmware", "upstream-softugn", "--app", "align"}, 0, func(t *testing.T, r map[string]any) {
			links, _ := r["links"].([]any)
			for _, l := range links {
				pc := map[string]any{}
				phases, _ := l.(map[string]any)["phases"].([]any)
				for _, p := range phases {
					e, _ := p.(map[string]any)
					pc[fmt.Sprint(e["phase"])] = e["cycle"]
				}
				if _, ok := pc["WaitingForZeroes"]; ok || pc["Aligned"] == nil {
					t.Errorf("link %v: want Aligned without WaitingForZeroes", l)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "r.json")
			args := append(tt.args, "--progress", "none", "--seed", "1", "--json", path)
			if code := runMain(context.Background(), args); code != tt.code {
				t.Fatalf("ringsim run %v: exit %d, want %d", args, code, tt.code)
			}
			tt.check(t, stableReport(t, path))
		})
	}
}
