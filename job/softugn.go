package job

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ringsim/ringsim/bridge"
	"github.com/ringsim/ringsim/hw"
)

// ErrSoftUGN: the soft-UGN demo did not pass upstream's criterion.
var ErrSoftUGN = errors.New("soft-UGN demo failed")

// SoftUGNReport is the soft-UGN demo judged by upstream's criterion
// (bittide-instances/src/Bittide/Instances/Hitl/SoftUgnDemo/Driver.hs:129-223, main
// 26adae95): on every edge the software UGN equals the hardware UGN + 1 (the RX read
// latency), the round trips the nodes measured equal the hardware's + 2, and no event
// missed its deadline.
type SoftUGNReport struct {
	Timing bridge.SoftUGNTiming `json:"timing"`
	// HardwareSource says where the hardware UGNs come from: "capture" (the real link's UGN
	// capture, as each receiving node's firmware read it) or "engine" (the ideal link has
	// no UGN capture: the latency plus the sender's release minus the receiver's, the value
	// a capture would latch).
	HardwareSource string             `json:"hardware_ugn_source"`
	Edges          []SoftUGNEdge      `json:"edges"`
	RoundTrips     []SoftUGNRoundTrip `json:"round_trips"`
	// Missed is every node's missed deadlines, all kinds.
	Missed int `json:"deadlines_missed"`
	// AllAlignedCycle is when the last link aligned; a message written earlier (a node's
	// first_send_cycle) could disturb a partner still aligning: the waits were too short.
	AllAlignedCycle uint64 `json:"all_aligned_cycle"`
	Passed          bool   `json:"passed"`
	// Failures say what failed, one line each (empty when it passed).
	Failures []string `json:"failures"`
}

// SoftUGNEdge is one link direction: the receiving node's incoming edge, the sending
// node's outgoing edge (the receiver's measurement, returned in its acknowledge), and the
// hardware UGN they are judged against.
type SoftUGNEdge struct {
	From        hw.Endpoint `json:"from"`
	To          hw.Endpoint `json:"to"`
	HardwareUGN *int64      `json:"hardware_ugn"`
	// Software is the receiver's incoming edge's UGN, SenderView the sender's outgoing
	// edge's (nil: not measured).
	Software   *int64 `json:"software_ugn"`
	SenderView *int64 `json:"sender_outgoing_ugn"`
	// SourceOK says the incoming edge names From's node ID and port, and the outgoing
	// edge To's, as the wiring says.
	SourceOK bool `json:"source_matches_wiring"`
	OK       bool `json:"ok"`
}

// SoftUGNRoundTrip is one link: the round trip each end measured (its incoming plus its
// outgoing UGN) and the hardware's (the two directions' hardware UGNs).
type SoftUGNRoundTrip struct {
	A        hw.Endpoint `json:"a"`
	B        hw.Endpoint `json:"b"`
	Hardware *int64      `json:"hardware"`
	AtA      *int64      `json:"at_a"`
	AtB      *int64      `json:"at_b"`
	OK       bool        `json:"ok"`
}

// softUGNRXLatency is what upstream's criterion adds to the hardware UGN: the RX ring
// buffer's read latency (Driver.hs:176, swExtraLatency).
const softUGNRXLatency = 1

