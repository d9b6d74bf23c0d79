package check

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ringsim/ringsim/bridge"
	"github.com/ringsim/ringsim/bridge/framing"
	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/internal/conformance"
	"github.com/ringsim/ringsim/job"
	"github.com/ringsim/ringsim/sim"
	"github.com/ringsim/ringsim/sim/bus"
)

// simOutcome classifies the error of a simulation case: nil passes; an RTL stop (an
// assertion, a bus that did not answer) or a divergence from what `by` says (the SPEC, the
// reference model) fails at its first failing cycle, with one headline in the RTL's terms;
// a model that does not build is reported with the compiler's text; anything else (an
// interrupted run) means the case could not run.
func simOutcome(err error, details map[string]any, by string) outcome {
	if err == nil {
		return pass(details)
	}
	var st *sim.StopError
	if errors.As(err, &st) {
		c, _ := conformance.StoppedAt(err)
		return failAt(c, st.Error(), details)
	}
	var div *conformance.Divergence
	if errors.As(err, &div) {
		return failAt(div.Cycle, div.Headline(by), details)
	}
	if o, ok := buildFailure(err, details); ok {
		return o
	}
	return outcome{status: Error, reason: err.Error(), details: details}
}

// buildFailure reports a model that did not build (hw.ErrBadRTL) or could not be built (a
// missing tool): once, with the compiler's error lines in the reason and its whole output
// as evidence; the run's later simulation cases are not run (env.runCase).
func buildFailure(err error, details map[string]any) (outcome, bool) {
	switch {
	case errors.Is(err, hw.ErrBadRTL):
		text := err.Error()
		lines := compilerErrors(text)
		head := "the model did not build"
		if len(lines) > 0 {
			head += ": " + lines[0]
			lines = lines[1:]
		} else {
			head += ": " + firstLine(text)
		}
		if len(lines) > maxCompilerLines {
			lines = append(lines[:maxCompilerLines], fmt.Sprintf("... (%d more lines in build.log)", len(lines)-maxCompilerLines))
		}
		return outcome{status: Error, reason: strings.Join(append([]string{head}, lines...), "\n"), details: details,
			log: text, logName: "build.log", block: "verilator", blockWhat: "the model did not build"}, true
	case errors.Is(err, hw.ErrNoTool):
		return outcome{status: Error, reason: err.Error(), details: details,
			block: "verilator", blockWhat: "a tool the model build needs is missing"}, true
	}
	return outcome{}, false
}

// maxCompilerLines is how many of the compiler's error lines a reason quotes.
const maxCompilerLines = 8

// compilerErrors returns the error lines of Verilator's or the C++ compiler's output.
func compilerErrors(out string) []string {
	var errs []string
	for _, line := range strings.Split(out, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "%Error") && !strings.Contains(t, "Exiting due to"):
			errs = append(errs, t)
		case strings.Contains(t, "error:"):
			errs = append(errs, t)
		}
	}
	return errs
}

// directedTask is one directed test at one geometry: "d16-bus-timing" with one port,
// "d16x2-ports" with several.
func directedTask(dt conformance.Directed, g Geometry) task {
	seed := uint64(g.Depth)
	name := fmt.Sprintf("d%d-%s", g.Depth, dt.Name)
	if g.Ports > 1 {
		name = fmt.Sprintf("%s-%s", g, dt.Name)
	}
	return task{check: Conformance, name: name, seed: seed,
		run: func(ctx context.Context, e *env, ev *evidence) outcome {
			cfg := conformance.DirectedConfig{Depth: g.Depth, Ports: g.Ports, Seed: seed, RTLDir: e.simRTL(),
				CacheDir: e.opt.CacheDir, OnModelBuild: e.opt.OnModelBuild, Logger: e.log, Limits: e.limits}
			if ev != nil {
				cfg.Waveform, cfg.WaveformFrom = ev.file("wave.fst"), ev.waveFrom(g.Depth)
			}
			return simOutcome(dt.Run(ctx, cfg), map[string]any{"test": dt.Summary}, "SPEC")
		}}
}

