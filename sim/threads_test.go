package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/sim/bus"
)

// threadsTopology is six nodes with two ports each, links of different latencies (the
// lookahead is the smallest, 3) and faults on some.
func threadsTopology() hw.Topology {
	t := hw.Topology{Name: "custom", Nodes: 6, Ports: 2}
	for n := 0; n < 6; n++ {
		next := (n + 1) % 6
		lat := uint32(3 + 2*n)
		t.Links = append(t.Links,
			hw.Link{From: hw.Endpoint{Node: n, Port: 0}, To: hw.Endpoint{Node: next, Port: 1}, Latency: lat},
			hw.Link{From: hw.Endpoint{Node: next, Port: 1}, To: hw.Endpoint{Node: n, Port: 0}, Latency: lat + 1})
	}
	t.Links[2].Faults = hw.Faults{BitFlip: 1e-3}
	t.Links[7].Faults = hw.Faults{FrameZero: 1e-2}
	return t
}

// randomBatch is a batch a firmware might send: enables, TX writes, RX reads, polls and
// idles, drawn from rng.
func randomBatch(rng *rand.Rand, m bus.Map) []bus.Op {
	ops := make([]bus.Op, 1+rng.IntN(12))
	for i := range ops {
		p := rng.IntN(m.Ports)
		w := uint32(4 * rng.IntN(2*m.Depth))
		switch rng.IntN(9) {
		case 0:
			ops[i] = bus.Write(m.TX(p)+m.Enable(), 1)
		case 1:
			ops[i] = bus.Write(m.RX(p)+m.Enable(), 1)
		case 2:
			ops[i] = bus.Write(m.TX(p)+w, rng.Uint32())
		case 3:
			words := make([]uint32, 1+rng.IntN(2*m.Depth-int(w/4)))
			for k := range words {
				words[k] = rng.Uint32()
			}
			ops[i] = bus.WriteBlock(m.TX(p)+w, words)
		case 4:
			ops[i] = bus.Read(m.RX(p) + w)
		case 5:
			ops[i] = bus.ReadBlock(m.RX(p)+w, 1+rng.IntN(2*m.Depth-int(w/4)))
		case 6:
			ops[i] = bus.Idle(uint32(1 + rng.IntN(40)))
		case 7:
			// Long enough for the lanes to run it on their threads, with this batch's
			// completion bounding the last epoch.
			ops[i] = bus.Idle(uint32(2000 + rng.IntN(4000)))
		default:
			ops[i] = bus.Poll(m.RX(p)+w, bus.UntilNotEqual, 0xffff_ffff, 0, uint32(rng.IntN(4)), uint32(1+rng.IntN(20)))
		}
	}
	return ops
}

