// Package client drives a remote ringsim simulation (`ringsim serve`) over gRPC. A
// *Client implements bridge.Machine, so code written for the in-process *sim.Engine runs
// against a remote server unchanged; callers never see protobuf types.
package client

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/ringsim/ringsim/hw"
	pb "github.com/ringsim/ringsim/proto/ringsim/v1"
	"github.com/ringsim/ringsim/sim/bus"
)

// MaxMessageBytes is the largest message the client sends or accepts (the server's limit).
const MaxMessageBytes = 64 << 20

// Errors found by the client itself, before anything is sent. Errors from the server wrap
// its gRPC status: status.Code(err) gives the canonical code.
var (
	ErrBadConfig  = errors.New("bad configuration")
	ErrBadNode    = errors.New("no such node")
	ErrBadBatch   = errors.New("bad batch")
	ErrBusy       = errors.New("node has a batch in flight")
	ErrNoResults  = errors.New("no completed batch")
	ErrClosed     = errors.New("client closed")
	ErrNoSession  = errors.New("session ended")
	ErrNoSimShape = errors.New("simulation shape unknown: call Reset or Info first")
)

// Options configure a Client.
type Options struct {
	// Logger is defaulted when nil.
	Logger hclog.Logger
}

// Client is a connection to a ringsim server. The unary methods (Reset, Info, Step, ...)
// are safe for concurrent use; the bridge.Machine methods (Submit, Run, Results) share one
// lockstep session and, like the engine's, are not meant to be called concurrently with
// each other (they are serialized by a mutex).
type Client struct {
	api    pb.SimulatorServiceClient
	conn   *grpc.ClientConn // owned, or nil
	log    hclog.Logger
	ctx    context.Context // lives until Close
	cancel context.CancelFunc
	call   []grpc.CallOption

	mu       sync.Mutex // protects the fields below
	info     Info       // shape of the simulation as of the last Reset or Info
	cycle    uint64     // the cycle as of the last answer from the server
	stream   pb.SimulatorService_OpenSessionClient
	sCancel  context.CancelFunc
	pending  []*pb.NodeBatch // submitted, not yet sent
	inflight []bool          // per node: submitted and not completed
	kinds    [][]bus.Kind    // per node: the operation kinds of the batch in flight
	ready    [][]bus.Result  // per node: completed results not yet taken
	hasReady []bool
	closed   bool
}

// Dial connects to a server at target ("127.0.0.1:7464", "localhost:7464" or
// "unix:/path/to/socket") and reads the simulation's shape if there is a simulation.
func Dial(ctx context.Context, target string, opts Options) (*Client, error) {
	conn, err := grpc.NewClient(target,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)),
	)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", target, err)
	}
	c := New(conn, opts)
	c.conn = conn
	if _, err := c.Info(ctx); err != nil && status.Code(err) != codes.FailedPrecondition {
		c.Close()
		return nil, fmt.Errorf("dial %s: %w", target, err)
	}
	return c, nil
}

// New returns a client over an existing connection, which it does not close. The shape of
// the simulation is unknown (Nodes returns 0) until Reset or Info.
func New(conn grpc.ClientConnInterface, opts Options) *Client {
	c := &Client{
		api:  pb.NewSimulatorServiceClient(conn),
		log:  opts.Logger,
		call: []grpc.CallOption{grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)},
	}
	if c.log == nil {
		c.log = hclog.NewNullLogger()
	}
	c.log = c.log.Named("client")
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

// Close ends the session (batches in flight keep running on the server and their results
// are discarded) and closes the connection if Dial made it. It is safe to call twice.
func (c *Client) Close() error {
	c.cancel() // first: it ends a Run blocked on the session
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.endSessionLocked()
	c.mu.Unlock()
	if c.conn != nil {
		return c.conn.Close()
	}
	return nil
}

// wrap adds the operation to a server error.
func wrap(op string, err error) error {
	return fmt.Errorf("ringsim %s: %w", op, err)
}

