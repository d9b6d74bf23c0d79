package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ringsim/ringsim/hw"
	pb "github.com/ringsim/ringsim/proto/ringsim/v1"
	"github.com/ringsim/ringsim/sim/bus"
	"github.com/ringsim/ringsim/sim/internal/pbconv"
)

// describe returns the simulation's description. The lock must be held.
func (s *Server) describe() *pb.Simulation {
	e := s.eng
	info := e.Info()
	cfg := info.Config
	m := bus.Map{Depth: cfg.Depth, Ports: cfg.Topology.Ports}
	out := &pb.Simulation{
		NodeCount: uint32(cfg.Topology.Nodes), PortCount: uint32(cfg.Topology.Ports), Depth: uint32(cfg.Depth),
		ClockHz: cfg.ClockHz, Cycle: info.Cycle, Seed: cfg.Seed, TopologyName: s.topology,
		WaveformPath: e.Waveform(), Stopped: s.stopped, Generation: s.gen,
		Model: &pb.ModelBuild{
			Key: info.Model.Key, RtlHash: info.Model.RTLHash, ToolVersions: info.Model.Versions,
			VerilatorVersion: strings.TrimSpace(strings.SplitN(info.Model.Versions, ";", 2)[0]),
			Path:             info.Model.Path, Cached: info.Model.Cached, Waveforms: cfg.Waveforms,
		},
		AddressMap: &pb.AddressMap{
			WindowLog2: uint32(m.WindowLog2()), EnableOffset: m.Enable(), ClearAtCountOffset: m.ClearAtCount(),
		},
		Limits: s.limits(), LinkModel: pbconv.ToLinkModel(cfg.Link),
	}
	if cfg.Link == hw.LinkReal {
		out.RealLink = pbconv.ToRealLink(cfg.Real)
	}
	for p := 0; p < cfg.Topology.Ports; p++ {
		pa := &pb.PortAddresses{Port: uint32(p), TxBase: m.TX(p), RxBase: m.RX(p)}
		if cfg.Link == hw.LinkReal {
			pa.LinkBase = m.Link(p)
		}
		out.AddressMap.Ports = append(out.AddressMap.Ports, pa)
	}
	for n := 0; n < cfg.Topology.Nodes; n++ {
		d := cfg.DNA[n]
		out.Nodes = append(out.Nodes, &pb.NodeInfo{
			Node: uint32(n), ReleaseCycle: cfg.Release[n],
			Dna:  &pb.Dna{Low: d[0], Middle: d[1], High: d[2]},
			Busy: e.Busy(n), SessionOwned: s.owners[n] != nil,
		})
	}
	for i, l := range cfg.Topology.Links {
		out.Links = append(out.Links, s.linkInfo(i, l, cfg))
	}
	return out
}

// linkInfo describes link i, l as it is now (its current faults), of the simulation of
// cfg. The lock must be held.
func (s *Server) linkInfo(i int, l hw.Link, cfg hw.Config) *pb.LinkInfo {
	flips, zeroed, _ := s.eng.FaultCounts(i)
	out := &pb.LinkInfo{
		Index: uint32(i),
		Link: &pb.Link{TxNode: uint32(l.From.Node), TxPort: uint32(l.From.Port), RxNode: uint32(l.To.Node),
			RxPort: uint32(l.To.Port), Latency: l.Latency, Faults: toFaults(l.Faults)},
		FlippedBits: flips, ZeroedFrames: zeroed,
		CounterLatency: counterLatency(l),
	}
	out.RxIndexOffset = -1
	if cfg.Link != hw.LinkReal {
		out.RxIndexOffset = int64(rxIndexOffset(l, cfg.Release, cfg.Depth))
	}
	return out
}

// counterLatency is the cycles from the TX counter reading a word to the RX counter's
// index it is written at: the link latency plus the TX buffer's one-cycle RAM read (SPEC
// section 2, frame(t+1) = mem[count(t)]).
func counterLatency(l hw.Link) uint32 { return l.Latency + 1 }

// rxIndexOffset is where TX word i of l's sender lands in its receiver's RX buffer on the
// ideal link, from reset until a clear_at_count: at RX word (i + offset) mod depth. Each
// node's counters start at 0 in its release cycle.
func rxIndexOffset(l hw.Link, release []uint64, depth int) uint32 {
	d := uint64(depth)
	return uint32((uint64(counterLatency(l))%d + release[l.From.Node]%d + d - release[l.To.Node]%d) % d)
}

