package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ringsim/ringsim/hw"
	pb "github.com/ringsim/ringsim/proto/ringsim/v1"
	"github.com/ringsim/ringsim/sim/bus"
)

// withReset returns the pair reset request changed by f.
func withReset(f func(r *pb.ResetSimulationRequest)) *pb.ResetSimulationRequest {
	r := pairReset(1)
	f(r)
	return r
}

func builtin(shape pb.TopologyShape, nodes uint32) *pb.ResetSimulationRequest_Builtin {
	return &pb.ResetSimulationRequest_Builtin{Builtin: &pb.BuiltinTopology{Shape: shape, Nodes: nodes}}
}

func custom(nodes, ports uint32, links ...*pb.Link) *pb.ResetSimulationRequest_Custom {
	return &pb.ResetSimulationRequest_Custom{Custom: &pb.CustomTopology{Nodes: nodes, Ports: ports, Links: links}}
}

// TestErrors is a table of every error path of the API: the status code and the field or
// reason the message must name.
func TestErrors(t *testing.T) {
	const maxCycles = 1 << 16
	fresh := newBufconn(t, Options{})
	c := newPair(t, Options{MaxCycles: maxCycles})
	m := bus.Map{Depth: testDepth, Ports: 1}
	manyOps := make([]*pb.BusOp, bus.MaxBatchOps+1)
	for i := range manyOps {
		manyOps[i] = read(0)
	}
	type call func(ctx context.Context, api pb.SimulatorServiceClient) error
	reset := func(r *pb.ResetSimulationRequest) call {
		return func(ctx context.Context, api pb.SimulatorServiceClient) error {
			_, err := api.ResetSimulation(ctx, r)
			return err
		}
	}
	exec := func(b ...*pb.NodeBatch) call {
		return func(ctx context.Context, api pb.SimulatorServiceClient) error {
			_, err := api.ExecuteBatch(ctx, &pb.ExecuteBatchRequest{Batches: b})
			return err
		}
	}
	readReg := func(r *pb.ReadRegisterRequest) call {
		return func(ctx context.Context, api pb.SimulatorServiceClient) error {
			_, err := api.ReadRegister(ctx, r)
			return err
		}
	}
	writeReg := func(r *pb.WriteRegisterRequest) call {
		return func(ctx context.Context, api pb.SimulatorServiceClient) error {
			_, err := api.WriteRegister(ctx, r)
			return err
		}
	}
	peek := func(r *pb.PeekMemoryRequest) call {
		return func(ctx context.Context, api pb.SimulatorServiceClient) error {
			_, err := api.PeekMemory(ctx, r)
			return err
		}
	}
	poke := func(r *pb.PokeMemoryRequest) call {
		return func(ctx context.Context, api pb.SimulatorServiceClient) error {
			_, err := api.PokeMemory(ctx, r)
			return err
		}
	}
	session := func(reqs ...*pb.OpenSessionRequest) call {
		return func(ctx context.Context, api pb.SimulatorServiceClient) error {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			st, err := api.OpenSession(ctx)
			if err != nil {
				return err
			}
			for _, r := range reqs {
				if err := st.Send(r); err != nil {
					break
				}
			}
			st.CloseSend()
			for {
				if _, err := st.Recv(); err != nil {
					if errors.Is(err, context.Canceled) {
						return nil
					}
					return err
				}
			}
		}
	}
	rx := pb.RingBuffer_RING_BUFFER_RX
	tx := pb.RingBuffer_RING_BUFFER_TX
	data, enable, clear := pb.Register_REGISTER_DATA, pb.Register_REGISTER_ENABLE, pb.Register_REGISTER_CLEAR_AT_COUNT
	txMem := pb.BackdoorTarget_BACKDOOR_TARGET_TX_MEMORY

	tests := []struct {
		name  string
		fresh bool // against a server with no simulation
		call  call
		code  codes.Code
		want  string // in the message
	}{
		// Before the first reset.
		{"describe before reset", true, func(ctx context.Context, api pb.SimulatorServiceClient) error {
			_, err := api.DescribeSimulation(ctx, &pb.DescribeSimulationRequest{})
			return err
		}, codes.FailedPrecondition, "ResetSimulation"},
		{"step before reset", true, func(ctx context.Context, api pb.SimulatorServiceClient) error {
			_, err := api.StepClock(ctx, &pb.StepClockRequest{Cycles: 1})
			return err
		}, codes.FailedPrecondition, "ResetSimulation"},
		{"session before reset", true, session(&pb.OpenSessionRequest{Run: &pb.SessionRun{UntilCycle: 5}}), codes.FailedPrecondition, "ResetSimulation"},

		// ResetSimulation.
		{"depth 0", true, reset(withReset(func(r *pb.ResetSimulationRequest) { r.Depth = 0 })), codes.InvalidArgument, "depth"},
		{"depth too big", true, reset(withReset(func(r *pb.ResetSimulationRequest) { r.Depth = 1<<20 + 1 })), codes.InvalidArgument, "depth"},
		{"no topology", true, reset(withReset(func(r *pb.ResetSimulationRequest) { r.Topology = nil })), codes.InvalidArgument, "topology"},
		{"unknown shape", true, reset(withReset(func(r *pb.ResetSimulationRequest) { r.Topology = builtin(9, 2) })), codes.InvalidArgument, "builtin.shape"},
		{"pair of 3", true, reset(withReset(func(r *pb.ResetSimulationRequest) {
			r.Topology = builtin(pb.TopologyShape_TOPOLOGY_SHAPE_PAIR, 3)
		})), codes.InvalidArgument, "builtin.nodes"},
		{"ring of 1", true, reset(withReset(func(r *pb.ResetSimulationRequest) {
			r.Topology = builtin(pb.TopologyShape_TOPOLOGY_SHAPE_RING, 1)
		})), codes.InvalidArgument, "builtin.nodes"},
		{"too many nodes", true, reset(withReset(func(r *pb.ResetSimulationRequest) {
			r.Topology = builtin(pb.TopologyShape_TOPOLOGY_SHAPE_LINE, hw.MaxNodes+1)
		})), codes.ResourceExhausted, "builtin.nodes"},
		{"mesh too wide", true, reset(withReset(func(r *pb.ResetSimulationRequest) {
			r.Topology = builtin(pb.TopologyShape_TOPOLOGY_SHAPE_MESH, hw.MaxPorts+2)
		})), codes.ResourceExhausted, "ports per node"},
		{"latency", true, reset(withReset(func(r *pb.ResetSimulationRequest) { r.GetBuiltin().Latency = hw.MaxLatency + 1 })), codes.InvalidArgument, "builtin.latency"},
		{"builtin faults", true, reset(withReset(func(r *pb.ResetSimulationRequest) {
			r.GetBuiltin().Faults = &pb.LinkFaults{BitFlip: 2}
		})), codes.InvalidArgument, "builtin.faults"},
		{"NaN faults", true, reset(withReset(func(r *pb.ResetSimulationRequest) {
			r.GetBuiltin().Faults = &pb.LinkFaults{FrameZero: math.NaN()}
		})), codes.InvalidArgument, "frame_zero"},
		{"custom empty", true, reset(withReset(func(r *pb.ResetSimulationRequest) { r.Topology = custom(0, 1) })), codes.InvalidArgument, "custom"},
		{"custom too many ports", true, reset(withReset(func(r *pb.ResetSimulationRequest) { r.Topology = custom(2, hw.MaxPorts+1) })), codes.ResourceExhausted, "custom.ports"},
		{"custom too many nodes", true, reset(withReset(func(r *pb.ResetSimulationRequest) { r.Topology = custom(hw.MaxNodes+1, 1) })), codes.ResourceExhausted, "custom.nodes"},
		{"custom link node", true, reset(withReset(func(r *pb.ResetSimulationRequest) {
			r.Topology = custom(2, 1, &pb.Link{TxNode: 2})
		})), codes.InvalidArgument, "custom.links[0].tx_node"},
		{"custom link port", true, reset(withReset(func(r *pb.ResetSimulationRequest) {
			r.Topology = custom(2, 1, &pb.Link{RxPort: 1})
		})), codes.InvalidArgument, "custom.links[0].rx_port"},
		{"custom link faults", true, reset(withReset(func(r *pb.ResetSimulationRequest) {
			r.Topology = custom(2, 1, &pb.Link{RxNode: 1, Faults: &pb.LinkFaults{BitFlip: -1}})
		})), codes.InvalidArgument, "custom.links[0].faults"},
		{"custom two TX", true, reset(withReset(func(r *pb.ResetSimulationRequest) {
			r.Topology = custom(2, 1, &pb.Link{RxNode: 1}, &pb.Link{RxNode: 0})
		})), codes.InvalidArgument, "custom.links"},
		{"too much memory", true, reset(withReset(func(r *pb.ResetSimulationRequest) {
			r.Depth = 1 << 20
			r.Topology = custom(32, 1)
			r.ReleaseCycles = nil
		})), codes.ResourceExhausted, "buffer words"},
		{"release count", true, reset(withReset(func(r *pb.ResetSimulationRequest) { r.ReleaseCycles = []uint64{1} })), codes.InvalidArgument, "release_cycles"},
		{"dna count", true, reset(withReset(func(r *pb.ResetSimulationRequest) { r.Dna = []*pb.Dna{{}} })), codes.InvalidArgument, "dna"},
		{"clock", true, reset(withReset(func(r *pb.ResetSimulationRequest) { r.ClockHz = 1 })), codes.InvalidArgument, "clock_hz"},
		{"rtl dir", true, reset(withReset(func(r *pb.ResetSimulationRequest) { r.RtlDir = "/nonexistent/rtl" })), codes.InvalidArgument, "rtl_dir"},

		// Clock.
		{"step too far", false, func(ctx context.Context, api pb.SimulatorServiceClient) error {
			_, err := api.StepClock(ctx, &pb.StepClockRequest{Cycles: maxCycles + 1})
			return err
		}, codes.ResourceExhausted, "cycles"},
		{"run into the past", false, func(ctx context.Context, api pb.SimulatorServiceClient) error {
			if _, err := api.StepClock(ctx, &pb.StepClockRequest{Cycles: 10}); err != nil {
				return err
			}
			_, err := api.RunUntilCycle(ctx, &pb.RunUntilCycleRequest{Cycle: 1})
			return err
		}, codes.OutOfRange, "cycle"},
		{"run too far", false, func(ctx context.Context, api pb.SimulatorServiceClient) error {
			_, err := api.RunUntilCycle(ctx, &pb.RunUntilCycleRequest{Cycle: 1 << 40})
			return err
		}, codes.ResourceExhausted, "cycle"},

		// Registers.
		{"register node", false, readReg(&pb.ReadRegisterRequest{Node: 2, Buffer: tx, Register: data}), codes.InvalidArgument, "node: node 2"},
		{"register port", false, readReg(&pb.ReadRegisterRequest{Port: 1, Buffer: tx, Register: data}), codes.InvalidArgument, "port: port 1"},
		{"register buffer", false, readReg(&pb.ReadRegisterRequest{Register: data}), codes.InvalidArgument, "buffer"},
		{"unknown register", false, readReg(&pb.ReadRegisterRequest{Buffer: tx, Register: 42}), codes.InvalidArgument, "register"},
		{"unspecified register", false, readReg(&pb.ReadRegisterRequest{Buffer: tx}), codes.InvalidArgument, "register"},
		{"data index past", false, readReg(&pb.ReadRegisterRequest{Buffer: rx, Register: data, Index: 2 * testDepth}), codes.OutOfRange, "index"},
		{"data count past", false, readReg(&pb.ReadRegisterRequest{Buffer: rx, Register: data, Index: 2*testDepth - 1, Count: 2}), codes.OutOfRange, "count"},
		{"enable index", false, readReg(&pb.ReadRegisterRequest{Buffer: rx, Register: enable, Index: 1}), codes.InvalidArgument, "index"},
		{"enable count", false, readReg(&pb.ReadRegisterRequest{Buffer: rx, Register: enable, Count: 2}), codes.InvalidArgument, "one word"},
		{"clear_at_count on TX", false, readReg(&pb.ReadRegisterRequest{Buffer: tx, Register: clear}), codes.InvalidArgument, "RING_BUFFER_RX"},
		{"write nothing", false, writeReg(&pb.WriteRegisterRequest{Buffer: tx, Register: data}), codes.InvalidArgument, "values"},
		{"write past", false, writeReg(&pb.WriteRegisterRequest{Buffer: tx, Register: data, Index: 2*testDepth - 1, Values: []uint32{1, 2}}), codes.OutOfRange, "count"},
		{"write mask many", false, writeReg(&pb.WriteRegisterRequest{Buffer: tx, Register: data, Values: []uint32{1, 2}, ByteMask: 1}), codes.InvalidArgument, "byte_mask"},
		{"write mask bits", false, writeReg(&pb.WriteRegisterRequest{Buffer: tx, Register: data, Values: []uint32{1}, ByteMask: 0x10}), codes.InvalidArgument, "byte_mask"},

		// Raw bus.
		{"bus node", false, func(ctx context.Context, api pb.SimulatorServiceClient) error {
			_, err := api.ReadBus(ctx, &pb.ReadBusRequest{Node: 7})
			return err
		}, codes.InvalidArgument, "node"},
		// A misaligned single word reaches the RTL (TestMisaligned); a misaligned block does not.
		{"bus misaligned block", false, func(ctx context.Context, api pb.SimulatorServiceClient) error {
			_, err := api.ReadBus(ctx, &pb.ReadBusRequest{Address: 2, Count: 2})
			return err
		}, codes.InvalidArgument, "address: 0x2 is not 4-byte aligned, which only a single-word access may be"},
		{"bus write misaligned block", false, func(ctx context.Context, api pb.SimulatorServiceClient) error {
			_, err := api.WriteBus(ctx, &pb.WriteBusRequest{Address: 0x105, Values: []uint32{1, 2}})
			return err
		}, codes.InvalidArgument, "address: 0x105"},
		{"bus too many", false, func(ctx context.Context, api pb.SimulatorServiceClient) error {
			_, err := api.ReadBus(ctx, &pb.ReadBusRequest{Count: bus.MaxBatchWords + 1})
			return err
		}, codes.ResourceExhausted, "count"},
		{"bus wraps", false, func(ctx context.Context, api pb.SimulatorServiceClient) error {
			_, err := api.ReadBus(ctx, &pb.ReadBusRequest{Address: 0xFFFFFFFC, Count: 2})
			return err
		}, codes.OutOfRange, "count"},
		{"bus write nothing", false, func(ctx context.Context, api pb.SimulatorServiceClient) error {
			_, err := api.WriteBus(ctx, &pb.WriteBusRequest{Address: 0})
			return err
		}, codes.InvalidArgument, "values"},
		{"bus write wraps", false, func(ctx context.Context, api pb.SimulatorServiceClient) error {
			_, err := api.WriteBus(ctx, &pb.WriteBusRequest{Address: 0xFFFFFFFC, Values: []uint32{1, 2}})
			return err
		}, codes.OutOfRange, "count"},

		// Backdoor.
		{"peek target", false, peek(&pb.PeekMemoryRequest{}), codes.InvalidArgument, "target"},
		{"peek port", false, peek(&pb.PeekMemoryRequest{Port: 3, Target: txMem}), codes.InvalidArgument, "port"},
		{"peek index past", false, peek(&pb.PeekMemoryRequest{Target: txMem, Index: testDepth}), codes.OutOfRange, "index"},
		{"peek count past", false, peek(&pb.PeekMemoryRequest{Target: txMem, Index: 1, Count: testDepth}), codes.OutOfRange, "count"},
		{"peek register index", false, peek(&pb.PeekMemoryRequest{Target: pb.BackdoorTarget_BACKDOOR_TARGET_RX_ENABLE, Index: 1}), codes.InvalidArgument, "index"},
		{"peek register count", false, peek(&pb.PeekMemoryRequest{Target: pb.BackdoorTarget_BACKDOOR_TARGET_RX_COUNT, Count: 2}), codes.InvalidArgument, "one value"},
		{"poke counter", false, poke(&pb.PokeMemoryRequest{Target: pb.BackdoorTarget_BACKDOOR_TARGET_TX_COUNT, Values: []uint64{1}}), codes.InvalidArgument, "read only"},
		{"poke enable 2", false, poke(&pb.PokeMemoryRequest{Target: pb.BackdoorTarget_BACKDOOR_TARGET_TX_ENABLE, Values: []uint64{2}}), codes.InvalidArgument, "values[0]"},
		{"poke nothing", false, poke(&pb.PokeMemoryRequest{Target: txMem}), codes.InvalidArgument, "values"},
		{"poke past", false, poke(&pb.PokeMemoryRequest{Target: txMem, Index: testDepth - 1, Values: []uint64{1, 2}}), codes.OutOfRange, "count"},

		// Batches.
		{"no batches", false, exec(), codes.InvalidArgument, "batches"},
		{"batch node", false, exec(&pb.NodeBatch{Node: 2, Ops: ops(read(0))}), codes.InvalidArgument, "batches[0].node"},
		{"batch twice", false, exec(&pb.NodeBatch{Ops: ops(read(0))}, &pb.NodeBatch{Ops: ops(read(0))}), codes.InvalidArgument, "batches[1].node"},
		{"nil batch", false, exec(nil), codes.InvalidArgument, "batches[0]"},
		{"empty batch", false, exec(&pb.NodeBatch{}), codes.InvalidArgument, "batches[0].ops"},
		{"op kind", false, exec(&pb.NodeBatch{Ops: ops(&pb.BusOp{})}), codes.InvalidArgument, "batches[0].ops[0].kind"},
		{"op misaligned block", false, exec(&pb.NodeBatch{Ops: ops(read(6), &pb.BusOp{Kind: pb.BusOpKind_BUS_OP_KIND_READ_BLOCK, Address: 6, Count: 2})}),
			codes.InvalidArgument, "batches[0].ops[1]: read-block at 0x6: block address is not 4-byte aligned (only single reads, writes and polls may be misaligned)"},
		{"op misaligned write block", false, exec(&pb.NodeBatch{Ops: ops(&pb.BusOp{Kind: pb.BusOpKind_BUS_OP_KIND_WRITE_BLOCK, Address: 1, Words: []uint32{1}})}),
			codes.InvalidArgument, "batches[0].ops[0]: write-block at 0x1: block address is not 4-byte aligned"},
		{"op mask", false, exec(&pb.NodeBatch{Ops: ops(&pb.BusOp{Kind: pb.BusOpKind_BUS_OP_KIND_WRITE, ByteMask: 0x1F})}), codes.InvalidArgument, "ops[0].byte_mask"},
		{"op poll condition", false, exec(&pb.NodeBatch{Ops: ops(&pb.BusOp{Kind: pb.BusOpKind_BUS_OP_KIND_POLL, Count: 1})}), codes.InvalidArgument, "ops[0].condition"},
		{"op zero idle", false, exec(&pb.NodeBatch{Ops: ops(idle(0))}), codes.InvalidArgument, "ops[0]"},
		{"op empty block", false, exec(&pb.NodeBatch{Ops: ops(&pb.BusOp{Kind: pb.BusOpKind_BUS_OP_KIND_READ_BLOCK})}), codes.InvalidArgument, "ops[0]"},
		{"op block wraps", false, exec(&pb.NodeBatch{Ops: ops(&pb.BusOp{Kind: pb.BusOpKind_BUS_OP_KIND_READ_BLOCK, Address: 0xFFFFFFF0, Count: 8})}), codes.OutOfRange, "ops[0]"},
		{"too many ops", false, exec(&pb.NodeBatch{Ops: manyOps}), codes.ResourceExhausted, "max_batch_ops"},
		{"too many words", false, exec(&pb.NodeBatch{Ops: ops(&pb.BusOp{Kind: pb.BusOpKind_BUS_OP_KIND_READ_BLOCK, Count: bus.MaxBatchWords},
			&pb.BusOp{Kind: pb.BusOpKind_BUS_OP_KIND_READ_BLOCK, Count: 1})}), codes.ResourceExhausted, "max_batch_words"},
		{"batch too long", false, exec(&pb.NodeBatch{Ops: ops(idle(maxCycles), read(0))}), codes.ResourceExhausted, "max_cycles_per_call"},
		{"batch never completes", false, exec(&pb.NodeBatch{Node: 1, Ops: ops(&pb.BusOp{Kind: pb.BusOpKind_BUS_OP_KIND_POLL,
			Address: m.TX(0) + m.Enable(), Condition: pb.PollCondition_POLL_CONDITION_EQUAL, Value: 7, PollMask: 0xFF,
			Interval: 100, Count: 1 << 10})}), codes.ResourceExhausted, "did not complete"},
		{"packed and ops", false, exec(&pb.NodeBatch{Ops: ops(read(0)), PackedOps: &pb.PackedBusOps{Kinds: []pb.BusOpKind{1}}}), codes.InvalidArgument, "not both"},
		{"packed empty", false, exec(&pb.NodeBatch{PackedOps: &pb.PackedBusOps{}}), codes.InvalidArgument, "batches[0].packed_ops.kinds"},
		{"packed column", false, exec(&pb.NodeBatch{PackedOps: &pb.PackedBusOps{Kinds: []pb.BusOpKind{1, 1}, Addresses: []uint32{0}}}),
			codes.InvalidArgument, "packed_ops.addresses"},
		{"packed kind", false, exec(&pb.NodeBatch{PackedOps: &pb.PackedBusOps{Kinds: []pb.BusOpKind{1, 0}}}), codes.InvalidArgument, "packed_ops.kinds[1]"},
		{"packed mask", false, exec(&pb.NodeBatch{PackedOps: &pb.PackedBusOps{Kinds: []pb.BusOpKind{2}, ByteMasks: []uint32{16}}}),
			codes.InvalidArgument, "packed_ops.byte_masks[0]"},
		{"packed condition", false, exec(&pb.NodeBatch{PackedOps: &pb.PackedBusOps{Kinds: []pb.BusOpKind{6}, Counts: []uint32{1}}}),
			codes.InvalidArgument, "packed_ops.conditions[0]"},
		{"packed words short", false, exec(&pb.NodeBatch{PackedOps: &pb.PackedBusOps{Kinds: []pb.BusOpKind{4}, Counts: []uint32{2}, Words: []uint32{1}}}),
			codes.InvalidArgument, "packed_ops.words"},
		{"packed words left", false, exec(&pb.NodeBatch{PackedOps: &pb.PackedBusOps{Kinds: []pb.BusOpKind{1}, Words: []uint32{1}}}),
			codes.InvalidArgument, "packed_ops.words"},
		{"packed misaligned block", false, exec(&pb.NodeBatch{PackedOps: &pb.PackedBusOps{Kinds: []pb.BusOpKind{1, 3}, Addresses: []uint32{3, 3}, Counts: []uint32{0, 1}}}),
			codes.InvalidArgument, "packed_ops: operation 1: read-block at 0x3: block address is not 4-byte aligned"},
		{"packed wraps", false, exec(&pb.NodeBatch{PackedOps: &pb.PackedBusOps{Kinds: []pb.BusOpKind{3}, Addresses: []uint32{0xFFFFFFFC}, Counts: []uint32{2}}}),
			codes.OutOfRange, "packed_ops: operation 0"},
		{"packed too many words", false, exec(&pb.NodeBatch{PackedOps: &pb.PackedBusOps{Kinds: []pb.BusOpKind{3, 3}, Counts: []uint32{bus.MaxBatchWords, 1}}}),
			codes.ResourceExhausted, "max_batch_words"},
		{"node still busy", false, exec(&pb.NodeBatch{Node: 1, Ops: ops(read(0))}), codes.FailedPrecondition, "abandoned batch"},

		// Faults and waveforms.
		{"fault link", false, func(ctx context.Context, api pb.SimulatorServiceClient) error {
			_, err := api.SetLinkFaults(ctx, &pb.SetLinkFaultsRequest{Link: 2})
			return err
		}, codes.InvalidArgument, "link"},
		{"fault rate", false, func(ctx context.Context, api pb.SimulatorServiceClient) error {
			_, err := api.SetLinkFaults(ctx, &pb.SetLinkFaultsRequest{Faults: &pb.LinkFaults{BitFlip: math.Inf(1)}})
			return err
		}, codes.InvalidArgument, "faults"},
		{"waveform path", false, func(ctx context.Context, api pb.SimulatorServiceClient) error {
			_, err := api.StartWaveform(ctx, &pb.StartWaveformRequest{})
			return err
		}, codes.InvalidArgument, "path"},
		{"waveform unsupported", false, func(ctx context.Context, api pb.SimulatorServiceClient) error {
			_, err := api.StartWaveform(ctx, &pb.StartWaveformRequest{Path: "/tmp/x.fst"})
			return err
		}, codes.FailedPrecondition, "waveforms"},

		// The real link.
		{"real settings on the ideal link", false, reset(withReset(func(r *pb.ResetSimulationRequest) {
			r.RealLink = &pb.RealLinkConfig{ClockControl: true}
		})), codes.InvalidArgument, "real: real-link settings on the ideal link"},
		{"link model", false, reset(withReset(func(r *pb.ResetSimulationRequest) { r.LinkModel = 7 })),
			codes.InvalidArgument, "link_model: unknown link model 7"},
		{"real ppm count", false, reset(withReset(func(r *pb.ResetSimulationRequest) {
			r.LinkModel, r.RealLink = pb.LinkModel_LINK_MODEL_REAL, &pb.RealLinkConfig{Ppm: []float64{1}}
		})), codes.InvalidArgument, "real_link.ppm: 1 values for 2 nodes"},
		{"real ppm range", false, reset(withReset(func(r *pb.ResetSimulationRequest) {
			r.LinkModel, r.RealLink = pb.LinkModel_LINK_MODEL_REAL, &pb.RealLinkConfig{Ppm: []float64{1, math.NaN()}}
		})), codes.InvalidArgument, "real_link.ppm[1]"},
		{"real eb depth", false, reset(withReset(func(r *pb.ResetSimulationRequest) {
			r.LinkModel, r.RealLink = pb.LinkModel_LINK_MODEL_REAL, &pb.RealLinkConfig{EbDepth: 24}
		})), codes.InvalidArgument, "real_link.eb_depth: 24: want a power of two"},
		{"real eb depth huge", false, reset(withReset(func(r *pb.ResetSimulationRequest) {
			r.LinkModel, r.RealLink = pb.LinkModel_LINK_MODEL_REAL, &pb.RealLinkConfig{EbDepth: math.MaxUint32}
		})), codes.InvalidArgument, "real_link.eb_depth"},
		{"real flap link", false, reset(withReset(func(r *pb.ResetSimulationRequest) {
			r.LinkModel, r.RealLink = pb.LinkModel_LINK_MODEL_REAL, &pb.RealLinkConfig{Flaps: []*pb.Flap{{Link: 9, DownCycle: 1, UpCycle: 2}}}
		})), codes.InvalidArgument, "real_link.flaps[0].link: link 9 (have 2)"},
		{"real flap order", false, reset(withReset(func(r *pb.ResetSimulationRequest) {
			r.LinkModel, r.RealLink = pb.LinkModel_LINK_MODEL_REAL, &pb.RealLinkConfig{Flaps: []*pb.Flap{{DownCycle: 5, UpCycle: 5}}}
		})), codes.InvalidArgument, "real_link.flaps[0]: up_cycle 5 is not after down_cycle 5"},
		{"real up count", false, reset(withReset(func(r *pb.ResetSimulationRequest) {
			r.LinkModel, r.RealLink = pb.LinkModel_LINK_MODEL_REAL, &pb.RealLinkConfig{UpCycles: []uint64{1}}
		})), codes.InvalidArgument, "real_link.up_cycles: 1 values for 2 links"},
		{"real fill", false, reset(withReset(func(r *pb.ResetSimulationRequest) {
			r.LinkModel, r.RealLink = pb.LinkModel_LINK_MODEL_REAL, &pb.RealLinkConfig{NoData: 9}
		})), codes.InvalidArgument, "real_link.no_data: unknown fill 9"},
		{"real link on the reference machine", false, reset(withReset(func(r *pb.ResetSimulationRequest) {
			r.LinkModel = pb.LinkModel_LINK_MODEL_REAL
		})), codes.FailedPrecondition, "the real link needs the Verilated engine"},
		{"link status on the ideal link", false, func(ctx context.Context, api pb.SimulatorServiceClient) error {
			_, err := api.GetLinkStatus(ctx, &pb.GetLinkStatusRequest{})
			return err
		}, codes.FailedPrecondition, "reset with the ideal link"},
		{"node clocks on the ideal link", false, func(ctx context.Context, api pb.SimulatorServiceClient) error {
			_, err := api.GetNodeClocks(ctx, &pb.GetNodeClocksRequest{})
			return err
		}, codes.FailedPrecondition, "reset with the ideal link"},
		{"link events on the ideal link", false, func(ctx context.Context, api pb.SimulatorServiceClient) error {
			_, err := api.ListLinkEvents(ctx, &pb.ListLinkEventsRequest{})
			return err
		}, codes.FailedPrecondition, "reset with the ideal link"},
		{"link status before reset", true, func(ctx context.Context, api pb.SimulatorServiceClient) error {
			_, err := api.GetLinkStatus(ctx, &pb.GetLinkStatusRequest{})
			return err
		}, codes.FailedPrecondition, ""},

		// Sessions.
		{"session node", false, session(&pb.OpenSessionRequest{Batches: []*pb.NodeBatch{{Node: 5, Ops: ops(read(0))}}}),
			codes.InvalidArgument, "batches[0].node"},
		{"session op", false, session(&pb.OpenSessionRequest{Batches: []*pb.NodeBatch{{Ops: ops(idle(0))}}}),
			codes.InvalidArgument, "batches[0].ops[0]"},
		{"session many words", false, session(&pb.OpenSessionRequest{Batches: []*pb.NodeBatch{{Ops: ops(
			&pb.BusOp{Kind: pb.BusOpKind_BUS_OP_KIND_READ_BLOCK, Count: bus.MaxBatchWords + 1})}}}),
			codes.ResourceExhausted, "max_batch_words"},
		{"session busy", false, session(&pb.OpenSessionRequest{Batches: []*pb.NodeBatch{{Ops: ops(idle(100))}, {Ops: ops(read(0))}}}),
			codes.FailedPrecondition, "already has a batch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := c.api
			if tt.fresh {
				api = fresh.api
			}
			err := tt.call(testCtx(t), api)
			st, _ := status.FromError(err)
			if st.Code() != tt.code || !strings.Contains(st.Message(), tt.want) {
				t.Errorf("got %v %q, want %v containing %q", st.Code(), st.Message(), tt.code, tt.want)
			}
		})
	}
	// The failures left the simulation usable.
	if _, err := c.api.StepClock(testCtx(t), &pb.StepClockRequest{Cycles: maxCycles}); err != nil {
		t.Fatal(err)
	}
	r, err := c.api.ExecuteBatch(testCtx(t), &pb.ExecuteBatchRequest{Batches: []*pb.NodeBatch{{Ops: ops(read(0))}, {Node: 1, Ops: ops(read(0))}}})
	if err != nil || r.GetResults()[1].GetResults()[0].GetValue() != bus.Magic {
		t.Errorf("after the errors: %v, %v", r, err)
	}
}

