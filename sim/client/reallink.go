package client

import (
	"context"

	"github.com/ringsim/ringsim/hw"
	pb "github.com/ringsim/ringsim/proto/ringsim/v1"
	"github.com/ringsim/ringsim/sim/internal/pbconv"
)

// LinkStatus returns the real link's state of the given links (every link when none are
// given), in the order given, and the next cycle to run. On the ideal link the server
// answers FAILED_PRECONDITION.
func (c *Client) LinkStatus(ctx context.Context, links ...int) ([]hw.LinkState, uint64, error) {
	req := &pb.GetLinkStatusRequest{}
	for _, l := range links {
		if l < 0 {
			return nil, 0, wrap("link status", hw.ErrBadLink)
		}
		req.Links = append(req.Links, uint32(l))
	}
	resp, err := c.api.GetLinkStatus(ctx, req, c.call...)
	if err != nil {
		return nil, 0, wrap("link status", err)
	}
	out := make([]hw.LinkState, len(resp.GetLinks()))
	for i, m := range resp.GetLinks() {
		out[i] = pbconv.LinkStatus(m)
	}
	c.setCycle(resp.GetCycle())
	return out, resp.GetCycle(), nil
}

// NodeClocks returns every node's clock on the real link and the next cycle to run.
func (c *Client) NodeClocks(ctx context.Context) ([]hw.NodeClock, uint64, error) {
	resp, err := c.api.GetNodeClocks(ctx, &pb.GetNodeClocksRequest{}, c.call...)
	if err != nil {
		return nil, 0, wrap("node clocks", err)
	}
	out := make([]hw.NodeClock, len(resp.GetClocks()))
	for i, m := range resp.GetClocks() {
		out[i] = pbconv.NodeClock(m)
	}
	c.setCycle(resp.GetCycle())
	return out, resp.GetCycle(), nil
}

// LinkEvents returns every real-link event from index from on, asking page by page.
func (c *Client) LinkEvents(ctx context.Context, from uint64) ([]hw.Event, error) {
	var out []hw.Event
	for {
		resp, err := c.api.ListLinkEvents(ctx, &pb.ListLinkEventsRequest{From: from}, c.call...)
		if err != nil {
			return nil, wrap("link events", err)
		}
		for _, m := range resp.GetEvents() {
			out = append(out, pbconv.Event(m))
		}
		if !resp.GetMore() {
			return out, nil
		}
		from = resp.GetNext()
	}
}
