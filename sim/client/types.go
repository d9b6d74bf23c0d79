package client

import (
	"fmt"

	"github.com/ringsim/ringsim/hw"
	pb "github.com/ringsim/ringsim/proto/ringsim/v1"
	"github.com/ringsim/ringsim/sim/bus"
	"github.com/ringsim/ringsim/sim/internal/pbconv"
)

// LinkCounts is what a link's fault injector did so far.
type LinkCounts struct {
	FlippedBits  uint64
	ZeroedFrames uint64
}

// Limits are the server's request limits.
type Limits struct {
	MaxBatchOps      int
	MaxBatchWords    int
	MaxCyclesPerCall uint64
	MaxMessageBytes  int
	MaxNodes         int
	MaxPorts         int
	MaxBufferWords   uint64
}

// Info describes the server's simulation: the contract's description (the effective
// configuration, the cycle and the model) and the server's state around it.
type Info struct {
	hw.Info
	// Counts are each link's fault injector counts, in the order of Config.Topology.Links.
	Counts       []LinkCounts
	Busy         []bool // per node: a batch in flight
	WaveformPath string // the open dump, or ""
	Stopped      bool   // the RTL stopped the simulation
	Generation   uint64 // resets since the server started
	Map          bus.Map
	Limits       Limits
}

// Buffer selects a port's TX or RX ring buffer.
type Buffer int

// The ring buffers.
const (
	TX Buffer = iota + 1
	RX
)

// Register is a ring buffer register.
type Register int

// The registers. Data is addressed by 32-bit word index in [0, 2*Depth).
const (
	Data Register = iota + 1
	Enable
	ClearAtCount
)

// Access is the outcome of a register or raw bus access.
type Access struct {
	Values    []uint32 // words read (fewer than asked after a bus error)
	Err       bool     // the bus answered ERR
	Written   int      // words written before any ERR
	Completed uint64   // cycle in which the access completed
	Cycle     uint64   // next cycle to run after the call
}

// Batch is one node's batch for ExecuteBatch.
type Batch struct {
	Node int
	Ops  []bus.Op
}

var shapes = map[string]pb.TopologyShape{
	"pair": pb.TopologyShape_TOPOLOGY_SHAPE_PAIR,
	"line": pb.TopologyShape_TOPOLOGY_SHAPE_LINE,
	"ring": pb.TopologyShape_TOPOLOGY_SHAPE_RING,
	"mesh": pb.TopologyShape_TOPOLOGY_SHAPE_MESH,
}

func toFaults(f hw.Faults) *pb.LinkFaults {
	if f == (hw.Faults{}) {
		return nil
	}
	return &pb.LinkFaults{BitFlip: f.BitFlip, FrameZero: f.FrameZero}
}

func fromFaults(f *pb.LinkFaults) hw.Faults {
	return hw.Faults{BitFlip: f.GetBitFlip(), FrameZero: f.GetFrameZero()}
}

// toReset converts a configuration to a reset request. A topology that is a built-in one
// (by name, with every link at the same latency and faults) goes as the built-in, so the
// server reports its name; any other as explicit links.
func toReset(cfg hw.Config) (*pb.ResetSimulationRequest, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	req := &pb.ResetSimulationRequest{
		Seed: cfg.Seed, Depth: uint32(cfg.Depth), ReleaseCycles: cfg.Release, MaxSkew: cfg.MaxSkew,
		ClockHz: cfg.ClockHz, Waveforms: cfg.Waveforms, RtlDir: cfg.RTLDir, DisableAssertions: cfg.NoAssert,
		LinkModel: pbconv.ToLinkModel(cfg.Link),
	}
	if cfg.Link == hw.LinkReal {
		req.RealLink = pbconv.ToRealLink(cfg.Real)
	}
	for _, d := range cfg.DNA {
		req.Dna = append(req.Dna, &pb.Dna{Low: d[0], Middle: d[1], High: d[2]})
	}
	t := cfg.Topology
	if b, ok := asBuiltin(t); ok {
		req.Topology = &pb.ResetSimulationRequest_Builtin{Builtin: b}
		return req, nil
	}
	c := &pb.CustomTopology{Nodes: uint32(t.Nodes), Ports: uint32(t.Ports)}
	for _, l := range t.Links {
		c.Links = append(c.Links, &pb.Link{
			TxNode: uint32(l.From.Node), TxPort: uint32(l.From.Port), RxNode: uint32(l.To.Node), RxPort: uint32(l.To.Port),
			Latency: l.Latency, Faults: toFaults(l.Faults), Bidirectional: l.Bidirectional,
		})
	}
	req.Topology = &pb.ResetSimulationRequest_Custom{Custom: c}
	return req, nil
}