func (s *Server) limits() *pb.Limits {
	return &pb.Limits{
		MaxBatchOps: bus.MaxBatchOps, MaxBatchWords: bus.MaxBatchWords, MaxCyclesPerCall: s.maxCycles,
		MaxMessageBytes: MaxMessageBytes, MaxNodes: hw.MaxNodes, MaxPorts: hw.MaxPorts, MaxBufferWords: hw.MaxBufferWords,
	}
}

// DescribeSimulation implements pb.SimulatorServiceServer.DescribeSimulation.
func (s *Server) DescribeSimulation(ctx context.Context, _ *pb.DescribeSimulationRequest) (*pb.DescribeSimulationResponse, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	return &pb.DescribeSimulationResponse{Simulation: s.describe()}, nil
}

// ResetSimulation implements pb.SimulatorServiceServer.ResetSimulation. The model is built
// (or loaded) without the lock, so other clients keep using the old simulation meanwhile.
func (s *Server) ResetSimulation(ctx context.Context, req *pb.ResetSimulationRequest) (*pb.ResetSimulationResponse, error) {
	cfg, err := toConfig(req)
	if err != nil {
		return nil, err
	}
	name := cfg.Topology.Name
	if cfg.RTLDir != "" {
		if st, err := os.Stat(cfg.RTLDir); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "rtl_dir: %v", err)
		} else if !st.IsDir() {
			return nil, status.Errorf(codes.InvalidArgument, "rtl_dir: %s is not a directory", cfg.RTLDir)
		}
	}
	if s.newSim == nil {
		return nil, status.Error(codes.FailedPrecondition, "reset: this server has no simulator to start")
	}
	e, err := s.newSim(ctx, cfg)
	if err != nil {
		return nil, errStatus(err, "reset")
	}
	if err := s.lock(ctx); err != nil {
		e.Close()
		return nil, err
	}
	defer s.unlock()
	if s.closed {
		e.Close()
		return nil, status.Error(codes.Unavailable, "the server is shutting down")
	}
	if s.eng != nil {
		if err := s.eng.Close(); err != nil {
			s.log.Warn("close the previous simulation", "error", err)
		}
	}
	s.eng, s.topology, s.stopped = e, name, false
	s.gen++
	s.owners = make([]*session, e.Nodes())
	s.orphans = make([]bool, e.Nodes())
	info := e.Info()
	s.log.Info("simulation reset", "generation", s.gen, "topology", name, "nodes", e.Nodes(), "ports", e.Ports(),
		"depth", e.Depth(), "seed", info.Config.Seed, "model", info.Model.Key, "cached", info.Model.Cached)
	return &pb.ResetSimulationResponse{Simulation: s.describe()}, nil
}

// StepClock implements pb.SimulatorServiceServer.StepClock.
func (s *Server) StepClock(ctx context.Context, req *pb.StepClockRequest) (*pb.StepClockResponse, error) {
	if req.GetCycles() > s.maxCycles {
		return nil, status.Errorf(codes.ResourceExhausted, "cycles: %d above max_cycles_per_call %d", req.GetCycles(), s.maxCycles)
	}
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	if err := s.advance(ctx, s.eng.Cycle()+req.GetCycles(), nil); err != nil {
		return nil, err
	}
	return &pb.StepClockResponse{Cycle: s.eng.Cycle()}, nil
}

// RunUntilCycle implements pb.SimulatorServiceServer.RunUntilCycle.
func (s *Server) RunUntilCycle(ctx context.Context, req *pb.RunUntilCycleRequest) (*pb.RunUntilCycleResponse, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	now := s.eng.Cycle()
	switch {
	case req.GetCycle() < now:
		return nil, status.Errorf(codes.OutOfRange, "cycle: %d is before the current cycle %d", req.GetCycle(), now)
	case req.GetCycle()-now > s.maxCycles:
		return nil, status.Errorf(codes.ResourceExhausted, "cycle: %d is %d cycles ahead, above max_cycles_per_call %d",
			req.GetCycle(), req.GetCycle()-now, s.maxCycles)
	}
	if err := s.advance(ctx, req.GetCycle(), nil); err != nil {
		return nil, err
	}
	return &pb.RunUntilCycleResponse{Cycle: s.eng.Cycle()}, nil
}

