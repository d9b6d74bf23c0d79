package server

import (
	"errors"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/ringsim/ringsim/proto/ringsim/v1"
	"github.com/ringsim/ringsim/sim/bus"
)

// rawCodec sends a []byte as the request's bytes, whatever they are, and keeps the
// response's bytes in a *[]byte.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, errors.New("rawCodec: send a []byte")
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	p, ok := v.(*[]byte)
	if !ok {
		return errors.New("rawCodec: receive into a *[]byte")
	}
	*p = data.Materialize()
	return nil
}

// TestUnparsableRequest sends bytes that are not a valid protobuf message for the method
// over a real socket, to unary and streaming methods of every registered service: the
// answer is INVALID_ARGUMENT naming the request type, not INTERNAL. A valid request sent
// the same way still works.
func TestUnparsableRequest(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := startServer(t, New(withSim(Options{})), lis, lis.Addr().String())
	if _, err := c.api.ResetSimulation(testCtx(t), pairReset(1)); err != nil {
		t.Fatal(err)
	}
	raw := grpc.ForceCodecV2(rawCodec{})
	garbage := map[string][]byte{
		"invalid wire type": {0xFF, 0xFF, 0xFF},
		"truncated varint":  {0x08, 0x80},
		"field number 0":    {0x00, 0x01},
		"length past end":   {0x0A, 0x10, 'x'},
	}
	tests := []struct {
		method string
		stream *grpc.StreamDesc // nil for unary methods
		typ    string           // the request type the message must name
	}{
		{"/ringsim.v1.SimulatorService/ReadBus", nil, "ringsim.v1.ReadBusRequest"},
		{"/ringsim.v1.SimulatorService/ResetSimulation", nil, "ringsim.v1.ResetSimulationRequest"},
		{"/ringsim.v1.SimulatorService/ExecuteBatch", nil, "ringsim.v1.ExecuteBatchRequest"},
		{"/ringsim.v1.SimulatorService/OpenSession", &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, "ringsim.v1.OpenSessionRequest"},
		{"/grpc.health.v1.Health/Check", nil, "grpc.health.v1.HealthCheckRequest"},
		{"/grpc.health.v1.Health/Watch", &grpc.StreamDesc{ServerStreams: true}, "grpc.health.v1.HealthCheckRequest"},
		{"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", &grpc.StreamDesc{ClientStreams: true, ServerStreams: true},
			"grpc.reflection.v1.ServerReflectionRequest"},
	}
	for _, tt := range tests {
		for name, req := range garbage {
			t.Run(tt.method+"/"+name, func(t *testing.T) {
				ctx := testCtx(t)
				var resp []byte
				var err error
				if tt.stream == nil {
					err = c.cc.Invoke(ctx, tt.method, req, &resp, raw)
				} else {
					var st grpc.ClientStream
					st, err = c.cc.NewStream(ctx, tt.stream, tt.method, raw)
					if err != nil {
						t.Fatal(err)
					}
					if err := st.SendMsg(req); err != nil {
						t.Fatal(err)
					}
					if err := st.CloseSend(); err != nil {
						t.Fatal(err)
					}
					err = st.RecvMsg(&resp)
				}
				want := "request: not a valid " + tt.typ + " message: "
				if st, _ := status.FromError(err); st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), want) {
					t.Errorf("got %v %q, want InvalidArgument starting with %q", st.Code(), st.Message(), want)
				}
			})
		}
	}

	// Nothing was left behind, and the garbage ResetSimulation did not reset.
	n := 0
	c.srv.codec.bad.Range(func(any, any) bool { n++; return true })
	if n != 0 {
		t.Errorf("%d notes of bad requests left in the codec, want 0", n)
	}
	if g := c.describe(t).GetGeneration(); g != 1 {
		t.Errorf("generation %d after the bad requests, want 1", g)
	}

	// The same raw path with valid bytes reads the magic word.
	req, err := proto.Marshal(&pb.ReadBusRequest{Node: 1})
	if err != nil {
		t.Fatal(err)
	}
	var resp []byte
	if err := c.cc.Invoke(testCtx(t), "/ringsim.v1.SimulatorService/ReadBus", req, &resp, raw); err != nil {
		t.Fatal(err)
	}
	var r pb.ReadBusResponse
	if err := proto.Unmarshal(resp, &r); err != nil || len(r.GetValues()) != 1 || r.GetValues()[0] != bus.Magic {
		t.Errorf("valid raw ReadBus: %v, %v", &r, err)
	}
}