// diffTask is one differential run against the reference model.
func diffTask(dc DiffCase) task {
	return task{check: Conformance, name: fmt.Sprintf("d%dx%d-differential-s%d", dc.Depth, dc.Ports, dc.Seed), seed: dc.Seed,
		run: func(ctx context.Context, e *env, ev *evidence) outcome {
			cfg := conformance.DiffConfig{Depth: dc.Depth, Ports: dc.Ports,
				Cycles: dc.Cycles, Seed: dc.Seed, Release: 5 + dc.Seed%11, RTLDir: e.simRTL(),
				CacheDir: e.opt.CacheDir, OnModelBuild: e.opt.OnModelBuild, Logger: e.log, Limits: e.limits}
			if ev != nil {
				cfg.Waveform, cfg.WaveformFrom = ev.file("wave.fst"), ev.waveFrom(dc.Depth)
			}
			rep, err := conformance.Differential(ctx, cfg)
			details := map[string]any{"cycles": rep.Cycles, "batches": rep.Batches, "ops": rep.Ops, "frames": rep.Frames}
			if rep.Divergence != nil {
				div := conformance.ExplainDiff(rep.Divergence, bus.Map{Depth: dc.Depth, Ports: dc.Ports}, e.limits.Bus)
				return failAt(div.Cycle, div.Headline("reference model"), details)
			}
			return simOutcome(err, details, "reference model")
		}}
}

// topology returns a named alignment or soak topology.
func topology(name string, latency uint32) hw.Topology {
	if name == "ring3" {
		return hw.Ring(3, latency)
	}
	return hw.Pair(latency)
}

// newMachine starts an engine for a bridge case, traced from shortly before the failing
// cycle when it is an evidence rerun.
// newMachine starts the traced engine for cfg (topology, depth, seed and link), on the RTL
// under check, dumping waveforms when the case gathers evidence.
func (e *env) newMachine(ctx context.Context, cfg hw.Config, ev *evidence) (*conformance.Traced, error) {
	depth := cfg.Depth
	cfg.Waveforms, cfg.RTLDir = ev != nil, e.simRTL()
	eng, err := sim.New(ctx, cfg, sim.Options{CacheDir: e.opt.CacheDir, OnModelBuild: e.opt.OnModelBuild, Logger: e.log})
	if err != nil {
		return nil, err
	}
	m := &conformance.Traced{Engine: eng, Limits: e.limits}
	if ev != nil {
		m.Path, m.From = ev.file("wave.fst"), ev.waveFrom(depth)
	}
	return m, nil
}

// alignCase is one point of the alignment sweep.
type alignCase struct {
	topo    string
	depth   int
	latency uint32
	seed    uint64
}

// boundFormula is how the alignment bound is computed (alignBound).
const boundFormula = "B = P*(2D + 6*(D*(4 + poll) + D)) + 400 + 4*(latency + D + 8) cycles, P = ports per node, " +
	"poll = 20 (the default CPU cost of a polling loop iteration),"

// alignBound bounds the cycles from the later node's release until every link is aligned:
// per port (a node steps its links in turn) the start (zeroing 2D bus words) and a few
// scans of the RX buffer (a 64-bit read of 4 bus cycles plus a polling iteration per word,
// at most D cycles per clear_at_count stall), and a few link round trips of markers and
// zeroes. Measured on ringsim's RTL: at most half of it.
func alignBound(depth int, latency uint32, ports int) uint64 {
	d, poll, p := uint64(depth), uint64(bridge.DefaultCost.Poll), uint64(ports)
	return p*(2*d+6*(d*(4+poll)+d)) + 400 + 4*(uint64(latency)+d+8)
}

func alignTask(c alignCase) task {
	return task{check: Alignment, name: fmt.Sprintf("%s-d%d-l%d-s%d", c.topo, c.depth, c.latency, c.seed), seed: c.seed,
		run: c.run}
}

