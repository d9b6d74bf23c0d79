package bridge

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ringsim/ringsim/hw"
)

// StallCause names why a run stopped without finishing.
type StallCause string

// The causes. The first four are proven from the nodes' state: the run can never finish, so
// it stops at once. The last two are time bounds, the last resort (docs/firmware.md,
// "Stalls").
const (
	// StallDeadlock: the nodes' alignment loops wait for each other in a cycle (upstream's
	// serial alignment on a wiring whose lowest unaligned ports do not face each other).
	StallDeadlock StallCause = "alignment deadlock"
	// StallHeldZeroes: a link end waits in WaitingForZeroes for RX word 0 to read 0, but its
	// partner's TX word 0 is non-zero for good (it sends packets, or its protocol never
	// disables TX).
	StallHeldZeroes StallCause = "endless WaitingForZeroes"
	// StallLinkDown: a link end's partner announces, but no marker arrives however often the
	// end scans: the link delivers nothing.
	StallLinkDown StallCause = "link down"
	// StallTooLarge: the stack handed a packet device a packet larger than it carries.
	StallTooLarge StallCause = "packet too large"
	// StallAlignTimeout: ringsim's firmware did not align within Config.AlignTimeout.
	StallAlignTimeout StallCause = "alignment timeout"
	// StallDeadline: the run reached Config.Deadline.
	StallDeadline StallCause = "deadline"
)

// linkDownScans is how many FindingAlignment scans without a marker, each started more than
// a rotation and the longest link latency after the partner announced, prove a link down.
// One scan could miss a marker a bit error or a zeroed frame corrupted in that rotation;
// four in a row at a bit-error rate of 1e-5 happen with a probability of about 1e-13.
const linkDownScans = 4

// Stall is why a run stopped without finishing, and the wait-for chain: what each link end
// involved waits for, and since when. Report.Stall carries it.
type Stall struct {
	Cause StallCause `json:"cause"`
	// Cycle is when the stall was diagnosed.
	Cycle  uint64 `json:"cycle"`
	Detail string `json:"detail"`
	Chain  []Wait `json:"chain,omitempty"`
}

// Wait is one link end of a wait-for chain.
type Wait struct {
	Node     int     `json:"node"`
	Port     int     `json:"port"`
	Firmware Profile `json:"firmware"`
	// Phase is the end's alignment phase, or "TCP <state>" once aligned.
	Phase string `json:"phase"`
	// Since is the cycle the end entered Phase.
	Since    uint64      `json:"since_cycle"`
	Peer     hw.Endpoint `json:"peer"`
	WaitsFor string      `json:"waits_for"`
}

// String returns "node N port P (profile) Phase since cycle C: waits for ...".
func (w Wait) String() string {
	return fmt.Sprintf("node %d port %d (%s) %s since cycle %d: waits for %s",
		w.Node, w.Port, w.Firmware, w.Phase, w.Since, w.WaitsFor)
}

// String returns the stall as the console shows it: the error's line, then the chain, one
// link end per line.
func (s *Stall) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s at cycle %d: %s", s.Cause, s.Cycle, s.Detail)
	if len(s.Chain) > 0 {
		b.WriteString("\nwait-for chain:")
		for _, w := range s.Chain {
			b.WriteString("\n  " + w.String())
		}
	}
	return b.String()
}

// StallError is the error of a run that stalled. It unwraps to ErrStalled for the causes
// proven from the nodes' state, to ErrTimeout or ErrAlignTimeout for the time bounds.
type StallError struct {
	Stall
	err error
}

// Error returns the stall's first line: "cause at cycle N: detail".
func (e *StallError) Error() string {
	return fmt.Sprintf("%s at cycle %d: %s", e.Cause, e.Cycle, e.Detail)
}

// Unwrap returns ErrStalled, ErrTimeout or ErrAlignTimeout.
func (e *StallError) Unwrap() error { return e.err }

// stallError builds a stall's error and remembers the stall.
func (rt *Runtime) stallError(cause StallCause, cycle uint64, wrapped error, detail string, chain []Wait) error {
	return &StallError{Stall: Stall{Cause: cause, Cycle: cycle, Detail: detail, Chain: chain}, err: wrapped}
}

// tooLarge is a packet device's refusal of a packet larger than its MTU.
type tooLarge struct {
	node, port, size, mtu, depth int
	// minimum says size is IPv4's minimum MTU, which the device does not reach.
	minimum bool
}

