package server

import (
	"errors"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/ringsim/ringsim/proto/ringsim/v1"
	"github.com/ringsim/ringsim/sim"
	"github.com/ringsim/ringsim/sim/bus"
)

// toOps converts and validates a batch of operations. field names the batch in messages
// ("batches[2]"). A batch above the engine's limits is RESOURCE_EXHAUSTED.
func toOps(field string, in []*pb.BusOp) ([]bus.Op, error) {
	if len(in) == 0 {
		return nil, status.Errorf(codes.InvalidArgument, "%s.ops: empty batch", field)
	}
	if len(in) > bus.MaxBatchOps {
		return nil, status.Errorf(codes.ResourceExhausted, "%s.ops: %d operations, limit %d (max_batch_ops)",
			field, len(in), bus.MaxBatchOps)
	}
	ops := make([]bus.Op, len(in))
	words := 0
	for i, p := range in {
		if err := toOp(p, &ops[i]); err != nil {
			st, _ := status.FromError(err)
			return nil, status.Errorf(st.Code(), "%s.ops[%d]%s", field, i, st.Message())
		}
		words += ops[i].BlockWords()
		if words > bus.MaxBatchWords {
			return nil, status.Errorf(codes.ResourceExhausted, "%s.ops[%d]: more than %d block words in the batch (max_batch_words)",
				field, i, bus.MaxBatchWords)
		}
	}
	return ops, nil
}

// toOp converts and validates one operation. Its error messages start with the sub-field
// (".byte_mask: ...") or ": ", for the caller to prefix with the operation's field.
func toOp(p *pb.BusOp, op *bus.Op) error {
	if p == nil {
		return status.Error(codes.InvalidArgument, ": missing")
	}
	switch p.GetKind() {
	case pb.BusOpKind_BUS_OP_KIND_READ:
		*op = bus.Read(p.GetAddress())
	case pb.BusOpKind_BUS_OP_KIND_WRITE:
		mask := p.GetByteMask()
		if mask == 0 {
			mask = 0xF
		}
		if mask > 0xF {
			return status.Errorf(codes.InvalidArgument, ".byte_mask: %#x has bits above 0xF", mask)
		}
		*op = bus.WriteMasked(p.GetAddress(), p.GetValue(), uint8(mask))
	case pb.BusOpKind_BUS_OP_KIND_READ_BLOCK:
		*op = bus.Op{Kind: bus.KindReadBlock, Addr: p.GetAddress(), Count: p.GetCount()}
	case pb.BusOpKind_BUS_OP_KIND_WRITE_BLOCK:
		*op = bus.WriteBlock(p.GetAddress(), p.GetWords())
	case pb.BusOpKind_BUS_OP_KIND_IDLE:
		*op = bus.Idle(p.GetCount())
	case pb.BusOpKind_BUS_OP_KIND_POLL:
		var c bus.Cond
		switch p.GetCondition() {
		case pb.PollCondition_POLL_CONDITION_EQUAL:
			c = bus.UntilEqual
		case pb.PollCondition_POLL_CONDITION_NOT_EQUAL:
			c = bus.UntilNotEqual
		default:
			return status.Errorf(codes.InvalidArgument, ".condition: unknown poll condition %v", p.GetCondition())
		}
		*op = bus.Poll(p.GetAddress(), c, p.GetPollMask(), p.GetValue(), p.GetInterval(), p.GetCount())
	default:
		return status.Errorf(codes.InvalidArgument, ".kind: unknown operation kind %v", p.GetKind())
	}
	if err := op.Validate(); err != nil {
		code := codes.InvalidArgument
		if errors.Is(err, bus.ErrAddrWrap) {
			code = codes.OutOfRange
		}
		return status.Errorf(code, ": %v", err)
	}
	return nil
}

// minCycles is a lower bound of the cycles a batch takes once it starts.
func minCycles(ops []bus.Op) uint64 {
	var n uint64
	for _, op := range ops {
		switch op.Kind {
		case bus.KindIdle, bus.KindReadBlock:
			n += uint64(op.Count)
		case bus.KindWriteBlock:
			n += uint64(len(op.Words))
		default:
			n++
		}
	}
	return n
}

// toResults converts a batch's results, allocating the messages in one block.
func toResults(rs []bus.Result) []*pb.BusResult {
	block := make([]pb.BusResult, len(rs))
	out := make([]*pb.BusResult, len(rs))
	for i, r := range rs {
		m := &block[i]
		m.Cycle, m.BusError, m.Value, m.Count = r.Cycle, r.Err, r.Value, uint32(r.N)
		if len(r.Words) > 0 {
			m.Words = r.Words
		}
		out[i] = m
	}
	return out
}

