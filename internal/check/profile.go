package check

import (
	"fmt"
	"github.com/ringsim/ringsim/bridge"
	"strings"

	"github.com/ringsim/ringsim/bridge/framing"
	"github.com/ringsim/ringsim/internal/conformance"
)

// Geometry is a node's Depth and Ports parameters.
type Geometry struct {
	Depth int
	Ports int
}

// String returns "d16x2".
func (g Geometry) String() string { return fmt.Sprintf("d%dx%d", g.Depth, g.Ports) }

// DiffCase is one differential run against the reference model.
type DiffCase struct {
	Depth, Ports int
	Cycles       uint64
	Seed         uint64
}

// AlignSweep is part of the alignment sweep: every combination of its depths, latencies
// and seeds on its topology is one case.
type AlignSweep struct {
	// Topology is "pair" (two nodes, one port each) or "ring3" (three nodes, two ports
	// each, so every node aligns two links at once).
	Topology  string
	Depths    []int
	Latencies []uint32
	// Seeds choose the nodes' start offsets (uniform in [0, 4D]).
	Seeds []uint64
}

// SoakTarget is a framing at a depth, with the bytes to move each way.
type SoakTarget struct {
	Framing string // "crc" or "ip"
	Depth   int
	Bytes   int64
}

// FaultSet is a named set of injected fault rates.
type FaultSet struct {
	Name      string
	BitFlip   float64 // per bit on the link
	FrameZero float64 // per 64-bit frame on the link
	Drop      float64 // per packet at the receiving device
}

// SoakSweep is the protocol soak: every target with every fault set and seed is one case,
// a TCP transfer over a pair of nodes.
type SoakSweep struct {
	Targets []SoakTarget
	// RealTargets run the same on the real link (SPEC section 8): clocks RealPPM apart with
	// clock control on, elastic buffers whose auto-centre stays on (an adjustment every
	// ~30,000 cycles on each link), links up at seeded times, random RX memory; ringsim's
	// firmware keeps each link's frame relation, and the simulator's probe checks it at the
	// end. A target of 0 bytes aligns every link and stops (the real link's alignment case).
	RealTargets []SoakTarget
	Faults      []FaultSet
	Seeds       []uint64
	Latency     uint32
}

// RealPPM are the real-link cases' clock offsets, node 0 and node 1: 100 ppm apart, where
// the elastic buffers need adjusting every ~30,000 cycles.
var RealPPM = []float64{50, -50}

// Profile says what each check runs.
type Profile struct {
	Name  string
	Lint  []Geometry
	Synth []Geometry
	// Directed are the depths the directed tests run at (one port).
	Directed []int
	// DirectedPorts are geometries with several ports the directed tests run at too: they
	// exercise the last port, and "ports" checks that every port is separate.
	DirectedPorts []Geometry
	Differential  []DiffCase
	Align         []AlignSweep
	Soak          SoakSweep
	// Scenarios are upstream's demos with upstream's pass criteria (full profile: the
	// rig's cases take seconds each).
	Scenarios []Scenario
}

// Scenario is one of upstream's demos on the RTL: a topology, a link, firmware on every
// node and an app, and what must come of it.
type Scenario struct {
	Name     string
	Topology string // "rig" or "ring3"
	Depth    int
	Real     bool // the real link from a settled start (clocks converged, buffers centred)
	Firmware string
	App      string
	// Stall, if set, is the diagnosis the run must stop with (the scenario shows
	// upstream's firmware stuck, and ringsim saying why); otherwise the app must pass
	// with upstream's criteria.
	Stall bridge.StallCause
	// SoftUGN is the soft-UGN demo's timing (app softugn; nil: upstream's).
	SoftUGN *bridge.SoftUGNTiming
}

// gateSoftUGN is the soft-UGN demo's timing in the gate: upstream's schedule and event
// count, with the waits before the first message (1 s, then 100 ms) cut to 2 ms and
// 124,000 cycles (a multiple of D = 4000, like upstream's, so that events fall at
// upstream's phase of the buffer). They only let every node finish aligning first, which
// the job checks (no message before the last link aligned); upstream's 1.1 s would cost
// the gate minutes per run.
var gateSoftUGN = bridge.SoftUGNTiming{Settle: 250_000, StartDelay: 124_000, Events: 1000}