// asBuiltin returns t as a built-in topology message if it is one.
func asBuiltin(t hw.Topology) (*pb.BuiltinTopology, bool) {
	shape, ok := shapes[t.Name]
	if !ok || len(t.Links) == 0 {
		return nil, false
	}
	l0 := t.Links[0]
	want, err := hw.Builtin(t.Name, t.Nodes, l0.Latency)
	if err != nil || want.Ports != t.Ports || len(want.Links) != len(t.Links) {
		return nil, false
	}
	for i, l := range t.Links {
		w := want.Links[i]
		if l.From != w.From || l.To != w.To || l.Latency != w.Latency || l.Faults != l0.Faults || l.Bidirectional {
			return nil, false
		}
	}
	return &pb.BuiltinTopology{Shape: shape, Nodes: uint32(t.Nodes), Latency: l0.Latency, Faults: toFaults(l0.Faults)}, true
}

func fromSimulation(s *pb.Simulation) Info {
	m := s.GetModel()
	info := Info{
		Info: hw.Info{
			Config: hw.Config{
				Topology: hw.Topology{Name: s.GetTopologyName(), Nodes: int(s.GetNodeCount()), Ports: int(s.GetPortCount())},
				Depth:    int(s.GetDepth()), Seed: s.GetSeed(), ClockHz: s.GetClockHz(), Waveforms: m.GetWaveforms(),
			},
			Cycle: s.GetCycle(),
			Model: hw.ModelInfo{Key: m.GetKey(), RTLHash: m.GetRtlHash(), Versions: m.GetToolVersions(),
				Path: m.GetPath(), Cached: m.GetCached()},
		},
		WaveformPath: s.GetWaveformPath(), Stopped: s.GetStopped(), Generation: s.GetGeneration(),
		Map: bus.Map{Depth: int(s.GetDepth()), Ports: int(s.GetPortCount())},
	}
	// A server from before the real link sends no model: the ideal link.
	info.Config.Link, _ = pbconv.LinkModel(s.GetLinkModel())
	if info.Config.Link == hw.LinkReal {
		info.Config.Real, _ = pbconv.RealLink(s.GetRealLink())
	}
	if l := s.GetLimits(); l != nil {
		info.Limits = Limits{
			MaxBatchOps: int(l.GetMaxBatchOps()), MaxBatchWords: int(l.GetMaxBatchWords()),
			MaxCyclesPerCall: l.GetMaxCyclesPerCall(), MaxMessageBytes: int(l.GetMaxMessageBytes()),
			MaxNodes: int(l.GetMaxNodes()), MaxPorts: int(l.GetMaxPorts()), MaxBufferWords: l.GetMaxBufferWords(),
		}
	}
	for _, n := range s.GetNodes() {
		d := n.GetDna()
		info.Config.Release = append(info.Config.Release, n.GetReleaseCycle())
		info.Config.DNA = append(info.Config.DNA, [3]uint32{d.GetLow(), d.GetMiddle(), d.GetHigh()})
		info.Busy = append(info.Busy, n.GetBusy())
	}
	for _, l := range s.GetLinks() {
		k := l.GetLink()
		info.Config.Topology.Links = append(info.Config.Topology.Links, hw.Link{
			From:    hw.Endpoint{Node: int(k.GetTxNode()), Port: int(k.GetTxPort())},
			To:      hw.Endpoint{Node: int(k.GetRxNode()), Port: int(k.GetRxPort())},
			Latency: k.GetLatency(), Faults: fromFaults(k.GetFaults()),
		})
		info.Counts = append(info.Counts, LinkCounts{FlippedBits: l.GetFlippedBits(), ZeroedFrames: l.GetZeroedFrames()})
	}
	return info
}

// fromPB converts a batch's results.
func fromPB(rs []*pb.BusResult) []bus.Result {
	out := make([]bus.Result, len(rs))
	for i, r := range rs {
		out[i] = bus.Result{Cycle: r.GetCycle(), Local: r.GetLocalCycle(), Err: r.GetBusError(), Value: r.GetValue(),
			Words: r.GetWords(), N: int(r.GetCount())}
	}
	return out
}