func (c alignCase) run(ctx context.Context, e *env, ev *evidence) outcome {
	topo := topology(c.topo, c.latency)
	m, err := e.newMachine(ctx, hw.Config{Topology: topo, Depth: c.depth, Seed: c.seed}, ev)
	if err != nil {
		return setupError(err)
	}
	defer m.Close()
	rel := m.Info().Config.Release
	var last uint64
	for _, r := range rel {
		last = max(last, r)
	}
	bound := alignBound(c.depth, c.latency, topo.Ports)
	details := map[string]any{"releases": rel, "bound_cycles": bound, "latency": c.latency}
	rt, err := bridge.New(bridge.Config{Machine: m, Wiring: topo.Wiring(), Framing: framing.CRC,
		Cost: bridge.DefaultCost, Seed: c.seed, AlignOnly: true, AlignTimeout: last + bound + 1,
		Deadline: last + 2*bound, Logger: e.log})
	if err != nil {
		return errorOutcome(err)
	}
	rep, stack, err := job.RunFirmware(ctx, rt)
	if err != nil {
		if ctx.Err() != nil {
			return errorOutcome(err)
		}
		var o outcome
		var st *sim.StopError
		if errors.As(err, &st) {
			c, _ := conformance.StoppedAt(err)
			o = failAt(c, st.Error(), details)
		} else {
			o = c.failure(e, m, topo, rep, err, last, bound, details)
		}
		o.log = stack
		return o
	}
	// Every link end: aligned in time, with the offset the start times and latency imply.
	var links []map[string]any
	var first *outcome
	worst := uint64(0)
	fail := func(cycle uint64, reason string) {
		if first == nil || cycle < *first.cycle {
			o := failAt(cycle, reason, details)
			first = &o
		}
	}
	for _, l := range rep.Links {
		a, b := l.Peer, l.Local // the link a -> b, as b's RX sees it
		want := int(((int64(rel[a.Node])-int64(rel[b.Node])+int64(c.latency)+1)%int64(c.depth) + int64(c.depth)) % int64(c.depth))
		took := l.AlignedCycle - min(l.AlignedCycle, last)
		worst = max(worst, took)
		links = append(links, map[string]any{"link": a.String() + "->" + b.String(), "aligned_cycle": l.AlignedCycle,
			"offset": l.Offset, "expected_offset": want, "clears": l.Clears, "scans": l.Scans})
		switch {
		case l.AlignedCycle > last+bound:
			fail(last+bound+1, fmt.Sprintf("link %v->%v aligned in cycle %d, %d cycles after the later release, above the bound %d",
				a, b, l.AlignedCycle, took, bound))
		case l.Offset != want:
			fail(l.AlignedCycle, fmt.Sprintf("link %v->%v measured offset %d, want %d = (release %d - release %d + latency %d + 1) mod %d",
				a, b, l.Offset, want, rel[a.Node], rel[b.Node], c.latency, c.depth))
		}
	}
	details["links"], details["align_cycles"] = links, worst
	if first != nil {
		return *first
	}
	// Aligned means TX word i of one end lands at RX word i of the other.
	if o, bad := c.checkMapping(ctx, m, topo); bad {
		o.details = details
		return o
	}
	return pass(details)
}

// failure states why the alignment firmware failed, as one cause with one cycle: a bus
// access the SPEC acknowledges that the RTL answered ERR (named by register), or the link
// that was not aligned by the end of the bound and the phase it was in then, or else the
// firmware's own error at the cycle it stopped.
func (c alignCase) failure(e *env, m *conformance.Traced, topo hw.Topology, rep *bridge.Report, err error,
	last, bound uint64, details map[string]any) outcome {
	bm := bus.Map{Depth: c.depth, Ports: topo.Ports}
	first, firstCycle, found := "", uint64(0), false
	for n := 0; n < topo.Nodes; n++ {
		if what, cycle, ok := e.limits.Bus.UnexpectedErr(bm, n); ok && (!found || cycle < firstCycle) {
			first, firstCycle, found = what, cycle, true
		}
	}
	if found {
		return failAt(firstCycle, "the alignment firmware stopped on a bus error: "+first, details)
	}
	if errors.Is(err, bridge.ErrAlignTimeout) || errors.Is(err, bridge.ErrTimeout) {
		end := last + bound + 1 // the first cycle past the bound
		var stuck []string
		if rep != nil {
			for _, l := range rep.Links {
				if l.AlignedCycle != 0 && l.AlignedCycle < end {
					continue
				}
				phase, since := phaseAt(l.PhaseCycles, end)
				writes := "writes"
				if l.Clears == 1 {
					writes = "write"
				}
				stuck = append(stuck, fmt.Sprintf("link %v->%v was in %s (since cycle %d; %d clear_at_count %s in all)",
					l.Peer, l.Local, phase, since, l.Clears, writes))
			}
		}
		reason := fmt.Sprintf("not aligned within B = %d cycles of the later release (cycle %d)", bound, last)
		switch len(stuck) {
		case 0:
			reason += ": " + err.Error()
		case 1:
			reason += ": " + stuck[0]
		case 2:
			reason += fmt.Sprintf(": %s (and 1 more link end)", stuck[0])
		default:
			reason += fmt.Sprintf(": %s (and %d more link ends)", stuck[0], len(stuck)-1)
		}
		return failAt(end, reason, details)
	}
	return failAt(m.Cycle(), fmt.Sprintf("the alignment firmware failed: %v", err), details)
}

