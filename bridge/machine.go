// Package bridge runs per-node firmware against simulated bittide hardware: the ring buffer
// driver, the alignment protocol, the packet framings and a gVisor TCP/IP stack per node,
// all in lockstep with the simulated clock and only through each node's CPU bus.
package bridge

import "github.com/ringsim/ringsim/sim/bus"

// Machine is the simulated hardware the bridge drives: N nodes in lockstep, each with a
// CPU bus master that executes batches of bus operations. The in-process engine
// (*sim.Engine) and the gRPC client (*client.Client) both implement it.
//
// Protocol: Submit gives an idle node a batch; Run advances simulated time until a given
// cycle or until the end of a cycle in which some batches completed and returns those
// nodes; Results returns a completed batch's results once. A node has at most one batch
// in flight. Implementations need not be safe for concurrent use.
type Machine interface {
	// Nodes is the number of nodes.
	Nodes() int
	// Ports is the number of link ports per node.
	Ports() int
	// Depth is the ring buffer depth D in 64-bit words.
	Depth() int
	// ClockHz is the link clock frequency.
	ClockHz() float64
	// Cycle is the next cycle to run.
	Cycle() uint64
	// Submit queues a batch on node's bus master.
	Submit(node int, ops []bus.Op) error
	// Run runs until cycle until or until some batches complete, and returns their nodes.
	Run(until uint64) ([]int, error)
	// Results returns node's completed batch, one result per operation.
	Results(node int) ([]bus.Result, error)
}
