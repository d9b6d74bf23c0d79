package server

import (
	"testing"

	pb "github.com/ringsim/ringsim/proto/ringsim/v1"
)

// TestLinkOffset checks LinkInfo's counter_latency and rx_index_offset against what the
// simulator does: with every TX buffer holding distinct words and TX and RX enabled, each
// link's RX buffer holds its sender's TX buffer rotated by rx_index_offset. The links have
// different latencies (one of them 0) and the nodes different release cycles, one of them
// more than a depth later. TestLinkOffsetRTL runs it on the Verilated RTL.
func TestLinkOffset(t *testing.T) { testLinkOffset(t, Options{}) }

// TestLinkOffsetRTL is TestLinkOffset on the Verilated engine.
func TestLinkOffsetRTL(t *testing.T) { testLinkOffset(t, Options{New: rtlSim}) }

func testLinkOffset(t *testing.T, opts Options) {
	c := newBufconn(t, opts)
	ctx := testCtx(t)
	const d = testDepth
	req := &pb.ResetSimulationRequest{
		Seed: 1, Depth: d, ReleaseCycles: []uint64{3, 3 + d + 6, 40},
		Topology: custom(3, 1,
			&pb.Link{TxNode: 0, RxNode: 1, Latency: 3},
			&pb.Link{TxNode: 1, RxNode: 2, Latency: 0},
			&pb.Link{TxNode: 2, RxNode: 0, Latency: 29}),
	}
	resp, err := c.api.ResetSimulation(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	links := resp.GetSimulation().GetLinks()
	wantOffset := []uint32{(3 + 1 + 3 - (3 + d + 6) + 2*d) % d, (0 + 1 + (3 + d + 6) - 40 + 2*d) % d, (29 + 1 + 40 - 3) % d}
	for i, l := range links {
		if l.GetCounterLatency() != l.GetLink().GetLatency()+1 || l.GetRxIndexOffset() != int64(wantOffset[i]) {
			t.Errorf("link %d: counter_latency %d, rx_index_offset %v; want %d, %d",
				i, l.GetCounterLatency(), l.RxIndexOffset, l.GetLink().GetLatency()+1, wantOffset[i])
		}
	}

	if _, err := c.api.StepClock(ctx, &pb.StepClockRequest{Cycles: 41}); err != nil {
		t.Fatal(err)
	}
	tx := make([][]uint64, 3)
	for n := range tx {
		for i := 0; i < d; i++ {
			tx[n] = append(tx[n], uint64(n+1)<<32|uint64(i+1))
		}
		for _, p := range []*pb.PokeMemoryRequest{
			{Node: uint32(n), Target: pb.BackdoorTarget_BACKDOOR_TARGET_TX_MEMORY, Values: tx[n]},
			{Node: uint32(n), Target: pb.BackdoorTarget_BACKDOOR_TARGET_TX_ENABLE, Values: []uint64{1}},
			{Node: uint32(n), Target: pb.BackdoorTarget_BACKDOOR_TARGET_RX_ENABLE, Values: []uint64{1}},
		} {
			if _, err := c.api.PokeMemory(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := c.api.StepClock(ctx, &pb.StepClockRequest{Cycles: 2*d + 40}); err != nil {
		t.Fatal(err)
	}
	for i, l := range links {
		from, to := l.GetLink().GetTxNode(), l.GetLink().GetRxNode()
		rx, err := c.api.PeekMemory(ctx, &pb.PeekMemoryRequest{Node: to, Target: pb.BackdoorTarget_BACKDOOR_TARGET_RX_MEMORY, Count: d})
		if err != nil {
			t.Fatal(err)
		}
		off := l.GetRxIndexOffset()
		for w := 0; w < d; w++ {
			if got, want := rx.GetValues()[(w+int(off))%d], tx[from][w]; got != want {
				t.Errorf("link %d: RX word %d = %#x, want TX word %d = %#x (rx_index_offset %d)", i, (w+int(off))%d, got, w, want, off)
				break
			}
		}
	}
}