// fullScenarios: the async-comms demo on the rig (D = 128) with ringsim's firmware on the
// ideal link and the settled real link, with upstream's firmware on the ideal link;
// upstream's serial alignment deadlocking on the built-in ring; the soft-UGN demo on the rig
// (D = 4000) on the ideal and the settled real link. upstream-async on the real rig is left
// out: it waits for gVisor's 1 s handshake retransmissions and passes after 7.4 simulated
// seconds, half an hour of simulation (docs/firmware.md).
var fullScenarios = []Scenario{
	{Name: "async-comms-rig-ideal-ringsim", Topology: "rig", Depth: 128, Firmware: "ringsim", App: "exchange"},
	{Name: "async-comms-rig-real-ringsim", Topology: "rig", Depth: 128, Real: true, Firmware: "ringsim", App: "exchange"},
	{Name: "async-comms-rig-ideal-upstream-async", Topology: "rig", Depth: 128, Firmware: "upstream-async", App: "exchange"},
	{Name: "serial-alignment-ring3-deadlock", Topology: "ring3", Depth: 128, Firmware: "upstream-async", App: "exchange",
		Stall: bridge.StallDeadlock},
	{Name: "soft-ugn-rig-ideal", Topology: "rig", Depth: 4000, Firmware: "upstream-softugn", App: "softugn", SoftUGN: &gateSoftUGN},
	{Name: "soft-ugn-rig-real", Topology: "rig", Depth: 4000, Real: true, Firmware: "upstream-softugn", App: "softugn", SoftUGN: &gateSoftUGN},
}

var (
	clean = FaultSet{Name: "clean"}
	noisy = FaultSet{Name: "noisy", BitFlip: 1e-6, FrameZero: 1e-5, Drop: 0.01}
)

func seeds(n int) []uint64 {
	s := make([]uint64, n)
	for i := range s {
		s[i] = uint64(i + 1)
	}
	return s
}

// Quick is the profile for every commit: under two minutes on a 2-core machine, model
// builds for new RTL included. Each shape of new RTL costs a model build, so it simulates
// four, all of which the test suite builds too (so CI's cache has them): D = 16 with one
// and two ports, upstream's 200 (not a power of two, deep enough for the IP framing) and
// 256 (a power of two of 32 and more, where the window is no longer the 256-byte minimum,
// and a depth of 256 and more, where a depth no longer fits in a byte). Two ports put
// port 1's decoding and wiring under the directed tests and the differential test. The
// real-link cases add a fifth: D = 256 with the real link's wrapper.
func Quick() Profile {
	return Profile{
		Name:          "quick",
		Lint:          []Geometry{{8, 1}, {13, 2}, {16, 1}, {16, 2}, {200, 1}, {256, 1}},
		Synth:         []Geometry{{13, 2}, {16, 1}, {200, 1}, {256, 1}},
		Directed:      []int{16, 200, 256},
		DirectedPorts: []Geometry{{16, 2}},
		Differential: []DiffCase{
			{Depth: 16, Ports: 2, Cycles: 1_000_000, Seed: 1},
			{Depth: 200, Ports: 1, Cycles: 500_000, Seed: 2},
			{Depth: 256, Ports: 1, Cycles: 500_000, Seed: 3},
		},
		Align: []AlignSweep{
			{Topology: "pair", Depths: []int{16, 200, 256}, Latencies: []uint32{0, 1, 7, 64, 300}, Seeds: seeds(12)},
			{Topology: "ring3", Depths: []int{16}, Latencies: []uint32{0, 7}, Seeds: seeds(4)},
		},
		Soak: SoakSweep{
			Targets: []SoakTarget{{"crc", 16, 8 << 10}, {"crc", 200, 128 << 10}, {"ip", 200, 128 << 10},
				{"crc", 256, 128 << 10}},
			RealTargets: []SoakTarget{{"crc", 256, 0}, {"crc", 256, 128 << 10}},
			Faults:      []FaultSet{clean, noisy}, Seeds: seeds(2), Latency: 16,
		},
	}
}

// Full is the default profile: under fifteen minutes on a 2-core machine.
func Full() Profile {
	return Profile{
		Name:          "full",
		Lint:          []Geometry{{8, 1}, {13, 2}, {16, 1}, {16, 2}, {128, 1}, {200, 1}, {256, 1}, {4000, 1}},
		Synth:         []Geometry{{8, 1}, {13, 2}, {16, 2}, {128, 1}, {200, 1}, {256, 1}},
		Directed:      []int{8, 13, 16, 128, 200, 256, 4000},
		DirectedPorts: []Geometry{{13, 2}, {16, 2}},
		Differential: []DiffCase{
			{Depth: 16, Ports: 2, Cycles: 2_000_000, Seed: 1},
			{Depth: 13, Ports: 1, Cycles: 1_000_000, Seed: 2},
			{Depth: 8, Ports: 1, Cycles: 1_000_000, Seed: 3},
			{Depth: 200, Ports: 1, Cycles: 1_000_000, Seed: 4},
			{Depth: 256, Ports: 1, Cycles: 1_000_000, Seed: 5},
		},
		Align: []AlignSweep{
			{Topology: "pair", Depths: []int{8, 13, 16, 128, 200, 256}, Latencies: []uint32{0, 1, 7, 64, 300}, Seeds: seeds(10)},
			{Topology: "ring3", Depths: []int{16}, Latencies: []uint32{0, 7, 64}, Seeds: seeds(6)},
		},
		Soak: SoakSweep{
			Targets: []SoakTarget{{"crc", 16, 16 << 10}, {"crc", 128, 256 << 10}, {"crc", 200, 256 << 10},
				{"crc", 256, 1 << 20}, {"ip", 200, 256 << 10}, {"ip", 256, 1 << 20}},
			RealTargets: []SoakTarget{{"crc", 200, 0}, {"crc", 256, 0}, {"crc", 200, 256 << 10}, {"crc", 256, 1 << 20},
				{"ip", 256, 256 << 10}},
			Faults: []FaultSet{clean, noisy, {Name: "bitflip", BitFlip: 3e-6},
				{Name: "zero", FrameZero: 1e-4}, {Name: "drop", Drop: 0.03}},
			Seeds: seeds(3), Latency: 16,
		},
		Scenarios: fullScenarios,
	}
}

