package server

import (
	"context"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/test/bufconn"

	"github.com/ringsim/ringsim/hw"
	pb "github.com/ringsim/ringsim/proto/ringsim/v1"
	"github.com/ringsim/ringsim/sim"
	"github.com/ringsim/ringsim/sim/simtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testDepth reuses a cached model (D = 16, one port).
const testDepth = 16

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// pairReset is the reset request most tests use: a pair, both nodes out of reset at 0.
func pairReset(seed uint64) *pb.ResetSimulationRequest {
	return &pb.ResetSimulationRequest{
		Seed: seed, Depth: testDepth, ReleaseCycles: []uint64{0, 0},
		Topology: &pb.ResetSimulationRequest_Builtin{Builtin: &pb.BuiltinTopology{
			Shape: pb.TopologyShape_TOPOLOGY_SHAPE_PAIR, Latency: 4}},
	}
}

// conn is a server with clients of it over bufconn.
type conn struct {
	srv    *Server
	api    pb.SimulatorServiceClient
	health healthpb.HealthClient
	cc     *grpc.ClientConn
}

// startServer serves srv over lis and returns a connection; all is stopped at the end of
// the test.
func startServer(t testing.TB, srv *Server, lis net.Listener, target string, dial ...grpc.DialOption) *conn {
	t.Helper()
	gs := srv.NewGRPCServer()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = gs.Serve(lis)
	}()
	cc, err := grpc.NewClient(target, append(dial,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cc.Close()
		gs.Stop()
		<-done
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &conn{srv: srv, api: pb.NewSimulatorServiceClient(cc), health: healthpb.NewHealthClient(cc), cc: cc}
}

// refSim starts the reference machine (sim/simtest): the server's tests run on it.
func refSim(ctx context.Context, cfg hw.Config) (hw.Simulator, error) { return simtest.New(ctx, cfg) }

// rtlSim starts the Verilated engine, for the tests that need the RTL (waveforms).
func rtlSim(ctx context.Context, cfg hw.Config) (hw.Simulator, error) {
	e, err := sim.New(ctx, cfg, sim.Options{})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// withSim gives opts the reference machine unless it names a simulator.
func withSim(opts Options) Options {
	if opts.New == nil {
		opts.New = refSim
	}
	return opts
}

// newBufconn starts a server with opts over bufconn.
func newBufconn(t testing.TB, opts Options) *conn {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	return startServer(t, New(withSim(opts)), lis, "passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
}

// newPair starts a server over bufconn with a reset pair simulation.
func newPair(t testing.TB, opts Options) *conn {
	t.Helper()
	c := newBufconn(t, opts)
	if _, err := c.api.ResetSimulation(testCtx(t), pairReset(1)); err != nil {
		t.Fatalf("ResetSimulation: %v", err)
	}
	return c
}

// describe returns the simulation's description or fails the test.
func (c *conn) describe(t testing.TB) *pb.Simulation {
	t.Helper()
	r, err := c.api.DescribeSimulation(testCtx(t), &pb.DescribeSimulationRequest{})
	if err != nil {
		t.Fatalf("DescribeSimulation: %v", err)
	}
	return r.GetSimulation()
}

func ops(o ...*pb.BusOp) []*pb.BusOp { return o }

func read(addr uint32) *pb.BusOp {
	return &pb.BusOp{Kind: pb.BusOpKind_BUS_OP_KIND_READ, Address: addr}
}

func idle(n uint32) *pb.BusOp { return &pb.BusOp{Kind: pb.BusOpKind_BUS_OP_KIND_IDLE, Count: n} }
