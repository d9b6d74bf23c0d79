// Package server serves one ringsim simulation over gRPC as ringsim.v1.SimulatorService,
// with the standard health service and server reflection. It serves any hw.Simulator (as
// go-plugin's GRPCServer wraps an implementation): the Verilated engine in `ringsim serve`,
// the reference machine (sim/simtest) in fast tests.
//
// One simulation runs per server. Calls from every client are serialized by one lock; a
// call waiting for the lock gives up when its context ends. See docs/scripting.md for the
// limits and the status codes.
package server

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/ringsim/ringsim/hw"
	pb "github.com/ringsim/ringsim/proto/ringsim/v1"
	"github.com/ringsim/ringsim/sim/bus"
)

// Limits on requests. The batch limits are the engine's (bus.MaxBatchOps, bus.MaxBatchWords);
// the simulation's limits are the contract's (hw.MaxNodes, hw.MaxPorts, hw.MaxBufferWords).
const (
	// DefaultMaxCycles is the default for Options.MaxCycles: the most cycles one call, or
	// one session run message, simulates (about half a minute for two small nodes).
	DefaultMaxCycles = 1 << 30
	// MaxMessageBytes is the largest request or response message, on server and client.
	MaxMessageBytes = 64 << 20
)

// ServiceName is the gRPC service name, also registered with the health service.
const ServiceName = "ringsim.v1.SimulatorService"

// Options configure a Server.
type Options struct {
	// Logger is defaulted when nil.
	Logger hclog.Logger
	// New starts the simulation a ResetSimulation asks for (cfg is validated, not
	// normalized). ringsim serve passes the Verilated engine; nil answers every reset with
	// FAILED_PRECONDITION.
	New func(ctx context.Context, cfg hw.Config) (hw.Simulator, error)
	// MaxCycles bounds the cycles one call simulates; 0 means DefaultMaxCycles.
	MaxCycles uint64
}

// Server implements ringsim.v1.SimulatorService around an hw.Simulator. Its methods are
// safe for concurrent use.
type Server struct {
	pb.UnimplementedSimulatorServiceServer

	log       hclog.Logger
	maxCycles uint64
	health    *health.Server
	codec     requestCodec
	newSim    func(context.Context, hw.Config) (hw.Simulator, error)

	// sem is the simulation lock: holding its one token protects the fields below.
	sem      chan struct{}
	eng      hw.Simulator
	topology string     // built-in topology name or "custom"
	gen      uint64     // number of resets
	stopped  bool       // the RTL stopped the simulation
	closed   bool       // Close was called
	owners   []*session // per node: the session that owns its batch, or nil
	orphans  []bool     // per node: the batch in flight belongs to an ended session
	nextID   uint64     // session ids

	closeOnce sync.Once
}

var _ pb.SimulatorServiceServer = (*Server)(nil)

// New returns a server with no simulation: the first call must be ResetSimulation.
func New(opts Options) *Server {
	s := &Server{
		log:       opts.Logger,
		maxCycles: opts.MaxCycles,
		health:    health.NewServer(),
		codec:     newRequestCodec(),
		newSim:    opts.New,
		sem:       make(chan struct{}, 1),
	}
	if s.log == nil {
		s.log = hclog.NewNullLogger()
	}
	s.log = s.log.Named("server")
	if s.maxCycles == 0 {
		s.maxCycles = DefaultMaxCycles
	}
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus(ServiceName, healthpb.HealthCheckResponse_SERVING)
	return s
}

// GRPCServerOptions are the options a grpc.Server for this service needs: message size
// limits, handlers that finish before Stop returns, panics turned into INTERNAL, and
// requests that do not parse answered INVALID_ARGUMENT (requestCodec), on every service
// of the grpc.Server.
func (s *Server) GRPCServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ForceServerCodecV2(s.codec),
		grpc.MaxRecvMsgSize(MaxMessageBytes),
		grpc.MaxSendMsgSize(MaxMessageBytes),
		grpc.WaitForHandlers(true),
		grpc.ChainUnaryInterceptor(s.unaryInterceptor),
		grpc.ChainStreamInterceptor(s.streamInterceptor),
	}
}

// Register registers the simulator, the health service and server reflection on gs.
func (s *Server) Register(gs *grpc.Server) {
	pb.RegisterSimulatorServiceServer(gs, s)
	healthpb.RegisterHealthServer(gs, s.health)
	reflection.Register(gs)
}