// judgeSoftUGN evaluates the demo. releases are the nodes' release cycles (for the ideal
// link's hardware UGNs; nil: unknown).
func judgeSoftUGN(spec Spec, rep *bridge.Report, releases []uint64, timing bridge.SoftUGNTiming) *SoftUGNReport {
	out := &SoftUGNReport{Timing: timing, HardwareSource: "engine", Edges: []SoftUGNEdge{}, RoundTrips: []SoftUGNRoundTrip{}, Failures: []string{}}
	real := spec.Sim.Link == hw.LinkReal
	if real {
		out.HardwareSource = "capture"
	}
	fail := func(format string, a ...any) { out.Failures = append(out.Failures, fmt.Sprintf(format, a...)) }
	nodes := map[int]*bridge.SoftUGNNode{}
	for _, s := range rep.SoftUGN {
		nodes[s.Node] = s
	}
	ends := map[hw.Endpoint]bridge.LinkReport{}
	for _, l := range rep.Links {
		ends[l.Local] = l
		out.AllAlignedCycle = max(out.AllAlignedCycle, l.AlignedCycle)
	}
	port := func(ep hw.Endpoint) *bridge.SoftUGNPort {
		s := nodes[ep.Node]
		if s == nil {
			return nil
		}
		for i := range s.Ports {
			if s.Ports[i].Port == ep.Port {
				return &s.Ports[i]
			}
		}
		return nil
	}
	linked := map[int]bool{}
	for _, l := range spec.Sim.Topology.Links {
		linked[l.From.Node], linked[l.To.Node] = true, true
	}
	for n := 0; n < spec.Sim.Topology.Nodes; n++ {
		if !linked[n] {
			continue
		}
		s := nodes[n]
		switch {
		case s == nil:
			fail("node %d: its demo did not start", n)
			continue
		case s.QueueFull:
			fail("node %d: its event queue filled up after %d events (upstream's demo stops there)", n, s.Iterations)
		case s.Iterations < timing.Events:
			fail("node %d: its event loop ended after %d of %d events", n, s.Iterations, timing.Events)
		}
		out.Missed += s.Missed()
		if m := s.Missed(); m > 0 {
			fail("node %d: %d deadlines missed (send %d, receive %d, invalidate %d)", n, m, s.Send.Missed, s.Receive.Missed, s.Invalidate.Missed)
		}
		if s.FirstSendCycle != 0 && s.FirstSendCycle < out.AllAlignedCycle {
			fail("node %d: first message at cycle %d, before every link aligned (cycle %d): the waits before it are too short",
				n, s.FirstSendCycle, out.AllAlignedCycle)
		}
	}
	ids := map[uint32]int{}
	for _, s := range rep.SoftUGN {
		if m, dup := ids[s.NodeID]; dup {
			fail("nodes %d and %d share the node ID %#08x (their DNA's first 32 bits): messages cannot tell them apart", m, s.Node, s.NodeID)
		}
		ids[s.NodeID] = s.Node
	}
	hwUGN := map[[2]hw.Endpoint]*int64{}
	for _, l := range spec.Sim.Topology.Links {
		var h *int64
		if real {
			h = ends[l.To].HardwareUGN
		} else if releases != nil {
			v := int64(l.Latency) + int64(releases[l.From.Node]) - int64(releases[l.To.Node])
			h = &v
		}
		hwUGN[[2]hw.Endpoint{l.From, l.To}] = h
		e := SoftUGNEdge{From: l.From, To: l.To, HardwareUGN: h}
		if p := port(l.To); p != nil && p.Incoming != nil {
			v := p.Incoming.UGN
			e.Software = &v
			e.SourceOK = nodes[l.From.Node] != nil && p.Incoming.SrcNode == nodes[l.From.Node].NodeID && p.Incoming.SrcPort == l.From.Port
		}
		if p := port(l.From); p != nil && p.Outgoing != nil {
			v := p.Outgoing.UGN
			e.SenderView = &v
			e.SourceOK = e.SourceOK && nodes[l.To.Node] != nil && p.Outgoing.DstNode == nodes[l.To.Node].NodeID && p.Outgoing.DstPort == l.To.Port
		}
		e.OK = h != nil && e.Software != nil && e.SenderView != nil && e.SourceOK &&
			*e.Software == *h+softUGNRXLatency && *e.SenderView == *e.Software
		if !e.OK {
			fail("edge %v -> %v: %s", l.From, l.To, e.why())
		}
		out.Edges = append(out.Edges, e)
	}
	for _, l := range spec.Sim.Topology.Links {
		if !(l.From.Node < l.To.Node || l.From.Node == l.To.Node && l.From.Port < l.To.Port) {
			continue // each link once, from its lower end
		}
		rt := SoftUGNRoundTrip{A: l.From, B: l.To}
		there, back := hwUGN[[2]hw.Endpoint{l.From, l.To}], hwUGN[[2]hw.Endpoint{l.To, l.From}]
		if there != nil && back != nil {
			v := *there + *back
			rt.Hardware = &v
		}
		rt.AtA, rt.AtB = roundTrip(port(l.From)), roundTrip(port(l.To))
		rt.OK = rt.Hardware != nil && rt.AtA != nil && rt.AtB != nil &&
			*rt.AtA == *rt.Hardware+2*softUGNRXLatency && *rt.AtB == *rt.AtA
		if !rt.OK {
			fail("round trip %v <-> %v: hardware %s, measured %s at %v and %s at %v (want hardware + %d at both)",
				l.From, l.To, optInt(rt.Hardware), optInt(rt.AtA), l.From, optInt(rt.AtB), l.To, 2*softUGNRXLatency)
		}
		out.RoundTrips = append(out.RoundTrips, rt)
	}
	out.Passed = len(out.Failures) == 0
	return out
}

