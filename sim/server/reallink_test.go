package server

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/ringsim/ringsim/proto/ringsim/v1"
	"github.com/ringsim/ringsim/sim/bus"
)

// TestRTLRealLinkAPI resets a real-link pair over gRPC and reads its clocks, links and
// events back: the configuration comes back with defaults filled in, local cycles reach
// results (plain and packed), and the link window answers through the bus.
func TestRTLRealLinkAPI(t *testing.T) {
	c := newBufconn(t, Options{New: rtlSim})
	ctx := testCtx(t)
	req := pairReset(3)
	req.LinkModel = pb.LinkModel_LINK_MODEL_REAL
	// 1000 ppm apart: after 20k cycles the two local counters differ by about 40 cycles.
	req.RealLink = &pb.RealLinkConfig{Ppm: []float64{1000, -1000}, UpCycles: []uint64{100, 200}}
	resp, err := c.api.ResetSimulation(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	s := resp.GetSimulation()
	rl := s.GetRealLink()
	if s.GetLinkModel() != pb.LinkModel_LINK_MODEL_REAL || rl.GetEbDepth() != 32 || rl.GetPpmRange() != 20 ||
		rl.GetStepPpb() != 10 || rl.GetUpdateCycles() != 25000 || rl.GetRxMemory() != pb.Fill_FILL_RANDOM ||
		len(rl.GetUpCycles()) != 2 || rl.GetPpm()[1] != -1000 {
		t.Fatalf("described real link: %v", rl)
	}
	for _, l := range s.GetLinks() {
		if l.GetCounterLatency() != 5 || l.GetRxIndexOffset() != -1 {
			t.Errorf("link %d: counter_latency %d, rx_index_offset %v; want 5 (latency 4 + 1), -1 on the real link",
				l.GetIndex(), l.GetCounterLatency(), l.RxIndexOffset)
		}
	}
	m := bus.Map{Depth: testDepth, Ports: 1}
	if got := s.GetAddressMap().GetPorts()[0].GetLinkBase(); got != m.Link(0) {
		t.Fatalf("link_base %#x, want %#x", got, m.Link(0))
	}
	if _, err := c.api.StepClock(ctx, &pb.StepClockRequest{Cycles: 20_000}); err != nil {
		t.Fatal(err)
	}

	clocks, err := c.api.GetNodeClocks(ctx, &pb.GetNodeClocksRequest{})
	if err != nil {
		t.Fatal(err)
	}
	fast, slow := clocks.GetClocks()[0], clocks.GetClocks()[1]
	if d := int64(fast.GetLocalCycle()) - int64(slow.GetLocalCycle()); d < 38 || d > 42 || fast.GetPpm() != 1000 {
		t.Fatalf("clocks %v: want node 0 about 40 cycles ahead", clocks.GetClocks())
	}

	st, err := c.api.GetLinkStatus(ctx, &pb.GetLinkStatusRequest{Links: []uint32{1}})
	if err != nil {
		t.Fatal(err)
	}
	l1 := st.GetLinks()[0]
	if l1.GetLink() != 1 || !l1.GetUp() || !l1.GetCaptured() || l1.GetUpCycle() != 200 || l1.GetUgnLocal() <= l1.GetUgnRemote() {
		t.Fatalf("link 1: %v", l1)
	}
	if _, err := c.api.GetLinkStatus(ctx, &pb.GetLinkStatusRequest{Links: []uint32{2}}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("link 2: %v, want INVALID_ARGUMENT", err)
	}

	// Node 1 reads its link's status through the bus and asks for a fill of 3 frames; the
	// results carry local cycles, plain and packed.
	ops := []*pb.BusOp{
		{Kind: pb.BusOpKind_BUS_OP_KIND_READ, Address: m.Link(0) + bus.LinkStatus},
		{Kind: pb.BusOpKind_BUS_OP_KIND_WRITE, Address: m.Link(0) + bus.LinkEBAdjust, Value: 3},
	}
	ex, err := c.api.ExecuteBatch(ctx, &pb.ExecuteBatchRequest{Batches: []*pb.NodeBatch{{Node: 1, Ops: ops}}})
	if err != nil {
		t.Fatal(err)
	}
	r := ex.GetResults()[0].GetResults()
	if r[0].GetValue() != 3 || r[0].GetBusError() || r[1].GetBusError() {
		t.Fatalf("link status read %v", r)
	}
	if d := int64(r[0].GetCycle()) - int64(r[0].GetLocalCycle()); d < 18 || d > 22 {
		t.Fatalf("node 1 (-1000 ppm): cycle %d, local %d: want local about 20 behind", r[0].GetCycle(), r[0].GetLocalCycle())
	}
	packed := &pb.PackedBusOps{Kinds: []pb.BusOpKind{pb.BusOpKind_BUS_OP_KIND_READ}, Addresses: []uint32{m.Link(0) + bus.LinkStatus}}
	ex, err = c.api.ExecuteBatch(ctx, &pb.ExecuteBatchRequest{Batches: []*pb.NodeBatch{{Node: 0, PackedOps: packed}}})
	if err != nil {
		t.Fatal(err)
	}
	p := ex.GetResults()[0].GetPackedResults()
	if len(p.GetLocalCycles()) != 1 || p.GetLocalCycles()[0] <= p.GetCycles()[0] {
		t.Fatalf("packed results %v: want node 0's local cycle ahead of the global one", p)
	}

	// The events: both link-ups, then node 1's adjustment; paged one at a time.
	var evs []*pb.LinkEvent
	for from := uint64(0); ; {
		page, err := c.api.ListLinkEvents(ctx, &pb.ListLinkEventsRequest{From: from, MaxEvents: 1})
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, page.GetEvents()...)
		if !page.GetMore() {
			break
		}
		if len(page.GetEvents()) != 1 || page.GetNext() != from+1 {
			t.Fatalf("page from %d: %v", from, page)
		}
		from = page.GetNext()
	}
	var ups, adjust int
	for _, e := range evs {
		switch e.GetKind() {
		case pb.LinkEventKind_LINK_EVENT_KIND_LINK_UP:
			ups++
		case pb.LinkEventKind_LINK_EVENT_KIND_ADJUST:
			adjust++
			if !e.GetFirmware() || e.GetFrames() != 3 || e.GetNode() != 1 || e.GetLocalCycle() >= e.GetCycle() {
				t.Errorf("adjustment %v", e)
			}
		}
	}
	if ups != 2 || adjust != 1 {
		t.Fatalf("events %v: want 2 link-ups and 1 adjustment", evs)
	}
	all, err := c.api.ListLinkEvents(ctx, &pb.ListLinkEventsRequest{})
	if err != nil || len(all.GetEvents()) != len(evs) || all.GetMore() || all.GetNext() != uint64(len(evs)) {
		t.Fatalf("one page: %v, %v", all, err)
	}
}
