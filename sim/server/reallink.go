package server

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ringsim/ringsim/hw"
	pb "github.com/ringsim/ringsim/proto/ringsim/v1"
	"github.com/ringsim/ringsim/sim/internal/pbconv"
)

// MaxEventsPerPage bounds a ListLinkEvents page.
const MaxEventsPerPage = 4096

// realLink returns the simulation as a real-link simulator, or FAILED_PRECONDITION on the
// ideal link. The lock must be held.
func (s *Server) realLink(op string) (hw.RealLinkSimulator, error) {
	if s.eng.Info().Config.Link != hw.LinkReal {
		return nil, status.Errorf(codes.FailedPrecondition, "%s: %v: the simulation was reset with the ideal link", op, hw.ErrNoRealLink)
	}
	r, ok := s.eng.(hw.RealLinkSimulator)
	if !ok {
		return nil, status.Errorf(codes.Unimplemented, "%s: this server's simulator does not model the real link", op)
	}
	return r, nil
}

// GetLinkStatus implements pb.SimulatorServiceServer.GetLinkStatus.
func (s *Server) GetLinkStatus(ctx context.Context, req *pb.GetLinkStatusRequest) (*pb.GetLinkStatusResponse, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	r, err := s.realLink("link status")
	if err != nil {
		return nil, err
	}
	n := len(s.eng.Info().Config.Topology.Links)
	links := req.GetLinks()
	if len(links) == 0 {
		links = make([]uint32, n)
		for i := range links {
			links[i] = uint32(i)
		}
	}
	if len(links) > MaxEventsPerPage {
		return nil, status.Errorf(codes.ResourceExhausted, "links: %d links asked for, limit %d", len(links), MaxEventsPerPage)
	}
	out := &pb.GetLinkStatusResponse{Cycle: s.eng.Cycle()}
	for i, l := range links {
		if l >= uint32(n) {
			return nil, status.Errorf(codes.InvalidArgument, "links[%d]: link %d out of range (have %d)", i, l, n)
		}
		st, err := r.LinkState(int(l))
		if err != nil {
			return nil, s.engineErr(err, "link status")
		}
		out.Links = append(out.Links, pbconv.ToLinkStatus(int(l), st))
	}
	return out, nil
}

// GetNodeClocks implements pb.SimulatorServiceServer.GetNodeClocks.
func (s *Server) GetNodeClocks(ctx context.Context, _ *pb.GetNodeClocksRequest) (*pb.GetNodeClocksResponse, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	r, err := s.realLink("node clocks")
	if err != nil {
		return nil, err
	}
	out := &pb.GetNodeClocksResponse{Cycle: s.eng.Cycle()}
	for n := 0; n < s.eng.Nodes(); n++ {
		c, err := r.NodeClock(n)
		if err != nil {
			return nil, s.engineErr(err, "node clocks")
		}
		out.Clocks = append(out.Clocks, pbconv.ToNodeClock(n, c))
	}
	return out, nil
}

// ListLinkEvents implements pb.SimulatorServiceServer.ListLinkEvents.
func (s *Server) ListLinkEvents(ctx context.Context, req *pb.ListLinkEventsRequest) (*pb.ListLinkEventsResponse, error) {
	max := int(req.GetMaxEvents())
	if max == 0 || max > MaxEventsPerPage {
		max = MaxEventsPerPage
	}
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	r, err := s.realLink("link events")
	if err != nil {
		return nil, err
	}
	if req.GetFrom() > 1<<40 {
		return nil, status.Errorf(codes.OutOfRange, "from: %d is past any event", req.GetFrom())
	}
	from := int(req.GetFrom())
	ev, err := r.Events(from, max+1) // one more tells whether there are more
	if err != nil {
		return nil, s.engineErr(err, "link events")
	}
	out := &pb.ListLinkEventsResponse{Next: uint64(from)}
	if len(ev) > max {
		ev, out.More = ev[:max], true
	}
	for _, e := range ev {
		out.Events = append(out.Events, pbconv.ToEvent(e))
	}
	out.Next += uint64(len(ev))
	return out, nil
}
