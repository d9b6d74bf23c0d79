package refmodel

import (
	"fmt"
	"testing"

	"github.com/ringsim/ringsim/sim/bus"
)

// BenchmarkNodeIdle steps a node with no bus traffic and both buffers of every port
// enabled (the hardware side works every cycle).
func BenchmarkNodeIdle(b *testing.B) {
	for _, ports := range []int{1, 2} {
		for _, d := range []int{16, 256} {
			b.Run(fmt.Sprintf("ports=%d/D=%d", ports, d), func(b *testing.B) {
				n, err := NewNode(Config{Depth: d, Ports: ports})
				if err != nil {
					b.Fatal(err)
				}
				for p := range ports {
					n.SetTXEnable(p, true)
					n.SetRXEnable(p, true)
				}
				rx := make([]uint64, ports)
				var sink uint64
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					rx[0] = uint64(i)
					n.Step(Request{}, rx)
					sink += n.TX(0)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cycles/s")
				_ = sink
			})
		}
	}
}

// BenchmarkSystemRun runs System.Run over precomputed RX frames, recording TX, with no batch
// (idle) or with random batches submitted back to back (busy), the differential test's load.
func BenchmarkSystemRun(b *testing.B) {
	const chunk = 4096
	for _, busy := range []bool{false, true} {
		for _, d := range []int{16, 256} {
			b.Run(fmt.Sprintf("busy=%v/ports=2/D=%d", busy, d), func(b *testing.B) {
				const ports = 2
				s, err := NewSystem(Config{Depth: d, Ports: ports})
				if err != nil {
					b.Fatal(err)
				}
				rng := newRand(1)
				batches := make([][]bus.Op, 64)
				for i := range batches {
					batches[i] = RandomOps(rng, d, ports, 64)
				}
				rx := make([][]uint64, ports)
				tx := make([][]uint64, ports)
				for p := range ports {
					rx[p] = make([]uint64, chunk)
					tx[p] = make([]uint64, chunk)
					for i := range rx[p] {
						rx[p][i] = rng.Uint64()
					}
				}
				for p := range ports {
					s.Node.SetTXEnable(p, true)
					s.Node.SetRXEnable(p, true)
				}
				next := 0
				b.ReportAllocs()
				b.ResetTimer()
				for done := 0; done < b.N; {
					if busy && !s.Master.Busy() {
						if s.Master.Done() {
							if _, err := s.Take(); err != nil {
								b.Fatal(err)
							}
						}
						if err := s.Submit(batches[next%len(batches)]); err != nil {
							b.Fatal(err)
						}
						next++
					}
					k, _ := s.Run(s.Cycle()+uint64(min(chunk, b.N-done)), rx, tx)
					done += k
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cycles/s")
				b.ReportMetric(float64(next), "batches")
			})
		}
	}
}
