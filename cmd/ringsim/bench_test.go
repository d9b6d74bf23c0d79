package main

import (
	"context"
	"slices"
	"testing"

	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/job"
	"github.com/ringsim/ringsim/sim"
)

// BenchmarkExchangeJob measures a real co-simulation, not idle stepping: ringsim's
// firmware aligns every link of the 8-node full mesh (7 ports, D = 128), brings up TCP on
// all 56 link ends and runs upstream's DNA and port exchange. It reports simulated cycles
// per wall-clock second for
//   - baseline: the model with assertions on one thread (how every run went before);
//   - noassert-1t, noassert-2t: the assertion-free model `ringsim run` builds, on one and
//     two threads;
//
// and the speed-up of the best over the baseline. Every variant must simulate the same
// number of cycles (the runs are the same bytes).
//
// Run: go test -run '^$' -bench BenchmarkExchangeJob -benchtime 1x ./cmd/ringsim
func BenchmarkExchangeJob(b *testing.B) {
	spec := job.Spec{Sim: hw.Config{Topology: hw.FullMesh(8, 16), Depth: 128, Seed: 3}, App: job.AppExchange}
	run := func(noAssert bool, threads int) (rate float64, cycles uint64) {
		s := spec
		s.Sim.NoAssert = noAssert
		res, err := job.Run(context.Background(), s, job.Options{Start: func(ctx context.Context, cfg hw.Config) (job.Machine, error) {
			e, err := sim.New(ctx, cfg, sim.Options{Threads: threads})
			if err != nil {
				return nil, err
			}
			if e.Threads() != threads {
				b.Fatalf("%d threads, want %d", e.Threads(), threads)
			}
			return e, nil
		}})
		if err != nil {
			b.Fatal(err)
		}
		if !res.Passed() {
			b.Fatalf("exchange failed: %v", res.Err)
		}
		return res.CyclesPerSecond, res.Cycles
	}
	var base, one, two []float64
	var cycles []uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, c0 := run(false, 1)
		base = append(base, r)
		r, c1 := run(true, 1)
		one = append(one, r)
		r, c2 := run(true, 2)
		two = append(two, r)
		cycles = append(cycles, c0, c1, c2)
	}
	b.StopTimer()
	for _, c := range cycles {
		if c != cycles[0] {
			b.Fatalf("the variants simulated %v cycles: want the same run", cycles)
		}
	}
	med := func(xs []float64) float64 {
		s := slices.Clone(xs)
		slices.Sort(s)
		return s[len(s)/2]
	}
	b.ReportMetric(med(base), "baseline-cycles/s")
	b.ReportMetric(med(one), "noassert-1t-cycles/s")
	b.ReportMetric(med(two), "noassert-2t-cycles/s")
	b.ReportMetric(max(med(one), med(two))/med(base), "speedup")
	b.ReportMetric(float64(cycles[0]), "cycles")
	b.ReportMetric(0, "ns/op")
}