// NewGRPCServer returns a grpc.Server with the simulator, health and reflection
// registered and the options GRPCServerOptions gives, followed by extra.
func (s *Server) NewGRPCServer(extra ...grpc.ServerOption) *grpc.Server {
	gs := grpc.NewServer(append(s.GRPCServerOptions(), extra...)...)
	s.Register(gs)
	return gs
}

// Close marks the server NOT_SERVING, waits for the call holding the simulation, and closes
// the engine (which closes an open FST dump). Later calls get UNAVAILABLE. It is safe to call
// twice and concurrently.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.health.Shutdown()
		s.sem <- struct{}{}
		defer func() { <-s.sem }()
		s.closed = true
		if s.eng != nil {
			if path := s.eng.Waveform(); path != "" {
				s.log.Info("closing waveform", "path", path)
			}
			err = s.eng.Close()
			s.eng = nil
		}
	})
	return err
}

func (s *Server) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	defer s.recoverPanic(info.FullMethod, &err)
	if err := s.codec.take(req); err != nil {
		return nil, err
	}
	resp, err = h(ctx, req)
	if err != nil && s.log.IsDebug() {
		s.log.Debug("call failed", "method", info.FullMethod, "error", err)
	}
	return resp, err
}

func (s *Server) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	defer s.recoverPanic(info.FullMethod, &err)
	return h(srv, checkedStream{ss, s.codec})
}

// recoverPanic turns a handler panic (a bug) into INTERNAL instead of killing the server.
func (s *Server) recoverPanic(method string, err *error) {
	if r := recover(); r != nil {
		s.log.Error("handler panicked", "method", method, "error", r, "stack", string(debug.Stack()))
		*err = status.Errorf(codes.Internal, "%s: internal error: %v", method, r)
	}
}

// lock takes the simulation lock, giving up when ctx ends.
func (s *Server) lock(ctx context.Context) error {
	select {
	case s.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctxStatus(ctx.Err(), "wait for the simulation")
	}
}

func (s *Server) unlock() { <-s.sem }

// ready reports whether there is a simulation to use. The lock must be held.
func (s *Server) ready() error {
	switch {
	case s.closed:
		return status.Error(codes.Unavailable, "the server is shutting down")
	case s.eng == nil:
		return status.Error(codes.FailedPrecondition, "no simulation: call ResetSimulation first")
	case s.stopped:
		return status.Error(codes.FailedPrecondition, "the RTL stopped the simulation: call ResetSimulation")
	}
	return nil
}

// acquire takes the lock and checks that a simulation is ready; on success the caller must
// unlock.
func (s *Server) acquire(ctx context.Context) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	if err := s.ready(); err != nil {
		s.unlock()
		return err
	}
	return nil
}

func ctxStatus(err error, op string) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return status.Errorf(codes.DeadlineExceeded, "%s: %v", op, err)
	}
	return status.Errorf(codes.Canceled, "%s: %v", op, err)
}

// engineErr converts an engine error to a status. The lock must be held.
func (s *Server) engineErr(err error, op string) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(interface{ GRPCStatus() *status.Status }); ok {
		return err // already a status from this package
	}
	if errors.Is(err, hw.ErrStopped) {
		first := !s.stopped
		s.stopped = true
		s.log.Warn("RTL stopped the simulation", "error", err)
		if first {
			return status.Errorf(codes.Aborted, "%s: %v; call ResetSimulation", op, err)
		}
		return status.Errorf(codes.FailedPrecondition, "%s: %v; call ResetSimulation", op, err)
	}
	return errStatus(err, op)
}