// toConfig converts and checks a reset request. Every error is INVALID_ARGUMENT or
// RESOURCE_EXHAUSTED and names the field.
func toConfig(req *pb.ResetSimulationRequest) (sim.Config, string, error) {
	cfg := sim.Config{Seed: req.GetSeed(), MaxSkew: req.GetMaxSkew(), Waveforms: req.GetWaveforms(),
		RTLDir: req.GetRtlDir(), NoAssert: req.GetDisableAssertions()}
	bad := func(format string, args ...any) (sim.Config, string, error) {
		return sim.Config{}, "", status.Errorf(codes.InvalidArgument, format, args...)
	}
	if d := req.GetDepth(); d < 2 || d > 1<<20 {
		return bad("depth: %d outside [2, 1048576]", d)
	}
	cfg.Depth = int(req.GetDepth())
	if hz := req.GetClockHz(); hz != 0 && !(hz >= 1e3 && hz <= 1e12) {
		return bad("clock_hz: %v outside [1e3, 1e12] (0 means 125 MHz)", hz)
	}
	cfg.ClockHz = req.GetClockHz()
	if strings.ContainsRune(cfg.RTLDir, 0) {
		return bad("rtl_dir: contains a NUL byte")
	}

	var t sim.Topology
	name := "custom"
	switch topo := req.GetTopology().(type) {
	case *pb.ResetSimulationRequest_Builtin:
		b := topo.Builtin
		n := int(b.GetNodes())
		if b.GetNodes() == 0 {
			n = 2
		}
		if b.GetNodes() > MaxNodes {
			return sim.Config{}, "", status.Errorf(codes.ResourceExhausted, "builtin.nodes: %d above %d", b.GetNodes(), MaxNodes)
		}
		if b.GetLatency() > sim.MaxLatency {
			return bad("builtin.latency: %d above %d", b.GetLatency(), sim.MaxLatency)
		}
		switch b.GetShape() {
		case pb.TopologyShape_TOPOLOGY_SHAPE_PAIR:
			if n != 2 {
				return bad("builtin.nodes: a pair has 2 nodes, got %d", n)
			}
			t = sim.Pair(b.GetLatency())
		case pb.TopologyShape_TOPOLOGY_SHAPE_LINE:
			t = sim.Line(n, b.GetLatency())
		case pb.TopologyShape_TOPOLOGY_SHAPE_RING:
			t = sim.Ring(n, b.GetLatency())
		case pb.TopologyShape_TOPOLOGY_SHAPE_MESH:
			if n-1 > MaxPorts {
				return sim.Config{}, "", status.Errorf(codes.ResourceExhausted,
					"builtin.nodes: a mesh of %d nodes needs %d ports per node, limit %d", n, n-1, MaxPorts)
			}
			t = sim.FullMesh(n, b.GetLatency())
		default:
			return bad("builtin.shape: unknown topology shape %v", b.GetShape())
		}
		if n < 2 {
			return bad("builtin.nodes: topology %s needs at least 2 nodes, got %d", t.Name, n)
		}
		name = t.Name
		f := toFaults(b.GetFaults())
		if err := f.Validate(); err != nil {
			return bad("builtin.faults: %v", err)
		}
		for i := range t.Links {
			t.Links[i].Faults = f
		}
	case *pb.ResetSimulationRequest_Custom:
		c := topo.Custom
		if c.GetNodes() < 1 || c.GetPorts() < 1 {
			return bad("custom: needs at least one node and one port, got %d nodes and %d ports", c.GetNodes(), c.GetPorts())
		}
		if c.GetNodes() > MaxNodes {
			return sim.Config{}, "", status.Errorf(codes.ResourceExhausted, "custom.nodes: %d above %d", c.GetNodes(), MaxNodes)
		}
		if c.GetPorts() > MaxPorts {
			return sim.Config{}, "", status.Errorf(codes.ResourceExhausted, "custom.ports: %d above %d", c.GetPorts(), MaxPorts)
		}
		t = sim.Topology{Name: "custom", Nodes: int(c.GetNodes()), Ports: int(c.GetPorts())}
		if len(c.GetLinks()) > t.Nodes*t.Ports {
			return bad("custom.links: %d links for %d ports", len(c.GetLinks()), t.Nodes*t.Ports)
		}
		for i, l := range c.GetLinks() {
			if l == nil {
				return bad("custom.links[%d]: missing", i)
			}
			for _, ep := range []struct {
				field      string
				node, port uint32
			}{{"tx", l.GetTxNode(), l.GetTxPort()}, {"rx", l.GetRxNode(), l.GetRxPort()}} {
				if ep.node >= c.GetNodes() {
					return bad("custom.links[%d].%s_node: node %d (have %d)", i, ep.field, ep.node, c.GetNodes())
				}
				if ep.port >= c.GetPorts() {
					return bad("custom.links[%d].%s_port: port %d (have %d)", i, ep.field, ep.port, c.GetPorts())
				}
			}
			f := toFaults(l.GetFaults())
			if err := f.Validate(); err != nil {
				return bad("custom.links[%d].faults: %v", i, err)
			}
			sl := sim.Link{
				From:    sim.Endpoint{Node: int(l.GetTxNode()), Port: int(l.GetTxPort())},
				To:      sim.Endpoint{Node: int(l.GetRxNode()), Port: int(l.GetRxPort())},
				Latency: l.GetLatency(), Faults: f,
			}
			t.Links = append(t.Links, sl)
			if l.GetBidirectional() {
				t.Links = append(t.Links, sim.Link{From: sl.To, To: sl.From, Latency: sl.Latency, Faults: f})
			}
		}
		if err := t.Validate(); err != nil {
			return bad("custom.links: %v", err)
		}
	default:
		return bad("topology: missing: set builtin or custom")
	}
	if t.Ports > MaxPorts {
		return sim.Config{}, "", status.Errorf(codes.ResourceExhausted, "topology: %d ports per node, limit %d", t.Ports, MaxPorts)
	}
	if w := uint64(t.Nodes) * uint64(t.Ports) * uint64(cfg.Depth); w > MaxBufferWords {
		return sim.Config{}, "", status.Errorf(codes.ResourceExhausted,
			"depth: %d nodes x %d ports x depth %d = %d buffer words, limit %d", t.Nodes, t.Ports, cfg.Depth, w, MaxBufferWords)
	}
	cfg.Topology = t

	if r := req.GetReleaseCycles(); len(r) > 0 {
		if len(r) != t.Nodes {
			return bad("release_cycles: %d values for %d nodes", len(r), t.Nodes)
		}
		cfg.Release = append([]uint64(nil), r...)
	}
	if d := req.GetDna(); len(d) > 0 {
		if len(d) != t.Nodes {
			return bad("dna: %d values for %d nodes", len(d), t.Nodes)
		}
		cfg.DNA = make([][3]uint32, len(d))
		for i, x := range d {
			cfg.DNA[i] = [3]uint32{x.GetLow(), x.GetMiddle(), x.GetHigh()}
		}
	}
	return cfg, name, nil
}

