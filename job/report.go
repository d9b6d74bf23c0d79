package job

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"

	"github.com/ringsim/ringsim/bridge"
	"github.com/ringsim/ringsim/bridge/pcap"
	"github.com/ringsim/ringsim/hw"
)

// WriteHeader writes the line that says what the job runs and where.
func WriteHeader(w io.Writer, s Spec, where string) {
	c := s.Sim
	hz := c.ClockHz
	if hz == 0 {
		hz = 125e6
	}
	fw := ""
	if p, ok := s.Firmware.Uniform(c.Topology.Nodes); !ok || p != bridge.Ringsim {
		fw = ", firmware " + s.Firmware.String()
		if ok {
			fw = ", firmware " + string(p)
		}
	}
	link := ""
	if c.Link == hw.LinkReal {
		link = ", real link"
		if c.Real.Control {
			link += " (clock control"
			if c.Real.Settled {
				link += ", settled"
			}
			link += ")"
		}
		if s.AutoCentre {
			link += ", auto-centre on"
		}
		if s.NoRecovery {
			link += ", recovery off"
		}
	}
	fmt.Fprintf(w, "ringsim run: %d nodes (%s), D=%d, %s framing, %s addressing%s%s, seed %d, %.0f MHz, %s\n",
		c.Topology.Nodes, c.Topology.Name, c.Depth, s.codec(), s.Addressing, fw, link, c.Seed, hz/1e6, where)
}

