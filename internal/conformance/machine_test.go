package conformance

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ringsim/ringsim/bridge"
	"github.com/ringsim/ringsim/bridge/app"
	"github.com/ringsim/ringsim/bridge/framing"
	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/internal/refmodel"
	"github.com/ringsim/ringsim/sim"
	"github.com/ringsim/ringsim/sim/simtest"
)

// TestReferenceMachineMatchesRTL is what lets the fast test tier run the firmware, the gRPC
// server and the client on the reference machine (sim/simtest) instead of the Verilated
// RTL: the same configuration and the same stimulus give the same results, cycle for cycle.
// Three nodes in a ring and a pair at a depth that is not a power of two, with different
// latencies (0 included) and faulty links, run random batches on every node at once; every
// completion cycle, result, fault count and, at the end, every ring buffer word must agree.
func TestReferenceMachineMatchesRTL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// Shapes other tests of the package build too (D16x2, D13x1), so no extra model.
	ring := hw.Ring(3, 0)
	for i := range ring.Links {
		ring.Links[i].Latency = uint32(3 * i)
	}
	ring.Links[1].Faults = hw.Faults{BitFlip: 1e-3, FrameZero: 1e-2}
	ring.Links[4].Faults = hw.Faults{BitFlip: 2e-2}
	pair := hw.Pair(0)
	pair.Links[1].Latency = 5
	pair.Links[0].Faults = hw.Faults{BitFlip: 1e-3, FrameZero: 1e-2}
	for _, tt := range []struct {
		name  string
		topo  hw.Topology
		depth int
	}{{"ring-D16", ring, 16}, {"pair-D13", pair, 13}} {
		t.Run(tt.name, func(t *testing.T) {
			topo, depth := tt.topo, tt.depth
			cfg := hw.Config{Topology: topo, Depth: depth, Seed: uint64(depth)}
			rtl, err := sim.New(ctx, cfg, sim.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer rtl.Close()
			ref, err := simtest.New(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(rtl.Info().Config, ref.Info().Config); diff != "" {
				t.Fatalf("effective configurations differ (-rtl +ref):\n%s", diff)
			}
			rng := rand.New(rand.NewPCG(uint64(depth), 7))
			machines := []hw.Simulator{rtl, ref}
			var ops int
			for rtl.Cycle() < 200_000 {
				for n := 0; n < topo.Nodes; n++ {
					if rtl.Busy(n) {
						continue
					}
					batch := refmodel.RandomOps(rng, depth, topo.Ports, 1+rng.IntN(24))
					ops += len(batch)
					for _, m := range machines {
						if err := m.Submit(n, batch); err != nil {
							t.Fatalf("submit: %v", err)
						}
					}
				}
				until := rtl.Cycle() + uint64(1+rng.IntN(300))
				dr, err := rtl.Run(until)
				if err != nil {
					t.Fatal(err)
				}
				df, err := ref.Run(until)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(dr, df) || rtl.Cycle() != ref.Cycle() {
					t.Fatalf("cycle %d: batches done on the RTL %v, on the reference %v (cycles %d, %d)",
						rtl.Cycle(), dr, df, rtl.Cycle(), ref.Cycle())
				}
				for _, n := range dr {
					a, _ := rtl.Results(n)
					b, _ := ref.Results(n)
					if diff := cmp.Diff(a, b); diff != "" {
						t.Fatalf("cycle %d node %d: results differ (-rtl +ref):\n%s", rtl.Cycle(), n, diff)
					}
				}
			}
			for i := range topo.Links {
				f1, z1, _ := rtl.FaultCounts(i)
				f2, z2, _ := ref.FaultCounts(i)
				if f1 != f2 || z1 != z2 {
					t.Errorf("link %d: RTL flipped %d bits and zeroed %d frames, the reference %d and %d", i, f1, z1, f2, z2)
				}
			}
			for n := 0; n < topo.Nodes; n++ {
				for p := 0; p < topo.Ports; p++ {
					for _, tg := range []hw.Target{hw.TXMem, hw.RXMem} {
						for i := 0; i < depth; i++ {
							a, _ := rtl.Peek(n, p, tg, i)
							b, _ := ref.Peek(n, p, tg, i)
							if a != b {
								t.Fatalf("node %d port %d %v word %d: RTL %#x, reference %#x", n, p, tg, i, a, b)
							}
						}
					}
				}
			}
			t.Logf("%d cycles, %d operations on %d nodes agree", rtl.Cycle(), ops, topo.Nodes)
		})
	}
}

// TestReferenceMachineRunsTheFirmwareLikeRTL runs the same firmware job (alignment, TCP, a
// transfer over a noisy link) on the RTL and on the reference machine: the reports are
// identical, to the cycle and the frame counter.
func TestReferenceMachineRunsTheFirmwareLikeRTL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	topo := hw.Pair(16)
	topo.SetFaults(hw.Faults{BitFlip: 1e-6})
	cfg := hw.Config{Topology: topo, Depth: 200, Seed: 5}
	rtl, err := sim.New(ctx, cfg, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rtl.Close()
	ref, err := simtest.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var reports [][]byte
	for _, m := range []bridge.Machine{rtl, ref} {
		app := app.NewTransfer(64<<10, 5)
		rt, err := bridge.New(bridge.Config{Machine: m, Wiring: topo.Wiring(), Framing: framing.CRC,
			Cost: bridge.DefaultCost, Seed: 5, App: app, Deadline: 100_000_000})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := rt.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := app.Verify(); err != nil {
			t.Fatal(err)
		}
		rep.WallSeconds, rep.CyclesPerSecond = 0, 0
		b, _ := json.MarshalIndent(rep, "", " ")
		reports = append(reports, b)
	}
	if diff := cmp.Diff(string(reports[0]), string(reports[1])); diff != "" {
		t.Errorf("the firmware's reports differ (-rtl +ref):\n%s", diff)
	}
}
