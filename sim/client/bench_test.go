package client_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ringsim/ringsim/bridge"
	"github.com/ringsim/ringsim/sim/bus"
	"github.com/ringsim/ringsim/sim/client"
)

// startServe builds ringsim and starts `ringsim serve` on a unix socket in dir as a child
// process; it is killed at the end of the test. It returns the target for Dial.
func startServe(tb testing.TB, dir string) string {
	tb.Helper()
	bin := filepath.Join(dir, "ringsim")
	build := exec.Command("go", "build", "-o", bin, "github.com/ringsim/ringsim/cmd/ringsim")
	if out, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	sock := filepath.Join(dir, "ringsim.sock")
	cmd := exec.Command(bin, "serve", "--listen", "unix:"+sock, "--log-level", "warn")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() {
			cmd.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			return "unix:" + sock
		}
		if time.Since(start) > 30*time.Second {
			tb.Fatal("ringsim serve did not create its socket")
		}
	}
}

// lockstep runs rounds of one batch per node through the Machine protocol and returns the
// number of operations executed.
func lockstep(tb testing.TB, m bridge.Machine, batches [][]bus.Op, rounds int) int {
	n := 0
	for range rounds {
		for node, ops := range batches {
			if err := m.Submit(node, ops); err != nil {
				tb.Fatal(err)
			}
			n += len(ops)
		}
		left := len(batches)
		for left > 0 {
			done, err := m.Run(m.Cycle() + 1<<30)
			if err != nil {
				tb.Fatal(err)
			}
			for _, node := range done {
				if _, err := m.Results(node); err != nil {
					tb.Fatal(err)
				}
				left--
			}
		}
	}
	return n
}

// BenchmarkSessionThroughput measures batched bus operations through the streaming
// session between two processes over a unix socket (`ringsim serve` as a child process),
// and the same batches executed in-process by *sim.Engine, in one run. Each round both
// nodes of a pair run a batch of 25,000 single 32-bit writes (one cycle each) to their TX
// buffers. Figures: remote-ops/s (target >= 1,000,000), inprocess-ops/s and
// remote/inprocess.
//
// Run: go test -run '^$' -bench BenchmarkSessionThroughput -benchtime 5x ./sim/client
func BenchmarkSessionThroughput(b *testing.B) {
	const opsPerBatch, rounds = 25_000, 20
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	target := startServe(b, b.TempDir())
	c, err := client.Dial(ctx, target, client.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	release := []uint64{0, 0}
	cfg := testConfig(1)
	cfg.Release = release
	if _, err := c.Reset(ctx, cfg); err != nil {
		b.Fatal(err)
	}
	ecfg := testConfig(1)
	ecfg.Release = release
	e := newMachine(b, rtlSim, ecfg)

	m := bus.Map{Depth: testDepth, Ports: 1}
	batches := make([][]bus.Op, 2)
	for node := range batches {
		for i := range opsPerBatch {
			batches[node] = append(batches[node], bus.Write(m.TX(0)+uint32(4*(i%(2*testDepth))), uint32(i)))
		}
	}
	lockstep(b, c, batches, 2) // warm up
	lockstep(b, e, batches, 2)
	var remote, local []float64
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		n := lockstep(b, c, batches, rounds)
		remote = append(remote, float64(n)/time.Since(start).Seconds())
		start = time.Now()
		n = lockstep(b, e, batches, rounds)
		local = append(local, float64(n)/time.Since(start).Seconds())
	}
	b.StopTimer()
	r, l := median(remote), median(local)
	b.ReportMetric(r, "remote-ops/s")
	b.ReportMetric(l, "inprocess-ops/s")
	b.ReportMetric(r/l, "remote/inprocess")
	b.ReportMetric(0, "ns/op")
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