func (e *tooLarge) Error() string {
	return fmt.Sprintf("node %d port %d: a %d-byte packet, the device carries at most %d", e.node, e.port, e.size, e.mtu)
}

// diagnose turns a firmware error that is a stall cause into its stall.
func (rt *Runtime) diagnose(err error) error {
	var tl *tooLarge
	if !errors.As(err, &tl) {
		return err
	}
	l := rt.byEP[hw.Endpoint{Node: tl.node, Port: tl.port}]
	w := rt.waitOf(l)
	w.Phase = "packet phase"
	w.WaitsFor = fmt.Sprintf("its device to carry a %d-byte packet; at D = %d it carries at most %d", tl.size, tl.depth, tl.mtu)
	detail := fmt.Sprintf("node %d port %d: the stack handed the packet device a %d-byte packet, larger than the %d bytes it carries at D = %d; TCP would retransmit it for ever",
		tl.node, tl.port, tl.size, tl.mtu, tl.depth)
	if tl.minimum {
		detail = fmt.Sprintf("node %d port %d: the packet device carries at most %d bytes at D = %d, less than IPv4's minimum MTU of %d (RFC 791): the stack sends nothing on it, and TCP would wait for ever",
			tl.node, tl.port, tl.mtu, tl.depth, tl.size)
	}
	return rt.stallError(StallTooLarge, rt.now(), ErrStalled, detail, []Wait{w})
}

// margin is how many cycles after a word leaves a TX register it has certainly landed in
// the partner's RX word of the same index: the longest link latency, a rotation, and one.
func (rt *Runtime) margin() uint64 { return rt.cfg.LinkLatency + uint64(rt.m.Depth()) + 1 }

// linkIndex returns l's index among its node's links.
func (n *nodeState) linkIndex(l *linkState) int { return slices.Index(n.links, l) }

// stepping reports whether l's node steps l in its alignment loop now.
func (rt *Runtime) stepping(l *linkState) bool {
	n := rt.nodes[l.ep.Node]
	return n.stage == stageAligning && n.prof.schedule.stepping(n.links, n.linkIndex(l))
}

// currentPort is the port a node's alignment loop steps first now, or -1.
func (n *nodeState) currentPort() int {
	for i, l := range n.links {
		if n.prof.schedule.stepping(n.links, i) {
			return l.ep.Port
		}
	}
	return -1
}

// detect runs the stall detectors that prove a run can never finish; nil if none fired.
// They look at alignment only: once every node left it, TCP recovers from anything the
// ideal link does (its waits end at the run's Deadline).
func (rt *Runtime) detect() error {
	aligning := false
	for _, n := range rt.nodes {
		aligning = aligning || n.stage == stageAligning
	}
	if !aligning {
		return nil
	}
	now := rt.now()
	if err := rt.detectDeadlock(now); err != nil {
		return err
	}
	for _, l := range rt.links {
		if err := rt.detectHeldZeroes(l, now); err != nil {
			return err
		}
		if err := rt.detectLinkDown(l, now); err != nil {
			return err
		}
	}
	return nil
}

// blockedOn returns the partner end f that l (which its node steps, in FindingAlignment)
// waits for and that can never announce until its own node moves on: f is Unaligned and
// f's node, in its alignment loop, steps other ports first. Such an end is an edge of the
// wait-for graph from l's node to f's.
func (rt *Runtime) blockedOn(l *linkState) (*linkState, bool) {
	if l.al.phase != FindingAlignment || !rt.stepping(l) {
		return nil, false
	}
	f := rt.byEP[l.peer]
	m := rt.nodes[f.ep.Node]
	if m.stage != stageAligning || f.al.phase != Unaligned || rt.stepping(f) {
		return nil, false
	}
	return f, true
}