// registerAddr checks a register reference and returns the register's bus address. words
// is the number of 32-bit words accessed.
func (s *Server) registerAddr(node, port uint32, buf pb.RingBuffer, reg pb.Register, index, words uint32) (uint32, error) {
	if err := s.checkNode("node", node); err != nil {
		return 0, err
	}
	if err := s.checkPort("port", port); err != nil {
		return 0, err
	}
	m := bus.Map{Depth: s.eng.Depth(), Ports: s.eng.Ports()}
	var base uint32
	switch buf {
	case pb.RingBuffer_RING_BUFFER_TX:
		base = m.TX(int(port))
	case pb.RingBuffer_RING_BUFFER_RX:
		base = m.RX(int(port))
	default:
		return 0, status.Errorf(codes.InvalidArgument, "buffer: unknown ring buffer %v", buf)
	}
	switch reg {
	case pb.Register_REGISTER_DATA:
		n := uint64(2 * s.eng.Depth())
		if uint64(index) >= n {
			return 0, status.Errorf(codes.OutOfRange, "index: 32-bit word %d is past the buffer (%d words)", index, n)
		}
		if uint64(index)+uint64(words) > n {
			return 0, status.Errorf(codes.OutOfRange, "count: %d words from word %d run past the buffer (%d words)", words, index, n)
		}
		return base + m.Data(0) + 4*index, nil
	case pb.Register_REGISTER_ENABLE, pb.Register_REGISTER_CLEAR_AT_COUNT:
		if index != 0 {
			return 0, status.Errorf(codes.InvalidArgument, "index: must be 0 for %v, got %d", reg, index)
		}
		if words != 1 {
			return 0, status.Errorf(codes.InvalidArgument, "%v is one word, got %d", reg, words)
		}
		if reg == pb.Register_REGISTER_ENABLE {
			return base + m.Enable(), nil
		}
		if buf != pb.RingBuffer_RING_BUFFER_RX {
			return 0, status.Errorf(codes.InvalidArgument, "register: REGISTER_CLEAR_AT_COUNT exists only on RING_BUFFER_RX")
		}
		return base + m.ClearAtCount(), nil
	}
	return 0, status.Errorf(codes.InvalidArgument, "register: unknown register %v", reg)
}

// access runs one bus operation on node through the engine and returns its result.
func (s *Server) access(ctx context.Context, node uint32, op bus.Op) (bus.Result, error) {
	if err := s.busyErr(int(node), "node", nil); err != nil {
		return bus.Result{}, err
	}
	res, err := s.execute(ctx, []nodeBatch{{node: int(node), ops: []bus.Op{op}}})
	if err != nil {
		return bus.Result{}, err
	}
	return res[0][0], nil
}

// readOp and writeOp build the operation for count words at addr.
func readOp(addr, count uint32) bus.Op {
	if count == 1 {
		return bus.Read(addr)
	}
	return bus.ReadBlock(addr, int(count))
}

// writeOp builds the write of values at addr; mask 0 means all four byte lanes.
func writeOp(values []uint32, addr uint32, mask uint32) (bus.Op, error) {
	if len(values) == 0 {
		return bus.Op{}, status.Error(codes.InvalidArgument, "values: nothing to write")
	}
	if mask > 0xF {
		return bus.Op{}, status.Errorf(codes.InvalidArgument, "byte_mask: %#x has bits above 0xF", mask)
	}
	if mask != 0 && mask != 0xF {
		if len(values) != 1 {
			return bus.Op{}, status.Errorf(codes.InvalidArgument, "byte_mask: only for single-word writes, got %d values", len(values))
		}
		return bus.WriteMasked(addr, values[0], uint8(mask)), nil
	}
	if len(values) == 1 {
		return bus.Write(addr, values[0]), nil
	}
	return bus.WriteBlock(addr, values), nil
}

func readValues(op bus.Op, r bus.Result) []uint32 {
	if op.Kind == bus.KindRead {
		if r.Err {
			return nil
		}
		return []uint32{r.Value}
	}
	return r.Words
}

func written(op bus.Op, r bus.Result) uint32 {
	if op.Kind == bus.KindWriteBlock {
		return uint32(r.N)
	}
	if r.Err {
		return 0
	}
	return 1
}

