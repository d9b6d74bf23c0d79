package server

import (
	"slices"
	"testing"

	pb "github.com/ringsim/ringsim/proto/ringsim/v1"
	"github.com/ringsim/ringsim/sim/bus"
)

// TestMisaligned checks that a misaligned single read, write or poll reaches the simulator
// over gRPC, whose RTL answers ERR in the cycle it is presented (bus_error, not an RPC
// error), and that the access changed nothing. It runs on the reference machine;
// TestMisalignedRTL runs it on the Verilated RTL.
func TestMisaligned(t *testing.T) { testMisaligned(t, Options{}) }

// TestMisalignedRTL is TestMisaligned on the Verilated engine: the RTL's own answer.
func TestMisalignedRTL(t *testing.T) { testMisaligned(t, Options{New: rtlSim}) }

func testMisaligned(t *testing.T, opts Options) {
	c := newPair(t, opts)
	ctx := testCtx(t)
	m := bus.Map{Depth: testDepth, Ports: 1}
	txEnable := m.TX(0) + m.Enable()
	if _, err := c.api.StepClock(ctx, &pb.StepClockRequest{Cycles: 10}); err != nil {
		t.Fatal(err)
	}

	// ReadBus and WriteBus of one word.
	for _, addr := range []uint32{bus.RegMagic + 1, bus.RegMagic + 2, bus.RegMagic + 3, m.RX(0) + m.Data(1) + 2, txEnable + 1} {
		now := c.describe(t).GetCycle()
		r, err := c.api.ReadBus(ctx, &pb.ReadBusRequest{Address: addr})
		if err != nil {
			t.Fatalf("ReadBus(%#x): %v", addr, err)
		}
		if !r.GetBusError() || len(r.GetValues()) != 0 || r.GetCompletedCycle() != now {
			t.Errorf("ReadBus(%#x) in cycle %d: %v; want bus_error, no values, completed in cycle %d", addr, now, r, now)
		}
	}
	for _, w := range []*pb.WriteBusRequest{
		{Address: txEnable + 2, Values: []uint32{1}},
		{Address: txEnable + 1, Values: []uint32{1}, ByteMask: 0x2},
		{Node: 1, Address: m.TX(0) + m.Data(0) + 3, Values: []uint32{0xFFFFFFFF}},
	} {
		now := c.describe(t).GetCycle()
		r, err := c.api.WriteBus(ctx, w)
		if err != nil {
			t.Fatalf("WriteBus(%v): %v", w, err)
		}
		if !r.GetBusError() || r.GetWordsWritten() != 0 || r.GetCompletedCycle() != now {
			t.Errorf("WriteBus(%v) in cycle %d: %v; want bus_error, nothing written, completed in cycle %d", w, now, r, now)
		}
	}

	// A batch: misaligned read, write, masked write and poll answer ERR one per cycle; the
	// aligned reads after them see that nothing was written.
	read := func(a uint32) *pb.BusOp { return &pb.BusOp{Kind: pb.BusOpKind_BUS_OP_KIND_READ, Address: a} }
	batch := []*pb.BusOp{
		read(bus.RegMagic + 1),
		{Kind: pb.BusOpKind_BUS_OP_KIND_WRITE, Address: txEnable + 3, Value: 1},
		{Kind: pb.BusOpKind_BUS_OP_KIND_WRITE, Address: txEnable + 2, Value: 1, ByteMask: 0x4},
		{Kind: pb.BusOpKind_BUS_OP_KIND_POLL, Address: txEnable + 1, Condition: pb.PollCondition_POLL_CONDITION_EQUAL,
			PollMask: 1, Value: 0, Count: 4},
		read(txEnable),
		read(bus.RegMagic),
	}
	now := c.describe(t).GetCycle()
	ex, err := c.api.ExecuteBatch(ctx, &pb.ExecuteBatchRequest{Batches: []*pb.NodeBatch{{Ops: batch}}})
	if err != nil {
		t.Fatal(err)
	}
	res := ex.GetResults()[0].GetResults()
	for i, r := range res[:4] {
		if !r.GetBusError() || r.GetCycle() != now+uint64(i) {
			t.Errorf("op %d (%v at %#x): %v; want bus_error in cycle %d", i, batch[i].GetKind(), batch[i].GetAddress(), r, now+uint64(i))
		}
	}
	if r := res[4]; r.GetBusError() || r.GetValue() != 0 {
		t.Errorf("TX enable after the misaligned writes: %v, want 0", r)
	}
	if r := res[5]; r.GetBusError() || r.GetValue() != bus.Magic {
		t.Errorf("aligned read after them: %v, want %#x", r, bus.Magic)
	}

	// The same in packed columns, around a known word in TX memory.
	d0 := m.TX(0) + m.Data(0)
	write, rd := pb.BusOpKind_BUS_OP_KIND_WRITE, pb.BusOpKind_BUS_OP_KIND_READ
	packed := &pb.PackedBusOps{
		Kinds:     []pb.BusOpKind{write, rd, write, rd},
		Addresses: []uint32{d0, d0 + 6, d0 + 1, d0},
		Values:    []uint32{0x12345678, 0, 0xFFFFFFFF, 0},
	}
	ex, err = c.api.ExecuteBatch(ctx, &pb.ExecuteBatchRequest{Batches: []*pb.NodeBatch{{Node: 1, PackedOps: packed}}})
	if err != nil {
		t.Fatal(err)
	}
	p := ex.GetResults()[0].GetPackedResults()
	if got, want := p.GetBusErrors(), []bool{false, true, true, false}; !slices.Equal(got, want) {
		t.Errorf("packed bus errors %v, want %v", got, want)
	}
	if got := p.GetValues()[3]; got != 0x12345678 {
		t.Errorf("TX word 0 after a misaligned write: %#x, want 0x12345678", got)
	}
}