// detectDeadlock finds a cycle in the wait-for graph of the alignment loops: node n waits
// for node m when n steps a link in FindingAlignment whose partner end m will not step
// before its own current port aligned. No node of such a cycle can ever align the port it
// steps, so none moves on: the run can never finish.
func (rt *Runtime) detectDeadlock(now uint64) error {
	next := map[int][]*linkState{} // node -> its blocked ends, in port order
	for _, l := range rt.links {
		if _, ok := rt.blockedOn(l); ok {
			next[l.ep.Node] = append(next[l.ep.Node], l)
		}
	}
	if len(next) == 0 {
		return nil
	}
	// Depth-first search in node order; a node on the stack reached again closes a cycle.
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(rt.nodes))
	var stack []*linkState
	var cycle []*linkState
	var visit func(n int) bool
	visit = func(n int) bool {
		color[n] = grey
		for _, l := range next[n] {
			m := l.peer.Node
			stack = append(stack, l)
			switch color[m] {
			case grey:
				for i, s := range stack {
					if s.ep.Node == m {
						cycle = slices.Clone(stack[i:])
						return true
					}
				}
			case white:
				if visit(m) {
					return true
				}
			}
			stack = stack[:len(stack)-1]
		}
		color[n] = black
		return false
	}
	for n := range rt.nodes {
		if color[n] == white && visit(n) {
			break
		}
	}
	if cycle == nil {
		return nil
	}
	// Start the chain at its lowest node.
	lo := 0
	for i, l := range cycle {
		if l.ep.Node < cycle[lo].ep.Node {
			lo = i
		}
	}
	cycle = append(cycle[lo:], cycle[:lo]...)
	var chain []Wait
	var path []string
	for _, l := range cycle {
		w := rt.waitOf(l)
		m := rt.nodes[l.peer.Node]
		w.WaitsFor = fmt.Sprintf("node %d port %d to announce; node %d steps its port %d first",
			l.peer.Node, l.peer.Port, m.id, m.currentPort())
		chain = append(chain, w)
		path = append(path, fmt.Sprintf("node %d", l.ep.Node))
	}
	path = append(path, fmt.Sprintf("node %d", cycle[0].ep.Node))
	var profs []string
	for _, l := range cycle {
		if p := string(rt.nodes[l.ep.Node].prof.name); !slices.Contains(profs, p) {
			profs = append(profs, p)
		}
	}
	return rt.stallError(StallDeadlock, now, ErrStalled,
		fmt.Sprintf("%s wait for each other: each aligns one port at a time, in port order (%s), and the port it steps faces a port its neighbour steps only later",
			strings.Join(path, " -> "), strings.Join(profs, ", ")), chain)
}

// heldSince returns since when l's partner's TX word 0 is non-zero for good, if it is: its
// device has sent a packet (no device disables TX again), or its alignment protocol keeps
// TX and its marker (soft-UGN).
func (rt *Runtime) heldSince(f *linkState) (uint64, string, bool) {
	m := rt.nodes[f.ep.Node]
	if m.stage == stagePackets && f.dev != nil && f.dev.sendingSince() > 0 {
		return f.dev.sendingSince(), "sends packets", true
	}
	if f.al.proto.keepsTX() && f.al.txOn && f.al.phase >= FindingAlignment {
		return max(f.al.txOnSince, f.al.entered[FindingAlignment]), "never disables TX (its protocol keeps its marker at TX word 0)", true
	}
	return 0, "", false
}

// detectHeldZeroes finds a link end in WaitingForZeroes that last read a non-zero RX word 0
// after its partner's TX word 0 became non-zero for good: RX word 0 is rewritten with that
// word every rotation, so it never reads 0 again (on links that zero no frames).
func (rt *Runtime) detectHeldZeroes(l *linkState, now uint64) error {
	if rt.cfg.ZeroingLinks || l.al.phase != WaitingForZeroes || !rt.stepping(l) {
		return nil
	}
	f := rt.byEP[l.peer]
	since, what, ok := rt.heldSince(f)
	if !ok || l.al.rx0 == 0 || l.al.rx0At <= since+rt.margin() {
		return nil
	}
	w := rt.waitOf(l)
	w.WaitsFor = fmt.Sprintf("RX word 0 to read 0; node %d port %d %s since cycle %d, so it reads %#x every rotation",
		f.ep.Node, f.ep.Port, what, since, l.al.rx0)
	pw := rt.waitOf(f)
	return rt.stallError(StallHeldZeroes, now, ErrStalled,
		fmt.Sprintf("node %d port %d waits for RX word 0 to read 0, but node %d port %d %s since cycle %d",
			l.ep.Node, l.ep.Port, f.ep.Node, f.ep.Port, what, since), []Wait{w, pw})
}

