package check

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"github.com/ringsim/ringsim/bridge"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// brokenDir is where the deliberately broken variants of ringsim's RTL live: each holds
// only the files it changes.
const brokenDir = "../../testdata/broken"

// variantDir builds a broken variant's full RTL directory: our RTL with its files over it.
func variantDir(t *testing.T, variant string) string {
	t.Helper()
	dir := t.TempDir()
	if err := OverlayRTL(dir, filepath.Join(brokenDir, variant)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// run runs the gate and fails the test if it cannot start.
func run(t *testing.T, opt Options) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rep, err := Run(ctx, opt)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rep
}

// firstFailure returns the first check that failed and its first failing case.
func firstFailure(rep *Report) (*CheckResult, *CaseResult) {
	for i := range rep.Checks {
		c := &rep.Checks[i]
		for j := range c.Cases {
			if c.Cases[j].Status != Pass {
				return c, &c.Cases[j]
			}
		}
	}
	return nil, nil
}

// small is a profile that runs every check once on the models the package's tests share
// (depth 16 with one and two ports, 200 with one), so that the tests build few models.
func small() Profile {
	return Profile{
		Name:          "small",
		Lint:          []Geometry{{16, 1}, {13, 2}},
		Synth:         []Geometry{{16, 1}},
		Directed:      []int{16},
		DirectedPorts: []Geometry{{16, 2}},
		Differential:  []DiffCase{{Depth: 16, Ports: 1, Cycles: 50_000, Seed: 1}},
		Align:         []AlignSweep{{Topology: "pair", Depths: []int{16}, Latencies: []uint32{0, 7}, Seeds: []uint64{1, 2}}},
		Soak: SoakSweep{Targets: []SoakTarget{{"crc", 16, 2 << 10}, {"ip", 200, 16 << 10}},
			Faults: []FaultSet{clean}, Seeds: []uint64{1}, Latency: 16},
		// The cheapest scenario: upstream's serial alignment deadlocking on the ring, on
		// a shape the profile builds anyway (D = 16, two ports).
		Scenarios: []Scenario{{Name: "serial-alignment-ring3-deadlock", Topology: "ring3", Depth: 16,
			Firmware: "upstream-async", App: "exchange", Stall: bridge.StallDeadlock}},
	}
}

// TestOurRTLPasses runs every check on ringsim's own RTL (the quick profile runs in
// scripts/test.sh).
func TestOurRTLPasses(t *testing.T) {
	rep := run(t, Options{Profile: small()})
	var buf bytes.Buffer
	rep.Summary(&buf)
	if rep.Status != Pass || rep.ExitCode() != 0 {
		t.Fatalf("got %s (exit %d), want pass:\n%s", rep.Status, rep.ExitCode(), buf.String())
	}
	var names []string
	for _, c := range rep.Checks {
		names = append(names, c.Name)
		if c.Status != Pass || len(c.Cases) != c.Planned || c.Seconds <= 0 {
			t.Errorf("check %s: status %s, %d of %d cases, %.3fs", c.Name, c.Status, len(c.Cases), c.Planned, c.Seconds)
		}
	}
	if diff := cmp.Diff(Names(), names); diff != "" {
		t.Errorf("checks (-want +got):\n%s", diff)
	}
	golden(t, "verdicts-ours-small.txt", verdicts(rep))
	align := rep.Checks[3].Cases[0].Details
	if align["bound_cycles"] == nil || align["links"] == nil {
		t.Errorf("alignment details lack the bound or the links: %v", align)
	}
}

// deep is a profile at depth 256 alone: a power of two of 32 and more, and a depth of 256
// and more, where the variants that only break there do.
func deep() Profile {
	return Profile{Name: "deep", Lint: []Geometry{{256, 1}}, Synth: []Geometry{{256, 1}}, Directed: []int{256},
		Align: []AlignSweep{{Topology: "pair", Depths: []int{256}, Latencies: []uint32{0}, Seeds: []uint64{1}}}}
}

// TestBrokenVariants runs the gate on each broken copy of ringsim's RTL in testdata/broken
// and checks that it fails the right check, in the right case, at the first cycle where
// the RTL's behaviour diverged from the SPEC (worked out in the comments).
func TestBrokenVariants(t *testing.T) {
	rtlOnly := []string{Lint, Synth}
	sims := []string{Lint, Synth, Conformance, Alignment}
	tests := []struct {
		variant string
		profile func() Profile // nil: small
		only    []string
		check   string
		caseID  string
		cycle   uint64 // 0: no cycle (lint, synth)
		reason  string // a part of the failure's reason
		// also lists other checks that must fail too, with a part of their reason.
		also map[string]string
		// simCase and simCycle, if set, are the first failing case of the conformance check
		// and its first failing cycle, when another check (lint) fails first.
		simCase  string
		simCycle uint64
		// evidence runs this variant with an output directory and checks what it kept.
		evidence bool
	}{
		// The worked example at D = 16 (release 4): clear_at_count(10) presented in cycle 6
		// while the counter is 2 is acknowledged in cycle 14; the frame of cycle 15 belongs
		// at word 1, the broken counter puts it at word 0.
		{variant: "clear-off-by-one", only: sims, check: Conformance, caseID: "conformance/d16-clear-at-count", cycle: 15,
			reason: "node 0 port 0 RX data word 0 holds the frame of cycle 15, which the SPEC has written to word 1",
			also:   map[string]string{Alignment: "not aligned within B"}},
		// TX is disabled again in cycle 68; frame(70) must be zero, the broken TX repeats
		// its last word.
		{variant: "tx-stale-while-disabled", only: sims, check: Conformance, caseID: "conformance/d16-tx-output", cycle: 70,
			reason: "node 0 port 0 TX frame sent in cycle 70: RTL 0x7e57000000000101, SPEC 0x0000000000000000", evidence: true},
		// The first tagged frame, of cycle 6 (release 4 + 2), reaches a disabled RX.
		{variant: "rx-write-while-disabled", only: sims, check: Conformance, caseID: "conformance/d16-rx-input", cycle: 6,
			reason: "which the SPEC has not written (RX disabled)"},
		// The first data read, presented in cycle 5, must be acknowledged in cycle 6.
		{variant: "read-latency-2", only: sims, check: Conformance, caseID: "conformance/d16-bus-timing", cycle: 6,
			reason: "read of node 0 port 0 TX data word 1 low half (address 0x108, offset 0x8): RTL ACK in cycle 7, SPEC ACK in cycle 6"},
		// TX is enabled in cycle 43 with the counter at 7: frame(45) must be word 8; the
		// stopped counter sends word 0.
		{variant: "tx-counter-stops-while-disabled", only: sims, check: Conformance, caseID: "conformance/d16-tx-output", cycle: 45,
			reason: "node 0 port 0 TX frame sent in cycle 45", also: map[string]string{Alignment: "measured offset"}},
		// RX is enabled in cycle 43: the frame of cycle 44 belongs at word 8 (the counter ran
		// 40 cycles since reset), the stopped counter writes it to word 0.
		{variant: "rx-counter-stops-while-disabled", only: sims, check: Conformance, caseID: "conformance/d16-rx-input", cycle: 44,
			reason: "node 0 port 0 RX data word 0 holds the frame of cycle 44, which the SPEC has written to word 8",
			also:   map[string]string{Alignment: "measured offset"}},
		{variant: "synth-display", only: rtlOnly, check: Synth, caseID: "synth/d16x1",
			reason: "System task `$display' outside initial block is unsupported"},
		{variant: "synth-initial", only: rtlOnly, check: Synth, caseID: "synth/d16x1",
			reason: `step "no initial values"`},
		{variant: "lint-unused", only: rtlOnly, check: Lint, caseID: "lint/d16x1", reason: "UNUSEDSIGNAL"},
		// The node block never answers a read of WINDOW_LOG2: the bus timing test reads it
		// in cycle 23; the SPEC answers it in that cycle, and the harness stops the
		// simulation when 2 cycles passed without ACK or ERR, instead of hanging.
		{variant: "bus-no-answer", only: sims, check: Conformance, caseID: "conformance/d16-bus-timing", cycle: 23,
			reason: "bus timeout: read presented in cycle 23"},

		// The variants of issue 13. Each passed the directed tests before it; of the quick
		// gate before it, window-data-only and clear-range-8bit passed every check,
		// ports-window-layout failed only the ring-of-three alignment ("alignment start: bus
		// ERR in cycle 55") and the first three only the differential test, by raw address
		// ("op 17 (read at 0x280) read data"). A new directed test, or a shape new to the
		// quick profile, names each at the first cycle the RTL broke the SPEC.
		//
		// The wrap is tested before the clear, so clear_at_count(D-1) leaves the counter at
		// 0, not 1. clear-at-count's third part (release 4): clear_at_count(0) is
		// acknowledged in cycle 184, RX is enabled in 185, clear_at_count(15) is presented in
		// 186 while the counter is 2 and acknowledged in 199 when it reads 15. The counter
		// must read 1 in cycle 200; the broken one reads 0 and writes the frame of cycle 200
		// to word 0, over the frame of cycle 104.
		{variant: "clear-wrap-first", only: sims, check: Conformance, caseID: "conformance/d16-clear-at-count", cycle: 200,
			reason: "node 0 port 0 RX data word 0 holds the frame of cycle 200, which the SPEC has written to word 1",
			also:   map[string]string{Alignment: "not aligned within B"}},
		// enables (release 4) reads TX and RX data in cycles 4-7 (two cycles each), TX enable
		// in 8, writes 1 in 9 and reads it back in 10; the replicated bit reads 0xffffffff.
		{variant: "enable-read-replicated", only: sims, check: Conformance, caseID: "conformance/d16-enables", cycle: 10,
			reason: "read of node 0 port 0 TX enable (address 0x180, offset 0x80): RTL 0xffffffff, SPEC 0x00000001"},
		// collisions reads RX word 0 (low half) in cycle 148, the cycle the write counter
		// writes it ((148 - 4) mod 16 = 0): read-first returns the frame of cycle 132, the
		// bypass the frame of cycle 148, on the bus in cycle 149.
		{variant: "rx-read-write-first", only: sims, check: Conformance, caseID: "conformance/d16-collisions", cycle: 149,
			reason: "RTL 0x5a000094 (the low half of the frame of cycle 148), SPEC 0x5a000084 (the low half of the frame of cycle 132)"},
		// With two ports, port 0's RX window (2) reaches port 1's TX and port 1's TX window
		// (3) port 0's RX: bus-timing on port 1 writes TX data in cycle 4 (release 4) and gets
		// ERR (RX data is read only); today only the ring-of-three alignment failed, as
		// "alignment start: bus ERR".
		{variant: "ports-window-layout", only: sims, check: Conformance, caseID: "conformance/d16x2-bus-timing", cycle: 4,
			reason: "write of 0x12345678 to node 0 port 1 TX data word 1 low half (address 0x308, offset 0x8): RTL ERR in cycle 4, SPEC ACK in cycle 4"},
		// At D = 256 the window must hold 8*256 + 16 bytes: 4096. Sized for the data alone
		// (2048), the offset is 11 bits and the data's end, 2048, truncates to 0: lint at
		// D = 256 sees a constant comparison. In simulation TX (window 1, address 0x1000)
		// decodes as window 2, RX: bus-timing's first write, in cycle 4, gets ERR. D = 16
		// and 200 are unaffected.
		{variant: "window-data-only", profile: deep, only: sims, check: Lint, caseID: "lint/d256x1",
			reason:  "Comparison is constant due to unsigned arithmetic",
			simCase: "conformance/d256-bus-timing", simCycle: 4,
			also: map[string]string{Alignment: "bus error", Conformance: "write of 0x12345678 to node 0 port 0 TX data word 1 low half " +
				"(address 0x1008, offset 0x8): RTL ERR in cycle 4, SPEC ACK in cycle 4"}},
		// At D = 256, 8'(Depth) is 0 (lint at D = 256 sees the constant comparison):
		// clear_at_count(160), presented in cycle 6 (release 4, after an idle and the enable
		// write) while the counter is 2, answers ERR at once; the SPEC acknowledges it when
		// the counter reads 160, in cycle 164.
		{variant: "clear-range-8bit", profile: deep, only: sims, check: Lint, caseID: "lint/d256x1",
			reason:  "Comparison is constant due to unsigned arithmetic",
			simCase: "conformance/d256-clear-at-count", simCycle: 6,
			also: map[string]string{Alignment: "bus error", Conformance: "write of 0x000000a0 to node 0 port 0 RX clear_at_count " +
				"(address 0x2808, offset 0x808) (the SPEC holds the bus until the RX write counter is 160): RTL ERR in cycle 6, SPEC ACK in cycle 164"}},
	}
	for _, tt := range tests {
		t.Run(tt.variant, func(t *testing.T) {
			t.Parallel() // each variant builds its own model: overlap one's build with another's run
			p := small()
			if tt.profile != nil {
				p = tt.profile()
			}
			opt := Options{Profile: p, RTLDir: variantDir(t, tt.variant), Only: tt.only}
			if tt.evidence {
				opt.OutDir = t.TempDir()
			}
			rep := run(t, opt)
			golden(t, "verdicts-"+tt.variant+".txt", verdicts(rep))
			c, cs := firstFailure(rep)
			if c == nil {
				t.Fatalf("the gate passed %s", tt.variant)
			}
			if rep.Status != Fail || rep.ExitCode() != 1 {
				t.Errorf("got status %s (exit %d), want fail (exit 1)", rep.Status, rep.ExitCode())
			}
			if c.Name != tt.check || c.Status != Fail || cs.ID != tt.caseID {
				t.Fatalf("first failure in check %s (%s) case %s: %s; want check %s case %s",
					c.Name, c.Status, cs.ID, cs.Reason, tt.check, tt.caseID)
			}
			switch {
			case tt.cycle == 0 && cs.Cycle != nil:
				t.Errorf("got cycle %d, want none", *cs.Cycle)
			case tt.cycle != 0 && cs.Cycle == nil:
				t.Errorf("got no cycle, want %d", tt.cycle)
			case tt.cycle != 0 && *cs.Cycle != tt.cycle:
				t.Errorf("got first failing cycle %d, want %d (%s)", *cs.Cycle, tt.cycle, cs.Reason)
			}
			if !strings.Contains(cs.Reason, tt.reason) {
				t.Errorf("reason %q does not mention %q", cs.Reason, tt.reason)
			}
			if cs.Repro == "" || !strings.Contains(cs.Repro, "--only "+tt.caseID) {
				t.Errorf("reproduce command %q does not name the case", cs.Repro)
			}
			for _, other := range rep.Checks {
				want, mustFail := tt.also[other.Name]
				switch {
				case other.Name == tt.check:
				case mustFail && (other.Status != Fail || !strings.Contains(other.Reason, want)):
					t.Errorf("check %s: %s: %s; want a failure mentioning %q", other.Name, other.Status, other.Reason, want)
				case !mustFail && other.Status != Pass:
					t.Errorf("check %s: %s: %s; want pass", other.Name, other.Status, other.Reason)
				}
			}
			if tt.simCase != "" {
				var sim *CaseResult
				for i := range rep.Checks {
					for j := range rep.Checks[i].Cases {
						if c := &rep.Checks[i].Cases[j]; sim == nil && rep.Checks[i].Name == Conformance && c.Status == Fail {
							sim = c
						}
					}
				}
				if sim == nil || sim.ID != tt.simCase || sim.Cycle == nil || *sim.Cycle != tt.simCycle {
					t.Errorf("first conformance failure %+v, want %s at cycle %d", sim, tt.simCase, tt.simCycle)
				}
			}
			if tt.evidence {
				checkEvidence(t, cs)
			}
		})
	}
}

// checkEvidence checks what a failing simulation case kept: an FST from before the
// failing cycle, the case with its seed, and the reproduce script.
func checkEvidence(t *testing.T, cs *CaseResult) {
	t.Helper()
	ev := cs.Evidence
	if ev == nil {
		t.Fatal("no evidence kept")
	}
	if diff := cmp.Diff([]string{"case.json", "repro.sh", "wave.fst"}, ev.Files); diff != "" {
		t.Errorf("evidence files (-want +got):\n%s", diff)
	}
	if ev.WaveformFrom == nil || *ev.WaveformFrom > *cs.Cycle {
		t.Errorf("waveform starts at %v, want at or before the failing cycle %d", ev.WaveformFrom, *cs.Cycle)
	}
	if ev.Note != "" {
		t.Errorf("evidence note %q: the rerun should have failed the same way", ev.Note)
	}
	for _, f := range ev.Files {
		if st, err := os.Stat(filepath.Join(ev.Dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("evidence file %s: %v", f, err)
		}
	}
	checkReproScript(t, ev.Dir, cs.ID)
}

// checkReproScript checks that a case's repro.sh names the case and no path of this
// machine: it finds the RTL kept two levels up (which must be there) or $RINGSIM_RTL.
func checkReproScript(t *testing.T, dir, id string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "repro.sh"))
	if err != nil {
		t.Fatal(err)
	}
	script := string(b)
	for _, want := range []string{"--only " + id, `--rtl "$rtl"`, `rtl=${RINGSIM_RTL:-$(cd "$here/../../rtl" && pwd)}`, `"${RINGSIM:-ringsim}" check`} {
		if !strings.Contains(script, want) {
			t.Errorf("repro.sh lacks %q:\n%s", want, script)
		}
	}
	if strings.Contains(script, filepath.Dir(filepath.Dir(dir))) || strings.Contains(script, os.TempDir()) {
		t.Errorf("repro.sh names a path of this machine:\n%s", script)
	}
	if svs, _ := filepath.Glob(filepath.Join(dir, "..", "..", "rtl", "*.sv")); len(svs) == 0 {
		t.Errorf("no RTL kept in %s", filepath.Join(dir, "..", "..", "rtl"))
	}
}

