package app

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	"github.com/ringsim/ringsim/bridge"
	"github.com/ringsim/ringsim/hw"
)

// Sizes of the link protocol's messages (SPEC section 6), in bytes.
const (
	// LinkInfoLen is the length of an encoded LinkInfo.
	LinkInfoLen = 16
	// CommandLen is the length of an encoded Command.
	CommandLen = 4
	// ReportHeaderLen is the length of a report's header: the edge count.
	ReportHeaderLen = 4
	// EdgeLen is the length of an encoded Edge.
	EdgeLen = 40
	// MaxReportEdges bounds the edge count a report may announce; a larger count is
	// malformed (a node has at most a few dozen links).
	MaxReportEdges = 4096
)

// LinkInfo is what each end of a link sends first in the link protocol exchange: its
// node's DNA and its port. Encoded it is LinkInfoLen bytes:
//
//	bytes  0-11  dna   the node's 96-bit device DNA as bridge.Conn.DNA holds it (the three DNA
//	                   registers, each a little-endian u32, low word first)
//	bytes 12-15  port  the sender's port on the link, u32 LE
type LinkInfo struct {
	DNA  [12]byte
	Port uint32
}

// AppendBinary implements encoding.BinaryAppender.
func (li LinkInfo) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, li.DNA[:]...)
	return binary.LittleEndian.AppendUint32(b, li.Port), nil
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (li LinkInfo) MarshalBinary() ([]byte, error) {
	return li.AppendBinary(make([]byte, 0, LinkInfoLen))
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler: b must be exactly LinkInfoLen
// bytes; errors wrap ErrMalformed.
func (li *LinkInfo) UnmarshalBinary(b []byte) error {
	if len(b) != LinkInfoLen {
		return fmt.Errorf("%w: link info of %d bytes, want %d", ErrMalformed, len(b), LinkInfoLen)
	}
	copy(li.DNA[:], b)
	li.Port = binary.LittleEndian.Uint32(b[12:])
	return nil
}

// Command is a manager's request to a neighbour. Encoded it is CommandLen bytes: the
// command byte, then three zero bytes (upstream's CommandWire).
type Command uint8

// CommandRequestReport asks the peer for its edges (upstream's RequestUgnReport).
const CommandRequestReport Command = 1

// String returns the command's name.
func (c Command) String() string {
	if c == CommandRequestReport {
		return "RequestReport"
	}
	return fmt.Sprintf("Command(%d)", uint8(c))
}

// AppendBinary implements encoding.BinaryAppender.
func (c Command) AppendBinary(b []byte) ([]byte, error) {
	return append(b, byte(c), 0, 0, 0), nil
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (c Command) MarshalBinary() ([]byte, error) {
	return c.AppendBinary(make([]byte, 0, CommandLen))
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler: b must be exactly CommandLen
// bytes, a known command and zero padding; errors wrap ErrMalformed.
func (c *Command) UnmarshalBinary(b []byte) error {
	switch {
	case len(b) != CommandLen:
		return fmt.Errorf("%w: command of %d bytes, want %d", ErrMalformed, len(b), CommandLen)
	case Command(b[0]) != CommandRequestReport:
		return fmt.Errorf("%w: unknown command %d (% x)", ErrMalformed, b[0], b)
	case b[1] != 0 || b[2] != 0 || b[3] != 0:
		return fmt.Errorf("%w: command padding % x, want zeroes", ErrMalformed, b[1:])
	}
	*c = Command(b[0])
	return nil
}

// AppendReportHeader appends a report's header: the number of edges that follow, u32 LE.
func AppendReportHeader(b []byte, count int) []byte {
	return binary.LittleEndian.AppendUint32(b, uint32(count))
}

// ParseReportHeader decodes a report's header, ReportHeaderLen bytes, and returns the edge
// count; a count above MaxReportEdges is malformed. Errors wrap ErrMalformed.
func ParseReportHeader(b []byte) (int, error) {
	if len(b) != ReportHeaderLen {
		return 0, fmt.Errorf("%w: report header of %d bytes, want %d", ErrMalformed, len(b), ReportHeaderLen)
	}
	n := binary.LittleEndian.Uint32(b)
	if n > MaxReportEdges {
		return 0, fmt.Errorf("%w: report of %d edges, more than %d", ErrMalformed, n, MaxReportEdges)
	}
	return int(n), nil
}

// Edge is one directed edge of the report: recorded by the link end (SrcDNA, SrcPort),
// whose peer is (DstDNA, DstPort), with the latency field that end filled in. Encoded it is
// EdgeLen bytes, all little-endian (upstream's UgnEdgeWire):
//
//	bytes  0-11  src DNA
//	bytes 12-23  dst DNA
//	bytes 24-27  src port  u32
//	bytes 28-31  dst port  u32
//	bytes 32-39  latency   i64
type Edge struct {
	SrcDNA, DstDNA   [12]byte
	SrcPort, DstPort uint32
	// Latency is the edge's latency field. ringsim fills in the link's alignment offset at
	// the src end (the total clear_at_count shift its RX applied, LinkReport.Offset) until
	// the engine captures UGNs; upstream's async-comms demo fills in the hardware UGN (local
	// minus remote counter). The two are different quantities.
	Latency int64
}

// AppendBinary implements encoding.BinaryAppender.
func (e Edge) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, e.SrcDNA[:]...)
	b = append(b, e.DstDNA[:]...)
	b = binary.LittleEndian.AppendUint32(b, e.SrcPort)
	b = binary.LittleEndian.AppendUint32(b, e.DstPort)
	return binary.LittleEndian.AppendUint64(b, uint64(e.Latency)), nil
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (e Edge) MarshalBinary() ([]byte, error) {
	return e.AppendBinary(make([]byte, 0, EdgeLen))
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler: b must be exactly EdgeLen bytes;
// errors wrap ErrMalformed.
func (e *Edge) UnmarshalBinary(b []byte) error {
	if len(b) != EdgeLen {
		return fmt.Errorf("%w: edge of %d bytes, want %d", ErrMalformed, len(b), EdgeLen)
	}
	copy(e.SrcDNA[:], b[0:12])
	copy(e.DstDNA[:], b[12:24])
	e.SrcPort = binary.LittleEndian.Uint32(b[24:])
	e.DstPort = binary.LittleEndian.Uint32(b[28:])
	e.Latency = int64(binary.LittleEndian.Uint64(b[32:]))
	return nil
}

// String returns "dna port P -> dna port Q (latency field N)" with the DNAs in hex.
func (e Edge) String() string {
	return fmt.Sprintf("%x port %d -> %x port %d (latency field %d)", e.SrcDNA, e.SrcPort, e.DstDNA, e.DstPort, e.Latency)
}

// CompareEdges orders edges by src DNA, src port, dst DNA, dst port and latency (the
// order of Exchange.Report).
func CompareEdges(a, b Edge) int {
	if c := bytes.Compare(a.SrcDNA[:], b.SrcDNA[:]); c != 0 {
		return c
	}
	if a.SrcPort != b.SrcPort {
		return cmpU32(a.SrcPort, b.SrcPort)
	}
	if c := bytes.Compare(a.DstDNA[:], b.DstDNA[:]); c != 0 {
		return c
	}
	if a.DstPort != b.DstPort {
		return cmpU32(a.DstPort, b.DstPort)
	}
	switch {
	case a.Latency < b.Latency:
		return -1
	case a.Latency > b.Latency:
		return 1
	}
	return 0
}

func cmpU32(a, b uint32) int {
	if a < b {
		return -1
	}
	return 1
}

// Exchange is SPEC section 6's link protocol exchange and manager report as an App.
//
// On every link each end sends its LinkInfo (bridge.Conn.DNA and its port) and reads the peer's,
// which gives the end its Edge (local DNA and port to the peer's, with the end's measured
// latency). The manager node then, once every one of its links has exchanged, sends
// CommandRequestReport on each of its connections and shuts its side; a neighbour answers,
// once all of its own links have exchanged, with a report header (the edge count) and its
// edges in port order, and shuts its side. Links between two other nodes close right
// after the exchange. Every end closes its connection when both directions ended, and is
// done when the close completed (TIME-WAIT or CLOSED). The manager's Report is its own
// edges plus every neighbour's, sorted, each edge once: in a full mesh, every directed
// edge of the topology (as upstream, other topologies give the manager's neighbourhood).
//
// Anything else from a peer fails the run at once with an error wrapping ErrMalformed or
// ErrUnexpected: a message that does not decode, bytes where none may come, a report edge
// not recorded by the peer, an end of stream before the protocol's end. A peer that goes
// silent is caught by the run's Deadline, and Pending says what was awaited.
//
// A link end whose firmware profile sets an exchange deadline (bridge.Conn.ExchangeTimeout,
// upstream-async's 1 s) records a MissedDeadline when a step takes longer, counted from the
// first Step (every connection of the run is open by then, as upstream's window opens once
// all its links are established): the peer's LinkInfo, on the manager's ends the report
// header after the request and each report edge after the one before, on an end to the
// manager the report header's send after the request arrived. Upstream logs such a miss and
// goes on without that step's data; the end here logs it too (Missed) but keeps waiting, so
// that the report stays complete.
//
// Like every App, its methods are called from the runtime's goroutine only and never block.
type Exchange struct {
	// Manager is the node that collects the report.
	Manager int
	// Latency returns the latency the edge of link end ep carries, and false if it is not
	// known. Nil means the link's measured alignment offset (bridge.Conn.Offset).
	Latency func(ep hw.Endpoint) (int, bool)

	ends   map[hw.Endpoint]*exchangeEnd
	order  []hw.Endpoint // sorted: what the app does never depends on map order
	rbuf   []byte
	report []Edge
	nodes  map[[12]byte]int // DNA -> node, as the link ends opened
	missed []MissedDeadline
	list   []*exchangeEnd // the ends in the order of order
	// noInfo counts, per node, the ends still without the peer's LinkInfo.
	noInfo map[int]int
	// completed is the cycle each node's last link end completed its close.
	completed map[int]uint64
}

// Completed returns the cycle at which each node completed the exchange (every one of its
// link ends closed), for the nodes that did: upstream's demo passes when every node
// completes within its time bound.
func (x *Exchange) Completed() map[int]uint64 { return maps.Clone(x.completed) }

// MissedDeadline is a step of the exchange that took longer than the link end's firmware
// allows (bridge.Conn.ExchangeTimeout).
type MissedDeadline struct {
	Local hw.Endpoint `json:"local"`
	// Step says what the end waited for; Since is when the wait began, Cycle when it missed.
	Step  string `json:"step"`
	Since uint64 `json:"since_cycle"`
	Cycle uint64 `json:"cycle"`
	// Timeout is the deadline in cycles.
	Timeout uint64 `json:"timeout_cycles"`
}

// String returns "link end 0.0 waited N cycles since cycle C for ..., the firmware allows T".
func (m MissedDeadline) String() string {
	return fmt.Sprintf("link end %v waited %d cycles since cycle %d for %s; the firmware allows %d",
		m.Local, m.Cycle-m.Since, m.Since, m.Step, m.Timeout)
}

// Missed returns the exchange deadlines missed so far, in the order they were missed.
func (x *Exchange) Missed() []MissedDeadline { return slices.Clone(x.missed) }

// NewExchange returns the exchange app with the given manager node and latency source.
func NewExchange(manager int, latency func(hw.Endpoint) (int, bool)) *Exchange {
	return &Exchange{Manager: manager, Latency: latency}
}

// exchangeRole is what a link end does after the exchange.
type exchangeRole uint8

const (
	// rolePlain: neither end is the manager's; close after the exchange.
	rolePlain exchangeRole = iota
	// roleManager: this end is the manager's; request the peer's report and read it.
	roleManager
	// roleToManager: the peer is the manager's end; answer its request.
	roleToManager
)

type exchangeEnd struct {
	wire
	local, peer hw.Endpoint
	role        exchangeRole
	in          []byte   // received, not yet parsed
	info        LinkInfo // the peer's, once haveInfo
	haveInfo    bool
	edge        Edge // this end's edge; DstDNA and DstPort once haveInfo
	requested   bool // roleManager: request queued; roleToManager: request received
	answered    bool // roleToManager: report queued
	count       int  // roleManager: edges the peer announced, once haveCount
	haveCount   bool
	edges       []Edge // roleManager: the peer's report
	done        bool   // the close completed

	// timeout is the profile's deadline per step in cycles (0: none); since is when the
	// step now awaited began (0: not yet started).
	timeout uint64
	since   uint64
	missed  uint64 // since of the wait last recorded as missed
	// edgeBytes (roleToManager) is how many queued bytes follow the report header: the
	// header has left once no more than that are queued.
	edgeBytes int
}

// Open implements bridge.App.Open.
func (x *Exchange) Open(c *bridge.Conn) error {
	lat := c.Offset
	if c.Firmware == bridge.UpstreamAsync && c.HardwareUGN != nil {
		lat = int(*c.HardwareUGN) // upstream's edges carry the hardware UGN (main.rs)
	}
	if err := x.open(c.Local, c.Peer, c.DNA, lat, c); err != nil {
		return err
	}
	x.ends[c.Local].timeout = c.ExchangeTimeout
	return nil
}

// Node returns the node whose link ends opened with DNA dna: the manager's map from the
// DNAs in its report to node numbers, as upstream's from FPGA_DNAS to rig positions.
func (x *Exchange) Node(dna [12]byte) (int, bool) {
	n, ok := x.nodes[dna]
	return n, ok
}

// open starts the link end local of a node with DNA dna, whose peer is peer and whose
// measured offset is offset, on s.
func (x *Exchange) open(local, peer hw.Endpoint, dna [12]byte, offset int, s stream) error {
	if x.ends == nil {
		x.ends = map[hw.Endpoint]*exchangeEnd{}
	}
	if _, ok := x.ends[local]; ok {
		return fmt.Errorf("exchange: link end %v opened twice", local)
	}
	latency := offset
	if x.Latency != nil {
		var ok bool
		if latency, ok = x.Latency(local); !ok {
			return fmt.Errorf("exchange on link end %v: no measured latency", local)
		}
	}
	e := &exchangeEnd{local: local, peer: peer,
		edge: Edge{SrcDNA: dna, SrcPort: uint32(local.Port), Latency: int64(latency)}}
	e.s = s
	switch {
	case local.Node == x.Manager:
		e.role = roleManager
	case peer.Node == x.Manager:
		e.role = roleToManager
	default:
		e.lastWord = true
	}
	e.out, _ = LinkInfo{DNA: dna, Port: uint32(local.Port)}.AppendBinary(nil)
	x.ends[local] = e
	if x.nodes == nil {
		x.nodes = map[[12]byte]int{}
	}
	x.nodes[dna] = local.Node
	x.order = insertEndpoint(x.order, local)
	x.list = x.list[:0]
	for _, ep := range x.order {
		x.list = append(x.list, x.ends[ep])
	}
	if x.noInfo == nil {
		x.noInfo = map[int]int{}
	}
	x.noInfo[local.Node]++
	return nil
}

// Step implements bridge.App.Step: it reads and checks what arrived on every end, sends the
// request or the report where it is due, and closes each connection when both directions
// ended. It reports true once every end's close completed.
func (x *Exchange) Step(now uint64) (bool, error) {
	if x.rbuf == nil {
		x.rbuf = make([]byte, 4<<10)
	}
	for _, e := range x.list {
		if e.since == 0 {
			e.since = now
		}
		if e.done {
			continue
		}
		had := e.haveInfo
		if err := e.receiveAll(x.rbuf, now); err != nil {
			return false, fmt.Errorf("exchange on link end %v: %w", e.local, err)
		}
		if e.haveInfo && !had {
			x.noInfo[e.local.Node]--
			if err := x.checkPeer(e); err != nil {
				return false, err
			}
		}
	}
	finished := len(x.order) > 0
	for _, e := range x.list {
		ep := e.local
		if e.done {
			continue
		}
		switch {
		case e.role == roleManager && !e.requested && x.exchanged(ep.Node):
			e.out, _ = CommandRequestReport.AppendBinary(e.out)
			e.requested, e.lastWord = true, true
			e.since = now
		case e.role == roleToManager && e.requested && !e.answered && x.exchanged(ep.Node):
			edges := x.Edges(ep.Node)
			e.out = AppendReportHeader(e.out, len(edges))
			for _, ed := range edges {
				e.out, _ = ed.AppendBinary(e.out)
			}
			e.edgeBytes = EdgeLen * len(edges)
			e.answered, e.lastWord = true, true
		}
		if err := e.flush(); err != nil {
			return false, fmt.Errorf("exchange on link end %v: %w", ep, err)
		}
		if m, ok := e.checkDeadline(now); ok {
			x.missed = append(x.missed, m)
		}
		if err := e.shutdown(); err != nil {
			return false, fmt.Errorf("exchange on link end %v: %w", ep, err)
		}
		done, err := e.finish()
		if err != nil {
			return false, fmt.Errorf("exchange on link end %v: %w", ep, err)
		}
		e.done = done
		finished = finished && e.done
		if done {
			x.complete(ep.Node, now)
		}
	}
	if finished && x.report == nil {
		x.report = x.collect()
	}
	return finished, nil
}

// checkPeer is upstream's check of a LinkInfo against the wiring: the peer must be the port
// the link leads to, and the node's DNA the one its link ends opened with (when they
// opened in this app: a run's do).
func (x *Exchange) checkPeer(e *exchangeEnd) error {
	pe, ok := x.ends[e.peer]
	if e.info.Port != uint32(e.peer.Port) || ok && e.info.DNA != pe.edge.SrcDNA {
		return fmt.Errorf("exchange on link end %v: %w: the peer says it is DNA %x port %d, the wiring leads to node %d port %d",
			e.local, ErrUnexpected, e.info.DNA, e.info.Port, e.peer.Node, e.peer.Port)
	}
	return nil
}

// complete records node's completion at now once all of its link ends are done.
func (x *Exchange) complete(node int, now uint64) {
	if _, ok := x.completed[node]; ok {
		return
	}
	for _, e := range x.list {
		if e.local.Node == node && !e.done {
			return
		}
	}
	if x.completed == nil {
		x.completed = map[int]uint64{}
	}
	x.completed[node] = now
}

// exchanged reports whether every link end of node has the peer's LinkInfo.
func (x *Exchange) exchanged(node int) bool {
	return x.noInfo[node] == 0
}

// Edges returns the edges node recorded, one per link end that received the peer's
// LinkInfo, in port order.
func (x *Exchange) Edges(node int) []Edge {
	var edges []Edge
	for _, ep := range x.order {
		if e := x.ends[ep]; ep.Node == node && e.haveInfo {
			edges = append(edges, e.edge)
		}
	}
	return edges
}

// collect is the manager's report: its own edges and its neighbours', sorted, each once
// (a neighbour reached over several links reports its edges on each of them).
func (x *Exchange) collect() []Edge {
	edges := x.Edges(x.Manager)
	for _, ep := range x.order {
		if e := x.ends[ep]; e.role == roleManager {
			edges = append(edges, e.edges...)
		}
	}
	slices.SortFunc(edges, CompareEdges)
	return slices.Compact(edges)
}

// Report returns the manager's report, sorted by CompareEdges, once every end finished;
// nil before.
func (x *Exchange) Report() []Edge { return slices.Clone(x.report) }

// Pending describes the first end that has not finished, for timeout messages.
func (x *Exchange) Pending() string {
	for _, ep := range x.order {
		e := x.ends[ep]
		if !e.done {
			return fmt.Sprintf("exchange on link end %v: waiting for %s; %d bytes queued, shut %v, eof %v, closed %v (TCP %v)",
				ep, e.awaiting(), len(e.out), e.shut, e.eof, e.closed, e.s.State())
		}
	}
	return "exchange: waiting for connections"
}

// checkDeadline reports the step the end awaits once it took longer than its timeout
// (once per wait).
func (e *exchangeEnd) checkDeadline(now uint64) (MissedDeadline, bool) {
	if e.timeout == 0 || e.since == 0 || now <= e.since+e.timeout || e.missed == e.since {
		return MissedDeadline{}, false
	}
	var what string
	switch {
	case !e.haveInfo:
		what = fmt.Sprintf("the peer's link info (%d of %d bytes)", len(e.in), LinkInfoLen)
	case e.role == roleManager && e.requested && !e.haveCount:
		what = fmt.Sprintf("the report header after the request (%d of %d bytes)", len(e.in), ReportHeaderLen)
	case e.role == roleManager && e.haveCount && len(e.edges) < e.count:
		what = fmt.Sprintf("report edge %d of %d", len(e.edges), e.count)
	case e.role == roleToManager && e.requested && !e.answered:
		what = "the node's other exchanges, to answer the report request"
	case e.role == roleToManager && e.answered && len(e.out) > e.edgeBytes:
		what = "the send of the report header"
	default:
		return MissedDeadline{}, false
	}
	e.missed = e.since
	return MissedDeadline{Local: e.local, Step: what, Since: e.since, Cycle: now, Timeout: e.timeout}, true
}

// receiveAll reads and parses everything that arrived on the end; now restarts the clock of
// the end's deadline when a step completed.
func (e *exchangeEnd) receiveAll(rbuf []byte, now uint64) error {
	eof := e.eof
	steps := e.stepsDone()
	if err := e.receive(rbuf, e.deliver); err != nil {
		return err
	}
	if e.stepsDone() != steps {
		e.since = now
	}
	if e.eof && !eof {
		if what := e.missing(); what != "" {
			return fmt.Errorf("%w: peer closed its side %s", ErrUnexpected, what)
		}
	}
	return nil
}

func (e *exchangeEnd) deliver(p []byte) error {
	e.in = append(e.in, p...)
	return e.parse()
}

// take removes and returns the next n received bytes, if they arrived.
func (e *exchangeEnd) take(n int) ([]byte, bool) {
	if len(e.in) < n {
		return nil, false
	}
	b := e.in[:n:n]
	e.in = e.in[n:]
	return b, true
}

// parse consumes the received bytes the protocol allows at this point.
func (e *exchangeEnd) parse() error {
	for {
		switch {
		case !e.haveInfo:
			b, ok := e.take(LinkInfoLen)
			if !ok {
				return nil
			}
			if err := e.info.UnmarshalBinary(b); err != nil {
				return fmt.Errorf("link info: %w", err)
			}
			e.haveInfo = true
			e.edge.DstDNA, e.edge.DstPort = e.info.DNA, e.info.Port
		case e.role == roleToManager && !e.requested:
			b, ok := e.take(CommandLen)
			if !ok {
				return nil
			}
			var c Command
			if err := c.UnmarshalBinary(b); err != nil {
				return fmt.Errorf("request: %w", err)
			}
			e.requested = true
		case e.role == roleManager && e.requested && !e.haveCount:
			b, ok := e.take(ReportHeaderLen)
			if !ok {
				return nil
			}
			n, err := ParseReportHeader(b)
			if err != nil {
				return fmt.Errorf("report: %w", err)
			}
			e.count, e.haveCount = n, true
		case e.role == roleManager && e.haveCount && len(e.edges) < e.count:
			b, ok := e.take(EdgeLen)
			if !ok {
				return nil
			}
			var ed Edge
			if err := ed.UnmarshalBinary(b); err != nil {
				return fmt.Errorf("report edge %d: %w", len(e.edges), err)
			}
			if err := e.checkEdge(ed); err != nil {
				return fmt.Errorf("report edge %d: %w", len(e.edges), err)
			}
			e.edges = append(e.edges, ed)
		default:
			if len(e.in) > 0 {
				return fmt.Errorf("%w: %d bytes (% x) %s", ErrUnexpected, len(e.in), e.in[:min(len(e.in), 8)], e.nothingDue())
			}
			return nil
		}
	}
}

// nothingDue says why no data may arrive at this point.
func (e *exchangeEnd) nothingDue() string {
	if e.role == roleManager && !e.requested {
		return "before the report request"
	}
	return "after the protocol's end"
}

// checkEdge checks that an edge of the peer's report was recorded by the peer, and that
// its edge back to this end names this end.
func (e *exchangeEnd) checkEdge(ed Edge) error {
	if ed.SrcDNA != e.info.DNA {
		return fmt.Errorf("%w: edge %v was not recorded by the peer (DNA %x)", ErrUnexpected, ed, e.info.DNA)
	}
	if ed.SrcPort == e.info.Port && (ed.DstDNA != e.edge.SrcDNA || ed.DstPort != e.edge.SrcPort) {
		return fmt.Errorf("%w: the peer's edge %v on this link does not end at this end (%x.%d)",
			ErrUnexpected, ed, e.edge.SrcDNA, e.edge.SrcPort)
	}
	return nil
}

// missing describes what the protocol still expects from the peer, or "" if nothing.
func (e *exchangeEnd) missing() string {
	switch {
	case !e.haveInfo:
		return fmt.Sprintf("before its link info (%d of %d bytes)", len(e.in), LinkInfoLen)
	case e.role == roleToManager && !e.requested:
		return fmt.Sprintf("before the report request (%d of %d bytes)", len(e.in), CommandLen)
	case e.role == roleManager && !e.requested:
		return "before the report was requested"
	case e.role == roleManager && !e.haveCount:
		return fmt.Sprintf("before the report header (%d of %d bytes)", len(e.in), ReportHeaderLen)
	case e.role == roleManager && len(e.edges) < e.count:
		return fmt.Sprintf("after %d of %d report edges", len(e.edges), e.count)
	}
	return ""
}

// awaiting describes what the end waits for, for Pending.
func (e *exchangeEnd) awaiting() string {
	switch {
	case !e.haveInfo:
		return fmt.Sprintf("the peer's link info (%d of %d bytes)", len(e.in), LinkInfoLen)
	case e.role == roleManager && !e.requested:
		return "the node's other exchanges, to request the report"
	case e.role == roleManager && !e.haveCount:
		return fmt.Sprintf("the report header (%d of %d bytes)", len(e.in), ReportHeaderLen)
	case e.role == roleManager && len(e.edges) < e.count:
		return fmt.Sprintf("report edge %d of %d", len(e.edges), e.count)
	case e.role == roleToManager && !e.requested:
		return fmt.Sprintf("the manager's report request (%d of %d bytes)", len(e.in), CommandLen)
	case e.role == roleToManager && !e.answered:
		return "the node's other exchanges, to answer the report request"
	case !e.eof:
		return "the peer's end of stream"
	}
	return "the close to complete"
}

// stepsDone counts the protocol steps the end completed on receipt, for its deadline.
func (e *exchangeEnd) stepsDone() int {
	n := len(e.edges)
	for _, b := range []bool{e.haveInfo, e.requested && e.role == roleToManager, e.haveCount} {
		if b {
			n++
		}
	}
	return n
}
