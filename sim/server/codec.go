package server

import (
	"fmt"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// requestCodec is gRPC's proto codec, except that a request message that does not parse
// is not a codec error. grpc-go answers a codec error INTERNAL, which docs/scripting.md
// keeps for server bugs, and it sends that status before any interceptor or handler
// runs. So Unmarshal notes the error against the message instead, resets the message and
// succeeds; before the message reaches a handler, the server's interceptors (every unary
// call in unaryInterceptor, every stream's RecvMsg through streamInterceptor) take the
// note (take) and answer INVALID_ARGUMENT. (A grpc.UnaryInterceptor given to
// NewGRPCServer runs before the server's interceptors and would see such a request reset
// to empty; chained ones run after them.) It is safe for concurrent use.
type requestCodec struct {
	encoding.CodecV2
	bad *sync.Map // request message (a pointer) -> its error message, until take
}

var _ encoding.CodecV2 = requestCodec{}

func newRequestCodec() requestCodec {
	return requestCodec{CodecV2: encoding.GetCodecV2(protocodec.Name), bad: new(sync.Map)}
}

// Unmarshal implements encoding.CodecV2.Unmarshal.
func (c requestCodec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.CodecV2.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	m, ok := v.(proto.Message)
	if !ok {
		return err // not a request message: grpc-go's INTERNAL is right
	}
	proto.Reset(m)
	c.bad.Store(v, fmt.Sprintf("request: not a valid %s message: %v", m.ProtoReflect().Descriptor().FullName(), err))
	return nil
}

// take returns INVALID_ARGUMENT, saying why, if Unmarshal could not parse req, and
// forgets req; otherwise nil.
func (c requestCodec) take(req any) error {
	if msg, ok := c.bad.LoadAndDelete(req); ok {
		return status.Error(codes.InvalidArgument, msg.(string))
	}
	return nil
}

// checkedStream is a server stream whose RecvMsg answers a request that did not parse
// with INVALID_ARGUMENT.
type checkedStream struct {
	grpc.ServerStream
	codec requestCodec
}

// RecvMsg implements grpc.ServerStream.RecvMsg.
func (s checkedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return s.codec.take(m)
}