func roundTrip(p *bridge.SoftUGNPort) *int64 {
	if p == nil {
		return nil
	}
	return p.RoundTrip
}

func optInt(v *int64) string {
	if v == nil {
		return "none"
	}
	return fmt.Sprint(*v)
}

// why says what is wrong with an edge that is not OK.
func (e SoftUGNEdge) why() string {
	switch {
	case e.HardwareUGN == nil:
		return "no hardware UGN (the link's UGN capture was not read, or the release cycles are unknown)"
	case e.Software == nil:
		return fmt.Sprintf("the receiver never caught a message (hardware UGN %d)", *e.HardwareUGN)
	case !e.SourceOK:
		return "the receiver's incoming edge or the sender's outgoing edge names another node or port than the wiring"
	case *e.Software != *e.HardwareUGN+softUGNRXLatency:
		return fmt.Sprintf("software UGN %d, want hardware UGN %d + %d", *e.Software, *e.HardwareUGN, softUGNRXLatency)
	case e.SenderView == nil:
		return "the sender never caught the receiver's acknowledge (no outgoing edge)"
	default:
		return fmt.Sprintf("the sender's outgoing UGN %d differs from the receiver's incoming %d", *e.SenderView, *e.Software)
	}
}

// Summary is the demo's verdict in one line.
func (r *SoftUGNReport) Summary() string {
	if r.Passed {
		return fmt.Sprintf("soft-UGN demo passed: %d edges with software UGN = hardware UGN + 1, %d round trips agree, no deadline missed",
			len(r.Edges), len(r.RoundTrips))
	}
	return "soft-UGN demo failed: " + r.failureLine()
}

// failureLine is the first failures, and how many more there are (the report lists all).
func (r *SoftUGNReport) failureLine() string {
	const show = 3
	if len(r.Failures) <= show {
		return strings.Join(r.Failures, "; ")
	}
	return fmt.Sprintf("%s; and %d more", strings.Join(r.Failures[:show], "; "), len(r.Failures)-show)
}

// write writes the demo's edges, round trips and deadline counts, labelled, for the
// console.
func (r *SoftUGNReport) write(w io.Writer) {
	fmt.Fprintf(w, "  soft-UGN edges (software UGN: the receiver's RECEIVE cycle minus the sender's counter in the message; hardware UGN from the %s):\n",
		map[string]string{"capture": "receiver's UGN capture", "engine": "engine: latency + sender's release - receiver's; the ideal link has no capture"}[r.HardwareSource])
	for _, e := range r.Edges {
		mark := "ok"
		if !e.OK {
			mark = "WRONG: " + e.why()
		}
		fmt.Fprintf(w, "    node %d port %d -> node %d port %d: hardware UGN %s, software UGN %s, sender's outgoing UGN %s: %s\n",
			e.From.Node, e.From.Port, e.To.Node, e.To.Port, optInt(e.HardwareUGN), optInt(e.Software), optInt(e.SenderView), mark)
	}
	for _, t := range r.RoundTrips {
		mark := "ok"
		if !t.OK {
			mark = "WRONG"
		}
		fmt.Fprintf(w, "    round trip node %d port %d <-> node %d port %d: hardware %s, measured %s and %s: %s\n",
			t.A.Node, t.A.Port, t.B.Node, t.B.Port, optInt(t.Hardware), optInt(t.AtA), optInt(t.AtB), mark)
	}
	fmt.Fprintf(w, "  soft-UGN deadlines missed: %d (every node's SEND, RECEIVE and INVALIDATE events)\n", r.Missed)
}