// ReadRegister implements pb.SimulatorServiceServer.ReadRegister.
func (s *Server) ReadRegister(ctx context.Context, req *pb.ReadRegisterRequest) (*pb.ReadRegisterResponse, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	count := max(req.GetCount(), 1)
	addr, err := s.registerAddr(req.GetNode(), req.GetPort(), req.GetBuffer(), req.GetRegister(), req.GetIndex(), count)
	if err != nil {
		return nil, err
	}
	op := readOp(addr, count)
	r, err := s.access(ctx, req.GetNode(), op)
	if err != nil {
		return nil, err
	}
	return &pb.ReadRegisterResponse{Values: readValues(op, r), BusError: r.Err, CompletedCycle: r.Cycle, Cycle: s.eng.Cycle()}, nil
}

// WriteRegister implements pb.SimulatorServiceServer.WriteRegister.
func (s *Server) WriteRegister(ctx context.Context, req *pb.WriteRegisterRequest) (*pb.WriteRegisterResponse, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	if len(req.GetValues()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "values: nothing to write")
	}
	if len(req.GetValues()) > bus.MaxBatchWords {
		return nil, status.Errorf(codes.ResourceExhausted, "values: %d words, limit %d", len(req.GetValues()), bus.MaxBatchWords)
	}
	addr, err := s.registerAddr(req.GetNode(), req.GetPort(), req.GetBuffer(), req.GetRegister(), req.GetIndex(), uint32(len(req.GetValues())))
	if err != nil {
		return nil, err
	}
	op, err := writeOp(req.GetValues(), addr, req.GetByteMask())
	if err != nil {
		return nil, err
	}
	r, err := s.access(ctx, req.GetNode(), op)
	if err != nil {
		return nil, err
	}
	return &pb.WriteRegisterResponse{BusError: r.Err, WordsWritten: written(op, r), CompletedCycle: r.Cycle, Cycle: s.eng.Cycle()}, nil
}

// checkBusRange checks a raw access of count words at addr. A single word may be
// misaligned: it reaches the bus, and the RTL answers ERR (bus_error in the response).
func checkBusRange(addr uint32, count uint64) error {
	if addr%4 != 0 && count > 1 {
		return status.Errorf(codes.InvalidArgument,
			"address: %#x is not 4-byte aligned, which only a single-word access may be (the RTL answers it with ERR); got %d words",
			addr, count)
	}
	if count > bus.MaxBatchWords {
		return status.Errorf(codes.ResourceExhausted, "count: %d words, limit %d (max_batch_words)", count, bus.MaxBatchWords)
	}
	if uint64(addr)+4*(count-1) > 0xFFFFFFFF {
		return status.Errorf(codes.OutOfRange, "count: %d words from %#x run past the end of the 32-bit address space", count, addr)
	}
	return nil
}

// ReadBus implements pb.SimulatorServiceServer.ReadBus.
func (s *Server) ReadBus(ctx context.Context, req *pb.ReadBusRequest) (*pb.ReadBusResponse, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	if err := s.checkNode("node", req.GetNode()); err != nil {
		return nil, err
	}
	count := max(req.GetCount(), 1)
	if err := checkBusRange(req.GetAddress(), uint64(count)); err != nil {
		return nil, err
	}
	op := readOp(req.GetAddress(), count)
	r, err := s.access(ctx, req.GetNode(), op)
	if err != nil {
		return nil, err
	}
	return &pb.ReadBusResponse{Values: readValues(op, r), BusError: r.Err, CompletedCycle: r.Cycle, Cycle: s.eng.Cycle()}, nil
}

// WriteBus implements pb.SimulatorServiceServer.WriteBus.
func (s *Server) WriteBus(ctx context.Context, req *pb.WriteBusRequest) (*pb.WriteBusResponse, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	if err := s.checkNode("node", req.GetNode()); err != nil {
		return nil, err
	}
	if len(req.GetValues()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "values: nothing to write")
	}
	if err := checkBusRange(req.GetAddress(), uint64(len(req.GetValues()))); err != nil {
		return nil, err
	}
	op, err := writeOp(req.GetValues(), req.GetAddress(), req.GetByteMask())
	if err != nil {
		return nil, err
	}
	r, err := s.access(ctx, req.GetNode(), op)
	if err != nil {
		return nil, err
	}
	return &pb.WriteBusResponse{BusError: r.Err, WordsWritten: written(op, r), CompletedCycle: r.Cycle, Cycle: s.eng.Cycle()}, nil
}

