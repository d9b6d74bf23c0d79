package bridge

import (
	"encoding/binary"
	"fmt"

	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/sim/bus"
)

// The soft-UGN demo's message phase (upstream main, 26adae95): after aligning, every node
// sends time-triggered messages on every port at ring-aligned cycles of its own counter and
// reads its RX buffers at cycles shifted by each port's alignment offset, and so measures
// each link's UGN in software. The references are
// firmware-binaries/demos/soft-ugn-demo-management-unit/src/main.c (main.c) and
// firmware-support/bittide-hal-c/include/bittide_ugn.h (ugn.h).

// The message's framing words and types (ugn.h:36-39, 269-270).
const (
	softUGNMagicLo     uint64 = 0x8cb5f3192996a86b
	softUGNMagicHi     uint64 = 0x18c6659dc30d46f2
	softUGNAnnounce    uint64 = 0xF
	softUGNAcknowledge uint64 = 0xF0
	softUGNWords              = 6 // magic lo, magic hi, type, local, remote, node and port
)

// SoftUGNTiming is the soft-UGN demo's schedule around its messages. Upstream's values
// (DefaultSoftUGNTiming) wait 1.1 s of simulated time before the first message; the waits
// only let every node finish aligning first, so a run may shorten them (the job checks that
// no message went out before every node aligned).
type SoftUGNTiming struct {
	// Settle is how long a node waits after aligning (main.c:102-103: 1 s).
	Settle uint64 `json:"settle_cycles"`
	// StartDelay is STARTING_DELAY_READ: from the first ring-aligned cycle after the wait
	// to the first RECEIVE (main.c:47: 12,500,000 cycles, 100 ms at 125 MHz); the first SEND
	// comes two receive periods later (main.c:45-46).
	StartDelay uint64 `json:"start_delay_cycles"`
	// Events is NUM_PERIODS: the event loop's iterations, one event each (main.c:25: 1000).
	Events int `json:"events"`
}

// DefaultSoftUGNTiming returns upstream's timing for a clock of clockHz (0: the default
// clock, hw.DefaultClockHz). The start delay is upstream's in cycles, whatever the clock.
func DefaultSoftUGNTiming(clockHz float64) SoftUGNTiming {
	if clockHz <= 0 {
		clockHz = hw.DefaultClockHz
	}
	return SoftUGNTiming{Settle: uint64(clockHz), StartDelay: 125000 * 100, Events: 1000}
}

// SoftUGNEdge is one UGN edge a node measured (ugn.h UgnEdge): the link from Src to Dst,
// each a node ID (the first 32 bits of the node's DNA) and a port, and the delay in cycles:
// on an incoming edge the receive delay (neighbour to this node), on an outgoing one the
// send delay the neighbour measured and returned.
type SoftUGNEdge struct {
	SrcNode uint32 `json:"src_node_id"`
	SrcPort int    `json:"src_port"`
	DstNode uint32 `json:"dst_node_id"`
	DstPort int    `json:"dst_port"`
	UGN     int64  `json:"ugn"`
}

// SoftUGNPort is what a node's demo established on one port.
type SoftUGNPort struct {
	Port int `json:"port"`
	// AlignmentOffset is the port's alignment offset (the last clear_at_count value), which
	// shifts its RECEIVE events.
	AlignmentOffset int `json:"alignment_offset"`
	// Incoming and Outgoing are the port's edges, nil while not measured.
	Incoming *SoftUGNEdge `json:"incoming"`
	Outgoing *SoftUGNEdge `json:"outgoing"`
	// RoundTrip is incoming plus outgoing UGN once both are known (main's PRINT_ROUNDTRIP).
	RoundTrip *int64 `json:"round_trip"`
}

// SoftUGNCounts are met and missed deadlines per kind of event.
type SoftUGNCounts struct {
	Met    int `json:"met"`
	Missed int `json:"missed"`
}