func toFaults(f *pb.LinkFaults) sim.Faults {
	return sim.Faults{BitFlip: f.GetBitFlip(), FrameZero: f.GetFrameZero()}
}

func fromFaults(f sim.Faults) *pb.LinkFaults {
	return &pb.LinkFaults{BitFlip: f.BitFlip, FrameZero: f.FrameZero}
}

// checkNode returns INVALID_ARGUMENT unless node exists. The lock must be held.
func (s *Server) checkNode(field string, node uint32) error {
	if n := s.eng.Nodes(); node >= uint32(n) {
		return status.Errorf(codes.InvalidArgument, "%s: node %d out of range (have %d)", field, node, n)
	}
	return nil
}

// checkPort returns INVALID_ARGUMENT unless port exists. The lock must be held.
func (s *Server) checkPort(field string, port uint32) error {
	if n := s.eng.Ports(); port >= uint32(n) {
		return status.Errorf(codes.InvalidArgument, "%s: port %d out of range (have %d)", field, port, n)
	}
	return nil
}

// batchOps converts a NodeBatch's operations, in either form, and says whether they were
// packed (the results then go back packed).
func batchOps(field string, b *pb.NodeBatch) ([]bus.Op, bool, error) {
	p := b.GetPackedOps()
	if p == nil {
		ops, err := toOps(field, b.GetOps())
		return ops, false, err
	}
	if len(b.GetOps()) > 0 {
		return nil, false, status.Errorf(codes.InvalidArgument, "%s: set ops or packed_ops, not both", field)
	}
	ops, err := toOpsPacked(field+".packed_ops", p)
	return ops, true, err
}