// validate checks that every case of the profile can run.
func (p Profile) validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: profile %s: %s", ErrBadOptions, p.Name, fmt.Sprintf(format, a...))
	}
	for _, g := range append(append([]Geometry(nil), p.Lint...), p.Synth...) {
		if g.Depth < 2 || g.Ports < 1 || g.Ports > 64 {
			return bad("geometry %v", g)
		}
	}
	for _, d := range p.Directed {
		if d < conformance.MinDirectedDepth {
			return bad("directed depth %d below %d", d, conformance.MinDirectedDepth)
		}
	}
	for _, g := range p.DirectedPorts {
		if g.Depth < conformance.MinDirectedDepth || g.Ports < 2 || g.Ports > 64 {
			return bad("directed geometry %v: want depth >= %d and 2 to 64 ports", g, conformance.MinDirectedDepth)
		}
	}
	for _, d := range p.Differential {
		if d.Depth < 2 || d.Ports < 1 || d.Cycles == 0 {
			return bad("differential case %+v", d)
		}
	}
	for _, a := range p.Align {
		if a.Topology != "pair" && a.Topology != "ring3" {
			return bad("alignment topology %q: want pair or ring3", a.Topology)
		}
		for _, d := range a.Depths {
			if d < 4 {
				return bad("alignment depth %d below 4", d)
			}
		}
	}
	for i, t := range append(append([]SoakTarget(nil), p.Soak.Targets...), p.Soak.RealTargets...) {
		real := i >= len(p.Soak.Targets)
		k, err := framing.Lookup(t.Framing)
		if err != nil {
			return bad("soak framing: %v", err)
		}
		if _, err := framing.MTU(k, t.Depth); err != nil {
			return bad("soak %s at depth %d: %v", t.Framing, t.Depth, err)
		}
		if t.Bytes < 0 || t.Bytes == 0 && !real {
			return bad("soak of %d bytes", t.Bytes)
		}
	}
	return nil
}

// plan lists the profile's cases in order; a case's index is its place in the list.
func plan(p Profile) ([]task, error) {
	var tasks []task
	add := func(t task) { t.index = len(tasks); tasks = append(tasks, t) }
	for _, g := range p.Lint {
		add(lintTask(g))
	}
	for _, g := range p.Synth {
		add(synthTask(g))
	}
	for _, d := range p.Directed {
		for _, dt := range conformance.DirectedTests() {
			if dt.Supports(1) {
				add(directedTask(dt, Geometry{d, 1}))
			}
		}
	}
	for _, g := range p.DirectedPorts {
		for _, dt := range conformance.DirectedTests() {
			if dt.Supports(g.Ports) {
				add(directedTask(dt, g))
			}
		}
	}
	for _, dc := range p.Differential {
		add(diffTask(dc))
	}
	for _, a := range p.Align {
		for _, d := range a.Depths {
			for _, l := range a.Latencies {
				for _, s := range a.Seeds {
					add(alignTask(alignCase{topo: a.Topology, depth: d, latency: l, seed: s}))
				}
			}
		}
	}
	for _, t := range p.Soak.Targets {
		for _, f := range p.Soak.Faults {
			for _, s := range p.Soak.Seeds {
				add(soakTask(soakCase{target: t, faults: f, seed: s, latency: p.Soak.Latency}))
			}
		}
	}
	for _, t := range p.Soak.RealTargets {
		for _, f := range p.Soak.Faults {
			for _, s := range p.Soak.Seeds {
				add(soakTask(soakCase{target: t, faults: f, seed: s, latency: p.Soak.Latency, real: true}))
			}
		}
	}
	for _, sc := range p.Scenarios {
		add(scenarioTask(sc))
	}
	seen := map[string]bool{}
	for _, t := range tasks {
		if seen[t.id()] {
			return nil, fmt.Errorf("%w: profile %s has case %s twice", ErrBadOptions, p.Name, t.id())
		}
		seen[t.id()] = true
	}
	return tasks, nil
}