// SoftUGNNode is one node's soft-UGN demo: its schedule, the events' deadlines, the
// messages and the edges it measured.
type SoftUGNNode struct {
	Node   int    `json:"node"`
	NodeID uint32 `json:"node_id"`
	// Start is the first ring-aligned counter value after the wait (main.c start_cycles),
	// in the node's own counter; FirstSendCycle the global cycle its first message was
	// written, DoneCycle the global cycle its event loop ended.
	Start          uint64 `json:"start_counter"`
	FirstSendCycle uint64 `json:"first_send_cycle"`
	DoneCycle      uint64 `json:"done_cycle"`
	// Iterations is how many events the loop processed (Events when it ran to the end).
	Iterations  int           `json:"iterations"`
	Send        SoftUGNCounts `json:"send"`
	Receive     SoftUGNCounts `json:"receive"`
	Invalidate  SoftUGNCounts `json:"invalidate"`
	AnnouncesIn int           `json:"announces_received"`
	AcksIn      int           `json:"acknowledges_received"`
	AnnounceOut int           `json:"announces_sent"`
	AckOut      int           `json:"acknowledges_sent"`
	// QueueFull says the event queue filled up (upstream's "Queue full": the loop stops).
	QueueFull bool          `json:"queue_full,omitempty"`
	Ports     []SoftUGNPort `json:"ports"`
}

// Missed is the node's missed deadlines, all kinds.
func (s *SoftUGNNode) Missed() int { return s.Send.Missed + s.Receive.Missed + s.Invalidate.Missed }

// softUGNMessages is the soft-UGN profile's phase after alignment: main.c:101-196.
type softUGNMessages struct{}

// The event kinds (ugn.h:14-18).
const (
	evSend = iota + 1
	evReceive
	evInvalidate
)

// softUGNEvent is an entry of the event queue.
type softUGNEvent struct {
	at   uint64
	kind int
	msg  uint64 // SEND: softUGNAnnounce or softUGNAcknowledge
	port int    // index into the node's links and its SoftUGNNode.Ports (the same order)
}

// softUGNQueueSize is MAX_FIXED_PQ_SIZE (priority_queue.h:13).
const softUGNQueueSize = 256

// softUGNQueue is upstream's FixedIntPriorityQueue (firmware-support/bittide-hal-c/
// c_src/priority_queue.c): an array; insert appends; extract takes the first entry with
// the smallest cycle and moves the last entry into its place. Events of the same cycle
// therefore come out in upstream's order, which is not their order of insertion.
type softUGNQueue []softUGNEvent

func (q *softUGNQueue) insert(e softUGNEvent) { *q = append(*q, e) }

