package bridge

import (
	"sort"
	"time"

	"github.com/ringsim/ringsim/hw"
)

// Report is the outcome of a run: what the README's figures and `ringsim run --json` show.
type Report struct {
	Seed       uint64  `json:"seed"`
	Framing    string  `json:"framing"`
	Addressing string  `json:"addressing"`
	Depth      int     `json:"depth"`
	Nodes      int     `json:"nodes"`
	ClockHz    float64 `json:"clock_hz"`
	Pacing     uint64  `json:"pacing_cycles"`
	Guard      uint64  `json:"guard_cycles"`
	Cost       Cost    `json:"cpu_cost"`
	// Firmware is the nodes' firmware profiles (Firmware.String); absent when every node
	// runs ringsim's.
	Firmware string `json:"firmware,omitempty"`

	Cycles      uint64  `json:"cycles"`
	SimSeconds  float64 `json:"sim_seconds"`
	WallSeconds float64 `json:"wall_seconds"`
	// CyclesPerSecond is simulated cycles per wall-clock second over the whole run.
	CyclesPerSecond float64 `json:"cycles_per_second"`

	// Steps are the run's milestones with the cycle each was reached.
	Steps []Step `json:"steps"`

	BytesSent     int64 `json:"bytes_sent"`
	BytesReceived int64 `json:"bytes_received"`
	SHA256Match   bool  `json:"sha256_match"`
	// Goodput is application bytes received (all links, both directions) per cycle of the
	// transfer phase; GoodputBound is the bound derived for the one-packet-per-buffer
	// protocol (README, "Goodput") and GoodputShare their ratio.
	GoodputBytesPerCycle float64 `json:"goodput_bytes_per_cycle"`
	GoodputBound         float64 `json:"goodput_bound_bytes_per_cycle"`
	GoodputShare         float64 `json:"goodput_share_of_bound"`
	TransferCycles       uint64  `json:"transfer_cycles"`

	TCPRetransmissions uint64 `json:"tcp_retransmissions"`
	// CorruptedAccepted counts packets the framing accepted that the peer never sent (bit
	// errors the link checksum missed, or the seed framing's lack of one); StackDropped
	// counts packets handed to the stacks that IP or TCP threw away (checksums, headers):
	// the packets delivered minus the valid TCP segments received.
	CorruptedAccepted uint64 `json:"corrupted_accepted"`
	StackDropped      uint64 `json:"stack_dropped"`

	Links  []LinkReport `json:"links"`
	Stacks []NodeReport `json:"node_stacks"`

	Error string `json:"error,omitempty"`
	// Stall is why the run stopped without finishing, with the wait-for chain, when a stall
	// detector or a time bound ended it.
	Stall *Stall `json:"stall,omitempty"`
	// SoftUGN is each node's soft-UGN demo, for nodes that ran its message phase
	// (upstream-softugn).
	SoftUGN []*SoftUGNNode `json:"soft_ugn_nodes,omitempty"`
}

// Step is a milestone of a run.
type Step struct {
	Name  string `json:"name"`
	Cycle uint64 `json:"cycle"`
}

// LinkReport describes one direction-pair end of a link, from the local node's view.
type LinkReport struct {
	Local hw.Endpoint `json:"local"`
	Peer  hw.Endpoint `json:"peer"`
	// AlignedCycle is when this end reached Aligned; Offset the alignment offset (the total
	// clear_at_count shift, the measured offset n; soft-UGN: the last value written), Clears
	// and Scans how it got there. The offset is not the link's hardware UGN.
	AlignedCycle uint64 `json:"aligned_cycle"`
	Offset       int    `json:"offset"`
	Clears       int    `json:"clears"`
	Scans        int    `json:"scans"`
	// PhaseCycles are the cycles at which each alignment phase was entered.
	PhaseCycles map[string]uint64 `json:"-"`
	// Phases are the same, in the order the end entered them.
	Phases           []PhaseEntry `json:"phases"`
	EstablishedCycle uint64       `json:"established_cycle"`
	// Recoveries are what ringsim's firmware did on the real link to keep this end's frame
	// relation: adjustments compensated and re-alignments (docs/reallink.md).
	Recoveries []Recovery `json:"recoveries,omitempty"`
	// RelationCheckedCycle is when ringsim's firmware last read the link's auto-centre
	// total to keep the frame relation (the real link; 0 when it does not watch): later
	// adjustments are ones it has not had a check to see yet.
	RelationCheckedCycle uint64 `json:"relation_checked_cycle,omitempty"`
	// LocalIP and PeerIP are the link end's IPv4 address and its partner's (once the
	// packet phase attached the end; upstream addressing gives both ends 10.0.0.1).
	LocalIP string `json:"local_ip,omitempty"`
	PeerIP  string `json:"peer_ip,omitempty"`
	// HardwareUGN is the link's UGN capture as the firmware read it (the real link).
	HardwareUGN     *int64      `json:"hardware_ugn,omitempty"`
	Frames          DeviceStats `json:"frames"`
	CorruptAccepted uint64      `json:"corrupted_accepted"`
}

