package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	pb "github.com/ringsim/ringsim/proto/ringsim/v1"
	"github.com/ringsim/ringsim/sim/bus"
)

// waitReleased polls until no open session owns node.
func waitReleased(t *testing.T, c *conn, node int) *pb.Simulation {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := c.describe(t)
		if !s.GetNodes()[node].GetSessionOwned() {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %d still owned by a session", node)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSessionDisconnect checks what a client that disconnects mid-session leaves behind:
// its batch in flight keeps running in simulated time and its results are discarded; its
// completed but undelivered results are discarded at once; the simulation stays usable.
func TestSessionDisconnect(t *testing.T) {
	c := newPair(t, Options{})
	ctx, cancel := context.WithCancel(testCtx(t))
	st, err := c.api.OpenSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start := c.describe(t).GetCycle()
	// Node 0: a long batch; node 1: a short one that completes while another client runs
	// the clock, so the session never receives it.
	if err := st.Send(&pb.OpenSessionRequest{Batches: []*pb.NodeBatch{{Node: 0, Ops: ops(idle(100_000), read(0))}}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&pb.OpenSessionRequest{
		Batches: []*pb.NodeBatch{{Node: 1, Ops: ops(read(0))}},
		Run:     &pb.SessionRun{UntilCycle: start}, // already reached: only submits
	}); err != nil {
		t.Fatal(err)
	}
	resp, err := st.Recv()
	if err != nil || len(resp.GetCompleted()) != 0 || resp.GetCycle() != start {
		t.Fatalf("first run = %v, %v; want nothing completed at %d", resp, err, start)
	}
	// Another client may not touch the session's nodes, but may run the clock.
	if _, err := c.api.ReadBus(testCtx(t), &pb.ReadBusRequest{Node: 1}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("ReadBus on a session's node: %v, want FailedPrecondition", err)
	}
	if _, err := c.api.StepClock(testCtx(t), &pb.StepClockRequest{Cycles: 100}); err != nil {
		t.Fatal(err)
	}
	sim := c.describe(t)
	if !sim.GetNodes()[0].GetBusy() || sim.GetNodes()[1].GetBusy() || !sim.GetNodes()[1].GetSessionOwned() {
		t.Fatalf("before disconnect: nodes %v", sim.GetNodes())
	}

	cancel() // the client goes away
	waitReleased(t, c, 0)
	sim = waitReleased(t, c, 1)
	if !sim.GetNodes()[0].GetBusy() {
		t.Errorf("node 0's batch no longer in flight after the disconnect")
	}

	// Node 1's undelivered results were dropped: it takes a batch at once.
	r, err := c.api.ExecuteBatch(testCtx(t), &pb.ExecuteBatchRequest{Batches: []*pb.NodeBatch{{Node: 1, Ops: ops(read(0))}}})
	if err != nil || r.GetResults()[0].GetResults()[0].GetValue() != bus.Magic {
		t.Fatalf("node 1 after disconnect: %v, %v", r, err)
	}
	// Node 0 finishes its orphaned batch in simulated time, then is free.
	if _, err := c.api.ExecuteBatch(testCtx(t), &pb.ExecuteBatchRequest{Batches: []*pb.NodeBatch{{Node: 0, Ops: ops(read(0))}}}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("node 0 with an orphaned batch in flight: %v, want FailedPrecondition", err)
	}
	if _, err := c.api.StepClock(testCtx(t), &pb.StepClockRequest{Cycles: 100_000}); err != nil {
		t.Fatal(err)
	}
	if c.describe(t).GetNodes()[0].GetBusy() {
		t.Fatal("node 0 still busy after its batch's time")
	}
	// A new session sees none of the old results.
	st2, err := c.api.OpenSession(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	now := c.describe(t).GetCycle()
	if err := st2.Send(&pb.OpenSessionRequest{
		Batches: []*pb.NodeBatch{{Node: 0, Ops: ops(read(8))}},
		Run:     &pb.SessionRun{UntilCycle: now + 1000},
	}); err != nil {
		t.Fatal(err)
	}
	resp, err = st2.Recv()
	if err != nil || len(resp.GetCompleted()) != 1 || resp.GetCompleted()[0].GetResults()[0].GetValue() != 0 {
		t.Errorf("new session: %v, %v; want node 0's node-id read", resp, err)
	}
	st2.CloseSend()
	if _, err := st2.Recv(); err == nil {
		t.Error("stream did not end after CloseSend")
	}
}

// TestSessionCompletedByOthers checks that a batch another client's clock completes is
// delivered to the session on its next run, without running further.
func TestSessionCompletedByOthers(t *testing.T) {
	c := newPair(t, Options{})
	st, err := c.api.OpenSession(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.CloseSend()
	if err := st.Send(&pb.OpenSessionRequest{Batches: []*pb.NodeBatch{{Node: 1, Ops: ops(idle(5), read(0))}}}); err != nil {
		t.Fatal(err)
	}
	// A run that is already reached makes the server process the submission.
	if err := st.Send(&pb.OpenSessionRequest{Run: &pb.SessionRun{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != nil {
		t.Fatal(err)
	}
	step, err := c.api.StepClock(testCtx(t), &pb.StepClockRequest{Cycles: 50})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&pb.OpenSessionRequest{Run: &pb.SessionRun{UntilCycle: step.GetCycle() + 1000}}); err != nil {
		t.Fatal(err)
	}
	resp, err := st.Recv()
	if err != nil || len(resp.GetCompleted()) != 1 || resp.GetCycle() != step.GetCycle() {
		t.Fatalf("run = %v, %v; want node 1 delivered at cycle %d", resp, err, step.GetCycle())
	}
	if res := resp.GetCompleted()[0].GetResults(); res[1].GetValue() != bus.Magic || res[1].GetCycle() >= step.GetCycle() {
		t.Errorf("results %v", res)
	}
}

// TestConcurrentClients runs several clients at once against one simulation: a session,
// unary batches on the other node, the clock and the backdoor. Run with -race.
func TestConcurrentClients(t *testing.T) {
	c := newPair(t, Options{})
	m := bus.Map{Depth: testDepth, Ports: 1}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	const rounds = 50
	wg.Add(4)
	go func() { // a lockstep session on node 0
		defer wg.Done()
		st, err := c.api.OpenSession(testCtx(t))
		if err != nil {
			errs <- err
			return
		}
		defer st.CloseSend()
		for i := range rounds {
			addr := m.TX(0) + uint32(4*(i%(2*testDepth)))
			req := &pb.OpenSessionRequest{Batches: []*pb.NodeBatch{{Node: 0, Ops: ops(
				&pb.BusOp{Kind: pb.BusOpKind_BUS_OP_KIND_WRITE, Address: addr, Value: uint32(i)}, read(addr))}}}
			for got := false; !got; req = (&pb.OpenSessionRequest{}) {
				req.Run = &pb.SessionRun{UntilCycle: 1 << 40}
				if err := st.Send(req); err != nil {
					errs <- err
					return
				}
				resp, err := st.Recv()
				if err != nil {
					errs <- err
					return
				}
				for _, r := range resp.GetCompleted() {
					got = true
					if v := r.GetResults()[1].GetValue(); v != uint32(i) {
						errs <- fmt.Errorf("session round %d read %d", i, v)
					}
				}
			}
		}
	}()
	go func() { // unary batches on node 1
		defer wg.Done()
		for i := range rounds {
			addr := m.TX(0) + uint32(4*(i%(2*testDepth)))
			r, err := c.api.ExecuteBatch(testCtx(t), &pb.ExecuteBatchRequest{Batches: []*pb.NodeBatch{{Node: 1, Ops: ops(
				&pb.BusOp{Kind: pb.BusOpKind_BUS_OP_KIND_WRITE, Address: addr, Value: uint32(1000 + i)}, read(addr))}}})
			if err != nil {
				errs <- err
				return
			}
			if v := r.GetResults()[0].GetResults()[1].GetValue(); v != uint32(1000+i) {
				errs <- fmt.Errorf("unary round %d read %d", i, v)
			}
		}
	}()
	go func() { // the clock
		defer wg.Done()
		for range rounds {
			if _, err := c.api.StepClock(testCtx(t), &pb.StepClockRequest{Cycles: 7}); err != nil {
				errs <- err
				return
			}
		}
	}()
	go func() { // the backdoor and descriptions
		defer wg.Done()
		for range rounds {
			if _, err := c.api.PeekMemory(testCtx(t), &pb.PeekMemoryRequest{Node: 1, Target: pb.BackdoorTarget_BACKDOOR_TARGET_RX_MEMORY, Count: testDepth}); err != nil {
				errs <- err
				return
			}
			if _, err := c.api.DescribeSimulation(testCtx(t), &pb.DescribeSimulationRequest{}); err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestLockWaitCancelled checks that a call waiting for the simulation gives up with its
// context.
func TestLockWaitCancelled(t *testing.T) {
	c := newPair(t, Options{})
	c.srv.sem <- struct{}{} // someone holds the simulation
	ctx, cancel := context.WithTimeout(testCtx(t), 50*time.Millisecond)
	defer cancel()
	_, err := c.api.StepClock(ctx, &pb.StepClockRequest{Cycles: 1})
	<-c.srv.sem
	if code := status.Code(err); code != codes.DeadlineExceeded {
		t.Errorf("got %v, want DeadlineExceeded", err)
	}
}

// TestResetKeepsOnError checks that a failed reset keeps the running simulation.
func TestResetKeepsOnError(t *testing.T) {
	c := newPair(t, Options{})
	if _, err := c.api.StepClock(testCtx(t), &pb.StepClockRequest{Cycles: 10}); err != nil {
		t.Fatal(err)
	}
	bad := pairReset(2)
	bad.RtlDir = "/nonexistent"
	if _, err := c.api.ResetSimulation(testCtx(t), bad); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad reset: %v", err)
	}
	if s := c.describe(t); s.GetCycle() != 10 || s.GetGeneration() != 1 {
		t.Errorf("after a failed reset: cycle %d, generation %d; want 10, 1", s.GetCycle(), s.GetGeneration())
	}
}

// TestRTLWaveformClose checks that an FST dump is written and closed by Close (what
// `ringsim serve` does on SIGTERM), and that health goes NOT_SERVING. It runs on the
// Verilated engine: the reference machine has no waveforms.
func TestRTLWaveformClose(t *testing.T) {
	c := newBufconn(t, Options{New: rtlSim})
	req := pairReset(1)
	req.Waveforms = true
	if _, err := c.api.ResetSimulation(testCtx(t), req); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dump.fst")
	w, err := c.api.StartWaveform(testCtx(t), &pb.StartWaveformRequest{Path: path})
	if err != nil || w.GetPath() != path {
		t.Fatalf("StartWaveform = %v, %v", w, err)
	}
	if _, err := c.api.StartWaveform(testCtx(t), &pb.StartWaveformRequest{Path: path + "2"}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("second StartWaveform: %v, want FailedPrecondition", err)
	}
	if _, err := c.api.StepClock(testCtx(t), &pb.StepClockRequest{Cycles: 1000}); err != nil {
		t.Fatal(err)
	}
	if got := c.describe(t).GetWaveformPath(); got != path {
		t.Errorf("waveform_path %q, want %q", got, path)
	}
	if err := c.srv.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Size() == 0 {
		t.Errorf("FST after Close: %v, %v", fi, err)
	}
	if _, err := c.api.StepClock(testCtx(t), &pb.StepClockRequest{Cycles: 1}); status.Code(err) != codes.Unavailable {
		t.Errorf("call after Close: %v, want Unavailable", err)
	}
	h, err := c.health.Check(testCtx(t), &healthpb.HealthCheckRequest{Service: ServiceName})
	if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health after Close: %v, %v", h, err)
	}
}
