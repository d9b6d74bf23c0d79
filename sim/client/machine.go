package client

import (
	"context"
	"fmt"

	pb "github.com/ringsim/ringsim/proto/ringsim/v1"
	"github.com/ringsim/ringsim/sim/bus"
)

// Nodes implements bridge.Machine.Nodes: the node count as of the last Reset or Info.
func (c *Client) Nodes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info.Config.Topology.Nodes
}

// Ports implements bridge.Machine.Ports.
func (c *Client) Ports() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info.Config.Topology.Ports
}

// Depth implements bridge.Machine.Depth.
func (c *Client) Depth() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info.Config.Depth
}

// ClockHz implements bridge.Machine.ClockHz.
func (c *Client) ClockHz() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info.Config.ClockHz
}

// Cycle implements bridge.Machine.Cycle: the cycle as of the server's last answer to this
// client (other clients may have advanced time since).
func (c *Client) Cycle() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cycle
}

// Submit implements bridge.Machine.Submit. The batch is checked here, as the engine checks
// it, and sent with the next Run, so a lockstep step costs one round trip. An error the
// server finds in it (rare: another client using the node) is returned by that Run.
func (c *Client) Submit(node int, ops []bus.Op) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.info.Config.Topology.Nodes == 0 {
		return ErrNoSimShape
	}
	if node < 0 || node >= c.info.Config.Topology.Nodes {
		return fmt.Errorf("%w: node %d (have %d)", ErrBadNode, node, c.info.Config.Topology.Nodes)
	}
	if c.inflight[node] {
		return fmt.Errorf("submit to node %d: %w", node, ErrBusy)
	}
	if _, err := bus.ValidateBatch(ops); err != nil {
		return fmt.Errorf("%w: node %d: %v", ErrBadBatch, node, err)
	}
	c.pending = append(c.pending, &pb.NodeBatch{Node: uint32(node), PackedOps: toPacked(ops)})
	c.inflight[node] = true
	c.kinds[node] = kindsOf(ops)
	c.hasReady[node] = false
	c.ready[node] = nil
	return nil
}

// Run implements bridge.Machine.Run: it sends the submitted batches and runs until the
// cycle count reaches until or some of this client's batches complete. The server
// simulates at most its max_cycles_per_call per message; Run repeats the message until it
// is done, so the semantics are the engine's.
func (c *Client) Run(until uint64) ([]int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if len(c.pending) == 0 && until <= c.cycle {
		return nil, nil
	}
	if err := c.openSessionLocked(); err != nil {
		return nil, err
	}
	req := &pb.OpenSessionRequest{Batches: c.pending, Run: &pb.SessionRun{UntilCycle: until}}
	c.pending = nil
	for {
		if err := c.stream.Send(req); err != nil {
			return nil, c.failLocked("run", err)
		}
		resp, err := c.stream.Recv()
		if err != nil {
			return nil, c.failLocked("run", err)
		}
		c.cycle = resp.GetCycle()
		var done []int
		for _, r := range resp.GetCompleted() {
			n := int(r.GetNode())
			if n < 0 || n >= len(c.inflight) || !c.inflight[n] {
				return nil, c.failLocked("run", fmt.Errorf("server reported node %d, which has no batch in flight", n))
			}
			res, err := fromResults(r, c.kinds[n])
			if err != nil {
				return nil, c.failLocked("run", err)
			}
			c.inflight[n], c.kinds[n] = false, nil
			c.ready[n], c.hasReady[n] = res, true
			done = append(done, n)
		}
		if len(done) > 0 || c.cycle >= until {
			return done, nil
		}
		req = &pb.OpenSessionRequest{Run: &pb.SessionRun{UntilCycle: until}}
	}
}

// Results implements bridge.Machine.Results: node's completed batch, once.
func (c *Client) Results(node int) ([]bus.Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if node < 0 || node >= len(c.hasReady) {
		return nil, fmt.Errorf("%w: node %d (have %d)", ErrBadNode, node, len(c.hasReady))
	}
	if !c.hasReady[node] {
		return nil, fmt.Errorf("node %d: %w", node, ErrNoResults)
	}
	r := c.ready[node]
	c.ready[node], c.hasReady[node] = nil, false
	return r, nil
}

// Busy reports whether node has a batch submitted by this client that has not completed.
func (c *Client) Busy(node int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return node >= 0 && node < len(c.inflight) && c.inflight[node]
}

// openSessionLocked opens the session stream if needed. c.mu must be held.
func (c *Client) openSessionLocked() error {
	if c.stream != nil {
		return nil
	}
	ctx, cancel := context.WithCancel(c.ctx)
	st, err := c.api.OpenSession(ctx, c.call...)
	if err != nil {
		cancel()
		return wrap("open session", err)
	}
	c.stream, c.sCancel = st, cancel
	return nil
}

// failLocked ends the session after a stream error: the batches in flight are lost (the
// server discards their results). c.mu must be held.
func (c *Client) failLocked(op string, err error) error {
	c.endSessionLocked()
	return wrap(op, fmt.Errorf("%w: %w", ErrNoSession, err))
}

// endSessionLocked closes the session stream and forgets batches in flight and pending.
// c.mu must be held.
func (c *Client) endSessionLocked() {
	if c.stream != nil {
		_ = c.stream.CloseSend()
		c.sCancel()
		c.stream, c.sCancel = nil, nil
	}
	c.pending = nil
	clear(c.inflight)
	clear(c.kinds)
	clear(c.hasReady)
	clear(c.ready)
}