// phaseAt returns the alignment phase a link end was in at cycle c, from the cycles it
// entered each phase, and the cycle it entered it.
func phaseAt(entered map[string]uint64, c uint64) (string, uint64) {
	phase, since := bridge.Unaligned.String(), uint64(0)
	for ph := bridge.FindingAlignment; ph <= bridge.Aligned; ph++ {
		if at, ok := entered[ph.String()]; ok && at < c && at >= since {
			phase, since = ph.String(), at
		}
	}
	return phase, since
}

// setupError is the outcome of a case whose simulation could not start: a model that did
// not build is reported once, with the compiler's text.
func setupError(err error) outcome {
	if o, ok := buildFailure(err, nil); ok {
		return o
	}
	return errorOutcome(err)
}

// checkMapping sends a pattern over each link of an aligned topology and reads it back.
func (c alignCase) checkMapping(ctx context.Context, m *conformance.Traced, topo hw.Topology) (outcome, bool) {
	bm := bus.Map{Depth: c.depth, Ports: topo.Ports}
	for k, l := range topo.Links {
		pat := make([]uint32, 2*c.depth)
		for i := 0; i < c.depth; i++ {
			pat[2*i], pat[2*i+1] = uint32(i+1), 0xA11E_0000|uint32(k)
		}
		tx, rx := bm.TX(l.From.Port), bm.RX(l.To.Port)
		steps := []struct {
			node int
			ops  []bus.Op
		}{
			{l.From.Node, []bus.Op{bus.WriteBlock(tx, pat), bus.Write(tx+bm.Enable(), 1)}},
			{l.To.Node, []bus.Op{bus.Write(rx+bm.Enable(), 1), bus.Idle(uint32(c.depth) + l.Latency + 4),
				bus.Write(rx+bm.Enable(), 0), bus.ReadBlock(rx, 2*c.depth)}},
			{l.From.Node, []bus.Op{bus.Write(tx+bm.Enable(), 0)}},
		}
		var res []bus.Result
		for _, st := range steps {
			r, err := m.Execute(ctx, st.node, st.ops)
			if err != nil {
				return simOutcome(err, nil, "SPEC"), true
			}
			for i, x := range r {
				if x.Err {
					return failAt(x.Cycle, fmt.Sprintf("after alignment, link %v: %s: RTL ERR in cycle %d, SPEC ACK", l,
						conformance.OpString(bm, st.node, st.ops[i]), x.Cycle), nil), true
				}
			}
			if st.node == l.To.Node {
				res = r
			}
		}
		rd := res[len(res)-1]
		start := rd.Cycle + 1 - uint64(2*len(pat))
		for i, w := range rd.Words {
			if w != pat[i] {
				return failAt(start+uint64(2*i+1), fmt.Sprintf("after alignment, link %v: %s reads %#08x, want %#08x "+
					"(TX word i must land at RX word i)", l, conformance.RegName(bm, l.To.Node, rx+4*uint32(i)), w, pat[i]), nil), true
			}
		}
	}
	return outcome{}, false
}

// soakCase is one TCP transfer of the protocol soak.
type soakCase struct {
	target  SoakTarget
	faults  FaultSet
	seed    uint64
	latency uint32
	real    bool // on the real link (SoakSweep.RealTargets)
}

func soakTask(c soakCase) task {
	name := fmt.Sprintf("%s-d%d-%s-s%d", c.target.Framing, c.target.Depth, c.faults.Name, c.seed)
	switch {
	case c.real && c.target.Bytes == 0:
		name = fmt.Sprintf("real-align-d%d-%s-s%d", c.target.Depth, c.faults.Name, c.seed)
	case c.real:
		name = "real-" + name
	}
	return task{check: Soak, name: name, seed: c.seed, run: c.run}
}

// soakLimit bounds a soak transfer in cycles: several times what a transfer takes under
// the profiles' faults (measured: 5 cycles per byte at D = 256 clean, 600 at D = 16 with
// drops, 115 for the IP framing at D = 200 under noise), so that a hung transfer fails in
// tens of seconds, not hours.
func soakLimit(bytes int64, depth int) uint64 {
	return 5_000_000 + 100*uint64(bytes)*uint64((256+depth-1)/depth)
}