// backdoorTarget checks a backdoor reference for n words from index.
func (s *Server) backdoorTarget(node, port uint32, t pb.BackdoorTarget, index uint32, n uint64, write bool) (hw.Target, error) {
	if err := s.checkNode("node", node); err != nil {
		return 0, err
	}
	if err := s.checkPort("port", port); err != nil {
		return 0, err
	}
	var target hw.Target
	mem := false
	switch t {
	case pb.BackdoorTarget_BACKDOOR_TARGET_TX_MEMORY:
		target, mem = hw.TXMem, true
	case pb.BackdoorTarget_BACKDOOR_TARGET_RX_MEMORY:
		target, mem = hw.RXMem, true
	case pb.BackdoorTarget_BACKDOOR_TARGET_TX_ENABLE:
		target = hw.TXEnable
	case pb.BackdoorTarget_BACKDOOR_TARGET_RX_ENABLE:
		target = hw.RXEnable
	case pb.BackdoorTarget_BACKDOOR_TARGET_TX_COUNT:
		target = hw.TXCount
	case pb.BackdoorTarget_BACKDOOR_TARGET_RX_COUNT:
		target = hw.RXCount
	default:
		return 0, status.Errorf(codes.InvalidArgument, "target: unknown backdoor target %v", t)
	}
	if write && (target == hw.TXCount || target == hw.RXCount) {
		return 0, status.Errorf(codes.InvalidArgument, "target: %v is read only", t)
	}
	if !mem {
		if index != 0 {
			return 0, status.Errorf(codes.InvalidArgument, "index: must be 0 for %v, got %d", t, index)
		}
		if n != 1 {
			return 0, status.Errorf(codes.InvalidArgument, "%v is one value, got %d", t, n)
		}
		return target, nil
	}
	d := uint64(s.eng.Depth())
	if uint64(index) >= d {
		return 0, status.Errorf(codes.OutOfRange, "index: word %d is past the buffer (depth %d)", index, d)
	}
	if uint64(index)+n > d {
		return 0, status.Errorf(codes.OutOfRange, "count: %d words from word %d run past the buffer (depth %d)", n, index, d)
	}
	return target, nil
}

// PeekMemory implements pb.SimulatorServiceServer.PeekMemory.
func (s *Server) PeekMemory(ctx context.Context, req *pb.PeekMemoryRequest) (*pb.PeekMemoryResponse, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	n := max(req.GetCount(), 1)
	t, err := s.backdoorTarget(req.GetNode(), req.GetPort(), req.GetTarget(), req.GetIndex(), uint64(n), false)
	if err != nil {
		return nil, err
	}
	out := make([]uint64, n)
	for i := range out {
		v, err := s.eng.Peek(int(req.GetNode()), int(req.GetPort()), t, int(req.GetIndex())+i)
		if err != nil {
			return nil, s.engineErr(err, "peek")
		}
		out[i] = v
	}
	return &pb.PeekMemoryResponse{Values: out}, nil
}

// PokeMemory implements pb.SimulatorServiceServer.PokeMemory.
func (s *Server) PokeMemory(ctx context.Context, req *pb.PokeMemoryRequest) (*pb.PokeMemoryResponse, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	vals := req.GetValues()
	if len(vals) == 0 {
		return nil, status.Error(codes.InvalidArgument, "values: nothing to write")
	}
	t, err := s.backdoorTarget(req.GetNode(), req.GetPort(), req.GetTarget(), req.GetIndex(), uint64(len(vals)), true)
	if err != nil {
		return nil, err
	}
	if (t == hw.TXEnable || t == hw.RXEnable) && vals[0] > 1 {
		return nil, status.Errorf(codes.InvalidArgument, "values[0]: an enable register is 0 or 1, got %d", vals[0])
	}
	for i, v := range vals {
		if err := s.eng.Poke(int(req.GetNode()), int(req.GetPort()), t, int(req.GetIndex())+i, v); err != nil {
			return nil, s.engineErr(err, "poke")
		}
	}
	return &pb.PokeMemoryResponse{}, nil
}

