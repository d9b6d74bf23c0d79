package simtest

import (
	"context"
	"errors"
	"testing"

	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/sim/bus"
)

// Its equivalence with the Verilated RTL is tested in internal/conformance
// (TestReferenceMachineMatchesRTL); these tests cover the contract's error paths.

func newPair(t *testing.T) *Machine {
	t.Helper()
	m, err := New(context.Background(), hw.Config{Topology: hw.Pair(4), Depth: 16, Seed: 1, Release: []uint64{0, 3}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestErrors(t *testing.T) {
	m := newPair(t)
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"submit to a missing node", m.Submit(2, []bus.Op{bus.Idle(1)}), hw.ErrBadNode},
		{"empty batch", m.Submit(0, nil), hw.ErrBadBatch},
		{"misaligned block", m.Submit(0, []bus.Op{bus.ReadBlock(2, 2)}), hw.ErrBadBatch},
		{"peek a missing port", func() error { _, err := m.Peek(0, 1, hw.TXMem, 0); return err }(), hw.ErrBadPort},
		{"peek past the buffer", func() error { _, err := m.Peek(0, 0, hw.RXMem, 16); return err }(), hw.ErrBadBackdoor},
		{"poke a counter", m.Poke(0, 0, hw.TXCount, 0, 1), hw.ErrBadBackdoor},
		{"results before a batch", func() error { _, err := m.Results(0); return err }(), hw.ErrNoResults},
		{"faults on a missing link", m.SetFaults(5, hw.Faults{}), hw.ErrBadLink},
		{"faults out of range", m.SetFaults(0, hw.Faults{BitFlip: 2}), hw.ErrBadConfig},
		{"waveform", m.StartWaveform("x.fst"), hw.ErrNoWaveforms},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, tt.err, tt.want)
		}
	}
	if _, err := New(context.Background(), hw.Config{Topology: hw.Pair(4), Depth: 16, Waveforms: true}); !errors.Is(err, hw.ErrNoWaveforms) {
		t.Errorf("waveforms requested: got %v, want ErrNoWaveforms", err)
	}
	if _, err := New(context.Background(), hw.Config{Topology: hw.Pair(4), Depth: 1}); !errors.Is(err, hw.ErrBadConfig) {
		t.Errorf("depth 1: got %v, want ErrBadConfig", err)
	}
}

// TestMisaligned checks that a misaligned single access reaches the node, which answers
// ERR in the cycle it is presented (SPEC section 2, ringsim_node.sv) and changes nothing.
func TestMisaligned(t *testing.T) {
	m := newPair(t)
	mp := bus.Map{Depth: 16, Ports: 1}
	en := mp.TX(0) + mp.Enable()
	ops := []bus.Op{
		bus.Read(bus.RegMagic + 1), bus.Write(en+2, 1), bus.WriteMasked(en+1, 1, 0x2),
		bus.Poll(en+3, bus.UntilEqual, 1, 0, 0, 4), bus.Read(en), bus.Read(bus.RegMagic),
	}
	if err := m.Submit(0, ops); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Run(100); err != nil {
		t.Fatal(err)
	}
	res, err := m.Results(0)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res[:4] {
		if !r.Err || r.Cycle != uint64(i) {
			t.Errorf("op %d (%v at %#x): ERR %v in cycle %d, want ERR in cycle %d", i, ops[i].Kind, ops[i].Addr, r.Err, r.Cycle, i)
		}
	}
	if r := res[4]; r.Err || r.Value != 0 {
		t.Errorf("TX enable after the misaligned writes: %+v, want 0", r)
	}
	if r := res[5]; r.Err || r.Value != bus.Magic {
		t.Errorf("aligned read after: %+v, want the magic word", r)
	}
}

// TestBatches runs a batch on each node: a node block read in the node's first cycle out of
// reset, a busy node refusing a second batch, and Run stopping at the end of the cycle in
// which a batch completed.
func TestBatches(t *testing.T) {
	m := newPair(t)
	if err := m.Submit(1, []bus.Op{bus.Read(bus.RegMagic)}); err != nil {
		t.Fatal(err)
	}
	if err := m.Submit(1, []bus.Op{bus.Idle(1)}); !errors.Is(err, hw.ErrBusy) {
		t.Errorf("second batch: got %v, want ErrBusy", err)
	}
	done, err := m.Run(100)
	if err != nil || len(done) != 1 || done[0] != 1 || m.Cycle() != 4 {
		t.Fatalf("Run = %v, %v at cycle %d; want node 1 done at the end of cycle 3", done, err, m.Cycle())
	}
	res, err := m.Results(1)
	if err != nil || res[0].Value != bus.Magic || res[0].Cycle != 3 {
		t.Errorf("Results = %+v, %v; want the magic read in cycle 3 (the release)", res, err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Run(200); !errors.Is(err, hw.ErrClosed) {
		t.Errorf("Run after Close: got %v, want ErrClosed", err)
	}
}