func (c soakCase) run(ctx context.Context, e *env, ev *evidence) outcome {
	codec, err := framing.Lookup(c.target.Framing)
	if err != nil {
		return errorOutcome(err)
	}
	topo := topology("pair", c.latency)
	topo.SetFaults(hw.Faults{BitFlip: c.faults.BitFlip, FrameZero: c.faults.FrameZero})
	spec := job.Spec{
		Sim:     hw.Config{Topology: topo, Depth: c.target.Depth, Seed: c.seed},
		Framing: codec, Cost: bridge.DefaultCost, Drop: c.faults.Drop,
		Deadline: soakLimit(c.target.Bytes, c.target.Depth), App: job.AppTransfer, Bytes: c.target.Bytes,
	}
	doing := fmt.Sprintf("transfer of %d bytes each way", c.target.Bytes)
	if c.real {
		spec.Sim.Link = hw.LinkReal
		spec.Sim.Real = hw.RealLink{PPM: RealPPM, Control: true}
		spec.AutoCentre = true
		if c.target.Bytes == 0 {
			spec.App, spec.Bytes, doing = job.AppAlign, 0, "alignment"
		}
	}
	if ev != nil {
		spec.PcapDir = ev.dir
		for _, l := range topo.Links {
			ev.file(fmt.Sprintf("node%d-port%d.pcapng", l.To.Node, l.To.Port)) // what the job writes there
		}
	}
	var m *conformance.Traced
	start := func(ctx context.Context, cfg hw.Config) (job.Machine, error) {
		var err error
		m, err = e.newMachine(ctx, cfg, ev)
		return m, err
	}
	res, err := job.Run(ctx, spec, job.Options{Start: start, Logger: e.log})
	if err != nil {
		return setupError(err)
	}
	rep := res.Report
	details := map[string]any{"bytes_each_way": c.target.Bytes, "cycle_limit": soakLimit(c.target.Bytes, c.target.Depth),
		"cycles": rep.Cycles, "tcp_retransmissions": rep.TCPRetransmissions, "corrupted_accepted": rep.CorruptedAccepted,
		"bytes_received": rep.BytesReceived, "sha256_match": rep.SHA256Match,
		"bits_flipped": res.FlippedBits, "frames_zeroed": res.ZeroedFrames}
	var frames []map[string]any
	for _, l := range rep.Links {
		f := l.Frames
		frames = append(frames, map[string]any{"link": l.Peer.String() + "->" + l.Local.String(), "sent": f.Sent,
			"accepted": f.Accepted, "bad_crc": f.BadCRC, "lost": f.Lost, "torn_tx": f.TornTX, "torn_rx": f.TornRX,
			"dropped": f.Dropped})
	}
	details["links"] = frames
	if rl := res.RealLink; rl != nil {
		var truth []map[string]any
		for _, lt := range rl.Links {
			truth = append(truth, map[string]any{"link": lt.From.String() + "->" + lt.To.String(),
				"adjustments": len(lt.Adjustments), "offset_at_end": lt.Offset, "aligned_at_end": lt.Aligned,
				"firmware_believes_aligned": lt.FirmwareAligned})
		}
		details["real_link"] = truth
	}
	switch {
	case res.Err == nil:
		return pass(details)
	case ctx.Err() != nil:
		return outcome{status: Error, reason: res.Err.Error(), details: details}
	}
	// One cause with one cycle: an RTL stop, a bus access answered ERR that the SPEC
	// acknowledges, or the transfer's own error where the simulation stopped.
	var o outcome
	var st *sim.StopError
	bm := bus.Map{Depth: c.target.Depth, Ports: topo.Ports}
	what, at, busErr := "", uint64(0), false
	for n := 0; n < topo.Nodes; n++ { // the earliest unexpected bus error of any node
		if w, cycle, ok := e.limits.Bus.UnexpectedErr(bm, n); ok && (!busErr || cycle < at) {
			what, at, busErr = w, cycle, true
		}
	}
	switch {
	case errors.As(res.Err, &st):
		cycle, _ := conformance.StoppedAt(res.Err)
		o = failAt(cycle, st.Error(), details)
	case busErr:
		o = failAt(at, "the firmware stopped on a bus error: "+what, details)
	default: // where the simulation was when the firmware gave up (the machine is closed now)
		reached := m.Cycle()
		if e.limits.Reached != nil {
			reached = *e.limits.Reached
		}
		o = failAt(reached, fmt.Sprintf("%s failed: %v", doing, res.Err), details)
	}
	o.log = res.Stack
	return o
}
