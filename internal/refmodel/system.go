package refmodel

import (
	"fmt"

	"github.com/ringsim/ringsim/sim/bus"
)

// System is one Node driven by its Master with the harness's per-cycle order (run_loop in
// harness.cpp): the TX frames of cycle c are sampled, the RX frames of cycle c are applied,
// the master presents its request if the node is out of reset, the node answers, the master
// samples the answer, and the clock edge ends the cycle.
//
// It mirrors the engine's batch protocol: Submit a batch, Run until the end of the cycle in
// which it completed, Take the results, Submit the next one (it starts in the next cycle).
type System struct {
	Node   *Node
	Master *Master
	rx     []uint64 // one cycle's RX frames, scratch
}

// NewSystem returns a node and an idle master at global cycle 0.
func NewSystem(cfg Config) (*System, error) {
	n, err := NewNode(cfg)
	if err != nil {
		return nil, err
	}
	return &System{Node: n, Master: NewMaster(), rx: make([]uint64, cfg.Ports)}, nil
}

// Cycle returns the global cycle the next Step evaluates.
func (s *System) Cycle() uint64 { return s.Node.Cycle() }

// Submit queues a batch for the master (see Master.Submit). It starts in the first cycle
// stepped from now on in which the node is out of reset.
func (s *System) Submit(ops []bus.Op) error { return s.Master.Submit(ops) }

// Take returns the results of the completed batch (see Master.Take).
func (s *System) Take() ([]bus.Result, error) { return s.Master.Take() }

// Step runs one cycle. rx[p] is port p's RX frame (nil or short: zero); tx[p], for p <
// len(tx), receives port p's TX frame of the cycle. It reports whether the batch completed
// in this cycle. Step does not allocate.
func (s *System) Step(rx, tx []uint64) bool {
	n := s.Node
	for p := 0; p < len(tx) && p < n.ports; p++ {
		tx[p] = n.tx[p].frame
	}
	return s.step(rx)
}

// step runs one cycle with RX frames rx.
func (s *System) step(rx []uint64) bool {
	n, m := s.Node, s.Master
	c := n.cycle
	if c < n.release || !m.busy {
		n.Step(Request{}, rx)
		return false
	}
	var req Request
	if m.idleLeft == 0 {
		req = m.Request()
	}
	return m.Sample(n.Step(req, rx), c)
}

// Run runs cycles from Cycle() until the global cycle until (exclusive) or until the end of
// the cycle in which the batch completed, whichever comes first, like the engine's Run. In
// the i-th cycle of the call, rx[p][i] is port p's RX frame (missing entries are zero) and
// tx[p][i], if it exists, receives port p's TX frame. It returns the number of cycles run and
// whether the batch completed. Run does not allocate.
func (s *System) Run(until uint64, rx, tx [][]uint64) (int, bool) {
	n := s.Node
	start := n.cycle
	for c := start; c < until; c++ {
		i := c - start
		for p := range n.ports {
			var f uint64
			if p < len(rx) && i < uint64(len(rx[p])) {
				f = rx[p][i]
			}
			s.rx[p] = f
			if p < len(tx) && i < uint64(len(tx[p])) {
				tx[p][i] = n.tx[p].frame
			}
		}
		if s.step(s.rx) {
			return int(i + 1), true
		}
	}
	return int(until - start), false
}

// Trace is the output of Simulate.
type Trace struct {
	TX      [][]uint64     // TX[p][c]: port p's TX frame in global cycle c
	Results [][]bus.Result // results of the batches that completed, in order
}

// Simulate runs a node for cycles global cycles from cycle 0. rx[p][c] is port p's RX
// frame in global cycle c (missing entries are zero). batches are executed back to back:
// the first is submitted before cycle 0 (so it starts at cfg.Release), each next one at the
// end of the cycle in which its predecessor completed (so it starts in the following
// cycle), which is what a test that calls Take and Submit after every Run does. Batches
// that did not complete within cycles have no entry in Results.
func Simulate(cfg Config, rx [][]uint64, batches [][]bus.Op, cycles uint64) (*Trace, error) {
	s, err := NewSystem(cfg)
	if err != nil {
		return nil, err
	}
	tr := &Trace{TX: make([][]uint64, cfg.Ports)}
	for p := range tr.TX {
		tr.TX[p] = make([]uint64, cycles)
	}
	rxs := make([][]uint64, cfg.Ports)
	txs := make([][]uint64, cfg.Ports)
	next := 0
	submit := func() error {
		if next == len(batches) {
			return nil
		}
		if err := s.Submit(batches[next]); err != nil {
			return fmt.Errorf("simulate: batch %d: %w", next, err)
		}
		next++
		return nil
	}
	if err := submit(); err != nil {
		return nil, err
	}
	for s.Cycle() < cycles {
		c := s.Cycle()
		for p := range rxs {
			rxs[p] = nil
			if p < len(rx) && c < uint64(len(rx[p])) {
				rxs[p] = rx[p][c:]
			}
			txs[p] = tr.TX[p][c:]
		}
		if _, done := s.Run(cycles, rxs, txs); !done {
			break
		}
		res, err := s.Take()
		if err != nil {
			return nil, fmt.Errorf("simulate: %w", err)
		}
		tr.Results = append(tr.Results, res)
		if err := submit(); err != nil {
			return nil, err
		}
	}
	return tr, nil
}