// RecoveryCounts returns how many adjustments the link end's firmware compensated and how
// often it re-aligned the link.
func (l LinkReport) RecoveryCounts() (compensated, realigned int) {
	for _, r := range l.Recoveries {
		if r.Kind == Compensated {
			compensated++
		} else {
			realigned++
		}
	}
	return compensated, realigned
}

// PhaseEntry is an alignment phase a link end entered, and when.
type PhaseEntry struct {
	Phase string `json:"phase"`
	Cycle uint64 `json:"cycle"`
}

// NodeReport is one node's TCP/IP stack counters.
type NodeReport struct {
	Node               int    `json:"node"`
	TCPRetransmissions uint64 `json:"tcp_retransmissions"`
	TCPTimeouts        uint64 `json:"tcp_timeouts"`
	TCPChecksumErrors  uint64 `json:"tcp_checksum_errors"`
	IPMalformed        uint64 `json:"ip_malformed"`
	SegmentsSent       uint64 `json:"tcp_segments_sent"`
	SegmentsReceived   uint64 `json:"tcp_segments_received"`
	FastRetransmits    uint64 `json:"tcp_fast_retransmits"`
	SlowStartRetrans   uint64 `json:"tcp_slow_start_retransmits"`
	SACKRecoveries     uint64 `json:"tcp_sack_recoveries"`
	TLPRecoveries      uint64 `json:"tcp_tlp_recoveries"`
	SpuriousRecoveries uint64 `json:"tcp_spurious_recoveries"`
	DSACKAcked         uint64 `json:"tcp_dsack_acked"`
}

func (rt *Runtime) buildReport(start uint64) *Report {
	m := rt.m
	now := rt.now()
	r := &Report{
		Seed: rt.cfg.Seed, Framing: rt.cfg.Framing.String(), Addressing: rt.cfg.Addressing.String(),
		Depth: m.Depth(), Nodes: m.Nodes(), ClockHz: m.ClockHz(), Pacing: rt.pacing(),
		Guard: rt.guard, Cost: rt.cfg.Cost,
		Firmware: rt.firmwareName(),
		Cycles:   now - start, SimSeconds: float64(now-start) / m.ClockHz(),
		WallSeconds: time.Since(rt.wall).Seconds(),
	}
	if r.WallSeconds > 0 {
		r.CyclesPerSecond = float64(now-rt.runStart) / r.WallSeconds // simulated here
	}
	for name, c := range rt.steps {
		r.Steps = append(r.Steps, Step{name, c})
	}
	sort.Slice(r.Steps, func(i, j int) bool {
		a, b := r.Steps[i], r.Steps[j]
		return a.Cycle < b.Cycle || a.Cycle == b.Cycle && a.Name < b.Name
	})
	for _, l := range rt.links {
		lr := LinkReport{
			Local: l.ep, Peer: l.peer, AlignedCycle: l.al.entered[Aligned], Offset: l.al.offset,
			Clears: l.al.clears, Scans: l.al.scans, EstablishedCycle: l.estab,
			PhaseCycles: map[string]uint64{}, Phases: []PhaseEntry{}, CorruptAccepted: l.tally.corrupted, Recoveries: l.recoveries, HardwareUGN: l.ugn,
		}
		for ph := FindingAlignment; ph <= Aligned; ph++ {
			if l.al.seen[ph] {
				lr.PhaseCycles[ph.String()] = l.al.entered[ph]
			}
		}
		for ph := FindingAlignment; ph <= Aligned; ph++ {
			if l.al.seen[ph] {
				lr.Phases = append(lr.Phases, PhaseEntry{Phase: ph.String(), Cycle: l.al.entered[ph]})
			}
		}
		sort.SliceStable(lr.Phases, func(i, j int) bool { return lr.Phases[i].Cycle < lr.Phases[j].Cycle })
		switch {
		case l.health != nil:
			lr.RelationCheckedCycle = l.acSeen
		case l.al.watchAC:
			lr.RelationCheckedCycle = l.al.acSeen // aligned, not watched yet
		}
		if l.localAddr.IsValid() {
			lr.LocalIP, lr.PeerIP = l.localAddr.String(), l.peerAddr.String()
		}
		if l.al.phase != Aligned {
			lr.AlignedCycle = 0
		}
		if l.dev != nil {
			lr.Frames = l.dev.counters()
		}
		if l.drop != nil {
			lr.Frames.Dropped = l.drop.dropped
		}
		r.CorruptedAccepted += l.tally.corrupted
		r.Links = append(r.Links, lr)
	}
	for _, n := range rt.nodes {
		if n.softUGN != nil {
			r.SoftUGN = append(r.SoftUGN, n.softUGN)
		}
	}
	var delivered, valid uint64
	for _, l := range rt.links {
		if l.ep4 != nil {
			ls := l.ep4.Stats()
			delivered += ls.RxPackets + ls.RxDropped
		}
	}
	for _, n := range rt.nodes {
		if n.stack == nil {
			continue
		}
		s := n.stack.Stats()
		valid += s.TCPSegmentsReceived
		r.Stacks = append(r.Stacks, NodeReport{
			Node: n.id, TCPRetransmissions: s.TCPRetransmits, TCPTimeouts: s.TCPTimeouts,
			TCPChecksumErrors: s.TCPChecksumErrors, IPMalformed: s.IPMalformed,
			SegmentsSent: s.TCPSegmentsSent, SegmentsReceived: s.TCPSegmentsReceived,
			FastRetransmits: s.TCPFastRetransmits, SlowStartRetrans: s.TCPSlowStartRetrans,
			SACKRecoveries: s.TCPSACKRecovery, TLPRecoveries: s.TCPTLPRecovery,
			SpuriousRecoveries: s.TCPSpuriousRecovery, DSACKAcked: s.TCPDSACKAcked,
		})
		r.TCPRetransmissions += s.TCPRetransmits
	}
	if delivered > valid {
		r.StackDropped = delivered - valid
	}
	if a, ok := rt.cfg.App.(interface{ Summary() AppSummary }); ok {
		s := a.Summary()
		r.BytesSent, r.BytesReceived, r.SHA256Match = s.BytesSent, s.BytesReceived, s.SHA256Match
		if s.End > 0 {
			r.Steps = append(r.Steps, Step{"transferred", s.End})
		}
		if s.SHA256Match {
			r.Steps = append(r.Steps, Step{"verified", s.End})
		}
		if s.Closed > 0 {
			r.Steps = append(r.Steps, Step{"closed", s.Closed})
		}
		if s.End > s.Start {
			r.TransferCycles = s.End - s.Start
			r.GoodputBytesPerCycle = float64(s.BytesReceived) / float64(r.TransferCycles)
		}
	}
	sort.SliceStable(r.Steps, func(i, j int) bool { return r.Steps[i].Cycle < r.Steps[j].Cycle })
	if r.GoodputBytesPerCycle > 0 {
		r.GoodputBound = rt.goodputBound()
		if r.GoodputBound > 0 {
			r.GoodputShare = r.GoodputBytesPerCycle / r.GoodputBound
		}
	}
	return r
}

