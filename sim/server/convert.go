package server

import (
	"errors"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ringsim/ringsim/hw"
	pb "github.com/ringsim/ringsim/proto/ringsim/v1"
	"github.com/ringsim/ringsim/sim/bus"
	"github.com/ringsim/ringsim/sim/internal/pbconv"
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
		m.Cycle, m.LocalCycle, m.BusError, m.Value, m.Count = r.Cycle, r.Local, r.Err, r.Value, uint32(r.N)
		if len(r.Words) > 0 {
			m.Words = r.Words
		}
		out[i] = m
	}
	return out
}

// toConfig converts and checks a reset request. Every error is INVALID_ARGUMENT or
// RESOURCE_EXHAUSTED and names the field in the request's spelling; the checks themselves
// are the contract's (hw.Config.Validate).
func toConfig(req *pb.ResetSimulationRequest) (hw.Config, error) {
	cfg := hw.Config{Seed: req.GetSeed(), MaxSkew: req.GetMaxSkew(), Waveforms: req.GetWaveforms(),
		RTLDir: req.GetRtlDir(), NoAssert: req.GetDisableAssertions(), ClockHz: req.GetClockHz(),
		Depth: int(min(req.GetDepth(), hw.MaxDepth+1))}
	bad := func(format string, args ...any) (hw.Config, error) {
		return hw.Config{}, status.Errorf(codes.InvalidArgument, format, args...)
	}
	// topo is what the contract calls "topology" in this request.
	topo := "topology"
	switch t := req.GetTopology().(type) {
	case *pb.ResetSimulationRequest_Builtin:
		b := t.Builtin
		name, ok := shapeNames[b.GetShape()]
		if !ok {
			return bad("builtin.shape: unknown topology shape %v", b.GetShape())
		}
		f := fromFaults(b.GetFaults())
		if err := f.Validate(); err != nil {
			return hw.Config{}, fieldStatus(hw.Prefix("builtin.faults", err), "")
		}
		tp, err := hw.Builtin(name, int(min(b.GetNodes(), hw.MaxNodes+1)), b.GetLatency())
		if err != nil {
			return hw.Config{}, fieldStatus(hw.Prefix("builtin", err), "")
		}
		tp.SetFaults(f)
		cfg.Topology = tp
	case *pb.ResetSimulationRequest_Custom:
		c := t.Custom
		topo = "custom"
		cfg.Topology = hw.Topology{Name: "custom", Nodes: int(min(c.GetNodes(), hw.MaxNodes+1)),
			Ports: int(min(c.GetPorts(), hw.MaxPorts+1))}
		if len(c.GetLinks()) > cfg.Topology.Nodes*cfg.Topology.Ports {
			return bad("custom.links: %d links for %d ports", len(c.GetLinks()), cfg.Topology.Nodes*cfg.Topology.Ports)
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
			hl := hw.Link{
				From:    hw.Endpoint{Node: int(l.GetTxNode()), Port: int(l.GetTxPort())},
				To:      hw.Endpoint{Node: int(l.GetRxNode()), Port: int(l.GetRxPort())},
				Latency: l.GetLatency(), Faults: fromFaults(l.GetFaults()),
			}
			cfg.Topology.Links = append(cfg.Topology.Links, hl)
			if l.GetBidirectional() {
				cfg.Topology.Links = append(cfg.Topology.Links, hw.Link{From: hl.To, To: hl.From, Latency: hl.Latency, Faults: hl.Faults})
			}
		}
	default:
		return bad("topology: missing: set builtin or custom")
	}
	if r := req.GetReleaseCycles(); len(r) > 0 {
		cfg.Release = append([]uint64(nil), r...)
	}
	if d := req.GetDna(); len(d) > 0 {
		cfg.DNA = make([][3]uint32, len(d))
		for i, x := range d {
			cfg.DNA[i] = [3]uint32{x.GetLow(), x.GetMiddle(), x.GetHigh()}
		}
	}
	var err error
	if cfg.Link, err = pbconv.LinkModel(req.GetLinkModel()); err != nil {
		return bad("link_model: %v", err)
	}
	if cfg.Real, err = pbconv.RealLink(req.GetRealLink()); err != nil {
		return bad("real_link.%v", err)
	}
	if err := cfg.Validate(); err != nil {
		return hw.Config{}, fieldStatus(err, topo)
	}
	return cfg, nil
}

// fieldStatus turns a contract error into a status naming the request's field: the
// contract's "topology." becomes topo (the request's oneof: "custom.", "builtin.").
func fieldStatus(err error, topo string) error {
	var fe *hw.FieldError
	if !errors.As(err, &fe) {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	field := fe.Field
	if rest, ok := strings.CutPrefix(field, "real."); ok {
		field = "real_link." + rest // the contract spells the fields as the request
	}
	if rest, ok := strings.CutPrefix(field, "topology."); ok && topo != "" {
		field = topo + "." + rest
	}
	code := codes.InvalidArgument
	if fe.Limit {
		code = codes.ResourceExhausted
	}
	return status.Errorf(code, "%s: %s", field, fe.Msg)
}

var shapeNames = map[pb.TopologyShape]string{
	pb.TopologyShape_TOPOLOGY_SHAPE_PAIR: "pair",
	pb.TopologyShape_TOPOLOGY_SHAPE_LINE: "line",
	pb.TopologyShape_TOPOLOGY_SHAPE_RING: "ring",
	pb.TopologyShape_TOPOLOGY_SHAPE_MESH: "mesh",
}

func fromFaults(f *pb.LinkFaults) hw.Faults {
	return hw.Faults{BitFlip: f.GetBitFlip(), FrameZero: f.GetFrameZero()}
}

func toFaults(f hw.Faults) *pb.LinkFaults {
	return &pb.LinkFaults{BitFlip: f.BitFlip, FrameZero: f.FrameZero}
}

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
	local := false
	for i, r := range rs {
		p.Cycles[i], p.BusErrors[i], p.Values[i], p.Counts[i] = r.Cycle, r.Err, r.Value, uint32(r.N)
		p.Words = append(p.Words, r.Words...)
		local = local || r.Local != r.Cycle
	}
	if local { // the column is left out when it would repeat cycles
		p.LocalCycles = make([]uint64, n)
		for i, r := range rs {
			p.LocalCycles[i] = r.Local
		}
	}
	return &pb.NodeResults{Node: uint32(node), PackedResults: p}
}
