package server

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/ringsim/ringsim/proto/ringsim/v1"
	"github.com/ringsim/ringsim/sim/bus"
)

// fakeStream is a session stream that delivers fixed requests, then io.EOF.
type fakeStream struct {
	grpc.ServerStream
	ctx  context.Context
	reqs []*pb.OpenSessionRequest
	sent int
}

func (f *fakeStream) Context() context.Context { return f.ctx }

func (f *fakeStream) Recv() (*pb.OpenSessionRequest, error) {
	if len(f.reqs) == 0 {
		return nil, io.EOF
	}
	r := f.reqs[0]
	f.reqs = f.reqs[1:]
	return r, nil
}

func (f *fakeStream) Send(*pb.OpenSessionResponse) error {
	f.sent++
	return nil
}

// fuzzMethods are the requests the fuzzer can send, by index.
var fuzzMethods = []struct {
	name string
	msg  func() proto.Message
	call func(ctx context.Context, s *Server, m proto.Message) error
}{
	{"describe", func() proto.Message { return &pb.DescribeSimulationRequest{} }, func(ctx context.Context, s *Server, m proto.Message) error {
		_, err := s.DescribeSimulation(ctx, m.(*pb.DescribeSimulationRequest))
		return err
	}},
	{"reset", func() proto.Message { return &pb.ResetSimulationRequest{} }, func(ctx context.Context, s *Server, m proto.Message) error {
		_, err := s.ResetSimulation(ctx, m.(*pb.ResetSimulationRequest))
		return err
	}},
	{"step", func() proto.Message { return &pb.StepClockRequest{} }, func(ctx context.Context, s *Server, m proto.Message) error {
		_, err := s.StepClock(ctx, m.(*pb.StepClockRequest))
		return err
	}},
	{"run until", func() proto.Message { return &pb.RunUntilCycleRequest{} }, func(ctx context.Context, s *Server, m proto.Message) error {
		_, err := s.RunUntilCycle(ctx, m.(*pb.RunUntilCycleRequest))
		return err
	}},
	{"read register", func() proto.Message { return &pb.ReadRegisterRequest{} }, func(ctx context.Context, s *Server, m proto.Message) error {
		_, err := s.ReadRegister(ctx, m.(*pb.ReadRegisterRequest))
		return err
	}},
	{"write register", func() proto.Message { return &pb.WriteRegisterRequest{} }, func(ctx context.Context, s *Server, m proto.Message) error {
		_, err := s.WriteRegister(ctx, m.(*pb.WriteRegisterRequest))
		return err
	}},
	{"read bus", func() proto.Message { return &pb.ReadBusRequest{} }, func(ctx context.Context, s *Server, m proto.Message) error {
		_, err := s.ReadBus(ctx, m.(*pb.ReadBusRequest))
		return err
	}},
	{"write bus", func() proto.Message { return &pb.WriteBusRequest{} }, func(ctx context.Context, s *Server, m proto.Message) error {
		_, err := s.WriteBus(ctx, m.(*pb.WriteBusRequest))
		return err
	}},
	{"peek", func() proto.Message { return &pb.PeekMemoryRequest{} }, func(ctx context.Context, s *Server, m proto.Message) error {
		_, err := s.PeekMemory(ctx, m.(*pb.PeekMemoryRequest))
		return err
	}},
	{"poke", func() proto.Message { return &pb.PokeMemoryRequest{} }, func(ctx context.Context, s *Server, m proto.Message) error {
		_, err := s.PokeMemory(ctx, m.(*pb.PokeMemoryRequest))
		return err
	}},
	{"execute", func() proto.Message { return &pb.ExecuteBatchRequest{} }, func(ctx context.Context, s *Server, m proto.Message) error {
		_, err := s.ExecuteBatch(ctx, m.(*pb.ExecuteBatchRequest))
		return err
	}},
	{"session", func() proto.Message { return &pb.OpenSessionRequest{} }, func(ctx context.Context, s *Server, m proto.Message) error {
		return s.OpenSession(&fakeStream{ctx: ctx, reqs: []*pb.OpenSessionRequest{m.(*pb.OpenSessionRequest)}})
	}},
	{"faults", func() proto.Message { return &pb.SetLinkFaultsRequest{} }, func(ctx context.Context, s *Server, m proto.Message) error {
		_, err := s.SetLinkFaults(ctx, m.(*pb.SetLinkFaultsRequest))
		return err
	}},
	{"start waveform", func() proto.Message { return &pb.StartWaveformRequest{} }, func(ctx context.Context, s *Server, m proto.Message) error {
		_, err := s.StartWaveform(ctx, m.(*pb.StartWaveformRequest))
		return err
	}},
	{"stop waveform", func() proto.Message { return &pb.StopWaveformRequest{} }, func(ctx context.Context, s *Server, m proto.Message) error {
		_, err := s.StopWaveform(ctx, m.(*pb.StopWaveformRequest))
		return err
	}},
}