// Human writes a byte count the way the reports do: "1.00 MiB", "64.0 KiB", "512 B".
func Human(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// WriteSummary writes the job's outcome: the steps not shown while it ran (skip lists
// those that were), the verdict, speed, goodput, TCP and per-link frame counters.
func (r *Result) WriteSummary(w io.Writer, s Spec, skip map[string]bool) {
	rep := r.Report
	for _, st := range rep.Steps {
		if skip[st.Name] {
			continue
		}
		fmt.Fprintf(w, "  cycle %10d  %s\n", st.Cycle, st.Name)
	}
	r.WriteVerdict(w, s)
	for _, m := range r.DeadlinesMissed {
		fmt.Fprintf(w, "  exchange deadline missed: %s\n", m)
	}
	fmt.Fprintf(w, "  %d cycles = %.3f ms simulated in %.2f s (%.2f M cycles/s)\n",
		rep.Cycles, rep.SimSeconds*1e3, rep.WallSeconds, rep.CyclesPerSecond/1e6)
	if rep.GoodputBytesPerCycle > 0 {
		fmt.Fprintf(w, "  goodput %.3f bytes/cycle (%.1f MB/s at the link clock), %.0f%% of the bound %.3f\n",
			rep.GoodputBytesPerCycle, rep.GoodputBytesPerCycle*rep.ClockHz/1e6, 100*rep.GoodputShare, rep.GoodputBound)
	}
	fmt.Fprintf(w, "  TCP retransmissions %d; corrupted frames accepted by the framing %d, dropped by IP/TCP %d\n",
		rep.TCPRetransmissions, rep.CorruptedAccepted, rep.StackDropped)
	for _, l := range rep.Links {
		fr := l.Frames
		// One line per link end: what it received (from its peer), then what it sent.
		ip := ""
		if l.LocalIP != "" {
			ip = " (" + l.LocalIP + ")"
		}
		// The received side's counters in the framing's terms: the seed framing (ip) has no
		// CRC (its rejects are malformed IP headers) and no sequence number (no loss count),
		// but reads confirmed by a second read.
		accepted := fmt.Sprint(fr.Accepted)
		if fr.Dropped > 0 {
			accepted += fmt.Sprintf(" (%d of them dropped on purpose, --drop)", fr.Dropped)
		}
		rejects := fmt.Sprintf("bad-crc %d bad-len %d lost %d", fr.BadCRC, fr.BadLength, fr.Lost)
		if rep.Framing == "ip" {
			rejects = fmt.Sprintf("bad-ip-header %d bad-len %d unconfirmed %d", fr.BadCRC, fr.BadLength, fr.Unconfirmed)
		}
		fmt.Fprintf(w, "  node %d port %d%s: from %v aligned@%d alignment offset %d, accepted %s repeats %d %s torn-rx %d | to %v sent %d torn-tx %d",
			l.Local.Node, l.Local.Port, ip, l.Peer, l.AlignedCycle, l.Offset, accepted, fr.Repeats, rejects, fr.TornRX,
			l.Peer, fr.Sent, fr.TornTX)
		if len(l.Recoveries) > 0 {
			comp, re := l.RecoveryCounts()
			fmt.Fprintf(w, " | compensated %d re-aligned %d", comp, re)
		}
		fmt.Fprintln(w)
	}
	if rl := r.RealLink; rl != nil {
		for _, lt := range rl.Links {
			verdict := "TX word i lands at RX word i"
			switch {
			case !lt.Probed:
				verdict = "not probed"
			case !lt.Aligned:
				verdict = fmt.Sprintf("TX word i lands at RX word i%+d (%d of %d words)", lt.Offset, lt.Matched, lt.Depth)
			}
			belief := "the firmware believes it aligned"
			if !lt.FirmwareAligned {
				belief = "the firmware does not believe it aligned"
			}
			fmt.Fprintf(w, "  real link %d %v->%v: up@%v, %d adjustments, %d empty reads, %d frames lost; at the end %s; %s\n",
				lt.Link, lt.From, lt.To, lt.Ups, len(lt.Adjustments), lt.Empty, lt.Lost, verdict, belief)
			if lt.Broken != nil {
				fmt.Fprintf(w, "    BROKEN since cycle %d: %s\n", lt.Broken.Cycle, lt.Broken.Cause)
			}
		}
	}
}

// WriteVerdict writes the job's verdict: PASS and what passed, or FAIL and why (with the
// wait-for chain of a stall).
func (r *Result) WriteVerdict(w io.Writer, s Spec) {
	rep := r.Report
	switch {
	case r.Err != nil:
		fmt.Fprintf(w, "FAIL: %v\n", r.Err)
		if st := rep.Stall; st != nil && len(st.Chain) > 0 {
			fmt.Fprintf(w, "  wait-for chain:\n")
			for _, wt := range st.Chain {
				fmt.Fprintf(w, "    %s\n", wt)
			}
		}
		if r.SoftUGN != nil {
			r.SoftUGN.write(w)
		}
	case s.app() == AppSoftUGN && r.SoftUGN != nil:
		fmt.Fprintf(w, "PASS: %s\n", r.SoftUGN.Summary())
		r.SoftUGN.write(w)
	case s.app() == AppHello:
		fmt.Fprintf(w, "PASS: greetings and messages exchanged and verified on %d link(s)\n", len(rep.Links)/2)
	case s.app() == AppAlign:
		fmt.Fprintf(w, "PASS: %d link end(s) aligned\n", len(rep.Links))
	case s.app() == AppExchange:
		ugn := "the ideal link has no UGN capture"
		if s.Sim.Link == hw.LinkReal {
			ugn = "hardware UGN as the src end's firmware read it from UGN capture"
		}
		fmt.Fprintf(w, "PASS: node %d collected %d edges, each recorded by its src end (%s):\n", s.ManagerNode(), len(r.Edges), ugn)
		for _, e := range r.Edges {
			fmt.Fprintf(w, "    %s\n", e)
		}
		if len(r.Completion) > 0 {
			var parts []string
			last := 0.0
			for _, c := range r.Completion {
				parts = append(parts, fmt.Sprintf("node %d %.3f ms", c.Node, 1e3*c.SimSeconds))
				last = max(last, c.SimSeconds)
			}
			fmt.Fprintf(w, "  every node completed the exchange, the last %.3f ms after reset (upstream's demo allows 60 s): %s\n",
				1e3*last, strings.Join(parts, ", "))
		}
	default:
		fmt.Fprintf(w, "PASS: %s each way on %d link(s) arrived intact (SHA-256 match)\n", Human(s.Bytes), len(rep.Links)/2)
	}
}

// pcapFile is a pcapng writer and the file under it.
type pcapFile struct {
	*pcap.NgWriter
	f *os.File
}

var (
	_ bridge.PacketWriter = pcapFile{}
	_ bridge.PacketNamer  = pcapFile{}
)

// Close implements bridge.PacketWriter.Close.
func (p pcapFile) Close() error { return p.f.Close() }

// Names implements bridge.PacketNamer: a name resolution block naming each address by its
// link end ("node0-port0"), which Wireshark and tshark show in place of the address. Under
// upstream addressing both ends share one address; it is named for both ("node0-port0/node1-port0").
func (p pcapFile) Names(local, peer hw.Endpoint, localAddr, peerAddr netip.Addr) error {
	name := func(ep hw.Endpoint) string { return fmt.Sprintf("node%d-port%d", ep.Node, ep.Port) }
	if localAddr == peerAddr {
		return p.WriteNames([]pcap.Name{{Addr: localAddr, Name: name(local) + "/" + name(peer)}})
	}
	return p.WriteNames([]pcap.Name{{Addr: localAddr, Name: name(local)}, {Addr: peerAddr, Name: name(peer)}})
}

// CreatePcap creates a pcapng file (LINKTYPE_RAW, nanosecond simulated time) for the
// packets of link end ep, whose partner is peer: its interface is named "node<N>-port<P>"
// and described as the link.
func CreatePcap(path string, ep, peer hw.Endpoint) (bridge.PacketWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create pcap: %w", err)
	}
	iface := pcap.Interface{
		Name:        fmt.Sprintf("node%d-port%d", ep.Node, ep.Port),
		Description: fmt.Sprintf("ringsim link end node %d port %d, to and from node %d port %d (raw IPv4)", ep.Node, ep.Port, peer.Node, peer.Port),
	}
	w, err := pcap.NewNgWriter(f, iface, "ringsim")
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("create pcap: %w", err)
	}
	return pcapFile{w, f}, nil
}
