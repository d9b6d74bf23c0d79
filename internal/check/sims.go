package check

import (
	"context"
	"errors"
	"fmt"

	"github.com/ringsim/ringsim/bridge"
	"github.com/ringsim/ringsim/bridge/framing"
	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/internal/conformance"
	"github.com/ringsim/ringsim/job"
	"github.com/ringsim/ringsim/sim"
	"github.com/ringsim/ringsim/sim/bus"
)

// simOutcome classifies the error of a simulation case: nil passes; a divergence from the
// SPEC or an RTL stop (an assertion, a bus that did not answer) fails at its cycle; anything
// else (a model that does not build, an interrupted run) means the case could not run.
func simOutcome(err error, details map[string]any) outcome {
	if err == nil {
		return pass(details)
	}
	var div *conformance.Divergence
	if errors.As(err, &div) {
		return failAt(div.Cycle, err.Error(), details)
	}
	if c, ok := conformance.StoppedAt(err); ok {
		return failAt(c, err.Error(), details)
	}
	return outcome{status: Error, reason: err.Error(), details: details}
}

// directedTask is one directed test at one depth.
func directedTask(dt conformance.Directed, depth int) task {
	seed := uint64(depth)
	return task{check: Conformance, name: fmt.Sprintf("d%d-%s", depth, dt.Name), seed: seed,
		run: func(ctx context.Context, e *env, ev *evidence) outcome {
			cfg := conformance.DirectedConfig{Depth: depth, Seed: seed, RTLDir: e.simRTL(),
				CacheDir: e.opt.CacheDir, OnModelBuild: e.opt.OnModelBuild, Logger: e.log, Limits: e.limits}
			if ev != nil {
				cfg.Waveform, cfg.WaveformFrom = ev.file("wave.fst"), ev.waveFrom(depth)
			}
			return simOutcome(dt.Run(ctx, cfg), map[string]any{"test": dt.Summary})
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
				return failAt(rep.Divergence.Cycle, err.Error(), details)
			}
			return simOutcome(err, details)
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
func (e *env) newMachine(ctx context.Context, topo hw.Topology, depth int, seed uint64, ev *evidence) (*conformance.Traced, error) {
	eng, err := sim.New(ctx, hw.Config{Topology: topo, Depth: depth, Seed: seed, Waveforms: ev != nil,
		RTLDir: e.simRTL()}, sim.Options{CacheDir: e.opt.CacheDir, OnModelBuild: e.opt.OnModelBuild, Logger: e.log})
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
	m, err := e.newMachine(ctx, topo, c.depth, c.seed, ev)
	if err != nil {
		return errorOutcome(err)
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
		if c, ok := conformance.StoppedAt(err); ok {
			return failAt(c, err.Error(), details)
		}
		cycle := m.Cycle() // a bus error, a panic: where the firmware stopped
		if errors.Is(err, bridge.ErrAlignTimeout) || errors.Is(err, bridge.ErrTimeout) {
			cycle = last + bound + 1 // the first cycle past the bound
		}
		o := failAt(cycle, fmt.Sprintf("alignment did not complete within %d cycles of the later release: %v", bound, err), details)
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
				return simOutcome(err, nil), true
			}
			for i, x := range r {
				if x.Err {
					return failAt(x.Cycle, fmt.Sprintf("after alignment, link %v: op %d answered ERR", l, i), nil), true
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
				return failAt(start+uint64(2*i+1), fmt.Sprintf("after alignment, link %v: RX word %d %s is %#08x, want %#08x "+
					"(TX word i must land at RX word i)", l, i/2, [2]string{"low", "high"}[i%2], w, pat[i]), nil), true
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
}

func soakTask(c soakCase) task {
	return task{check: Soak, name: fmt.Sprintf("%s-d%d-%s-s%d", c.target.Framing, c.target.Depth, c.faults.Name, c.seed),
		seed: c.seed, run: c.run}
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
	if ev != nil {
		spec.PcapDir = ev.dir
		for _, l := range topo.Links {
			ev.file(fmt.Sprintf("node%d-port%d.pcap", l.To.Node, l.To.Port)) // what the job writes there
		}
	}
	var m *conformance.Traced
	start := func(ctx context.Context, cfg hw.Config) (job.Machine, error) {
		var err error
		m, err = e.newMachine(ctx, cfg.Topology, cfg.Depth, cfg.Seed, ev)
		return m, err
	}
	res, err := job.Run(ctx, spec, job.Options{Start: start, Logger: e.log})
	if err != nil {
		return errorOutcome(err)
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
	switch {
	case res.Err == nil:
		return pass(details)
	case ctx.Err() != nil:
		return outcome{status: Error, reason: res.Err.Error(), details: details}
	}
	cycle := m.Cycle()
	if c, ok := conformance.StoppedAt(res.Err); ok {
		cycle = c
	}
	o := failAt(cycle, fmt.Sprintf("transfer of %d bytes each way failed: %v", c.target.Bytes, res.Err), details)
	o.log = res.Stack
	return o
}
