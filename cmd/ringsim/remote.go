package main

import (
	"context"

	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/sim/client"
)

// remote is a `ringsim serve` session as a job's machine, with what the real link's report
// needs (job.realLinkMachine, job.probeMachine) over the client's calls, so that a remote
// run reports the same truth as an embedded one.
type remote struct {
	*client.Client
	ctx context.Context
}

// LinkState returns link's real-link state.
func (r remote) LinkState(link int) (hw.LinkState, error) {
	st, _, err := r.Client.LinkStatus(r.ctx, link)
	if err != nil {
		return hw.LinkState{}, err
	}
	return st[0], nil
}

// Events returns the real link's events from from on (max is ignored: all of them).
func (r remote) Events(from, _ int) ([]hw.Event, error) {
	return r.Client.LinkEvents(r.ctx, uint64(from))
}

// Peek reads one word of ring buffer state through the backdoor.
func (r remote) Peek(node, port int, t hw.Target, index int) (uint64, error) {
	v, err := r.Client.Peek(r.ctx, node, port, t, index, 1)
	if err != nil {
		return 0, err
	}
	return v[0], nil
}

// Poke writes one word of ring buffer state through the backdoor.
func (r remote) Poke(node, port int, t hw.Target, index int, v uint64) error {
	return r.Client.Poke(r.ctx, node, port, t, index, v)
}

// Step runs n cycles.
func (r remote) Step(n uint64) error {
	_, err := r.Client.Step(r.ctx, n)
	return err
}

// Info describes the server's simulation: its effective configuration and model, for the
// report. A zero Info if the server cannot be asked (the report then holds the requested
// configuration).
func (r remote) Info() hw.Info {
	i, err := r.Client.Info(r.ctx)
	if err != nil {
		return hw.Info{}
	}
	return i.Info
}
