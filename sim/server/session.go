package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/ringsim/ringsim/proto/ringsim/v1"
)

// session is one OpenSession stream. Its fields are protected by the simulation lock.
type session struct {
	id     uint64
	gen    uint64       // the simulation generation its nodes belong to
	nodes  []int        // nodes it owns: a batch in flight or results not yet delivered
	packed map[int]bool // nodes whose batch was sent packed
}

// OpenSession implements pb.SimulatorServiceServer.OpenSession.
//
// Each request's batches are submitted in order; a request with run set then advances time
// and gets one response. When the stream ends for any reason (the client closed it,
// disconnected, or a request failed), the session's batches in flight keep running in
// simulated time, as a real CPU's bus transactions would, and their results are discarded
// when they complete; completed but undelivered results are discarded at once. The nodes
// then accept new batches as soon as they are idle.
func (s *Server) OpenSession(stream pb.SimulatorService_OpenSessionServer) error {
	ctx := stream.Context()
	if err := s.lock(ctx); err != nil {
		return err
	}
	s.nextID++
	sess := &session{id: s.nextID, packed: map[int]bool{}}
	s.unlock()
	s.log.Debug("session opened", "session", sess.id)
	defer s.endSession(sess)
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		resp, err := s.sessionStep(ctx, sess, req)
		if err != nil {
			return err
		}
		if resp != nil {
			if err := stream.Send(resp); err != nil {
				return err
			}
		}
	}
}

// endSession releases the session's nodes.
func (s *Server) endSession(sess *session) {
	s.sem <- struct{}{}
	defer s.unlock()
	orphaned, dropped := 0, 0
	if s.eng != nil && sess.gen == s.gen {
		for _, n := range sess.nodes {
			s.owners[n] = nil
			if s.eng.Busy(n) {
				s.orphans[n] = true
				orphaned++
			} else {
				_, _ = s.eng.Results(n)
				dropped++
			}
		}
	}
	sess.nodes = nil
	s.log.Debug("session ended", "session", sess.id, "orphaned_batches", orphaned, "dropped_results", dropped)
}

// sessionStep handles one request of a session.
func (s *Server) sessionStep(ctx context.Context, sess *session, req *pb.OpenSessionRequest) (*pb.OpenSessionResponse, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	if len(sess.nodes) > 0 && sess.gen != s.gen {
		sess.nodes = nil
		return nil, status.Errorf(codes.Aborted,
			"the simulation was reset by another call; this session's batches are gone (open a new session)")
	}
	sess.gen = s.gen
	e := s.eng
	for i, b := range req.GetBatches() {
		f := fmt.Sprintf("batches[%d]", i)
		if b == nil {
			return nil, status.Errorf(codes.InvalidArgument, "%s: missing", f)
		}
		if err := s.checkNode(f+".node", b.GetNode()); err != nil {
			return nil, err
		}
		n := int(b.GetNode())
		if err := s.busyErr(n, f+".node", sess); err != nil {
			return nil, err
		}
		ops, packed, err := batchOps(f, b)
		if err != nil {
			return nil, err
		}
		if err := e.Submit(n, ops); err != nil {
			return nil, s.engineErr(err, f)
		}
		sess.packed[n] = packed
		s.owners[n] = sess
		sess.nodes = append(sess.nodes, n)
	}
	run := req.GetRun()
	if run == nil {
		return nil, nil
	}
	resp := &pb.OpenSessionResponse{}
	deliver := func(n int) {
		r, err := e.Results(n)
		if err != nil {
			return
		}
		resp.Completed = append(resp.Completed, nodeResults(n, r, sess.packed[n]))
		s.owners[n] = nil
		if i := slices.Index(sess.nodes, n); i >= 0 {
			sess.nodes = slices.Delete(sess.nodes, i, i+1)
		}
	}
	// Batches that completed while other callers ran the clock.
	for _, n := range slices.Clone(sess.nodes) {
		if !e.Busy(n) {
			deliver(n)
		}
	}
	if now := e.Cycle(); len(resp.Completed) == 0 && run.GetUntilCycle() > now {
		until := run.GetUntilCycle()
		if until-now > s.maxCycles {
			until = now + s.maxCycles
		}
		err := s.advance(ctx, until, func(done []int) bool {
			for _, n := range done {
				if s.owners[n] == sess {
					deliver(n)
				}
			}
			return len(resp.Completed) > 0
		})
		if err != nil {
			return nil, err
		}
	}
	resp.Cycle = e.Cycle()
	return resp, nil
}
