package sim

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/sim/bus"
	"github.com/ringsim/ringsim/sim/internal/modelbuild"
)

// BenchmarkEngine measures, in one run so that the ratios are fair on a noisy machine:
//   - standalone-cycles/s: a bare C++ loop over the same model (2 nodes wired TX->RX,
//     non-PIC, -O3), built by this benchmark;
//   - idle-cycles/s: the engine stepping the same 2 nodes with their links;
//   - bus-cycles/s: the engine while both CPUs run batches of 100,000 single writes;
//   - rss-MiB: the process's resident memory with the engine loaded.
//
// Run: go test -run '^$' -bench BenchmarkEngine -benchtime 3x ./sim
func BenchmarkEngine(b *testing.B) {
	const depth = 4096
	ctx := context.Background()
	spec := modelbuild.Spec{Depth: depth, Ports: 1, Assert: true}
	exe, err := (&modelbuild.Builder{}).BuildStandalone(ctx, spec, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	e := newEngine(b, hw.Config{Topology: hw.Pair(16), Depth: depth, Seed: 1, Release: []uint64{0, 0}})
	m := bus.Map{Depth: depth, Ports: 1}
	writes := make([]bus.Op, 100_000)
	for i := range writes {
		writes[i] = bus.Write(m.TX(0)+uint32(4*(i%(2*depth))), uint32(i))
	}
	const idleCycles = 30_000_000
	var standalone, idle, busy []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		standalone = append(standalone, runStandalone(b, exe, idleCycles))

		start, c0 := time.Now(), e.Cycle()
		if err := e.Step(idleCycles); err != nil {
			b.Fatal(err)
		}
		idle = append(idle, float64(e.Cycle()-c0)/time.Since(start).Seconds())

		start, c0 = time.Now(), e.Cycle()
		for k := 0; k < 30; k++ {
			for n := 0; n < 2; n++ {
				if err := e.Submit(n, writes); err != nil {
					b.Fatal(err)
				}
			}
			for e.Busy(0) || e.Busy(1) {
				done, err := e.Run(e.Cycle() + 1<<30)
				if err != nil {
					b.Fatal(err)
				}
				for _, n := range done {
					if _, err := e.Results(n); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
		busy = append(busy, float64(e.Cycle()-c0)/time.Since(start).Seconds())
	}
	b.StopTimer()
	s, id, bu := median(standalone), median(idle), median(busy)
	b.ReportMetric(s, "standalone-cycles/s")
	b.ReportMetric(id, "idle-cycles/s")
	b.ReportMetric(bu, "bus-cycles/s")
	b.ReportMetric(id/s, "idle/standalone")
	b.ReportMetric(bu/id, "bus/idle")
	b.ReportMetric(rssMiB(), "rss-MiB")
	b.ReportMetric(0, "ns/op")
}

var standaloneRe = regexp.MustCompile(`cycles_per_second=([0-9.]+)`)

func runStandalone(b *testing.B, exe string, cycles int) float64 {
	out, err := exec.Command(exe, strconv.Itoa(cycles)).CombinedOutput()
	if err != nil {
		b.Fatalf("standalone loop: %v\n%s", err, out)
	}
	m := standaloneRe.FindSubmatch(out)
	if m == nil {
		b.Fatalf("standalone loop printed no rate: %s", out)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
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

// rssMiB reads the process's resident set size from /proc.
func rssMiB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkRealLink measures, in one run, idle stepping of the same nodes on the ideal link
// and on the real link (clocks 20 ppm apart with clock control on, elastic buffers,
// auto-centre off), for a pair and the 8-node mesh, and reports the ratio real/ideal on one
// thread (the cost of the real link's model; the goal: at least 0.7), and the ideal link on
// the default threads too (the real link runs on one thread). Both with assertions (the
// gate's models, two evaluations per cycle) and, noassert-real/ideal-1t, without (what
// `ringsim run` builds, one evaluation per cycle, where the harness's share is larger).
//
// Run: go test -run '^$' -bench BenchmarkRealLink -benchtime 3x ./sim
func BenchmarkRealLink(b *testing.B) {
	for _, tc := range []struct {
		name   string
		topo   hw.Topology
		depth  int
		cycles uint64
	}{{"pair-d256", hw.Pair(16), 256, 5_000_000}, {"mesh8-d128", hw.FullMesh(8, 16), 128, 500_000}} {
		b.Run(tc.name, func(b *testing.B) {
			n := tc.topo.Nodes
			ppm := make([]float64, n)
			for i := range ppm {
				ppm[i] = 20 * (float64(i)/float64(max(n-1, 1)) - 0.5)
			}
			start := func(cfg hw.Config, threads int) *Engine {
				e, err := New(context.Background(), cfg, Options{Threads: threads})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { e.Close() })
				return e
			}
			ideal := start(hw.Config{Topology: tc.topo, Depth: tc.depth, Seed: 1}, 1)
			idealT := start(hw.Config{Topology: tc.topo, Depth: tc.depth, Seed: 1}, AutoThreads(tc.topo.Nodes))
			realCfg := hw.Config{Topology: tc.topo, Depth: tc.depth, Seed: 1, Link: hw.LinkReal,
				Real: hw.RealLink{PPM: ppm, Control: true, NoData: hw.FillZero}}
			real := start(realCfg, 1)
			// The same without assertions (what `ringsim run` builds; both links then
			// evaluate each node once per cycle).
			idealNA := start(hw.Config{Topology: tc.topo, Depth: tc.depth, Seed: 1, NoAssert: true}, 1)
			realCfg.NoAssert = true
			realNA := start(realCfg, 1)
			rate := func(e *Engine) float64 {
				start, c0 := time.Now(), e.Cycle()
				if err := e.Step(tc.cycles); err != nil {
					b.Fatal(err)
				}
				return float64(e.Cycle()-c0) / time.Since(start).Seconds()
			}
			var id, idt, re, idna, rena []float64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				id = append(id, rate(ideal))
				idt = append(idt, rate(idealT))
				re = append(re, rate(real))
				idna = append(idna, rate(idealNA))
				rena = append(rena, rate(realNA))
			}
			b.StopTimer()
			b.ReportMetric(median(id), "ideal-1t-cycles/s")
			b.ReportMetric(median(idt), "ideal-threads-cycles/s")
			b.ReportMetric(median(re), "real-cycles/s")
			b.ReportMetric(median(re)/median(id), "real/ideal-1t")
			b.ReportMetric(median(rena), "real-noassert-cycles/s")
			b.ReportMetric(median(rena)/median(idna), "noassert-real/ideal-1t")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkThreads measures idle stepping, in one run, for a pair (D = 256) and the 8-node
// full mesh (7 ports, D = 128, upstream's demo shape):
//   - baseline-cycles/s: the configuration every run used before threads and assertion-free
//     builds (assertions on, one thread);
//   - noassert-1t-cycles/s, noassert-2t-cycles/s: the model without assertions (what
//     `ringsim run` uses) on one and two threads;
//   - speedup: the best of those over the baseline;
//   - standalone-ratio: one-thread assertion-free speed over the bare C++ loop's for the
//     same model (pair only: the standalone loop wires two nodes);
//   - with RINGSIM_BENCH_BASE_RTL set to an RTL directory (say, an earlier commit's rtl/
//     from `git archive`), before-noassert-1t-cycles/s and rtl-speedup: that RTL's
//     assertion-free model on one thread, measured in the same run, and ours over it.
//
// Run: go test -run '^$' -bench BenchmarkThreads -benchtime 3x ./sim
func BenchmarkThreads(b *testing.B) {
	baseRTL := os.Getenv("RINGSIM_BENCH_BASE_RTL")
	for _, tc := range []struct {
		name   string
		topo   hw.Topology
		depth  int
		cycles uint64
	}{{"pair-d256", hw.Pair(16), 256, 4_000_000}, {"mesh8-d128", hw.FullMesh(8, 16), 128, 600_000}} {
		b.Run(tc.name, func(b *testing.B) {
			startRTL := func(rtlDir string, noAssert bool, threads int) *Engine {
				e, err := New(context.Background(), hw.Config{Topology: tc.topo, Depth: tc.depth, Seed: 1,
					NoAssert: noAssert, RTLDir: rtlDir}, Options{Threads: threads})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { e.Close() })
				if e.Threads() != threads {
					b.Fatalf("%d threads, want %d", e.Threads(), threads)
				}
				return e
			}
			start := func(noAssert bool, threads int) *Engine { return startRTL("", noAssert, threads) }
			base, one, two := start(false, 1), start(true, 1), start(true, 2)
			var before *Engine
			if baseRTL != "" {
				before = startRTL(baseRTL, true, 1)
			}
			var exe string
			if tc.topo.Nodes == 2 {
				var err error
				exe, err = (&modelbuild.Builder{}).BuildStandalone(context.Background(),
					modelbuild.Spec{Depth: tc.depth, Ports: 1}, b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
			}
			rate := func(e *Engine) float64 {
				start, c0 := time.Now(), e.Cycle()
				if err := e.Step(tc.cycles); err != nil {
					b.Fatal(err)
				}
				return float64(e.Cycle()-c0) / time.Since(start).Seconds()
			}
			var rb, r1, r2, rs, r0 []float64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if before != nil {
					r0 = append(r0, rate(before))
				}
				rb = append(rb, rate(base))
				r1 = append(r1, rate(one))
				r2 = append(r2, rate(two))
				if exe != "" {
					rs = append(rs, runStandalone(b, exe, int(tc.cycles)))
				}
			}
			b.StopTimer()
			b.ReportMetric(median(rb), "baseline-cycles/s")
			b.ReportMetric(median(r1), "noassert-1t-cycles/s")
			b.ReportMetric(median(r2), "noassert-2t-cycles/s")
			b.ReportMetric(max(median(r1), median(r2))/median(rb), "speedup")
			if len(rs) > 0 {
				b.ReportMetric(median(r1)/median(rs), "standalone-ratio")
			}
			if len(r0) > 0 {
				b.ReportMetric(median(r0), "before-noassert-1t-cycles/s")
				b.ReportMetric(median(r1)/median(r0), "rtl-speedup")
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}
