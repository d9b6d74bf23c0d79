package client

import (
	"fmt"

	pb "github.com/ringsim/ringsim/proto/ringsim/v1"
	"github.com/ringsim/ringsim/sim/bus"
)

// Config describes a simulation to start with Reset. It mirrors sim.Config without
// importing the engine (the client needs no cgo).
type Config struct {
	// Topology gives the node count, ports per node and the links.
	Topology Topology
	// Depth is the ring buffer depth D in 64-bit words.
	Depth int
	// Seed fixes every random choice: start offsets, DNA, fault injection.
	Seed uint64
	// Release is each node's reset release cycle. Nil means seeded, uniform in [0, MaxSkew].
	Release []uint64
	// MaxSkew bounds seeded release cycles; 0 means 4*Depth.
	MaxSkew uint64
	// DNA is each node's 96-bit device DNA (bits [31:0], [63:32], [95:64]); nil means seeded.
	DNA [][3]uint32
	// ClockHz is the link clock; 0 means 125 MHz.
	ClockHz float64
	// Waveforms builds the model with FST support so StartWaveform works.
	Waveforms bool
	// RTLDir is a directory on the server with node RTL; empty means ringsim's.
	RTLDir string
	// NoAssert builds the model without the RTL's assertions.
	NoAssert bool
}

// Topology is a built-in topology (Shape set) or an explicit one (Shape empty).
type Topology struct {
	// Shape is "pair", "line", "ring" or "mesh" for a built-in topology, "" for an explicit one.
	Shape string
	// Nodes is the node count (0 means 2 for built-in topologies).
	Nodes int
	// Ports is the number of ports per node (explicit topologies only).
	Ports int
	// Latency is every link's latency (built-in topologies only).
	Latency uint32
	// Faults are every link's fault rates (built-in topologies only).
	Faults Faults
	// Links are the links (explicit topologies only).
	Links []Link
}

// Pair is two nodes with one port each, connected both ways.
func Pair(latency uint32) Topology { return Topology{Shape: "pair", Nodes: 2, Latency: latency} }

// Endpoint is one port of one node.
type Endpoint struct {
	Node, Port int
}

// Link carries TX(From) to RX(To) with a latency in cycles.
type Link struct {
	From, To Endpoint
	Latency  uint32
	Faults   Faults
	// Bidirectional, in a Config, also adds the reverse link right after this one.
	Bidirectional bool
}

// Faults are a link's injected fault rates, probabilities in [0, 1].
type Faults struct {
	// BitFlip is the probability that any one bit of a frame is inverted.
	BitFlip float64
	// FrameZero is the probability that a whole frame arrives as zero.
	FrameZero float64
}

// LinkInfo is a link with what its fault injector did so far.
type LinkInfo struct {
	Link
	FlippedBits  uint64
	ZeroedFrames uint64
}

