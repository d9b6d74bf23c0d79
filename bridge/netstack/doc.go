// Package netstack runs a deterministic gVisor TCP/IP stack per simulated node
// over IP-only point-to-point links, driven by a simulated clock.
//
// The caller owns one simulation goroutine and, per simulation step, does:
//
//	clock.Advance(t)        // fire due timers (retransmissions, ...) in order
//	link.Deliver(pkt) ...   // inject packets that arrived
//	stack.Barrier()         // run all TCP processing they caused
//	conn.Read / conn.Write  // the node's software, never blocking
//	link.Pop() ...          // collect packets to send
//
// When no packet is queued or in flight, the caller may jump straight to
// Clock.NextDeadline. With the same seeds and the same sequence of calls, the
// packets sent are byte-for-byte identical from run to run.
//
// Two addressing modes exist (SPEC section 5). Mode A ("derived"): each end of
// a link gets PortID.Addr, the end for which Connects is true dials and the
// other listens. Mode B ("upstream"): both ends use the same address and port
// and open with OpenSymmetric (a TCP simultaneous open, or a listen fallback
// when one end is late).
package netstack
