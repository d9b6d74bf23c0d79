package bridge_test

import (
	"context"
	"testing"
	"time"

	"github.com/ringsim/ringsim/bridge"
	"github.com/ringsim/ringsim/bridge/app"
	"github.com/ringsim/ringsim/bridge/framing"
	"github.com/ringsim/ringsim/hw"
)

// BenchmarkCoSim measures, in one run so that the ratio is fair on a shared machine, the
// default job's co-simulation speed against the bare engine's:
//   - idle-cycles/s: the engine stepping the same two D = 256 nodes with nothing to do;
//   - transfer-cycles/s: simulated cycles per wall second during the whole 1 MiB-each-way
//     job (alignment, TCP, transfer, close), in-process;
//   - transfer/idle: their ratio (target >= 0.5);
//   - goodput-B/cycle and share-of-bound: the job's goodput and its share of the bound
//     derived for the one-packet-per-buffer protocol (README, "Goodput").
//
// Run: go test -run '^$' -bench BenchmarkCoSim -benchtime 3x ./bridge
func BenchmarkCoSim(b *testing.B) {
	var idle, xfer, goodput, share []float64
	for i := 0; i < b.N; i++ {
		topo := hw.Pair(16)
		e := engine(b, hw.Config{Topology: topo, Depth: 256, Seed: uint64(i + 1)})
		start, c0 := time.Now(), e.Cycle()
		if err := e.Step(10_000_000); err != nil {
			b.Fatal(err)
		}
		idle = append(idle, float64(e.Cycle()-c0)/time.Since(start).Seconds())
		e.Close()

		for k := range topo.Links {
			topo.Links[k].Faults = hw.Faults{BitFlip: 1e-7}
		}
		e = engine(b, hw.Config{Topology: topo, Depth: 256, Seed: uint64(i + 1)})
		app := app.NewTransfer(1<<20, uint64(i+1))
		rt, err := bridge.New(bridge.Config{Machine: e, Wiring: topo.Wiring(), Framing: framing.CRC,
			Cost: bridge.DefaultCost, Seed: uint64(i + 1), App: app, Deadline: 1_000_000_000, LinkLatency: 16})
		if err != nil {
			b.Fatal(err)
		}
		rep, err := rt.Run(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if err := app.Verify(); err != nil {
			b.Fatal(err)
		}
		xfer = append(xfer, rep.CyclesPerSecond)
		goodput = append(goodput, rep.GoodputBytesPerCycle)
		share = append(share, rep.GoodputShare)
	}
	id, tr := median(idle), median(xfer)
	b.ReportMetric(id, "idle-cycles/s")
	b.ReportMetric(tr, "transfer-cycles/s")
	b.ReportMetric(tr/id, "transfer/idle")
	b.ReportMetric(median(goodput), "goodput-B/cycle")
	b.ReportMetric(median(share), "share-of-bound")
	b.ReportMetric(0, "ns/op")
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}
