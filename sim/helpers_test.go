package sim

import (
	"context"
	"testing"
	"time"

	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/sim/bus"
)

// newEngine starts an engine for a test and closes it at the end. Tests run against the
// real Verilated RTL: a machine without Verilator fails them with the install command.
func newEngine(t testing.TB, cfg hw.Config) *Engine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	e, err := New(ctx, cfg, Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

// run runs ops on node to completion and fails the test on an engine error.
func run(t testing.TB, e *Engine, node int, ops ...bus.Op) []bus.Result {
	t.Helper()
	res, err := e.Execute(context.Background(), node, ops)
	if err != nil {
		t.Fatalf("Execute on node %d: %v", node, err)
	}
	return res
}

// mustOK fails the test if any result is a bus error.
func mustOK(t testing.TB, res []bus.Result) []bus.Result {
	t.Helper()
	for i, r := range res {
		if r.Err {
			t.Fatalf("op %d: unexpected bus ERR at cycle %d", i, r.Cycle)
		}
	}
	return res
}

// words64 splits 64-bit words into the 32-bit bus words that hold them.
func words64(ws []uint64) []uint32 {
	out := make([]uint32, 0, 2*len(ws))
	for _, w := range ws {
		out = append(out, uint32(w), uint32(w>>32))
	}
	return out
}

// join64 is the inverse of words64.
func join64(ws []uint32) []uint64 {
	out := make([]uint64, len(ws)/2)
	for i := range out {
		out[i] = uint64(ws[2*i]) | uint64(ws[2*i+1])<<32
	}
	return out
}

// writeTX writes words into node's TX buffer of port through the bus.
func writeTX(t testing.TB, e *Engine, node, port int, words []uint64) {
	t.Helper()
	m := bus.Map{Depth: e.Depth(), Ports: e.Ports()}
	mustOK(t, run(t, e, node, bus.WriteBlock(m.TX(port), words64(words))))
}

// readRX reads node's whole RX buffer of port through the bus.
func readRX(t testing.TB, e *Engine, node, port int) []uint64 {
	t.Helper()
	m := bus.Map{Depth: e.Depth(), Ports: e.Ports()}
	res := mustOK(t, run(t, e, node, bus.ReadBlock(m.RX(port), 2*e.Depth())))
	return join64(res[0].Words)
}

// setEnable writes a ring buffer's enable register.
func setEnable(t testing.TB, e *Engine, node int, base uint32, on bool) {
	t.Helper()
	m := bus.Map{Depth: e.Depth(), Ports: e.Ports()}
	v := uint32(0)
	if on {
		v = 1
	}
	mustOK(t, run(t, e, node, bus.Write(base+m.Enable(), v)))
}

// rotation returns r such that rx[(i+r) mod D] == tx[i] for every i, or -1.
func rotation(tx, rx []uint64) int {
	d := len(tx)
	for r := 0; r < d; r++ {
		ok := true
		for i := 0; i < d && ok; i++ {
			ok = rx[(i+r)%d] == tx[i]
		}
		if ok {
			return r
		}
	}
	return -1
}