// ModelInfo identifies the model build.
type ModelInfo struct {
	Key              string // hash of everything that went into the build
	RTLHash          string // hash of the RTL sources
	VerilatorVersion string
	ToolVersions     string // Verilator and C++ compiler versions
	Path             string // the model on the server
	Cached           bool
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

// Info describes the server's simulation.
type Info struct {
	Nodes, Ports, Depth int
	ClockHz             float64
	Cycle               uint64
	Seed                uint64
	Topology            string // built-in topology name or "custom"
	Links               []LinkInfo
	Release             []uint64
	DNA                 [][3]uint32
	Busy                []bool // per node: a batch in flight
	Model               ModelInfo
	Waveforms           bool   // the model can dump waveforms
	WaveformPath        string // the open dump, or ""
	Stopped             bool   // the RTL stopped the simulation
	Generation          uint64 // resets since the server started
	Map                 bus.Map
	Limits              Limits
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

// Target names ring buffer state for Peek and Poke.
type Target int

// The backdoor targets. Memories are addressed by 64-bit word index.
const (
	TXMemory Target = iota + 1
	TXEnable
	TXCount // read only
	RXMemory
	RXEnable
	RXCount // read only
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

func toFaults(f Faults) *pb.LinkFaults {
	if f == (Faults{}) {
		return nil
	}
	return &pb.LinkFaults{BitFlip: f.BitFlip, FrameZero: f.FrameZero}
}

func toReset(cfg Config) (*pb.ResetSimulationRequest, error) {
	req := &pb.ResetSimulationRequest{
		Seed: cfg.Seed, Depth: uint32(cfg.Depth), ReleaseCycles: cfg.Release, MaxSkew: cfg.MaxSkew,
		ClockHz: cfg.ClockHz, Waveforms: cfg.Waveforms, RtlDir: cfg.RTLDir, DisableAssertions: cfg.NoAssert,
	}
	if cfg.Depth < 0 || cfg.Depth > 1<<31 {
		return nil, fmt.Errorf("%w: depth %d", ErrBadConfig, cfg.Depth)
	}
	for _, d := range cfg.DNA {
		req.Dna = append(req.Dna, &pb.Dna{Low: d[0], Middle: d[1], High: d[2]})
	}
	t := cfg.Topology
	if t.Nodes < 0 || t.Ports < 0 {
		return nil, fmt.Errorf("%w: %d nodes, %d ports", ErrBadConfig, t.Nodes, t.Ports)
	}
	if t.Shape != "" {
		shape, ok := shapes[t.Shape]
		if !ok {
			return nil, fmt.Errorf("%w: unknown topology %q: want pair, line, ring or mesh", ErrBadConfig, t.Shape)
		}
		req.Topology = &pb.ResetSimulationRequest_Builtin{Builtin: &pb.BuiltinTopology{
			Shape: shape, Nodes: uint32(t.Nodes), Latency: t.Latency, Faults: toFaults(t.Faults)}}
		return req, nil
	}
	c := &pb.CustomTopology{Nodes: uint32(t.Nodes), Ports: uint32(t.Ports)}
	for _, l := range t.Links {
		if l.From.Node < 0 || l.From.Port < 0 || l.To.Node < 0 || l.To.Port < 0 {
			return nil, fmt.Errorf("%w: link %v->%v", ErrBadConfig, l.From, l.To)
		}
		c.Links = append(c.Links, &pb.Link{
			TxNode: uint32(l.From.Node), TxPort: uint32(l.From.Port), RxNode: uint32(l.To.Node), RxPort: uint32(l.To.Port),
			Latency: l.Latency, Faults: toFaults(l.Faults), Bidirectional: l.Bidirectional,
		})
	}
	req.Topology = &pb.ResetSimulationRequest_Custom{Custom: c}
	return req, nil
}

func fromLink(l *pb.LinkInfo) LinkInfo {
	k := l.GetLink()
	return LinkInfo{
		Link: Link{
			From:    Endpoint{Node: int(k.GetTxNode()), Port: int(k.GetTxPort())},
			To:      Endpoint{Node: int(k.GetRxNode()), Port: int(k.GetRxPort())},
			Latency: k.GetLatency(),
			Faults:  Faults{BitFlip: k.GetFaults().GetBitFlip(), FrameZero: k.GetFaults().GetFrameZero()},
		},
		FlippedBits: l.GetFlippedBits(), ZeroedFrames: l.GetZeroedFrames(),
	}
}

func fromSimulation(s *pb.Simulation) Info {
	info := Info{
		Nodes: int(s.GetNodeCount()), Ports: int(s.GetPortCount()), Depth: int(s.GetDepth()),
		ClockHz: s.GetClockHz(), Cycle: s.GetCycle(), Seed: s.GetSeed(), Topology: s.GetTopologyName(),
		Model: ModelInfo{
			Key: s.GetModel().GetKey(), RTLHash: s.GetModel().GetRtlHash(),
			VerilatorVersion: s.GetModel().GetVerilatorVersion(), ToolVersions: s.GetModel().GetToolVersions(),
			Path: s.GetModel().GetPath(), Cached: s.GetModel().GetCached(),
		},
		Waveforms: s.GetModel().GetWaveforms(), WaveformPath: s.GetWaveformPath(), Stopped: s.GetStopped(),
		Generation: s.GetGeneration(),
		Map:        bus.Map{Depth: int(s.GetDepth()), Ports: int(s.GetPortCount())},
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
		info.Release = append(info.Release, n.GetReleaseCycle())
		info.DNA = append(info.DNA, [3]uint32{d.GetLow(), d.GetMiddle(), d.GetHigh()})
		info.Busy = append(info.Busy, n.GetBusy())
	}
	for _, l := range s.GetLinks() {
		info.Links = append(info.Links, fromLink(l))
	}
	return info
}

// fromPB converts a batch's results.
func fromPB(rs []*pb.BusResult) []bus.Result {
	out := make([]bus.Result, len(rs))
	for i, r := range rs {
		out[i] = bus.Result{Cycle: r.GetCycle(), Err: r.GetBusError(), Value: r.GetValue(), Words: r.GetWords(), N: int(r.GetCount())}
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
	out := make([]bus.Result, n)
	words, off := p.GetWords(), 0
	for i := range out {
		out[i] = bus.Result{Cycle: p.Cycles[i], Err: p.BusErrors[i], Value: p.Values[i], N: int(p.Counts[i])}
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