// detectLinkDown finds a link end in FindingAlignment that scanned its RX buffer
// linkDownScans times without a marker, each scan begun after its partner's marker had
// certainly landed: the link from the partner delivers nothing.
func (rt *Runtime) detectLinkDown(l *linkState, now uint64) error {
	if l.al.phase != FindingAlignment || !rt.stepping(l) {
		return nil
	}
	f := rt.byEP[l.peer]
	if !f.al.marking() {
		return nil
	}
	since := max(f.al.txOnSince, f.al.entered[FindingAlignment])
	need := linkDownScans
	if rt.cfg.ZeroingLinks {
		need = 8 * linkDownScans
	}
	quiet := 0
	for _, s := range l.al.quiet {
		if s > since+rt.margin() {
			quiet++
		}
	}
	if quiet < need {
		return nil
	}
	w := rt.waitOf(l)
	w.WaitsFor = fmt.Sprintf("a marker from node %d port %d, which announces since cycle %d; %d scans found none",
		f.ep.Node, f.ep.Port, since, quiet)
	return rt.stallError(StallLinkDown, now, ErrStalled,
		fmt.Sprintf("the link %v->%v delivers nothing: node %d port %d announces since cycle %d, node %d port %d scanned %d times without a marker",
			f.ep, l.ep, f.ep.Node, f.ep.Port, since, l.ep.Node, l.ep.Port, quiet), []Wait{w, rt.waitOf(f)})
}

// waitOf describes what link end l waits for now.
func (rt *Runtime) waitOf(l *linkState) Wait {
	n := rt.nodes[l.ep.Node]
	f := rt.byEP[l.peer]
	m := rt.nodes[f.ep.Node]
	w := Wait{Node: l.ep.Node, Port: l.ep.Port, Firmware: n.prof.name, Phase: l.al.phase.String(),
		Since: l.al.entered[l.al.phase], Peer: l.peer}
	partner := fmt.Sprintf("node %d port %d, in %s", f.ep.Node, f.ep.Port, f.al.phase)
	switch {
	case n.stage == stageBoot:
		w.Phase, w.WaitsFor = "boot", "its node to boot"
	case l.al.phase == Unaligned:
		w.WaitsFor = fmt.Sprintf("its node to step it; node %d steps its port %d first", n.id, n.currentPort())
	case l.al.phase == FindingAlignment:
		w.WaitsFor = fmt.Sprintf("an alignment marker from %s", partner)
		if m.stage == stageAligning && f.al.phase == Unaligned && !rt.stepping(f) {
			w.WaitsFor += fmt.Sprintf("; node %d steps its port %d first", m.id, m.currentPort())
		}
	case l.al.phase == AcknowledgingAlignment:
		w.WaitsFor = fmt.Sprintf("RX word 0 to read ACK or 0 (last read %#x); %s", l.al.rx0, partner)
	case l.al.phase == WaitingForZeroes:
		w.WaitsFor = fmt.Sprintf("RX word 0 to read 0 (last read %#x); %s", l.al.rx0, partner)
	case n.stage == stageDone:
		w.WaitsFor = "nothing: its firmware has no packet phase, the run ends once every link aligned"
	case l.conn == nil && l.ep4 != nil:
		w.Phase, w.Since = "TCP "+rt.openState(l), l.al.entered[Aligned]
		w.WaitsFor = fmt.Sprintf("its TCP connection to node %d port %d", f.ep.Node, f.ep.Port)
	case l.conn == nil:
		w.Phase, w.Since = "packet phase", l.al.entered[Aligned]
		w.WaitsFor = "its node to start the packet device"
	default:
		w.Phase, w.Since = "TCP "+l.conn.State().String(), l.estab
		w.WaitsFor = "the application"
	}
	return w
}

// openState is the TCP state of l's open in progress.
func (rt *Runtime) openState(l *linkState) string {
	switch {
	case l.dial != nil:
		return l.dial.State().String()
	case l.ln != nil:
		return "LISTEN"
	case l.sym != nil:
		return "simultaneous open"
	}
	return "CLOSED"
}

// waits snapshots the wait-for chain of every link end keep selects (nil: every end that
// has not aligned, or, once all aligned, every end without a connection).
func (rt *Runtime) waits(keep func(*linkState) bool) []Wait {
	if keep == nil {
		keep = func(l *linkState) bool { return l.al.phase != Aligned }
		if rt.allAligned() {
			keep = func(l *linkState) bool { return l.conn == nil }
		}
	}
	var ws []Wait
	for _, l := range rt.links {
		if keep(l) {
			ws = append(ws, rt.waitOf(l))
		}
	}
	return ws
}
