package client_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ringsim/ringsim/hw"
	pb "github.com/ringsim/ringsim/proto/ringsim/v1"
	"github.com/ringsim/ringsim/sim/bus"
	"github.com/ringsim/ringsim/sim/client"
	"github.com/ringsim/ringsim/sim/server"
)

// TestUnary exercises the client's unary methods against the real RTL.
func TestUnary(t *testing.T) {
	ctx := testCtx(t)
	c := newBufconnClient(t, server.Options{})
	if c.Nodes() != 0 {
		t.Errorf("Nodes before Reset = %d, want 0", c.Nodes())
	}
	if _, err := c.Info(ctx); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("Info before Reset: %v, want FailedPrecondition", err)
	}
	cfg := testConfig(5)
	cfg.Release = []uint64{0, 3}
	cfg.DNA = [][3]uint32{{1, 2, 3}, {4, 5, 6}}
	info, err := c.Reset(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := info.Config
	if got.Topology.Nodes != 2 || got.Topology.Ports != 1 || got.Depth != testDepth || info.Cycle != 0 || got.Topology.Name != "pair" {
		t.Errorf("Info = %+v", info)
	}
	if info.Model.Versions == "" {
		t.Errorf("model = %+v, want the simulator named", info.Model)
	}
	if diff := cmp.Diff([]uint64{0, 3}, got.Release); diff != "" {
		t.Errorf("release (-want +got):\n%s", diff)
	}
	if got.DNA[1] != [3]uint32{4, 5, 6} || len(got.Topology.Links) != 2 || got.Topology.Links[0].Latency != testLatency {
		t.Errorf("DNA %v, links %+v", got.DNA, got.Topology.Links)
	}
	if c.Nodes() != 2 || c.Depth() != testDepth || c.ClockHz() != 125e6 {
		t.Errorf("Machine shape %d nodes, depth %d, %v Hz", c.Nodes(), c.Depth(), c.ClockHz())
	}

	// Registers through the bus: write a frame, enable, step, read it back rotated.
	frame := []uint32{0x11111111, 0x22222222, 0x33333333, 0x44444444}
	a, err := c.WriteRegister(ctx, 0, 0, client.TX, client.Data, 0, frame...)
	if err != nil || a.Err || a.Written != len(frame) {
		t.Fatalf("WriteRegister data = %+v, %v", a, err)
	}
	if a, err = c.ReadRegister(ctx, 0, 0, client.TX, client.Data, 0, len(frame)); err != nil || !slices.Equal(a.Values, frame) {
		t.Fatalf("ReadRegister data = %+v, %v; want %x", a, err, frame)
	}
	for _, n := range []struct {
		node int
		buf  client.Buffer
	}{{0, client.TX}, {1, client.RX}} {
		if a, err = c.WriteRegister(ctx, n.node, 0, n.buf, client.Enable, 0, 1); err != nil || a.Err {
			t.Fatalf("enable: %+v, %v", a, err)
		}
	}
	if a, err = c.ReadRegister(ctx, 0, 0, client.TX, client.Enable, 0, 0); err != nil || !slices.Equal(a.Values, []uint32{1}) {
		t.Fatalf("read enable = %+v, %v", a, err)
	}
	if a, err = c.ReadRegister(ctx, 1, 0, client.RX, client.ClearAtCount, 0, 0); err != nil || !a.Err {
		t.Errorf("read clear_at_count = %+v, %v; want a bus error result", a, err)
	}
	before := c.Cycle()
	cyc, err := c.Step(ctx, 2*testDepth)
	if err != nil || cyc != before+2*testDepth {
		t.Fatalf("Step = %d, %v; want %d", cyc, err, before+2*testDepth)
	}
	if cyc, err = c.RunUntil(ctx, cyc+7); err != nil || cyc != before+2*testDepth+7 || c.Cycle() != cyc {
		t.Fatalf("RunUntil = %d, %v", cyc, err)
	}
	rx, err := c.ReadRegister(ctx, 1, 0, client.RX, client.Data, 0, 2*testDepth)
	if err != nil || len(rx.Values) != 2*testDepth {
		t.Fatalf("read RX = %+v, %v", rx, err)
	}
	if !holds(rx.Values, frame) {
		t.Errorf("RX %x does not hold the frame %x", rx.Values, frame)
	}

	// The backdoor sees the same memory and does not advance time.
	now := c.Cycle()
	mem, err := c.Peek(ctx, 1, 0, hw.RXMem, 0, testDepth)
	if err != nil || len(mem) != testDepth {
		t.Fatalf("Peek = %v, %v", mem, err)
	}
	if diff := cmp.Diff(join64(rx.Values), mem); diff != "" {
		t.Errorf("Peek vs bus read (-bus +peek):\n%s", diff)
	}
	if err := c.Poke(ctx, 0, 0, hw.TXMem, 3, 0xDEADBEEF_CAFEF00D); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Peek(ctx, 0, 0, hw.TXCount, 0, 1); err != nil || len(v) != 1 || v[0] >= testDepth {
		t.Errorf("Peek TX count = %v, %v", v, err)
	}
	if info, err := c.Info(ctx); err != nil || info.Cycle != now {
		t.Errorf("cycle after peek/poke = %d, %v; want %d", info.Cycle, err, now)
	}
	a, err = c.ReadBus(ctx, 0, info.Map.TX(0)+24, 2)
	if err != nil || !slices.Equal(a.Values, []uint32{0xCAFEF00D, 0xDEADBEEF}) {
		t.Errorf("ReadBus after Poke = %+v, %v", a, err)
	}
	if a, err = c.WriteBusMasked(ctx, 0, info.Map.TX(0)+24, 0x12345678, 0b0101); err != nil || a.Err {
		t.Fatal(err)
	}
	if a, err = c.ReadBus(ctx, 0, info.Map.TX(0)+24, 1); err != nil || a.Values[0] != 0xCA34F078 {
		t.Errorf("masked write gave %x, %v; want cA34f078", a.Values, err)
	}
	if a, err = c.ReadBus(ctx, 0, 0xFFFFFFF0, 1); err != nil || !a.Err {
		t.Errorf("unmapped read = %+v, %v; want a bus error result", a, err)
	}

	// Batches, faults and waveforms.
	res, err := c.ExecuteBatch(ctx, client.Batch{Node: 0, Ops: []bus.Op{bus.Read(0)}}, client.Batch{Node: 1, Ops: []bus.Op{bus.Idle(10), bus.Read(8)}})
	if err != nil || res[0][0].Value != bus.Magic || res[1][1].Value != 1 || res[1][1].Cycle-res[0][0].Cycle != 10 {
		t.Errorf("ExecuteBatch = %+v, %v", res, err)
	}
	if _, err := c.SetFaults(ctx, 1, hw.Faults{BitFlip: 0.5}); err != nil {
		t.Errorf("SetFaults: %v", err)
	}
	if _, err := c.Step(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if info, err := c.Info(ctx); err != nil || info.Counts[1].FlippedBits == 0 || info.Config.Topology.Links[1].Faults.BitFlip != 0.5 ||
		info.Config.Topology.Links[1].From.Node != 1 {
		t.Errorf("no bits flipped: %+v, %v", info, err)
	}
	if _, err := c.StartWaveform(ctx, filepath.Join(t.TempDir(), "x.fst")); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("StartWaveform without waveform support: %v, want FailedPrecondition", err)
	}
	if p, err := c.StopWaveform(ctx); err != nil || p != "" {
		t.Errorf("StopWaveform with none open = %q, %v", p, err)
	}
}

