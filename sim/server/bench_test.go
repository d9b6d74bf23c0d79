package server

import (
	"context"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection/grpc_reflection_v1"

	pb "github.com/ringsim/ringsim/proto/ringsim/v1"
)

// transports starts a server with a reset pair over bufconn, TCP loopback and a unix
// socket.
func transports(t testing.TB) map[string]*conn {
	out := map[string]*conn{"bufconn": newPair(t, Options{})}
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	out["tcp"] = startServer(t, New(withSim(Options{})), tcp, tcp.Addr().String())
	unix, err := net.Listen("unix", filepath.Join(t.TempDir(), "s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	out["unix"] = startServer(t, New(withSim(Options{})), unix, "unix:"+unix.Addr().String())
	for _, name := range []string{"tcp", "unix"} {
		if _, err := out[name].api.ResetSimulation(testCtx(t), pairReset(1)); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestHealthAndReflection checks, over every transport, that the standard health service
// answers SERVING and that reflection lists the simulator (what grpcurl needs).
func TestHealthAndReflection(t *testing.T) {
	for name, c := range transports(t) {
		t.Run(name, func(t *testing.T) {
			for _, svc := range []string{"", ServiceName} {
				h, err := c.health.Check(testCtx(t), &healthpb.HealthCheckRequest{Service: svc})
				if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
					t.Errorf("health %q: %v, %v", svc, h, err)
				}
			}
			st, err := grpc_reflection_v1.NewServerReflectionClient(c.cc).ServerReflectionInfo(testCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			defer st.CloseSend()
			if err := st.Send(&grpc_reflection_v1.ServerReflectionRequest{
				MessageRequest: &grpc_reflection_v1.ServerReflectionRequest_ListServices{}}); err != nil {
				t.Fatal(err)
			}
			r, err := st.Recv()
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range r.GetListServicesResponse().GetService() {
				names = append(names, s.GetName())
			}
			for _, want := range []string{ServiceName, "grpc.health.v1.Health"} {
				if !slices.Contains(names, want) {
					t.Errorf("reflection lists %v, missing %s", names, want)
				}
			}
			if s, err := c.api.StepClock(testCtx(t), &pb.StepClockRequest{Cycles: 3}); err != nil || s.GetCycle() != 3 {
				t.Errorf("StepClock = %v, %v", s, err)
			}
		})
	}
}

// BenchmarkStepClock measures the server's overhead: a unary StepClock(1) round trip
// against a bare gRPC ping (health Check) on the same transport, interleaved in one run.
// Figures: ping-us, stepclock-us (medians over blocks of calls) and stepclock/ping
// (target <= 1.5).
//
// Run: go test -run '^$' -bench BenchmarkStepClock -benchtime 20000x ./sim/server
func BenchmarkStepClock(b *testing.B) {
	cs := transports(b)
	for _, name := range []string{"bufconn", "tcp", "unix"} {
		c := cs[name]
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			ping := func() {
				if _, err := c.health.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
					b.Fatal(err)
				}
			}
			step := func() {
				if _, err := c.api.StepClock(ctx, &pb.StepClockRequest{Cycles: 1}); err != nil {
					b.Fatal(err)
				}
			}
			for range 200 { // warm up connections and caches
				ping()
				step()
			}
			const block = 100
			var pings, steps []float64
			b.ResetTimer()
			for done := 0; done < b.N; done += block {
				for _, f := range []struct {
					call func()
					out  *[]float64
				}{{ping, &pings}, {step, &steps}} {
					start := time.Now()
					for range block {
						f.call()
					}
					*f.out = append(*f.out, float64(time.Since(start).Microseconds())/block)
				}
			}
			b.StopTimer()
			p, s := median(pings), median(steps)
			b.ReportMetric(p, "ping-us")
			b.ReportMetric(s, "stepclock-us")
			b.ReportMetric(s/p, "stepclock/ping")
			b.ReportMetric(0, "ns/op")
		})
	}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