// errStatus maps the contract's errors (package hw) to status codes.
func errStatus(err error, op string) error {
	code := codes.Internal
	var fe *hw.FieldError
	switch {
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, hw.ErrStopped):
		code = codes.Aborted
	case errors.As(err, &fe) && fe.Limit:
		code = codes.ResourceExhausted
	case errors.Is(err, hw.ErrBadNode), errors.Is(err, hw.ErrBadPort), errors.Is(err, hw.ErrBadLink),
		errors.Is(err, hw.ErrBadConfig), errors.Is(err, hw.ErrBadBatch), errors.Is(err, hw.ErrBadBackdoor),
		errors.Is(err, hw.ErrUnknownTopology), errors.Is(err, hw.ErrBadRTL):
		code = codes.InvalidArgument
	case errors.Is(err, hw.ErrBusy), errors.Is(err, hw.ErrNoResults), errors.Is(err, hw.ErrNoWaveforms),
		errors.Is(err, hw.ErrNoTool), errors.Is(err, hw.ErrNoRealLink):
		code = codes.FailedPrecondition
	case errors.Is(err, hw.ErrNoBackdoor):
		code = codes.Unimplemented
	case errors.Is(err, hw.ErrClosed):
		code = codes.Unavailable
	}
	return status.Errorf(code, "%s: %v", op, err)
}

// busyErr explains why node cannot take a batch, or returns nil. The lock must be held.
func (s *Server) busyErr(node int, field string, me *session) error {
	if o := s.owners[node]; o != nil && o != me {
		return status.Errorf(codes.FailedPrecondition, "%s: node %d is in use by session %d", field, node, o.id)
	}
	if o := s.owners[node]; o != nil {
		return status.Errorf(codes.FailedPrecondition, "%s: node %d already has a batch in flight", field, node)
	}
	if s.eng.Busy(node) {
		return status.Errorf(codes.FailedPrecondition,
			"%s: node %d is finishing an abandoned batch (its session ended or its call ran out of cycles); its results are discarded when it completes: step the clock",
			field, node)
	}
	return nil
}

// chunk is the most cycles one engine call runs, so that cancellation is noticed quickly.
func (s *Server) chunk() uint64 {
	return max(1<<10, (1<<21)/uint64(s.eng.Nodes()))
}

// advance runs until the cycle count reaches until, or until stop, called with the nodes
// whose batches completed, returns true. It checks ctx between engine calls and discards
// the results of orphaned batches. The lock must be held.
func (s *Server) advance(ctx context.Context, until uint64, stop func(done []int) bool) error {
	e := s.eng
	for e.Cycle() < until {
		if err := ctx.Err(); err != nil {
			return ctxStatus(err, "run")
		}
		done, err := e.Run(min(until, e.Cycle()+s.chunk()))
		done = s.dropOrphans(done)
		if err != nil {
			return s.engineErr(err, "run")
		}
		if len(done) > 0 && stop != nil && stop(done) {
			return nil
		}
	}
	return nil
}

// dropOrphans discards the results of orphaned batches among done and returns the rest.
func (s *Server) dropOrphans(done []int) []int {
	out := done[:0]
	for _, n := range done {
		if s.orphans[n] {
			s.orphans[n] = false
			_, _ = s.eng.Results(n)
			continue
		}
		out = append(out, n)
	}
	return out
}

// nodeBatch is one node's validated batch.
type nodeBatch struct {
	node   int
	ops    []bus.Op
	packed bool // the results go back packed
}

// execute submits batches (validated, on free nodes) and runs until all complete, at most
// maxCycles. Batches still in flight when it fails are orphaned. The lock must be held.
func (s *Server) execute(ctx context.Context, batches []nodeBatch) ([][]bus.Result, error) {
	e := s.eng
	results := make([][]bus.Result, len(batches))
	index := make(map[int]int, len(batches))
	pending := 0
	abandon := func() {
		for _, b := range batches {
			if i, ok := index[b.node]; ok && results[i] == nil && e.Busy(b.node) {
				s.orphans[b.node] = true
			}
		}
	}
	for i, b := range batches {
		if err := e.Submit(b.node, b.ops); err != nil {
			abandon()
			return nil, s.engineErr(err, fmt.Sprintf("submit to node %d", b.node))
		}
		index[b.node] = i
		pending++
	}
	limit := e.Cycle() + s.maxCycles
	err := s.advance(ctx, limit, func(done []int) bool {
		for _, n := range done {
			if i, ok := index[n]; ok && results[i] == nil {
				r, err := e.Results(n)
				if err != nil {
					continue
				}
				results[i] = r
				pending--
			}
		}
		return pending == 0
	})
	if err == nil && pending > 0 {
		err = status.Errorf(codes.ResourceExhausted,
			"the batch did not complete within %d cycles (max_cycles_per_call); it keeps running in simulated time and its results will be discarded",
			s.maxCycles)
	}
	if err != nil {
		abandon()
		return nil, err
	}
	return results, nil
}