// setShape records a new simulation shape and forgets the session. c.mu must be held.
func (c *Client) setShape(s *pb.Simulation) Info {
	info := fromSimulation(s)
	if info.Config.Topology.Nodes != c.info.Config.Topology.Nodes || info.Generation != c.info.Generation {
		c.endSessionLocked()
		c.inflight = make([]bool, info.Config.Topology.Nodes)
		c.kinds = make([][]bus.Kind, info.Config.Topology.Nodes)
		c.ready = make([][]bus.Result, info.Config.Topology.Nodes)
		c.hasReady = make([]bool, info.Config.Topology.Nodes)
	}
	c.info = info
	c.cycle = info.Cycle
	return info
}

func (c *Client) setCycle(cycle uint64) {
	c.mu.Lock()
	c.cycle = cycle
	c.mu.Unlock()
}

// Reset replaces the server's simulation with a new one at cycle 0 and returns its
// description. It ends this client's session. Building a model for a new depth, port count
// or RTL takes about 15 s once; pass a ctx that allows for it.
func (c *Client) Reset(ctx context.Context, cfg hw.Config) (Info, error) {
	req, err := toReset(cfg)
	if err != nil {
		return Info{}, err
	}
	resp, err := c.api.ResetSimulation(ctx, req, c.call...)
	if err != nil {
		return Info{}, wrap("reset", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.endSessionLocked()
	return c.setShape(resp.GetSimulation()), nil
}

// Info describes the server's simulation and refreshes the cached shape.
func (c *Client) Info(ctx context.Context) (Info, error) {
	resp, err := c.api.DescribeSimulation(ctx, &pb.DescribeSimulationRequest{}, c.call...)
	if err != nil {
		return Info{}, wrap("describe", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.setShape(resp.GetSimulation()), nil
}

// Step runs exactly n cycles and returns the cycle reached.
func (c *Client) Step(ctx context.Context, n uint64) (uint64, error) {
	resp, err := c.api.StepClock(ctx, &pb.StepClockRequest{Cycles: n}, c.call...)
	if err != nil {
		return 0, wrap("step clock", err)
	}
	c.setCycle(resp.GetCycle())
	return resp.GetCycle(), nil
}

// RunUntil runs until the cycle count reaches cycle and returns it.
func (c *Client) RunUntil(ctx context.Context, cycle uint64) (uint64, error) {
	resp, err := c.api.RunUntilCycle(ctx, &pb.RunUntilCycleRequest{Cycle: cycle}, c.call...)
	if err != nil {
		return 0, wrap("run until cycle", err)
	}
	c.setCycle(resp.GetCycle())
	return resp.GetCycle(), nil
}

// ReadRegister reads count 32-bit words (count > 1 only for Data) of a ring buffer
// register through node's bus.
func (c *Client) ReadRegister(ctx context.Context, node, port int, b Buffer, r Register, index, count int) (Access, error) {
	if node < 0 || port < 0 || index < 0 || count < 0 {
		return Access{}, fmt.Errorf("%w: negative node, port, index or count", ErrBadNode)
	}
	resp, err := c.api.ReadRegister(ctx, &pb.ReadRegisterRequest{
		Node: uint32(node), Port: uint32(port), Buffer: pb.RingBuffer(b), Register: pb.Register(r),
		Index: uint32(index), Count: uint32(count),
	}, c.call...)
	if err != nil {
		return Access{}, wrap("read register", err)
	}
	c.setCycle(resp.GetCycle())
	return Access{Values: resp.GetValues(), Err: resp.GetBusError(), Completed: resp.GetCompletedCycle(), Cycle: resp.GetCycle()}, nil
}

// WriteRegister writes values (more than one only for Data) to a ring buffer register
// through node's bus.
func (c *Client) WriteRegister(ctx context.Context, node, port int, b Buffer, r Register, index int, values ...uint32) (Access, error) {
	if node < 0 || port < 0 || index < 0 {
		return Access{}, fmt.Errorf("%w: negative node, port or index", ErrBadNode)
	}
	resp, err := c.api.WriteRegister(ctx, &pb.WriteRegisterRequest{
		Node: uint32(node), Port: uint32(port), Buffer: pb.RingBuffer(b), Register: pb.Register(r),
		Index: uint32(index), Values: values,
	}, c.call...)
	if err != nil {
		return Access{}, wrap("write register", err)
	}
	c.setCycle(resp.GetCycle())
	return Access{Err: resp.GetBusError(), Written: int(resp.GetWordsWritten()), Completed: resp.GetCompletedCycle(), Cycle: resp.GetCycle()}, nil
}

// ReadBus reads count consecutive 32-bit words at a raw bus address of node.
func (c *Client) ReadBus(ctx context.Context, node int, addr uint32, count int) (Access, error) {
	if node < 0 || count < 0 {
		return Access{}, fmt.Errorf("%w: negative node or count", ErrBadNode)
	}
	resp, err := c.api.ReadBus(ctx, &pb.ReadBusRequest{Node: uint32(node), Address: addr, Count: uint32(count)}, c.call...)
	if err != nil {
		return Access{}, wrap("read bus", err)
	}
	c.setCycle(resp.GetCycle())
	return Access{Values: resp.GetValues(), Err: resp.GetBusError(), Completed: resp.GetCompletedCycle(), Cycle: resp.GetCycle()}, nil
}

// WriteBus writes consecutive 32-bit words at a raw bus address of node.
func (c *Client) WriteBus(ctx context.Context, node int, addr uint32, values ...uint32) (Access, error) {
	return c.writeBus(ctx, &pb.WriteBusRequest{Node: uint32(node), Address: addr, Values: values}, node)
}

// WriteBusMasked writes the byte lanes of value selected by mask (bit k = bits [8k+7:8k]).
func (c *Client) WriteBusMasked(ctx context.Context, node int, addr, value uint32, mask uint8) (Access, error) {
	if mask == 0 { // the WriteBus request cannot say "no lanes": send it as a batch
		res, err := c.Execute(ctx, node, []bus.Op{bus.WriteMasked(addr, value, 0)})
		if err != nil {
			return Access{}, err
		}
		c.mu.Lock()
		cycle := c.cycle
		c.mu.Unlock()
		a := Access{Err: res[0].Err, Completed: res[0].Cycle, Cycle: cycle}
		if !a.Err {
			a.Written = 1
		}
		return a, nil
	}
	return c.writeBus(ctx, &pb.WriteBusRequest{Node: uint32(node), Address: addr, Values: []uint32{value}, ByteMask: uint32(mask)}, node)
}

func (c *Client) writeBus(ctx context.Context, req *pb.WriteBusRequest, node int) (Access, error) {
	if node < 0 {
		return Access{}, fmt.Errorf("%w: node %d", ErrBadNode, node)
	}
	resp, err := c.api.WriteBus(ctx, req, c.call...)
	if err != nil {
		return Access{}, wrap("write bus", err)
	}
	c.setCycle(resp.GetCycle())
	return Access{Err: resp.GetBusError(), Written: int(resp.GetWordsWritten()), Completed: resp.GetCompletedCycle(), Cycle: resp.GetCycle()}, nil
}

// Peek reads count words (memories) or the value (registers, counters) of ring buffer
// state without advancing time.
func (c *Client) Peek(ctx context.Context, node, port int, t hw.Target, index, count int) ([]uint64, error) {
	if node < 0 || port < 0 || index < 0 || count < 0 {
		return nil, fmt.Errorf("%w: negative node, port, index or count", ErrBadNode)
	}
	resp, err := c.api.PeekMemory(ctx, &pb.PeekMemoryRequest{
		Node: uint32(node), Port: uint32(port), Target: pb.BackdoorTarget(t), Index: uint32(index), Count: uint32(count),
	}, c.call...)
	if err != nil {
		return nil, wrap("peek", err)
	}
	return resp.GetValues(), nil
}

// Poke writes ring buffer state without advancing time.
func (c *Client) Poke(ctx context.Context, node, port int, t hw.Target, index int, values ...uint64) error {
	if node < 0 || port < 0 || index < 0 {
		return fmt.Errorf("%w: negative node, port or index", ErrBadNode)
	}
	_, err := c.api.PokeMemory(ctx, &pb.PokeMemoryRequest{
		Node: uint32(node), Port: uint32(port), Target: pb.BackdoorTarget(t), Index: uint32(index), Values: values,
	}, c.call...)
	if err != nil {
		return wrap("poke", err)
	}
	return nil
}

// ExecuteBatch runs one batch per listed node with lockstep semantics and returns the
// results in the order of batches.
func (c *Client) ExecuteBatch(ctx context.Context, batches ...Batch) ([][]bus.Result, error) {
	req := &pb.ExecuteBatchRequest{Batches: make([]*pb.NodeBatch, len(batches))}
	for i, b := range batches {
		if b.Node < 0 {
			return nil, fmt.Errorf("%w: node %d", ErrBadNode, b.Node)
		}
		if len(b.Ops) == 0 {
			return nil, fmt.Errorf("%w: empty batch for node %d", ErrBadBatch, b.Node)
		}
		req.Batches[i] = &pb.NodeBatch{Node: uint32(b.Node), PackedOps: toPacked(b.Ops)}
	}
	resp, err := c.api.ExecuteBatch(ctx, req, c.call...)
	if err != nil {
		return nil, wrap("execute batch", err)
	}
	c.setCycle(resp.GetCycle())
	if len(resp.GetResults()) != len(batches) {
		return nil, fmt.Errorf("ringsim execute batch: %d results for %d batches", len(resp.GetResults()), len(batches))
	}
	out := make([][]bus.Result, len(batches))
	for i, r := range resp.GetResults() {
		if out[i], err = fromResults(r, kindsOf(batches[i].Ops)); err != nil {
			return nil, fmt.Errorf("ringsim execute batch: %w", err)
		}
	}
	return out, nil
}

// Execute runs one batch on node to completion, like sim.Engine.Execute.
func (c *Client) Execute(ctx context.Context, node int, ops []bus.Op) ([]bus.Result, error) {
	res, err := c.ExecuteBatch(ctx, Batch{Node: node, Ops: ops})
	if err != nil {
		return nil, err
	}
	return res[0], nil
}

// SetFaults changes a link's fault rates from the next cycle on and returns what its
// injector did so far.
func (c *Client) SetFaults(ctx context.Context, link int, f hw.Faults) (LinkCounts, error) {
	if link < 0 {
		return LinkCounts{}, fmt.Errorf("%w: link %d", ErrBadConfig, link)
	}
	resp, err := c.api.SetLinkFaults(ctx, &pb.SetLinkFaultsRequest{Link: uint32(link), Faults: toFaults(f)}, c.call...)
	if err != nil {
		return LinkCounts{}, wrap("set link faults", err)
	}
	l := resp.GetLink()
	return LinkCounts{FlippedBits: l.GetFlippedBits(), ZeroedFrames: l.GetZeroedFrames()}, nil
}

// StartWaveform starts an FST dump to path on the server and returns its absolute path.
func (c *Client) StartWaveform(ctx context.Context, path string) (string, error) {
	resp, err := c.api.StartWaveform(ctx, &pb.StartWaveformRequest{Path: path}, c.call...)
	if err != nil {
		return "", wrap("start waveform", err)
	}
	return resp.GetPath(), nil
}

// StopWaveform closes the FST dump and returns its path ("" if none was open).
func (c *Client) StopWaveform(ctx context.Context) (string, error) {
	resp, err := c.api.StopWaveform(ctx, &pb.StopWaveformRequest{}, c.call...)
	if err != nil {
		return "", wrap("stop waveform", err)
	}
	c.setCycle(resp.GetCycle())
	return resp.GetPath(), nil
}