// TestCannotRun checks the cases without a verdict: a missing tool and RTL that does not
// compile make the gate exit 2.
func TestCannotRun(t *testing.T) {
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "ringsim_node.sv"), []byte("module ringsim_node(;\nendmodule\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		rtl    string
		only   []string
		path   string // PATH for the run; "" leaves it
		check  string
		reason string
	}{
		{name: "no yosys", only: []string{Synth}, path: t.TempDir(), check: Synth, reason: "yosys is not on PATH"},
		{name: "no verilator", only: []string{Lint}, path: t.TempDir(), check: Lint, reason: "verilator is not on PATH"},
		{name: "rtl does not compile", rtl: bad, only: []string{Lint, Conformance}, check: Lint, reason: "RTL does not compile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.path != "" {
				t.Setenv("PATH", tt.path)
			}
			p := small()
			p.Lint = p.Lint[:1]
			rep := run(t, Options{Profile: p, RTLDir: tt.rtl, Only: tt.only})
			if rep.Status != Error || rep.ExitCode() != 2 {
				t.Fatalf("got %s (exit %d), want error (exit 2)", rep.Status, rep.ExitCode())
			}
			for _, c := range rep.Checks {
				if c.Status != Error {
					t.Errorf("check %s: %s, want error", c.Name, c.Status)
				}
			}
			if c := rep.Checks[0]; c.Name != tt.check || !strings.Contains(c.Reason, tt.reason) {
				t.Errorf("check %s: %q, want %s mentioning %q", c.Name, c.Reason, tt.check, tt.reason)
			}
			if !strings.Contains(rep.Message, tt.reason) {
				t.Errorf("message %q does not say %q", rep.Message, tt.reason)
			}
		})
	}
}