// holds reports whether ring holds frame at some 64-bit aligned position, wrapping.
func holds(ring, frame []uint32) bool {
	for s := 0; s < len(ring); s += 2 {
		ok := true
		for i := 0; i < len(frame) && ok; i++ {
			ok = ring[(s+i)%len(ring)] == frame[i]
		}
		if ok {
			return true
		}
	}
	return false
}

// TestRunPastMaxCycles checks that Run keeps the engine's semantics when a batch takes
// longer than the server simulates per message.
func TestRunPastMaxCycles(t *testing.T) {
	c := newResetClient(t, server.Options{MaxCycles: 1 << 12}, 1)
	start := c.Cycle()
	if err := c.Submit(0, []bus.Op{bus.Idle(20000), bus.Read(0)}); err != nil {
		t.Fatal(err)
	}
	done, err := c.Run(start + 1<<40)
	if err != nil || !slices.Equal(done, []int{0}) {
		t.Fatalf("Run = %v, %v; want [0]", done, err)
	}
	res, err := c.Results(0)
	if err != nil || res[1].Value != bus.Magic || res[1].Cycle < start+20000 {
		t.Errorf("Results = %+v, %v", res, err)
	}
	if c.Cycle() != res[1].Cycle+1 {
		t.Errorf("Cycle %d after completion in %d", c.Cycle(), res[1].Cycle)
	}
}