// threadsRun drives a simulation with random batches on every node and returns what it
// observed: every result with its node and the cycle Run returned, the fault counts and
// the RX memories at the end.
func threadsRun(t *testing.T, threads int, noAssert bool) (trace []string, e *Engine) {
	cfg := hw.Config{Topology: threadsTopology(), Depth: 16, Seed: 42, NoAssert: noAssert}
	e, err := New(context.Background(), cfg, Options{Threads: threads})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	if threads > 1 && e.Threads() != threads {
		t.Fatalf("asked for %d threads, got %d", threads, e.Threads())
	}
	m := bus.Map{Depth: cfg.Depth, Ports: cfg.Topology.Ports}
	rng := rand.New(rand.NewPCG(7, 7))
	batches := 0
	for e.Cycle() < 150_000 {
		// Some rounds submit nothing, so that long stretches have no batch about to
		// complete and run on the lanes' threads.
		quiet := rng.IntN(3) == 0
		for n := 0; n < cfg.Topology.Nodes; n++ {
			// A node gets its next batch whenever it is idle, at random.
			if !quiet && !e.Busy(n) && rng.IntN(3) > 0 {
				if err := e.Submit(n, randomBatch(rng, m)); err != nil {
					t.Fatal(err)
				}
				batches++
			}
		}
		// Now and then a port's TX output is recorded, or its RX input driven, for a
		// while: the simulation runs on one thread and, on a model without assertions,
		// switches between one and two evaluations per cycle.
		tap := rng.IntN(6) == 0
		tn, tp := rng.IntN(cfg.Topology.Nodes), rng.IntN(cfg.Topology.Ports)
		if tap {
			if err := e.Record(tn, tp, 300); err != nil {
				t.Fatal(err)
			}
			frames := make([]uint64, 1+rng.IntN(200))
			for k := range frames {
				frames[k] = rng.Uint64()
			}
			if err := e.Drive((tn+1)%cfg.Topology.Nodes, tp, frames); err != nil {
				t.Fatal(err)
			}
		}
		span := uint64(1 + rng.IntN(3000))
		if quiet {
			span = uint64(3000 + rng.IntN(5000))
		}
		end := e.Cycle() + span
		for e.Cycle() < end {
			done, err := e.Run(end)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range done {
				res, err := e.Results(n)
				if err != nil {
					t.Fatal(err)
				}
				trace = append(trace, fmt.Sprintf("cycle %d node %d: %+v", e.Cycle(), n, res))
			}
			if !quiet {
				break
			}
		}
		if tap {
			rec, err := e.Recorded(tn, tp, 300)
			if err != nil {
				t.Fatal(err)
			}
			trace = append(trace, fmt.Sprintf("recorded %d.%d: %x", tn, tp, rec))
		}
		trace = append(trace, fmt.Sprintf("run to %d", e.Cycle()))
	}
	t.Logf("%d threads, assertions %v: %d batches, %d of %d cycles on the lanes' threads", threads, !noAssert, batches, e.ParallelCycles(), e.Cycle())
	if batches < 50 {
		t.Fatalf("only %d batches", batches)
	}
	if threads > 1 && e.ParallelCycles() < 10_000 {
		t.Fatalf("only %d of %d cycles ran on the lanes' threads: the test does not exercise them", e.ParallelCycles(), e.Cycle())
	}
	for l := range cfg.Topology.Links {
		f, z, _ := e.FaultCounts(l)
		trace = append(trace, fmt.Sprintf("link %d faults %d %d", l, f, z))
	}
	for n := 0; n < cfg.Topology.Nodes; n++ {
		for p := 0; p < cfg.Topology.Ports; p++ {
			for i := 0; i < cfg.Depth; i++ {
				v, err := e.Peek(n, p, hw.RXMem, i)
				if err != nil {
					t.Fatal(err)
				}
				trace = append(trace, fmt.Sprintf("rx %d.%d[%d] %#x", n, p, i, v))
			}
		}
	}
	return trace, e
}

// TestThreadsSameResults runs the same random co-simulation on one, two and four threads,
// and on a model without assertions (the harness then clocks a node with one evaluation
// per cycle instead of two: kOneEval in harness.cpp) on one and two: every result, the
// cycle every Run returned at, the faults injected and the RX memories must be the same.
func TestThreadsSameResults(t *testing.T) {
	want, _ := threadsRun(t, 1, false)
	for _, tc := range []struct {
		threads  int
		noAssert bool
	}{{2, false}, {4, false}, {1, true}, {2, true}} {
		got, _ := threadsRun(t, tc.threads, tc.noAssert)
		if !reflect.DeepEqual(got, want) {
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] {
					t.Fatalf("%d threads, assertions %v: first difference at entry %d:\n got %s\nwant %s", tc.threads, !tc.noAssert, i, got[i], want[i])
				}
			}
			t.Fatalf("%d threads, assertions %v: %d entries, want %d", tc.threads, !tc.noAssert, len(got), len(want))
		}
	}
}

// TestThreadsStop breaks a ring buffer on a node of the second lane and checks that a run
// on two threads stops as one thread does: the same typed stop, in the same cycle.
func TestThreadsStop(t *testing.T) {
	dir := rtlVariant(t, "", edit{"rx_ring_buffer.sv",
		"      else           count_q <= (count_q == LAST) ? '0 : count_q + 1'b1;",
		"      else if (enable_q) count_q <= (count_q == LAST) ? '0 : count_q + 1'b1;"})
	cfg := hw.Config{Topology: hw.Ring(4, 8), Depth: 16, Seed: 1, RTLDir: dir, Release: []uint64{90, 70, 50, 30}}
	var stops []StopError
	var cycles []uint64
	for _, threads := range []int{1, 2} {
		e, err := New(context.Background(), cfg, Options{Threads: threads})
		if err != nil {
			t.Fatal(err)
		}
		st := stopOf(t, e.Step(1000))
		stops, cycles = append(stops, *st), append(cycles, e.Cycle())
		e.Close()
	}
	if stops[0] != stops[1] || cycles[0] != cycles[1] {
		t.Fatalf("one thread: %+v at %d\ntwo threads: %+v at %d", stops[0], cycles[0], stops[1], cycles[1])
	}
	if stops[0].Node != 3 || stops[0].Cycle != 31 {
		t.Fatalf("stop %+v: want node 3 (released first, in the second lane) in cycle 31", stops[0])
	}
}