// TestBadOptions checks the options Run refuses before running anything.
func TestBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opt  Options
		want error
	}{
		{"unknown check", Options{Profile: Quick(), Only: []string{"timing"}}, ErrBadOptions},
		{"unknown case", Options{Profile: Quick(), Only: []string{"soak/crc-d1-clean-s1"}}, ErrBadOptions},
		{"bad shard", Options{Profile: Quick(), Shard: Shard{Index: 3, Count: 2}}, ErrBadOptions},
		{"ip framing too shallow", Options{Profile: Profile{Name: "x", Soak: SoakSweep{Targets: []SoakTarget{{"ip", 16, 1}}}}}, ErrBadOptions},
		{"no such rtl", Options{Profile: Quick(), RTLDir: "/nonexistent"}, ErrNoRTL},
		{"no rtl files", Options{Profile: Quick(), RTLDir: t.TempDir()}, ErrNoRTL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Run(context.Background(), tt.opt); !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// TestParseShard is a table of shard specifications.
func TestParseShard(t *testing.T) {
	tests := []struct {
		in   string
		want Shard
		ok   bool
	}{
		{"1/1", Shard{1, 1}, true},
		{"2/4", Shard{2, 4}, true},
		{"4/4", Shard{4, 4}, true},
		{"0/4", Shard{}, false},
		{"5/4", Shard{}, false},
		{"1/0", Shard{}, false},
		{"1", Shard{}, false},
		{"a/b", Shard{}, false},
		{"1/2/3", Shard{}, false},
		{"", Shard{}, false},
	}
	for _, tt := range tests {
		got, err := ParseShard(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseShard(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrBadOptions) {
			t.Errorf("ParseShard(%q): error %v does not wrap ErrBadOptions", tt.in, err)
		}
	}
}

// TestShardsPartitionThePlan checks that the shards of both profiles split the plan into
// disjoint, deterministic shares that together are the whole plan.
func TestShardsPartitionThePlan(t *testing.T) {
	for _, p := range []Profile{Quick(), Full()} {
		all, err := Plan(Options{Profile: p})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{1, 3, 7} {
			seen := map[string]int{}
			for i := 1; i <= n; i++ {
				ids, err := Plan(Options{Profile: p, Shard: Shard{i, n}})
				if err != nil {
					t.Fatal(err)
				}
				again, _ := Plan(Options{Profile: p, Shard: Shard{i, n}})
				if !cmp.Equal(ids, again) {
					t.Errorf("%s shard %d/%d is not deterministic", p.Name, i, n)
				}
				for _, id := range ids {
					seen[id]++
				}
			}
			if len(seen) != len(all) {
				t.Errorf("%s in %d shards: %d distinct cases, plan has %d", p.Name, n, len(seen), len(all))
			}
			for id, k := range seen {
				if k != 1 {
					t.Errorf("%s in %d shards: case %s in %d shards", p.Name, n, id, k)
				}
			}
		}
	}
}

// TestMerge runs lint and synth whole and in two shards, merges the shards and compares,
// and checks the merge's refusals.
func TestMerge(t *testing.T) {
	opt := Options{Profile: small(), Only: []string{Lint, Synth}}
	whole := run(t, opt)
	var shards []*Report
	dir := t.TempDir()
	for i := 1; i <= 2; i++ {
		o := opt
		o.Shard = Shard{i, 2}
		r := run(t, o)
		path := filepath.Join(dir, "shard", "s.json")
		if err := r.WriteJSON(path); err != nil {
			t.Fatal(err)
		}
		back, err := ReadJSON(path)
		if err != nil {
			t.Fatal(err)
		}
		shards = append(shards, back)
	}
	merged, err := Merge([]*Report{shards[1], shards[0]})
	if err != nil {
		t.Fatalf("Merge: %v", err)
	}
	ids := func(r *Report) []string {
		var out []string
		for _, c := range r.Checks {
			out = append(out, c.Name+":"+string(c.Status))
			for _, cs := range c.Cases {
				out = append(out, cs.ID+":"+string(cs.Status))
			}
		}
		return out
	}
	if diff := cmp.Diff(ids(whole), ids(merged)); diff != "" {
		t.Errorf("merged shards differ from the whole run (-whole +merged):\n%s", diff)
	}
	if merged.Status != Pass || len(merged.Merged) != 2 {
		t.Errorf("merged: status %s from %v, want pass from 2 shards", merged.Status, merged.Merged)
	}
	// A missing shard leaves the merge without a verdict.
	part, err := Merge(shards[:1])
	if err != nil {
		t.Fatalf("Merge of one shard: %v", err)
	}
	if part.ExitCode() != 2 || !strings.Contains(part.Message, "missing shard(s) 2/2") {
		t.Errorf("one of two shards: exit %d, message %q; want 2 and the missing shard", part.ExitCode(), part.Message)
	}
	other := *shards[1]
	other.RTLHash = "0000"
	for _, bad := range [][]*Report{{shards[0], shards[0]}, {shards[0], &other}, {shards[0], whole}, nil} {
		if _, err := Merge(bad); !errors.Is(err, ErrMerge) {
			t.Errorf("Merge of %d mismatched reports: got %v, want ErrMerge", len(bad), err)
		}
	}
}

// TestReports checks the JUnit XML and the summary of a report with a failure.
func TestReports(t *testing.T) {
	cycle := uint64(42)
	rep := &Report{Tool: "ringsim check", Format: reportFormat, Profile: "quick", RTL: "x", RTLHash: "abc",
		Started: time.Unix(0, 0).UTC(), Seconds: 1.5, Checks: []CheckResult{
			{Name: Lint, Planned: 1, Cases: []CaseResult{{ID: "lint/d16x1", Status: Pass, Seconds: 0.5}}},
			{Name: Conformance, Planned: 2, Cases: []CaseResult{
				{ID: "conformance/d16-tx-output", Status: Fail, Reason: "cycle 42: TX frame", Seed: 16, Cycle: &cycle,
					Repro:    "ringsim check --quick --only conformance/d16-tx-output",
					Evidence: &Evidence{Dir: "out/conformance/d16-tx-output", Files: []string{"case.json", "wave.fst"}}},
				{ID: "conformance/d16-rx-input", Status: Error, Reason: "model did not build"}}},
		}}
	for i := range rep.Checks {
		rep.Checks[i].summarize()
	}
	rep.finish()
	if rep.Status != Error || rep.Checks[1].Status != Error {
		t.Errorf("status %s, conformance %s; want error for both (an error outweighs a failure)", rep.Status, rep.Checks[1].Status)
	}
	path := filepath.Join(t.TempDir(), "junit.xml")
	if err := rep.WriteJUnit(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got junitSuites
	if err := xml.Unmarshal(b, &got); err != nil {
		t.Fatalf("JUnit XML does not parse: %v", err)
	}
	if got.Tests != 3 || got.Failures != 1 || got.Errors != 1 || len(got.Suites) != 2 {
		t.Errorf("JUnit: %d tests, %d failures, %d errors, %d suites; want 3, 1, 1, 2",
			got.Tests, got.Failures, got.Errors, len(got.Suites))
	}
	f := got.Suites[1].Cases[0].Failure
	if f == nil || !strings.Contains(f.Text, "first failing cycle: 42") || !strings.Contains(f.Text, "reproduce: ringsim check") {
		t.Errorf("JUnit failure = %+v, want the cycle and the reproduce command", f)
	}
	var sum bytes.Buffer
	rep.Summary(&sum)
	for _, want := range []string{"PASS  lint", "ERROR conformance", "FAIL conformance/d16-tx-output: cycle 42",
		"first failing cycle 42, seed 16", "evidence: out/conformance/d16-tx-output: case.json wave.fst",
		"reproduce: ringsim check --quick", "ERROR: the gate could not run everything"} {
		if !strings.Contains(sum.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum.String())
		}
	}
}

// TestBrokenVariantsTrackRTL keeps the broken variants honest: each changes one or two of
// ringsim's RTL files by a few lines. When rtl/ is edited, this fails until the variants
// are refreshed, so the gate is never tested against stale RTL.
func TestBrokenVariantsTrackRTL(t *testing.T) {
	variants, err := os.ReadDir(brokenDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range variants {
		t.Run(v.Name(), func(t *testing.T) {
			files, err := os.ReadDir(filepath.Join(brokenDir, v.Name()))
			if err != nil {
				t.Fatal(err)
			}
			changed := 0
			for _, f := range files {
				want, err := os.ReadFile(filepath.Join("..", "..", "rtl", f.Name()))
				if err != nil {
					t.Fatalf("%s is not one of ringsim's RTL files: %v", f.Name(), err)
				}
				got, _ := os.ReadFile(filepath.Join(brokenDir, v.Name(), f.Name()))
				n := lineDiff(string(want), string(got))
				if n == 0 {
					t.Errorf("%s is the same as rtl/%s: keep only changed files", f.Name(), f.Name())
				}
				changed += n
			}
			if len(files) == 0 || len(files) > 2 || changed > 24 {
				t.Errorf("changes %d files, %d lines; want one deliberate change (1-2 files, <= 24 lines): refresh the variant from rtl/", len(files), changed)
			}
		})
	}
}

// lineDiff counts the lines that occur in one text and not the other (as multisets).
func lineDiff(a, b string) int {
	count := map[string]int{}
	for _, l := range strings.Split(a, "\n") {
		count[l]++
	}
	for _, l := range strings.Split(b, "\n") {
		count[l]--
	}
	n := 0
	for _, c := range count {
		if c < 0 {
			c = -c
		}
		n += c
	}
	return n
}

// TestCaseLimits checks that a case that runs away ends as a failure at the cycle it
// reached, with evidence, instead of holding up the gate: one out of cycles, one out of
// wall-clock time (a transfer far too long for its limit).
func TestCaseLimits(t *testing.T) {
	p := Profile{Name: "limits",
		Differential: []DiffCase{{Depth: 16, Ports: 1, Cycles: 5_000_000, Seed: 1}},
		Soak: SoakSweep{Targets: []SoakTarget{{"crc", 16, 64 << 20}}, Faults: []FaultSet{clean},
			Seeds: []uint64{1}, Latency: 16}}
	rep := run(t, Options{Profile: p, Only: []string{Conformance}, CaseCycles: 20_000, OutDir: t.TempDir()})
	cs := rep.Checks[0].Cases[0]
	if cs.Status != Fail || cs.Cycle == nil || *cs.Cycle != 20_000 ||
		!strings.Contains(cs.Reason, "ran out of its budget of 20000 cycles (--case-cycles) at cycle 20000") {
		t.Errorf("cycle budget: %s at %v: %s", cs.Status, cs.Cycle, cs.Reason)
	}
	if cs.Evidence == nil || !strings.Contains(cs.Evidence.Note, "ran out of its limits") {
		t.Errorf("cycle budget: evidence %+v", cs.Evidence)
	}

	start := time.Now()
	rep = run(t, Options{Profile: p, Only: []string{Soak}, CaseTimeout: time.Second, OutDir: t.TempDir()})
	cs = rep.Checks[0].Cases[0]
	if cs.Status != Fail || cs.Cycle == nil || *cs.Cycle == 0 ||
		!strings.Contains(cs.Reason, "ran out of its wall-clock limit of 1s (--case-timeout)") {
		t.Errorf("wall clock: %s at %v: %s", cs.Status, cs.Cycle, cs.Reason)
	}
	if cs.Evidence == nil || !slices.Contains(cs.Evidence.Files, "wave.fst") {
		t.Errorf("wall clock: evidence %+v, want a waveform up to the cycle reached", cs.Evidence)
	}
	if rep.Status != Fail || rep.ExitCode() != 1 {
		t.Errorf("report %s (exit %d), want fail (exit 1)", rep.Status, rep.ExitCode())
	}
	t.Logf("the timed-out case and its bounded rerun took %v", time.Since(start).Round(time.Millisecond))
}

// TestScenarioCriteria checks that a scenario fails when upstream's criteria are not met:
// the async-comms exchange with upstream's serial alignment on the built-in ring deadlocks,
// so a scenario that expects it to pass fails, naming the diagnosis, while the one that
// expects the deadlock passes.
func TestScenarioCriteria(t *testing.T) {
	sc := Scenario{Name: "async-comms-ring3", Topology: "ring3", Depth: 16, Firmware: "upstream-async", App: "exchange"}
	rep := run(t, Options{Profile: Profile{Name: "scenario", Scenarios: []Scenario{sc}}})
	_, c := firstFailure(rep)
	if rep.Status != Fail || c == nil || !strings.Contains(c.Reason, "alignment deadlock") {
		t.Fatalf("status %s, first failure %+v: want a failure naming the alignment deadlock", rep.Status, c)
	}
}