func (q *softUGNQueue) extractMin() softUGNEvent {
	old := *q
	m := 0
	for i := 1; i < len(old); i++ {
		if old[i].at < old[m].at {
			m = i
		}
	}
	e := old[m]
	old[m] = old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// softUGNRun is one node's demo in progress.
type softUGNRun struct {
	n   *nodeState
	c   *cpu
	q   softUGNQueue
	rep *SoftUGNNode
}

// timer reads the node's cycle counter (timer_now_cycles).
func (s *softUGNRun) timer() (uint64, error) {
	res := s.c.exec(bus.Read(bus.RegCycleLo), bus.Read(bus.RegCycleHi))
	if err := checkOK(s.n.id, "soft-UGN timer", res); err != nil {
		return 0, err
	}
	return uint64(res[0].Value) | uint64(res[1].Value)<<32, nil
}

// waitUntil is timer_wait_until_cycles: it polls the counter until it reaches t. Polls
// have no effect on the hardware, so a long wait idles until shortly before t instead of
// simulating each poll.
func (s *softUGNRun) waitUntil(t uint64) error {
	poll := uint64(max(s.n.cost.Poll, 1))
	for {
		now, err := s.timer()
		if err != nil {
			return err
		}
		if now >= t {
			return nil
		}
		wait := poll
		if t-now > 2*poll {
			wait = min(t-now-poll, bus.MaxIdle)
		}
		s.c.exec(bus.Idle(uint32(wait)))
	}
}

// met is timer_compare_cycles(deadline) == LESS after an event's bus work.
func (s *softUGNRun) met(deadline uint64, c *SoftUGNCounts) error {
	now, err := s.timer()
	if err != nil {
		return err
	}
	if now < deadline {
		c.Met++
	} else {
		c.Missed++
	}
	return nil
}

func (s *softUGNRun) schedule(e softUGNEvent) { s.q.insert(e) }

// run implements packetPhase.run.
func (softUGNMessages) run(rt *Runtime, n *nodeState, c *cpu, b Boot, al Alignment) error {
	d := uint64(rt.m.Depth())
	numPorts := uint64(rt.m.Ports()) // NUM_PORTS: the node's ports (7 on the rig)
	sendSpacing := 2 * d
	sendPeriod := sendSpacing * numPorts
	receivePeriod := d * (2*numPorts + 1)
	tm := rt.cfg.SoftUGN
	s := &softUGNRun{n: n, c: c, rep: &SoftUGNNode{Node: n.id, NodeID: binary.LittleEndian.Uint32(b.DNA[:4])}}
	n.softUGN = s.rep
	offsets := map[int]int{}
	for _, la := range al.Links {
		offsets[la.Port] = la.Offset
	}
	for _, l := range n.links {
		s.rep.Ports = append(s.rep.Ports, SoftUGNPort{Port: l.ep.Port, AlignmentOffset: offsets[l.ep.Port]})
	}
	// main.c:102-103: one second after aligning.
	now, err := s.timer()
	if err != nil {
		return err
	}
	if err := s.waitUntil(now + tm.Settle); err != nil {
		return err
	}
	start, err := s.timer()
	if err != nil {
		return err
	}
	start += d - start%d // main.c:114 (a start on a boundary moves a whole buffer on)
	s.rep.Start = start
	startRead := start + tm.StartDelay
	startWrite := startRead + 2*receivePeriod
	for i, l := range n.links {
		p := uint64(l.ep.Port)
		s.schedule(softUGNEvent{at: startWrite + p*sendSpacing, kind: evSend, msg: softUGNAnnounce, port: i})
		// int16_t alignment_offsets: the offset is below D (4000 upstream).
		s.schedule(softUGNEvent{at: uint64(int64(startRead+p*d) + int64(s.rep.Ports[i].AlignmentOffset)), kind: evReceive, port: i})
	}
	for s.rep.Iterations < tm.Events && len(s.q) > 0 {
		if len(s.q) >= softUGNQueueSize { // main.c:142-146: the demo stops
			s.rep.QueueFull = true
			break
		}
		e := s.q.extractMin()
		s.rep.Iterations++
		var err error
		switch e.kind {
		case evSend:
			err = s.send(e, d)
			next := softUGNAnnounce
			if s.rep.Ports[e.port].Incoming != nil {
				next = softUGNAcknowledge
			}
			s.schedule(softUGNEvent{at: e.at + sendPeriod, kind: evSend, msg: next, port: e.port})
			s.schedule(softUGNEvent{at: e.at + d, kind: evInvalidate, port: e.port})
		case evInvalidate:
			err = s.invalidate(e, d)
		case evReceive:
			err = s.receive(e, d)
			if p := s.rep.Ports[e.port]; p.Incoming == nil || p.Outgoing == nil {
				s.schedule(softUGNEvent{at: e.at + receivePeriod, kind: evReceive, port: e.port})
			}
		}
		if err != nil {
			return err
		}
	}
	for i := range s.rep.Ports {
		p := &s.rep.Ports[i]
		if p.Incoming != nil && p.Outgoing != nil {
			rtt := p.Incoming.UGN + p.Outgoing.UGN
			p.RoundTrip = &rtt
		}
	}
	s.rep.DoneCycle = rt.now()
	n.stage = stageDone
	return nil
}

// send is send_ugn_to_port (ugn.h:346-399): wait for the event's cycle, write the message
// to TX words 0-5, which the hardware reads next at the deadline, one buffer later; the
// message's local counter is that deadline.
func (s *softUGNRun) send(e softUGNEvent, d uint64) error {
	l := s.n.links[e.port]
	p := &s.rep.Ports[e.port]
	deadline := e.at + d
	var remote uint64
	if e.msg == softUGNAcknowledge {
		remote = uint64(int64(deadline) - p.Incoming.UGN)
	}
	msg := []uint64{softUGNMagicLo, softUGNMagicHi, e.msg, deadline, remote,
		uint64(s.rep.NodeID) | uint64(l.ep.Port+1)<<32}
	if err := s.waitUntil(e.at); err != nil {
		return err
	}
	res := s.c.exec(l.port.WriteTX(0, msg...))
	if err := checkOK(s.n.id, "soft-UGN send", res); err != nil {
		return err
	}
	if s.rep.FirstSendCycle == 0 {
		s.rep.FirstSendCycle = res[0].Cycle
	}
	if err := s.met(deadline, &s.rep.Send); err != nil {
		return err
	}
	if e.msg == softUGNAcknowledge {
		s.rep.AckOut++
	} else {
		s.rep.AnnounceOut++
	}
	return nil
}

// invalidate is invalidate_port (ugn.h:459-480): zero TX words 0-5 one buffer after the
// send, so that the message goes out once.
func (s *softUGNRun) invalidate(e softUGNEvent, d uint64) error {
	l := s.n.links[e.port]
	if err := s.waitUntil(e.at); err != nil {
		return err
	}
	res := s.c.exec(l.port.WriteTX(0, make([]uint64, softUGNWords)...))
	if err := checkOK(s.n.id, "soft-UGN invalidate", res); err != nil {
		return err
	}
	return s.met(e.at+d, &s.rep.Invalidate)
}

// receive is check_incoming_buffer (ugn.h:402-456): wait for the event's cycle, read RX
// words 0-5 and, if they hold a message, take the receive delay as the event's cycle minus
// the message's local counter (the alignment offset is in the event's cycle), and from an
// acknowledge the send delay it returns.
func (s *softUGNRun) receive(e softUGNEvent, d uint64) error {
	l := s.n.links[e.port]
	p := &s.rep.Ports[e.port]
	if p.Incoming != nil && p.Outgoing != nil {
		return nil
	}
	if err := s.waitUntil(e.at); err != nil {
		return err
	}
	res := s.c.exec(l.port.ReadRX(0, softUGNWords))
	if err := checkOK(s.n.id, "soft-UGN receive", res); err != nil {
		return err
	}
	if err := s.met(e.at+d, &s.rep.Receive); err != nil {
		return err
	}
	w := Join64(res[0].Words)
	if len(w) < softUGNWords || w[0] != softUGNMagicLo || w[1] != softUGNMagicHi {
		return nil
	}
	srcNode, srcPort := uint32(w[5]), int(uint32(w[5]>>32))-1
	if p.Incoming == nil {
		p.Incoming = &SoftUGNEdge{SrcNode: srcNode, SrcPort: srcPort, DstNode: s.rep.NodeID, DstPort: l.ep.Port,
			UGN: int64(e.at) - int64(w[3])}
	}
	if w[2] == softUGNAcknowledge {
		// Upstream takes the outgoing edge from every acknowledge; one whose remote counter
		// is 0 leaves its edge uninitialised (ugn.h:318-326, 446-449), which ringsim skips.
		if w[4] != 0 {
			p.Outgoing = &SoftUGNEdge{SrcNode: s.rep.NodeID, SrcPort: l.ep.Port, DstNode: srcNode, DstPort: srcPort,
				UGN: int64(w[3]) - int64(w[4])}
		}
		s.rep.AcksIn++
	} else {
		s.rep.AnnouncesIn++
	}
	return nil
}

// String returns "node 3 (id 0x...): 1000 events, 0 deadlines missed".
func (s *SoftUGNNode) String() string {
	return fmt.Sprintf("node %d (id %#08x): %d events, %d deadlines missed", s.Node, s.NodeID, s.Iterations, s.Missed())
}

// checkMessages settles what a run with soft-UGN nodes does after alignment: their
// messages, if every linked node runs them; only aligning, if TCP nodes share the run with
// no application (the two have no phase in common); and it refuses an application over TCP
// on a run with a soft-UGN node.
func (rt *Runtime) checkMessages() error {
	var tcp, msgs *nodeState
	for _, n := range rt.nodes {
		if len(n.links) == 0 {
			continue
		}
		if n.prof.messages {
			if msgs == nil {
				msgs = n
			}
		} else if tcp == nil {
			tcp = n
		}
	}
	switch {
	case msgs == nil:
	case rt.cfg.App != nil:
		return fmt.Errorf("%w: node %d runs %s, whose phase after alignment is the soft-UGN demo's messages, not TCP: it runs no application",
			ErrBadConfig, msgs.id, msgs.prof.name)
	case tcp != nil:
		rt.alignOnly = true
	}
	return nil
}