// fuzzCall encodes one call for the fuzzer: method index, message length, message.
func fuzzCall(method int, m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil || len(b) > 255 {
		panic(fmt.Sprintf("seed %d: %v, %d bytes", method, err, len(b)))
	}
	return append([]byte{byte(method), byte(len(b))}, b...)
}

// allowedCodes are the codes a request may get; INTERNAL, UNKNOWN and DEADLINE_EXCEEDED
// (a hang) are bugs.
var allowedCodes = map[codes.Code]bool{
	codes.OK: true, codes.InvalidArgument: true, codes.OutOfRange: true, codes.FailedPrecondition: true,
	codes.ResourceExhausted: true, codes.Aborted: true,
}

// FuzzServerRequests sends sequences of arbitrary requests to a server running a small
// pair simulation: no input may panic, hang, get a code outside the documented set, leave
// the simulation lock held or the simulation unusable. Run it with
// `go test -fuzz FuzzServerRequests ./sim/server`.
func FuzzServerRequests(f *testing.F) {
	m := bus.Map{Depth: testDepth, Ports: 1}
	write := &pb.BusOp{Kind: pb.BusOpKind_BUS_OP_KIND_WRITE, Address: m.TX(0), Value: 7}
	seeds := [][]proto.Message{
		{&pb.DescribeSimulationRequest{}},
		{pairReset(9)},
		{&pb.ResetSimulationRequest{Depth: testDepth, Topology: custom(3, 1, &pb.Link{TxNode: 0, RxNode: 2, Latency: 3, Bidirectional: true})}},
		{&pb.StepClockRequest{Cycles: 100}, &pb.RunUntilCycleRequest{Cycle: 300}},
		{&pb.WriteRegisterRequest{Buffer: pb.RingBuffer_RING_BUFFER_TX, Register: pb.Register_REGISTER_DATA, Index: 3, Values: []uint32{1, 2}},
			&pb.ReadRegisterRequest{Node: 1, Buffer: pb.RingBuffer_RING_BUFFER_RX, Register: pb.Register_REGISTER_CLEAR_AT_COUNT}},
		{&pb.WriteRegisterRequest{Node: 1, Buffer: pb.RingBuffer_RING_BUFFER_RX, Register: pb.Register_REGISTER_CLEAR_AT_COUNT, Values: []uint32{5}}},
		{&pb.WriteBusRequest{Address: m.TX(0), Values: []uint32{1}, ByteMask: 3}, &pb.ReadBusRequest{Address: m.TX(0), Count: 4}},
		{&pb.PokeMemoryRequest{Target: pb.BackdoorTarget_BACKDOOR_TARGET_RX_MEMORY, Index: 2, Values: []uint64{9}},
			&pb.PeekMemoryRequest{Target: pb.BackdoorTarget_BACKDOOR_TARGET_RX_COUNT}},
		{&pb.ExecuteBatchRequest{Batches: []*pb.NodeBatch{{Ops: ops(write, read(m.TX(0)), idle(3))}, {Node: 1, Ops: ops(&pb.BusOp{
			Kind: pb.BusOpKind_BUS_OP_KIND_POLL, Address: m.RX(0), Condition: pb.PollCondition_POLL_CONDITION_NOT_EQUAL, PollMask: 1, Count: 40, Interval: 2})}}}},
		{&pb.OpenSessionRequest{Batches: []*pb.NodeBatch{{Node: 1, Ops: ops(idle(1000), read(0))}}, Run: &pb.SessionRun{UntilCycle: 10}},
			&pb.ExecuteBatchRequest{Batches: []*pb.NodeBatch{{Node: 1, Ops: ops(read(0))}}}},
		{&pb.ExecuteBatchRequest{Batches: []*pb.NodeBatch{{Node: 1, PackedOps: &pb.PackedBusOps{
			Kinds:     []pb.BusOpKind{pb.BusOpKind_BUS_OP_KIND_WRITE_BLOCK, pb.BusOpKind_BUS_OP_KIND_READ_BLOCK, pb.BusOpKind_BUS_OP_KIND_POLL},
			Addresses: []uint32{m.TX(0), m.TX(0), m.RX(0)}, Counts: []uint32{2, 3, 4}, Words: []uint32{5, 6},
			Conditions: []pb.PollCondition{0, 0, pb.PollCondition_POLL_CONDITION_EQUAL}}}}}},
		{&pb.SetLinkFaultsRequest{Link: 1, Faults: &pb.LinkFaults{BitFlip: 0.1, FrameZero: 0.5}}},
		{&pb.StartWaveformRequest{Path: "/dev/null"}, &pb.StopWaveformRequest{}},
	}
	for _, seq := range seeds {
		var data []byte
		for _, msg := range seq {
			for i, fm := range fuzzMethods {
				if proto.MessageName(fm.msg()) == proto.MessageName(msg) {
					data = append(data, fuzzCall(i, msg)...)
				}
			}
		}
		f.Add(data)
	}

	// The reference machine: fast, and no model builds while fuzzing.
	s := New(withSim(Options{MaxCycles: 1 << 14}))
	defer s.Close()
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := s.ResetSimulation(ctx, pairReset(1)); err != nil {
			t.Fatal(err)
		}
		for calls := 0; len(data) >= 2 && calls < 8; calls++ {
			method, n := int(data[0]), int(data[1])
			data = data[2:]
			n = min(n, len(data))
			body := data[:n]
			data = data[n:]
			fm := fuzzMethods[method%len(fuzzMethods)]
			msg := fm.msg()
			if proto.Unmarshal(body, msg) != nil {
				continue
			}
			before := s.cycleForTest()
			err := fm.call(ctx, s, msg)
			if code := status.Code(err); !allowedCodes[code] {
				t.Fatalf("%s(%v): unexpected %v: %v", fm.name, msg, code, err)
			}
			select {
			case s.sem <- struct{}{}:
				<-s.sem
			default:
				t.Fatalf("%s(%v) left the simulation locked", fm.name, msg)
			}
			if after := s.cycleForTest(); after < before && !(fm.name == "reset" && err == nil) {
				t.Fatalf("%s(%v): cycle went back from %d to %d", fm.name, msg, before, after)
			}
		}
		if _, err := s.DescribeSimulation(ctx, &pb.DescribeSimulationRequest{}); err != nil && status.Code(err) != codes.FailedPrecondition {
			t.Fatalf("simulation unusable: %v", err)
		}
	})
}

// cycleForTest returns the simulation's cycle.
func (s *Server) cycleForTest() uint64 {
	s.sem <- struct{}{}
	defer s.unlock()
	if s.eng == nil {
		return 0
	}
	return s.eng.Cycle()
}