// toPacked converts a batch's operations to columns, leaving out columns that are all
// default.
func toPacked(ops []bus.Op) *pb.PackedBusOps {
	n := len(ops)
	var anyMask, anyCount, anyPoll, anyValue bool
	nwords := 0
	for _, op := range ops {
		switch op.Kind {
		case bus.KindWrite:
			anyMask = anyMask || op.Mask != 0xF
			anyValue = anyValue || op.Value != 0
		case bus.KindReadBlock, bus.KindIdle:
			anyCount = true
		case bus.KindWriteBlock:
			anyCount = true
			nwords += len(op.Words)
		case bus.KindPoll:
			anyPoll, anyCount = true, true
			anyValue = anyValue || op.Value != 0
		}
	}
	p := &pb.PackedBusOps{Kinds: make([]pb.BusOpKind, n), Addresses: make([]uint32, n)}
	if anyValue {
		p.Values = make([]uint32, n)
	}
	if anyMask {
		p.ByteMasks = make([]uint32, n)
	}
	if anyCount {
		p.Counts = make([]uint32, n)
	}
	if anyPoll {
		p.Conditions = make([]pb.PollCondition, n)
		p.PollMasks = make([]uint32, n)
		p.Intervals = make([]uint32, n)
	}
	if nwords > 0 {
		p.Words = make([]uint32, 0, nwords)
	}
	for i, op := range ops {
		p.Kinds[i] = pb.BusOpKind(op.Kind)
		p.Addresses[i] = op.Addr
		switch op.Kind {
		case bus.KindWrite:
			if anyValue {
				p.Values[i] = op.Value
			}
			if anyMask {
				p.ByteMasks[i] = uint32(op.Mask)
			}
		case bus.KindReadBlock, bus.KindIdle:
			p.Counts[i] = op.Count
		case bus.KindWriteBlock:
			p.Counts[i] = uint32(len(op.Words))
			p.Words = append(p.Words, op.Words...)
		case bus.KindPoll:
			p.Counts[i], p.Conditions[i], p.PollMasks[i], p.Intervals[i] = op.Count, pb.PollCondition(op.Cond), op.PollMask, op.Interval
			if anyValue {
				p.Values[i] = op.Value
			}
		}
		if anyMask && op.Kind != bus.KindWrite {
			p.ByteMasks[i] = 0xF
		}
	}
	return p
}

// kindsOf returns the kinds of a batch's operations, to split packed results.
func kindsOf(ops []bus.Op) []bus.Kind {
	k := make([]bus.Kind, len(ops))
	for i, op := range ops {
		k[i] = op.Kind
	}
	return k
}

// fromResults converts a completed batch's results, packed or not; kinds are the batch's
// operation kinds.
func fromResults(r *pb.NodeResults, kinds []bus.Kind) ([]bus.Result, error) {
	p := r.GetPackedResults()
	if p == nil {
		if len(r.GetResults()) != len(kinds) {
			return nil, fmt.Errorf("node %d: %d results for %d operations", r.GetNode(), len(r.GetResults()), len(kinds))
		}
		return fromPB(r.GetResults()), nil
	}
	n := len(kinds)
	if len(p.GetCycles()) != n || len(p.GetBusErrors()) != n || len(p.GetValues()) != n || len(p.GetCounts()) != n {
		return nil, fmt.Errorf("node %d: malformed packed results for %d operations", r.GetNode(), n)
	}
	local := p.GetLocalCycles()
	if len(local) == 0 {
		local = p.GetCycles() // left out where it equals cycles
	} else if len(local) != n {
		return nil, fmt.Errorf("node %d: %d local cycles for %d operations", r.GetNode(), len(local), n)
	}
	out := make([]bus.Result, n)
	words, off := p.GetWords(), 0
	for i := range out {
		out[i] = bus.Result{Cycle: p.Cycles[i], Local: local[i], Err: p.BusErrors[i], Value: p.Values[i], N: int(p.Counts[i])}
		if kinds[i] == bus.KindReadBlock && p.Counts[i] > 0 {
			end := off + int(p.Counts[i])
			if end > len(words) {
				return nil, fmt.Errorf("node %d: packed results hold %d words, operation %d needs more", r.GetNode(), len(words), i)
			}
			out[i].Words = words[off:end:end]
			off = end
		}
	}
	return out, nil
}
