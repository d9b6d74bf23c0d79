package job

import (
	"context"
	"errors"
	"testing"

	"github.com/ringsim/ringsim/bridge"
	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/sim"
	"github.com/ringsim/ringsim/sim/bus"
)

// engine starts jobs on the Verilated engine (the real link needs it).
func engine(ctx context.Context, cfg hw.Config) (Machine, error) {
	e, err := sim.New(ctx, cfg, sim.Options{})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// realPairSpec is a pair on the real link with clocks 100 ppm apart, clock control on (it
// needs far longer than the run to close such a gap: 10 ppb per 25,000 cycles) and the
// auto-centre left on after alignment: an adjustment of 3 frames every 30,000 cycles or so
// on each link.
func realPairSpec(bytes int64) Spec {
	return Spec{Sim: hw.Config{Topology: hw.Pair(16), Depth: 256, Seed: 1, NoAssert: true, Link: hw.LinkReal,
		Real: hw.RealLink{Control: true, PPM: []float64{50, -50}}}, Bytes: bytes, AutoCentre: true}
}

// TestRTLRealLinkRecovery moves 1 MiB each way over a real-link pair whose elastic buffers
// are adjusted again and again after alignment, across a flap of one direction: ringsim's
// firmware compensates every counted adjustment on the receiving end, re-aligns both ends
// after the flap (the receiver sees the link go down, its partner sees the ANNOUNCE), TCP
// keeps its connection, every byte arrives, and the simulator's probe finds TX word i at
// RX word i on both links at the end.
func TestRTLRealLinkRecovery(t *testing.T) {
	spec := realPairSpec(1 << 20)
	spec.Sim.Real.Flaps = []hw.Flap{{Link: 0, Down: 2_000_000, Up: 2_020_000}}
	res, err := Run(context.Background(), spec, Options{Start: engine})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Passed() {
		t.Fatalf("run failed: %v", res.Err)
	}
	rl := res.RealLink
	if rl == nil {
		t.Fatal("no real-link report")
	}
	for _, lt := range rl.Links {
		if !lt.Probed || !lt.Aligned || !lt.FirmwareAligned {
			t.Errorf("link %d at the end: %+v", lt.Link, lt)
		}
		if len(lt.Adjustments) < 10 {
			t.Errorf("link %d: %d adjustments, want at least 10 for the test to mean something", lt.Link, len(lt.Adjustments))
		}
	}
	for _, l := range res.Links {
		comp, re := 0, 0
		for _, r := range l.Recoveries {
			switch r.Kind {
			case "compensated":
				comp++
			case "realigned":
				re++
				if r.Done == 0 {
					t.Errorf("%v: re-alignment at %d never finished", l.Local, r.Cycle)
				}
			}
		}
		if comp < 10 || re != 1 {
			t.Errorf("%v: %d compensations and %d re-alignments, want at least 10 and 1: %+v", l.Local, comp, re, l.Recoveries)
		}
	}
	if len(rl.Links[0].Downs) != 1 || rl.Links[0].Downs[0] != 2_000_000 {
		t.Errorf("link 0 downs %v, want the flap at 2000000", rl.Links[0].Downs)
	}
	if len(rl.Clocks) != 2 || len(rl.Clocks[0].PPM) < 10 || len(rl.Occupancy) != 2 || len(rl.Occupancy[0].Cycles) < 10 {
		t.Errorf("clocks %d series, occupancy %d series: want both nodes' and both links' over time", len(rl.Clocks), len(rl.Occupancy))
	}
}

// TestRTLRealLinkBreakCaught runs the same pair with the firmware's recovery off: the first
// adjustment after alignment breaks each link's relation. The run fails, and the report
// names, per link, the cycle of the first adjustment after the firmware aligned and its
// frames; the probe's offset at the end is the sum of the adjustments since alignment
// (the harness's bookkeeping and the measurement agree).
func TestRTLRealLinkBreakCaught(t *testing.T) {
	spec := realPairSpec(64 << 10)
	spec.NoRecovery = true
	spec.Deadline = 3_000_000
	res, err := Run(context.Background(), spec, Options{Start: engine})
	if err != nil {
		t.Fatal(err)
	}
	if res.Passed() {
		t.Fatal("the run passed without recovery: the test's link makes no adjustment that breaks it")
	}
	rl := res.RealLink
	for _, lt := range rl.Links {
		if !lt.FirmwareAligned || lt.Aligned || lt.Broken == nil {
			t.Fatalf("link %d: %+v: want believed aligned, broken, explained", lt.Link, lt)
		}
		var first *Adjustment
		sum := 0
		for i, a := range lt.Adjustments {
			if a.Cycle > lt.FirmwareSince {
				if first == nil {
					first = &lt.Adjustments[i]
				}
				sum += a.Frames
			}
		}
		if first == nil || lt.Broken.Cycle != first.Cycle {
			t.Errorf("link %d: broken at %d, want the first adjustment after alignment (%+v)", lt.Link, lt.Broken.Cycle, first)
		}
		d := lt.Depth
		if got, want := ((lt.Offset%d)+d)%d, ((sum%d)+d)%d; got != want {
			t.Errorf("link %d: probe offset %d, want the adjustments' sum %d (mod %d)", lt.Link, lt.Offset, sum, d)
		}
	}
	// The deadline came first here; a run that ends otherwise names the break.
	if !errors.Is(res.Err, bridge.ErrTimeout) && !errors.Is(res.Err, ErrRelationBroken) {
		t.Errorf("error %v: want the deadline or ErrRelationBroken", res.Err)
	}
}

// TestRTLProbeAfterEnd checks the probe's two guards against blaming the firmware for what
// happened after it stopped (a sweep once failed 2 of 28 runs that way: an auto-centre
// adjustment fell inside the probe's few rotations): the probe turns every auto-centre
// off, and takes adjustments made between the end of the run and the probe out of the
// measured offset. On a settled real-link pair without firmware, it measures a link's
// relation, then an adjustment of +2 frames after the "end" (the run's events counted)
// must leave the reported offset unchanged, with adjusted_after_end 2.
func TestRTLProbeAfterEnd(t *testing.T) {
	ctx := context.Background()
	spec := Spec{Sim: hw.Config{Topology: hw.Pair(16), Depth: 64, Seed: 3, NoAssert: true, Link: hw.LinkReal,
		Real: hw.RealLink{Settled: true}}}
	m, err := engine(ctx, spec.Sim)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	e := m.(*sim.Engine)
	// Every link up and its buffer primed; the auto-centre on, as firmware leaves it.
	run := func(node int, ops ...bus.Op) {
		t.Helper()
		if _, err := e.Execute(ctx, node, ops); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Step(30_000); err != nil {
		t.Fatal(err)
	}
	p := bridge.NewPort(bus.Map{Depth: 64, Ports: 1}, 0)
	run(0, p.SetAutoCentre(true))
	run(1, p.SetAutoCentre(true))
	before, err := truth(e, spec, &bridge.Report{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := probe(e, spec, before); err != nil {
		t.Fatal(err)
	}
	if on, err := e.Execute(ctx, 1, []bus.Op{bus.Read(p.LinkAddr(bus.LinkACEnable))}); err != nil || on[0].Value&1 != 0 {
		t.Fatalf("auto-centre after the probe: %v (%v), want off", on, err)
	}
	after, err := truth(e, spec, &bridge.Report{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	run(1, bus.Write(p.LinkAddr(bus.LinkEBAdjust), 2)) // link 0 ends at node 1 port 0
	if err := probe(e, spec, after); err != nil {
		t.Fatal(err)
	}
	b, a := before.Links[0], after.Links[0]
	if a.AfterEnd != 2 || a.Offset != b.Offset || a.Matched < 32 {
		t.Errorf("after an adjustment of +2 past the end: offset %d (matched %d), adjusted_after_end %d; want offset %d as before, 2",
			a.Offset, a.Matched, a.AfterEnd, b.Offset)
	}
	if o := after.Links[1]; o.AfterEnd != 0 || o.Offset != before.Links[1].Offset {
		t.Errorf("the other direction: offset %d, adjusted_after_end %d; want %d, 0", o.Offset, o.AfterEnd, before.Links[1].Offset)
	}
}