// toOpsPacked converts and validates a batch in columns.
func toOpsPacked(field string, p *pb.PackedBusOps) ([]bus.Op, error) {
	n := len(p.GetKinds())
	if n == 0 {
		return nil, status.Errorf(codes.InvalidArgument, "%s.kinds: empty batch", field)
	}
	if n > bus.MaxBatchOps {
		return nil, status.Errorf(codes.ResourceExhausted, "%s.kinds: %d operations, limit %d (max_batch_ops)",
			field, n, bus.MaxBatchOps)
	}
	for _, c := range []struct {
		name string
		len  int
	}{
		{"addresses", len(p.GetAddresses())}, {"values", len(p.GetValues())}, {"byte_masks", len(p.GetByteMasks())},
		{"counts", len(p.GetCounts())}, {"conditions", len(p.GetConditions())}, {"poll_masks", len(p.GetPollMasks())},
		{"intervals", len(p.GetIntervals())},
	} {
		if c.len != 0 && c.len != n {
			return nil, status.Errorf(codes.InvalidArgument, "%s.%s: %d entries for %d operations (want 0 or %d)",
				field, c.name, c.len, n, n)
		}
	}
	at := func(col []uint32, i int) uint32 {
		if len(col) == 0 {
			return 0
		}
		return col[i]
	}
	words := p.GetWords()
	used, blockWords := 0, 0
	ops := make([]bus.Op, n)
	for i, k := range p.GetKinds() {
		op := &ops[i]
		addr, count := at(p.GetAddresses(), i), at(p.GetCounts(), i)
		switch k {
		case pb.BusOpKind_BUS_OP_KIND_READ:
			*op = bus.Read(addr)
		case pb.BusOpKind_BUS_OP_KIND_WRITE:
			mask := uint32(0xF)
			if len(p.GetByteMasks()) > 0 {
				mask = p.GetByteMasks()[i]
			}
			if mask > 0xF {
				return nil, status.Errorf(codes.InvalidArgument, "%s.byte_masks[%d]: %#x has bits above 0xF", field, i, mask)
			}
			*op = bus.WriteMasked(addr, at(p.GetValues(), i), uint8(mask))
		case pb.BusOpKind_BUS_OP_KIND_READ_BLOCK:
			*op = bus.Op{Kind: bus.KindReadBlock, Addr: addr, Count: count}
		case pb.BusOpKind_BUS_OP_KIND_WRITE_BLOCK:
			if uint64(used)+uint64(count) > uint64(len(words)) {
				return nil, status.Errorf(codes.InvalidArgument, "%s.words: operation %d needs %d words, %d are left",
					field, i, count, len(words)-used)
			}
			end := used + int(count)
			*op = bus.WriteBlock(addr, words[used:end:end])
			used = end
		case pb.BusOpKind_BUS_OP_KIND_IDLE:
			*op = bus.Idle(count)
		case pb.BusOpKind_BUS_OP_KIND_POLL:
			var c bus.Cond
			var cond pb.PollCondition
			if len(p.GetConditions()) > 0 {
				cond = p.GetConditions()[i]
			}
			switch cond {
			case pb.PollCondition_POLL_CONDITION_EQUAL:
				c = bus.UntilEqual
			case pb.PollCondition_POLL_CONDITION_NOT_EQUAL:
				c = bus.UntilNotEqual
			default:
				return nil, status.Errorf(codes.InvalidArgument, "%s.conditions[%d]: unknown poll condition %v", field, i, cond)
			}
			*op = bus.Poll(addr, c, at(p.GetPollMasks(), i), at(p.GetValues(), i), at(p.GetIntervals(), i), count)
		default:
			return nil, status.Errorf(codes.InvalidArgument, "%s.kinds[%d]: unknown operation kind %v", field, i, k)
		}
		if err := op.Validate(); err != nil {
			code := codes.InvalidArgument
			if errors.Is(err, bus.ErrAddrWrap) {
				code = codes.OutOfRange
			}
			return nil, status.Errorf(code, "%s: operation %d: %v", field, i, err)
		}
		blockWords += op.BlockWords()
		if blockWords > bus.MaxBatchWords {
			return nil, status.Errorf(codes.ResourceExhausted, "%s: operation %d: more than %d block words in the batch (max_batch_words)",
				field, i, bus.MaxBatchWords)
		}
	}
	if used != len(words) {
		return nil, status.Errorf(codes.InvalidArgument, "%s.words: %d words, the WRITE_BLOCKs take %d", field, len(words), used)
	}
	return ops, nil
}

// nodeResults converts a completed batch's results in the form the batch came in.
func nodeResults(node int, rs []bus.Result, packed bool) *pb.NodeResults {
	if !packed {
		return &pb.NodeResults{Node: uint32(node), Results: toResults(rs)}
	}
	n := len(rs)
	p := &pb.PackedBusResults{Cycles: make([]uint64, n), BusErrors: make([]bool, n), Values: make([]uint32, n), Counts: make([]uint32, n)}
	nw := 0
	for _, r := range rs {
		nw += len(r.Words)
	}
	if nw > 0 {
		p.Words = make([]uint32, 0, nw)
	}
	for i, r := range rs {
		p.Cycles[i], p.BusErrors[i], p.Values[i], p.Counts[i] = r.Cycle, r.Err, r.Value, uint32(r.N)
		p.Words = append(p.Words, r.Words...)
	}
	return &pb.NodeResults{Node: uint32(node), PackedResults: p}
}