// ExecuteBatch implements pb.SimulatorServiceServer.ExecuteBatch.
func (s *Server) ExecuteBatch(ctx context.Context, req *pb.ExecuteBatchRequest) (*pb.ExecuteBatchResponse, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	if len(req.GetBatches()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "batches: empty")
	}
	batches := make([]nodeBatch, len(req.GetBatches()))
	seen := make(map[uint32]int, len(batches))
	for i, b := range req.GetBatches() {
		f := fmt.Sprintf("batches[%d]", i)
		if b == nil {
			return nil, status.Errorf(codes.InvalidArgument, "%s: missing", f)
		}
		if err := s.checkNode(f+".node", b.GetNode()); err != nil {
			return nil, err
		}
		if j, dup := seen[b.GetNode()]; dup {
			return nil, status.Errorf(codes.InvalidArgument, "%s.node: node %d already has batches[%d]", f, b.GetNode(), j)
		}
		seen[b.GetNode()] = i
		if err := s.busyErr(int(b.GetNode()), f+".node", nil); err != nil {
			return nil, err
		}
		ops, packed, err := batchOps(f, b)
		if err != nil {
			return nil, err
		}
		if c := minCycles(ops); c > s.maxCycles {
			return nil, status.Errorf(codes.ResourceExhausted, "%s: takes at least %d cycles, above max_cycles_per_call %d",
				f, c, s.maxCycles)
		}
		batches[i] = nodeBatch{node: int(b.GetNode()), ops: ops, packed: packed}
	}
	res, err := s.execute(ctx, batches)
	if err != nil {
		return nil, err
	}
	out := &pb.ExecuteBatchResponse{Cycle: s.eng.Cycle(), Results: make([]*pb.NodeResults, len(res))}
	for i, r := range res {
		out.Results[i] = nodeResults(batches[i].node, r, batches[i].packed)
	}
	return out, nil
}

// SetLinkFaults implements pb.SimulatorServiceServer.SetLinkFaults.
func (s *Server) SetLinkFaults(ctx context.Context, req *pb.SetLinkFaultsRequest) (*pb.SetLinkFaultsResponse, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	cfg := s.eng.Info().Config
	links := cfg.Topology.Links
	if n := len(links); req.GetLink() >= uint32(n) {
		return nil, status.Errorf(codes.InvalidArgument, "link: link %d out of range (have %d)", req.GetLink(), n)
	}
	f := fromFaults(req.GetFaults())
	if err := f.Validate(); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "faults: %v", err)
	}
	if err := s.eng.SetFaults(int(req.GetLink()), f); err != nil {
		return nil, s.engineErr(err, "set faults")
	}
	l := links[req.GetLink()]
	l.Faults = f
	return &pb.SetLinkFaultsResponse{Link: s.linkInfo(int(req.GetLink()), l, cfg)}, nil
}

// StartWaveform implements pb.SimulatorServiceServer.StartWaveform.
func (s *Server) StartWaveform(ctx context.Context, req *pb.StartWaveformRequest) (*pb.StartWaveformResponse, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	if req.GetPath() == "" || strings.ContainsRune(req.GetPath(), 0) {
		return nil, status.Error(codes.InvalidArgument, "path: want a file name")
	}
	if !s.eng.Info().Config.Waveforms {
		return nil, status.Error(codes.FailedPrecondition, "the simulation has no waveform support: reset it with waveforms set")
	}
	if p := s.eng.Waveform(); p != "" {
		return nil, status.Errorf(codes.FailedPrecondition, "a waveform dump is already open at %s: stop it first", p)
	}
	path, err := filepath.Abs(req.GetPath())
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "path: %v", err)
	}
	if err := s.eng.StartWaveform(path); err != nil {
		if errors.Is(err, hw.ErrWaveform) {
			return nil, status.Errorf(codes.InvalidArgument, "path: %v", err)
		}
		return nil, s.engineErr(err, "start waveform")
	}
	return &pb.StartWaveformResponse{Path: path, Cycle: s.eng.Cycle()}, nil
}

// StopWaveform implements pb.SimulatorServiceServer.StopWaveform.
func (s *Server) StopWaveform(ctx context.Context, _ *pb.StopWaveformRequest) (*pb.StopWaveformResponse, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	path := s.eng.Waveform()
	if err := s.eng.StopWaveform(); err != nil {
		return nil, s.engineErr(err, "stop waveform")
	}
	return &pb.StopWaveformResponse{Path: path, Cycle: s.eng.Cycle()}, nil
}
