package client_test

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/sim"
	"github.com/ringsim/ringsim/sim/client"
	"github.com/ringsim/ringsim/sim/server"
	"github.com/ringsim/ringsim/sim/simtest"
)

// testDepth and the pair topology reuse a cached model (D = 16, one port).
const (
	testDepth   = 16
	testLatency = 4
)

// testConfig is the simulation most tests use, in-process and through the server.
func testConfig(seed uint64) hw.Config {
	return hw.Config{Topology: hw.Pair(testLatency), Depth: testDepth, Seed: seed}
}

// refSim starts the reference machine (sim/simtest): the client's tests run on it, except
// those named RTL, which run on the Verilated engine (rtlSim).
func refSim(ctx context.Context, cfg hw.Config) (hw.Simulator, error) { return simtest.New(ctx, cfg) }

func rtlSim(ctx context.Context, cfg hw.Config) (hw.Simulator, error) {
	e, err := sim.New(ctx, cfg, sim.Options{})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// withSim gives opts the reference machine unless it names a simulator.
func withSim(opts server.Options) server.Options {
	if opts.New == nil {
		opts.New = refSim
	}
	return opts
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// newMachine starts an in-process simulator with start and closes it at the end of the test.
func newMachine(t testing.TB, start func(context.Context, hw.Config) (hw.Simulator, error), cfg hw.Config) hw.Simulator {
	t.Helper()
	e, err := start(testCtx(t), cfg)
	if err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// serve starts a server on lis and stops it at the end of the test.
func serve(t testing.TB, opts server.Options, lis net.Listener) *server.Server {
	t.Helper()
	srv := server.New(withSim(opts))
	gs := srv.NewGRPCServer()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = gs.Serve(lis)
	}()
	t.Cleanup(func() {
		gs.Stop()
		<-done
		if err := srv.Close(); err != nil {
			t.Errorf("server Close: %v", err)
		}
	})
	return srv
}

// newBufconnClient starts a server over bufconn and returns a client of it.
func newBufconnClient(t testing.TB, opts server.Options) *client.Client {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	serve(t, opts, lis)
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(conn, client.Options{})
	t.Cleanup(func() {
		c.Close()
		conn.Close()
	})
	return c
}

// newResetClient is newBufconnClient with a simulation reset to testConfig(seed).
func newResetClient(t testing.TB, opts server.Options, seed uint64) *client.Client {
	t.Helper()
	c := newBufconnClient(t, opts)
	if _, err := c.Reset(testCtx(t), testConfig(seed)); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	return c
}
