package client_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/ringsim/ringsim/bridge"
	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/sim"
	"github.com/ringsim/ringsim/sim/bus"
	"github.com/ringsim/ringsim/sim/client"
	"github.com/ringsim/ringsim/sim/server"
	"github.com/ringsim/ringsim/sim/simtest"
)

// Both the in-process engine and the client are the bridge's Machine.
var (
	_ bridge.Machine = (*client.Client)(nil)
	_ bridge.Machine = (*sim.Engine)(nil)
	_ bridge.Machine = (*simtest.Machine)(nil)
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// execute runs ops on node to completion through the Machine protocol only.
func execute(t *testing.T, m bridge.Machine, node int, ops ...bus.Op) []bus.Result {
	t.Helper()
	if err := m.Submit(node, ops); err != nil {
		t.Fatalf("Submit(%d): %v", node, err)
	}
	for {
		done, err := m.Run(m.Cycle() + 1<<20)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if slices.Contains(done, node) {
			break
		}
	}
	res, err := m.Results(node)
	if err != nil {
		t.Fatalf("Results(%d): %v", node, err)
	}
	return res
}

// wait runs n cycles with no batch in flight.
func wait(t *testing.T, m bridge.Machine, n uint64) {
	t.Helper()
	end := m.Cycle() + n
	for m.Cycle() < end {
		if _, err := m.Run(end); err != nil {
			t.Fatalf("Run: %v", err)
		}
	}
}

func join64(ws []uint32) []uint64 {
	out := make([]uint64, len(ws)/2)
	for i := range out {
		out[i] = uint64(ws[2*i]) | uint64(ws[2*i+1])<<32
	}
	return out
}

func split64(ws []uint64) []uint32 {
	out := make([]uint32, 0, 2*len(ws))
	for _, w := range ws {
		out = append(out, uint32(w), uint32(w>>32))
	}
	return out
}

// rotation returns r such that rx[(i+r) mod D] == tx[i] for every i, or -1.
func rotation(tx, rx []uint64) int {
	for r := range tx {
		ok := true
		for i := 0; i < len(tx) && ok; i++ {
			ok = rx[(i+r)%len(tx)] == tx[i]
		}
		if ok {
			return r
		}
	}
	return -1
}

// ringBufferSuite is upstream's ring buffer test (SPEC section 6) driven through the bus of
// any Machine, with one lockstep step where both CPUs run batches at once. Node 0's TX port
// feeds node 1's RX port. It returns every result, cycles included, so that two
// implementations can be compared.
func ringBufferSuite(t *testing.T, m bridge.Machine) [][]bus.Result {
	d := m.Depth()
	mp := bus.Map{Depth: d, Ports: m.Ports()}
	settle := uint64(d + testLatency + 4)
	rng := rand.New(rand.NewPCG(1, 2))
	pattern := func() []uint64 {
		p := make([]uint64, d)
		for i := range p {
			p[i] = rng.Uint64() | 1
		}
		return p
	}
	var log [][]bus.Result
	run := func(node int, ops ...bus.Op) []bus.Result {
		t.Helper()
		r := execute(t, m, node, ops...)
		log = append(log, r)
		return r
	}
	ok := func(step string, res []bus.Result) []bus.Result {
		t.Helper()
		for i, r := range res {
			if r.Err {
				t.Fatalf("%s: op %d: bus ERR at cycle %d", step, i, r.Cycle)
			}
		}
		return res
	}
	readRX := func(step string) []uint64 {
		t.Helper()
		return join64(ok(step, run(1, bus.ReadBlock(mp.RX(0), 2*d)))[0].Words)
	}

	// 1. Write a pattern, enable both ends, wait: RX equals TX up to a rotation.
	p1 := pattern()
	ok("write TX", run(0, bus.WriteBlock(mp.TX(0), split64(p1)), bus.Write(mp.TX(0)+mp.Enable(), 1)))
	ok("enable RX", run(1, bus.Write(mp.RX(0)+mp.Enable(), 1)))
	wait(t, m, settle)
	r1 := rotation(p1, readRX("step 1"))
	if r1 < 0 {
		t.Fatalf("step 1: RX is not a rotation of TX")
	}

	// 2. Lockstep: node 0 writes a new pattern while node 1 idles and then reads; both
	// batches are in flight together.
	p2 := pattern()
	if err := m.Submit(0, []bus.Op{bus.WriteBlock(mp.TX(0), split64(p2))}); err != nil {
		t.Fatal(err)
	}
	if err := m.Submit(1, []bus.Op{bus.Idle(uint32(3*d + testLatency + 8)), bus.ReadBlock(mp.RX(0), 2*d)}); err != nil {
		t.Fatal(err)
	}
	got := map[int][]bus.Result{}
	for len(got) < 2 {
		done, err := m.Run(m.Cycle() + 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range done {
			if got[n], err = m.Results(n); err != nil {
				t.Fatal(err)
			}
		}
	}
	log = append(log, got[0], got[1])
	if got[0][0].Cycle >= got[1][1].Cycle {
		t.Errorf("step 2: node 0 finished in cycle %d, not before node 1's read (%d)", got[0][0].Cycle, got[1][1].Cycle)
	}
	if r := rotation(p2, join64(got[1][1].Words)); r != r1 {
		t.Errorf("step 2: rotation %d, want %d", r, r1)
	}

	// 3. Illegal accesses answer ERR: read clear_at_count, write RX data.
	res := run(1, bus.Read(mp.RX(0)+mp.ClearAtCount()), bus.Write(mp.RX(0), 5))
	if !res[0].Err || !res[1].Err {
		t.Errorf("step 3: ERR = %v, %v; want true, true", res[0].Err, res[1].Err)
	}

	// 4. Align with clear_at_count: TX[i] lands at RX[i].
	n := (r1) % d
	ok("clear_at_count", run(1, bus.Write(mp.RX(0)+mp.ClearAtCount(), uint32(n))))
	wait(t, m, settle)
	if diff := cmp.Diff(p2, readRX("step 4")); diff != "" {
		t.Errorf("step 4: after clear_at_count(%d) RX != TX (-want +got):\n%s", n, diff)
	}
	return log
}

// contractSuite checks the Machine protocol's error cases.
func contractSuite(t *testing.T, m bridge.Machine) {
	mp := bus.Map{Depth: m.Depth(), Ports: m.Ports()}
	if err := m.Submit(m.Nodes(), []bus.Op{bus.Read(0)}); err == nil {
		t.Error("Submit to a node past the end: no error")
	}
	if err := m.Submit(0, nil); err == nil {
		t.Error("Submit of an empty batch: no error")
	}
	if err := m.Submit(0, []bus.Op{bus.ReadBlock(2, 2)}); err == nil {
		t.Error("Submit of a misaligned block: no error")
	}
	if _, err := m.Results(0); err == nil {
		t.Error("Results with nothing completed: no error")
	}
	if err := m.Submit(0, []bus.Op{bus.Idle(50), bus.Read(mp.TX(0) + mp.Enable())}); err != nil {
		t.Fatal(err)
	}
	if err := m.Submit(0, []bus.Op{bus.Read(0)}); err == nil {
		t.Error("second Submit while busy: no error")
	}
	if _, err := m.Results(0); err == nil {
		t.Error("Results while in flight: no error")
	}
	start := m.Cycle()
	if done, err := m.Run(start + 10); err != nil || len(done) != 0 || m.Cycle() != start+10 {
		t.Errorf("Run(+10) = %v, %v at cycle %d; want nothing at %d", done, err, m.Cycle(), start+10)
	}
	if done, err := m.Run(start + 5); err != nil || done != nil {
		t.Errorf("Run into the past = %v, %v; want nil, nil", done, err)
	}
	res := execute(t, m, 1, bus.Read(0))
	if res[0].Value != bus.Magic {
		t.Errorf("node 1 magic %#x, want %#x", res[0].Value, bus.Magic)
	}
	for m.Cycle() < start+1000 {
		done, err := m.Run(start + 1000)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(done, 0) {
			break
		}
	}
	r, err := m.Results(0)
	if err != nil || len(r) != 2 {
		t.Fatalf("Results(0) = %v, %v", r, err)
	}
	if _, err := m.Results(0); err == nil {
		t.Error("second Results: no error")
	}
}

// TestMachineSuite runs the same suites against an in-process simulator and the gRPC
// client of a server running the same simulator, and checks that both give identical
// results, cycle for cycle: on the reference machine here, on the Verilated engine in
// TestRTLMachineSuite.
func TestMachineSuite(t *testing.T) { machineSuite(t, refSim) }

// TestRTLMachineSuite is TestMachineSuite on the Verilated engine.
func TestRTLMachineSuite(t *testing.T) { machineSuite(t, rtlSim) }

func machineSuite(t *testing.T, start func(context.Context, hw.Config) (hw.Simulator, error)) {
	const seed = 3
	var logs [2][][]bus.Result
	t.Run("in-process", func(t *testing.T) {
		e := newMachine(t, start, testConfig(seed))
		logs[0] = ringBufferSuite(t, e)
		contractSuite(t, e)
	})
	t.Run("client", func(t *testing.T) {
		c := newResetClient(t, server.Options{New: start}, seed)
		logs[1] = ringBufferSuite(t, c)
		contractSuite(t, c)
	})
	if diff := cmp.Diff(logs[0], logs[1]); diff != "" {
		t.Errorf("in-process and client results differ (-in-process +client):\n%s", diff)
	}
}