// TestResetBySomeoneElse checks that a session whose batches vanished in another client's
// reset fails with ABORTED and that the client recovers.
func TestResetBySomeoneElse(t *testing.T) {
	ctx := testCtx(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(t, server.Options{}, lis)
	a, err := client.Dial(ctx, lis.Addr().String(), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.Reset(ctx, testConfig(1)); err != nil {
		t.Fatal(err)
	}
	b, err := client.Dial(ctx, lis.Addr().String(), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Nodes() != 2 {
		t.Errorf("Dial did not read the shape: %d nodes", b.Nodes())
	}
	if err := a.Submit(0, []bus.Op{bus.Idle(1000)}); err != nil {
		t.Fatal(err)
	}
	if done, err := a.Run(a.Cycle() + 10); err != nil || len(done) != 0 {
		t.Fatalf("Run = %v, %v", done, err)
	}
	if _, err := b.ExecuteBatch(ctx, client.Batch{Node: 0, Ops: []bus.Op{bus.Read(0)}}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("ExecuteBatch on a node a session owns: %v, want FailedPrecondition", err)
	}
	if _, err := b.Reset(ctx, testConfig(2)); err != nil {
		t.Fatal(err)
	}
	_, err = a.Run(a.Cycle() + 10)
	if status.Code(err) != codes.Aborted || !errors.Is(err, client.ErrNoSession) {
		t.Errorf("Run after another client's reset: %v, want Aborted", err)
	}
	if _, err := a.Info(ctx); err != nil {
		t.Fatal(err)
	}
	if res := execute(t, a, 0, bus.Read(0)); res[0].Value != bus.Magic {
		t.Errorf("after recovery: %#x", res[0].Value)
	}
}

// TestSockets runs the ring buffer suite over real sockets: TCP loopback and unix.
func TestSockets(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "unix" {
				addr = filepath.Join(t.TempDir(), "ringsim.sock")
			}
			lis, err := net.Listen(network, addr)
			if err != nil {
				t.Fatal(err)
			}
			serve(t, server.Options{}, lis)
			target := lis.Addr().String()
			if network == "unix" {
				target = "unix:" + target
			}
			ctx := testCtx(t)
			c, err := client.Dial(ctx, target, client.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Reset(ctx, testConfig(3)); err != nil {
				t.Fatal(err)
			}
			ringBufferSuite(t, c)
		})
	}
}

// TestDialNoServer checks that Dial reports an unreachable server.
func TestDialNoServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5e9)
	defer cancel()
	if _, err := client.Dial(ctx, "unix:"+filepath.Join(t.TempDir(), "none.sock"), client.Options{}); status.Code(err) != codes.Unavailable {
		t.Errorf("Dial = %v, want Unavailable", err)
	}
}

// TestOpNumbering pins the enum values the conversions rely on.
func TestOpNumbering(t *testing.T) {
	if bus.KindRead != 1 || bus.KindPoll != 6 || bus.UntilEqual != 1 || bus.UntilNotEqual != 2 ||
		pb.BusOpKind_BUS_OP_KIND_READ != 1 || pb.BusOpKind_BUS_OP_KIND_POLL != 6 ||
		pb.PollCondition_POLL_CONDITION_EQUAL != 1 || pb.PollCondition_POLL_CONDITION_NOT_EQUAL != 2 {
		t.Fatal("bus.Kind or bus.Cond numbering changed: update client.toPB and server.toOp")
	}
}
