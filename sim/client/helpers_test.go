package client_test

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/ringsim/ringsim/sim"
	"github.com/ringsim/ringsim/sim/client"
	"github.com/ringsim/ringsim/sim/server"
)

// testDepth and the pair topology reuse a cached model (D = 16, one port).
const (
	testDepth   = 16
	testLatency = 4
)

// engineConfig and clientConfig describe the same simulation for both sides.
func engineConfig(seed uint64) sim.Config {
	return sim.Config{Topology: sim.Pair(testLatency), Depth: testDepth, Seed: seed}
}

func clientConfig(seed uint64) client.Config {
	return client.Config{Topology: client.Pair(testLatency), Depth: testDepth, Seed: seed}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// newEngine starts an in-process engine and closes it at the end of the test.
func newEngine(t testing.TB, cfg sim.Config) *sim.Engine {
	t.Helper()
	e, err := sim.New(testCtx(t), cfg)
	if err != nil {
		t.Fatalf("sim.New: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// serve starts a server on lis and stops it at the end of the test.
func serve(t testing.TB, opts server.Options, lis net.Listener) *server.Server {
	t.Helper()
	srv := server.New(opts)
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

// newResetClient is newBufconnClient with a simulation reset to clientConfig(seed).
func newResetClient(t testing.TB, opts server.Options, seed uint64) *client.Client {
	t.Helper()
	c := newBufconnClient(t, opts)
	if _, err := c.Reset(testCtx(t), clientConfig(seed)); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	return c
}
