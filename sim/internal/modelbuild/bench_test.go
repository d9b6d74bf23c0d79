package modelbuild

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkColdBuild measures how long a user waits for a model shape that is not in the
// cache, for the shapes ringsim's users ask for most: the default pair (D = 256), upstream's
// 8-node mesh node (D = 128, 7 ports), the soft-UGN depth (D = 4000), and traced variants.
// Each iteration builds a shape never built before (the depth moves by one) into a cache
// whose Verilator runtime is already compiled, as it is after the first build on a machine;
// first-build-s reports the very first build, runtime included.
//
// Run: go test -run '^$' -bench BenchmarkColdBuild -benchtime 3x ./sim/internal/modelbuild
func BenchmarkColdBuild(b *testing.B) {
	shapes := []Spec{
		{Depth: 256, Ports: 1, Assert: true},
		{Depth: 128, Ports: 7, Assert: true},
		{Depth: 4000, Ports: 1, Assert: true},
		{Depth: 256, Ports: 1, Assert: true, Trace: true},
		{Depth: 128, Ports: 7, Assert: true, Trace: true},
	}
	ctx := context.Background()
	for _, base := range shapes {
		name := fmt.Sprintf("d%dx%d", base.Depth, base.Ports)
		if base.Trace {
			name += "-trace"
		}
		b.Run(name, func(b *testing.B) {
			bl := &Builder{CacheDir: b.TempDir()}
			first := base
			first.Depth += 1000
			start := time.Now()
			if _, err := bl.Build(ctx, first); err != nil {
				b.Fatal(err)
			}
			firstBuild := time.Since(start)
			var worst time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				spec := base
				spec.Depth += i
				start := time.Now()
				m, err := bl.Build(ctx, spec)
				if err != nil {
					b.Fatal(err)
				}
				if m.Cached {
					b.Fatalf("%+v came from the cache", spec)
				}
				worst = max(worst, time.Since(start))
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/build")
			b.ReportMetric(worst.Seconds(), "worst-s")
			b.ReportMetric(firstBuild.Seconds(), "first-build-s")
			b.ReportMetric(0, "ns/op")
		})
	}
}