// describe says what a check runs in this profile, for the reports.
func (p Profile) describe(check string) string {
	geos := func(gs []Geometry) string {
		var s []string
		for _, g := range gs {
			s = append(s, fmt.Sprintf("%dx%d", g.Depth, g.Ports))
		}
		return strings.Join(s, " ")
	}
	switch check {
	case Lint:
		return "verilator --lint-only -Wall with the RTL's .vlt files, Depth x Ports " + geos(p.Lint)
	case Synth:
		return "yosys read_verilog -sv (SYNTHESIS defined), hierarchy -check, proc, no initial values, " +
			"check -assert, opt, memory -nomap; Depth x Ports " + geos(p.Synth)
	case Conformance:
		var diffs []string
		for _, d := range p.Differential {
			diffs = append(diffs, fmt.Sprintf("%dx%d %d cycles", d.Depth, d.Ports, d.Cycles))
		}
		one, multi := 0, ""
		for _, dt := range conformance.DirectedTests() {
			if dt.Supports(1) {
				one++
			}
		}
		if len(p.DirectedPorts) > 0 {
			multi = fmt.Sprintf(", and %d (with ports) on the last port at Depth x Ports %s",
				len(conformance.DirectedTests()), geos(p.DirectedPorts))
		}
		return fmt.Sprintf("%d directed tests (SPEC section 2) at depths %v%s; differential vs the reference model: %s",
			one, p.Directed, multi, strings.Join(diffs, ", "))
	case Alignment:
		var parts []string
		for _, a := range p.Align {
			parts = append(parts, fmt.Sprintf("%s: depths %v x latencies %v x %d seeded start offsets (uniform in [0, 4D])",
				a.Topology, a.Depths, a.Latencies, len(a.Seeds)))
		}
		return strings.Join(parts, "; ") + "; every link aligned within " + boundFormula +
			" after the later release, with offset n = (release[a] - release[b] + latency + 1) mod D " +
			"for the link a->b, then TX word i lands at RX word i"
	case Scenarios:
		var parts []string
		for _, sc := range p.Scenarios {
			link := "ideal link"
			if sc.Real {
				link = "real link, settled"
			}
			want := "every node completes within 60 s of simulated time, the manager's report has every edge (with hardware UGNs on the real link)"
			if sc.App == "softugn" {
				want = "on every edge software UGN = hardware UGN + 1, round trips agree, no deadline missed"
				if t := sc.SoftUGN; t != nil {
					want += fmt.Sprintf(" (upstream's schedule and %d events; the waits before the first message cut to %d and %d cycles)",
						t.Events, t.Settle, t.StartDelay)
				}
			}
			if sc.Stall != "" {
				want = "stops with the diagnosis " + string(sc.Stall)
			}
			parts = append(parts, fmt.Sprintf("%s (%s D=%d, %s, %s, %s): %s", sc.Name, sc.Topology, sc.Depth, link, sc.Firmware, sc.App, want))
		}
		if len(parts) == 0 {
			return "none in this profile (the full profile runs upstream's demos on the rig)"
		}
		return strings.Join(parts, "; ")
	case Soak:
		s := p.Soak
		var ts, fs []string
		for _, t := range s.Targets {
			ts = append(ts, fmt.Sprintf("%s D=%d %d bytes", t.Framing, t.Depth, t.Bytes))
		}
		for _, f := range s.Faults {
			fs = append(fs, fmt.Sprintf("%s(flip %g, zero %g, drop %g)", f.Name, f.BitFlip, f.FrameZero, f.Drop))
		}
		var rs []string
		for _, t := range s.RealTargets {
			if t.Bytes == 0 {
				rs = append(rs, fmt.Sprintf("alignment at D=%d", t.Depth))
			} else {
				rs = append(rs, fmt.Sprintf("%s D=%d %d bytes", t.Framing, t.Depth, t.Bytes))
			}
		}
		real := ""
		if len(rs) > 0 {
			real = fmt.Sprintf("; on the real link (clocks %v ppm with clock control, auto-centre on, staggered bring-up, random RX memory): %s, "+
				"with the same faults and seeds, and at the end TX word i lands at RX word i on every link the firmware believes aligned",
				RealPPM, strings.Join(rs, ", "))
		}
		return fmt.Sprintf("TCP transfer each way over a pair, latency %d: %s; faults %s; %d seed(s); every byte intact (SHA-256)%s",
			s.Latency, strings.Join(ts, ", "), strings.Join(fs, ", "), len(s.Seeds), real)
	}
	return ""
}