// TestErrStatus checks the mapping of engine and build errors to codes.
func TestErrStatus(t *testing.T) {
	tests := []struct {
		err  error
		code codes.Code
	}{
		{fmt.Errorf("build model: %w: verilator is not on PATH; install it", hw.ErrNoTool), codes.FailedPrecondition},
		{fmt.Errorf("x: %w", hw.ErrBadConfig), codes.InvalidArgument},
		{fmt.Errorf("x: %w", hw.ErrBusy), codes.FailedPrecondition},
		{fmt.Errorf("x: %w", hw.ErrNoWaveforms), codes.FailedPrecondition},
		{fmt.Errorf("x: %w", hw.ErrNoBackdoor), codes.Unimplemented},
		{fmt.Errorf("x: %w", hw.ErrClosed), codes.Unavailable},
		{fmt.Errorf("x: %w", hw.ErrStopped), codes.Aborted},
		{context.Canceled, codes.Canceled},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), codes.DeadlineExceeded},
		{errors.New("something else"), codes.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			err := errStatus(tt.err, "op")
			if got := status.Code(err); got != tt.code {
				t.Errorf("got %v, want %v", got, tt.code)
			}
			if !strings.Contains(err.Error(), tt.err.Error()) {
				t.Errorf("message %q lost %q", err, tt.err)
			}
		})
	}

	// An RTL stop aborts the call that hit it; later calls see a failed precondition.
	s := New(withSim(Options{}))
	s.owners, s.orphans = nil, nil
	first := s.engineErr(fmt.Errorf("run: %w: assertion failed", hw.ErrStopped), "run")
	second := s.engineErr(fmt.Errorf("run: %w: stopped earlier", hw.ErrStopped), "run")
	if status.Code(first) != codes.Aborted || status.Code(second) != codes.FailedPrecondition || !s.stopped {
		t.Errorf("stop: first %v, second %v, stopped %v", first, second, s.stopped)
	}
	if !strings.Contains(first.Error(), "ResetSimulation") {
		t.Errorf("stop message %q does not say how to recover", first)
	}
}

// TestNoVerilator checks that a reset on a machine without Verilator says how to install it.
func TestNoVerilator(t *testing.T) {
	c := newBufconn(t, Options{New: func(context.Context, hw.Config) (hw.Simulator, error) {
		return nil, fmt.Errorf("build model: %w: verilator is not on PATH; install them with `apt-get install -y verilator`", hw.ErrNoTool)
	}})
	_, err := c.api.ResetSimulation(testCtx(t), pairReset(1))
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "apt-get install") {
		t.Errorf("got %v, want FailedPrecondition with the install hint", err)
	}
}