// AppSummary is what an application reports for the run report.
type AppSummary struct {
	BytesSent     int64
	BytesReceived int64
	SHA256Match   bool
	Start, End    uint64 // cycles the transfer started and the last byte arrived
	Closed        uint64 // cycle every connection was closed
}

// Goodput bound (README, "Goodput"). One packet at a time lives in a TX buffer, and each
// node's single CPU both writes the packets it sends and reads the packets it receives,
// through a 32-bit bus. In a bulk transfer in both directions every data segment also
// carries the acknowledgement, so per packet each node spends
//
//	T_send = W            bus writes of the frame (W = 32-bit words of the frame)
//	       + PerPacket + PerByte*F
//	T_recv = 4 + 2        header read (2 words, 2 cycles each) and RX disable/enable
//	       + 2*W          bus reads of the frame (one cycle of RAM latency each)
//	       + Poll + PerPacket + PerByte*F
//
// (F = frame bytes) and a node with links moves at most P payload bytes per
// T_send + T_recv cycles, P = MTU - 80 (TCP's MSS with gVisor's option space). The bound
// on the sum of all application bytes received per cycle is nodes * P / (T_send + T_recv).
// It ignores link latency, rotation waits and lost packets, so real runs stay below it.
func (rt *Runtime) goodputBound() float64 {
	mtu := rt.links[0].dev
	if mtu == nil {
		return 0
	}
	p := float64(mtu.MTU() - 80)
	pkt := p + 52 // IPv4 + TCP headers + the timestamp option
	frame := pkt
	frame += float64(rt.cfg.Framing.Overhead())
	w := 2 * float64((int(frame)+7)/8)
	c := rt.cfg.Cost
	cpu := float64(c.PerPacket) + float64(c.PerByte16)/16*frame
	tSend := w + cpu
	tRecv := 6 + 2*w + float64(c.Poll) + cpu
	nodes := 0
	for _, n := range rt.nodes {
		if len(n.links) > 0 {
			nodes++
		}
	}
	return float64(nodes) * p / (tSend + tRecv)
}

// firmwareName is Report.Firmware: empty when every node runs ringsim's firmware.
func (rt *Runtime) firmwareName() string {
	if p, ok := rt.cfg.Firmware.Uniform(len(rt.nodes)); ok && p == Ringsim {
		return ""
	}
	f := rt.cfg.Firmware
	if p, ok := f.Uniform(len(rt.nodes)); ok {
		return string(p)
	}
	return f.String()
}
