package refmodel

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ringsim/ringsim/sim/bus"
)

func TestNodeRegs(t *testing.T) {
	cfg := Config{Depth: 200, Ports: 3, NodeID: 0x1234, DNA: [3]uint32{0xD0D0D0D0, 0xD1D1D1D1, 0xD2D2D2D2}, Release: 6}
	tests := []struct {
		name string
		reg  uint32
		want uint32
	}{
		{"magic", bus.RegMagic, 0x4D495352},
		{"version", bus.RegVersion, 1},
		{"node id", bus.RegNodeID, 0x1234},
		{"depth", bus.RegDepth, 200},
		{"ports", bus.RegPorts, 3},
		{"window log2", bus.RegWindowLog2, 11}, // 8*200+16 = 1616 <= 2^11
		{"dna0", bus.RegDNA0, 0xD0D0D0D0},
		{"dna1", bus.RegDNA1, 0xD1D1D1D1},
		{"dna2", bus.RegDNA2, 0xD2D2D2D2},
		{"cycle lo in the first cycle out of reset", bus.RegCycleLo, 0},
		{"cycle hi before any cycle lo read", bus.RegCycleHi, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSystem(t, cfg)
			got := runBatch(t, s, 10, bus.Read(tt.reg))[0]
			if got.Err || got.Value != tt.want || got.Cycle != cfg.Release {
				t.Errorf("got %+v, want value %#x in cycle %d", got, tt.want, cfg.Release)
			}
		})
	}
}

// TestCycleCounter checks CYCLE_LO (cycles since reset) and that reading it latches the
// high half into CYCLE_HI from the next cycle on.
func TestCycleCounter(t *testing.T) {
	s := newSystem(t, Config{Depth: 4, Ports: 1, Release: 10})
	// Jump to 5*2^32 + 100 cycles after the release, as if the node had run that long.
	s.Node.cycle = 10 + 5<<32 + 100
	got := runBatch(t, s, 10,
		bus.Read(bus.RegCycleHi), bus.Read(bus.RegCycleLo), bus.Read(bus.RegCycleHi),
		bus.ReadBlock(bus.RegCycleLo, 2))
	want := []bus.Result{
		{Cycle: 10 + 5<<32 + 100, Value: 0},
		{Cycle: 10 + 5<<32 + 101, Value: 101},
		{Cycle: 10 + 5<<32 + 102, Value: 5},
		{Cycle: 10 + 5<<32 + 104, N: 2, Words: []uint32{103, 5}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	// A write to CYCLE_LO answers ERR and latches nothing.
	s = newSystem(t, Config{Depth: 4, Ports: 1})
	s.Node.cycle = 7 << 32
	got = runBatch(t, s, 10, bus.Write(bus.RegCycleLo, 0), bus.Read(bus.RegCycleHi))
	if !got[0].Err || got[1].Value != 0 {
		t.Errorf("write CYCLE_LO then read CYCLE_HI: got %+v, want ERR then 0", got)
	}
}

// TestReset checks that the node is held in reset before its release cycle: registers
// read 0 at the release, backdoor enables are cleared by the first edge, TX frames are 0,
// the master waits.
func TestReset(t *testing.T) {
	const d, release = 4, 7
	m := bus.Map{Depth: d, Ports: 1}
	s := newSystem(t, Config{Depth: d, Ports: 1, Release: release})
	for i := range d {
		s.Node.SetTXWord(0, i, 0xF0+uint64(i))
	}
	s.Node.SetTXEnable(0, true)
	s.Node.SetRXEnable(0, true)
	if err := s.Submit([]bus.Op{bus.Read(bus.RegCycleLo), bus.Read(m.TX(0) + m.Enable()),
		bus.Read(m.RX(0) + m.Enable())}); err != nil {
		t.Fatal(err)
	}
	tx := make([]uint64, 1)
	in := []uint64{0}
	for c := range release + 2 {
		if c > 0 {
			in[0] = 0xBAD // the edge ending cycle 0 still saw the poked enable
		}
		if !s.Node.InReset() && c < release {
			t.Fatalf("cycle %d: got out of reset, want in reset", c)
		}
		if c <= release && (s.Node.TXCount(0) != 0 || s.Node.RXCount(0) != 0) {
			t.Fatalf("cycle %d: got counts %d %d, want 0 0", c, s.Node.TXCount(0), s.Node.RXCount(0))
		}
		s.Step(in, tx)
		if tx[0] != 0 {
			t.Fatalf("cycle %d: got TX frame %#x, want 0", c, tx[0])
		}
	}
	s.Run(100, nil, nil)
	got, err := s.Take()
	if err != nil {
		t.Fatal(err)
	}
	want := []bus.Result{{Cycle: release}, {Cycle: release + 1}, {Cycle: release + 2}}
	if diff := cmp.Diff(want, oneClock(t, got)); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	for i := range d {
		if w := s.Node.RXWord(0, i); w != 0 {
			t.Errorf("RX word %d: got %#x, want 0 (RX held disabled in reset)", i, w)
		}
	}
}
