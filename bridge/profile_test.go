package bridge_test

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ringsim/ringsim/bridge"
	"github.com/ringsim/ringsim/bridge/app"
	"github.com/ringsim/ringsim/bridge/netstack"
	"github.com/ringsim/ringsim/hw"
)

func TestParseFirmware(t *testing.T) {
	tests := []struct {
		in      string
		want    bridge.Firmware
		str     string
		wantErr bool
	}{
		{"ringsim", bridge.Firmware{Default: bridge.Ringsim}, "ringsim", false},
		{"upstream-async", bridge.Firmware{Default: bridge.UpstreamAsync}, "upstream-async", false},
		{"0=upstream-async,1=ringsim", bridge.Firmware{Nodes: map[int]bridge.Profile{0: bridge.UpstreamAsync, 1: bridge.Ringsim}},
			"ringsim,0=upstream-async,1=ringsim", false},
		{"upstream-softugn,3=ringsim", bridge.Firmware{Default: bridge.UpstreamSoftUGN, Nodes: map[int]bridge.Profile{3: bridge.Ringsim}},
			"upstream-softugn,3=ringsim", false},
		{"smoltcp", bridge.Firmware{}, "", true},
		{"ringsim,upstream-async", bridge.Firmware{}, "", true},
		{"0=ringsim,0=upstream-async", bridge.Firmware{}, "", true},
		{"x=ringsim", bridge.Firmware{}, "", true},
		{"-1=ringsim", bridge.Firmware{}, "", true},
		{"", bridge.Firmware{}, "", true},
	}
	for _, tt := range tests {
		got, err := bridge.ParseFirmware(tt.in)
		if tt.wantErr {
			if !errors.Is(err, bridge.ErrBadConfig) {
				t.Errorf("ParseFirmware(%q): got %+v, %v; want ErrBadConfig", tt.in, got, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseFirmware(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseFirmware(%q) (-want +got):\n%s", tt.in, diff)
		}
		if s := got.String(); s != tt.str {
			t.Errorf("ParseFirmware(%q).String() = %q, want %q", tt.in, s, tt.str)
		}
	}
	if err := (bridge.Firmware{Nodes: map[int]bridge.Profile{2: bridge.Ringsim}}).Validate(2); !errors.Is(err, bridge.ErrBadConfig) {
		t.Errorf("firmware for node 2 of 2: got %v, want ErrBadConfig", err)
	}
}

// profileRun is one bridge run with firmware profiles on the reference machine.
type profileRun struct {
	topo     hw.Topology
	depth    int
	seed     uint64
	firmware string
	cost     bridge.Cost
	app      bridge.App
	deadline uint64
	// addressing, if set, overrides the default: upstream when every node runs
	// upstream-async, derived otherwise.
	addressing *bridge.Addressing
	// pcap, if set, records every link end's packets.
	pcap func(ep hw.Endpoint) bridge.PacketWriter
	// alignOnly stops once every link aligned; softUGN is the soft-UGN demo's timing (zero:
	// shortTiming).
	alignOnly bool
	softUGN   bridge.SoftUGNTiming
}

// shortTiming is the soft-UGN demo with short waits before its first message: enough for
// every node to align first on the tests' topologies, a thousand times less than upstream's.
var shortTiming = bridge.SoftUGNTiming{Settle: 50_000, StartDelay: 20_480, Events: 1000}

func (pr profileRun) run(t *testing.T) (*bridge.Report, error) {
	t.Helper()
	fw, err := bridge.ParseFirmware(pr.firmware)
	if err != nil {
		t.Fatal(err)
	}
	if pr.depth == 0 {
		pr.depth = 128
	}
	if pr.cost == (bridge.Cost{}) {
		pr.cost = bridge.DefaultCost
	}
	if pr.deadline == 0 {
		pr.deadline = 200_000_000
	}
	e := machine(t, hw.Config{Topology: pr.topo, Depth: pr.depth, Seed: pr.seed})
	addressing := bridge.Derived
	if p, ok := fw.Uniform(pr.topo.Nodes); ok && p == bridge.UpstreamAsync {
		addressing = bridge.Upstream
	}
	if pr.addressing != nil {
		addressing = *pr.addressing
	}
	cfg := bridge.Config{Machine: e, Wiring: pr.topo.Wiring(), Cost: pr.cost, Seed: pr.seed, App: pr.app,
		Deadline: pr.deadline, LinkLatency: uint64(pr.topo.MaxLinkLatency()), Firmware: fw, Addressing: addressing,
		AlignOnly: pr.alignOnly, SoftUGN: pr.softUGN}
	if cfg.SoftUGN == (bridge.SoftUGNTiming{}) {
		cfg.SoftUGN = shortTiming
	}
	if pr.pcap != nil {
		cfg.Pcap = func(ep hw.Endpoint, _ float64) (bridge.PacketWriter, error) { return pr.pcap(ep), nil }
	}
	rt, err := bridge.New(cfg)
	if err != nil {
		t.Fatalf("bridge.New: %v", err)
	}
	start := time.Now()
	rep, err := rt.Run(context.Background())
	t.Logf("%s, %s: %d cycles in %v: %v", pr.topo.Name, pr.firmware, rep.Cycles, time.Since(start).Round(time.Millisecond), err)
	return rep, err
}

// TestRingDeadlock is upstream's serial alignment on ringsim's built-in ring: every node
// steps its port 0 first, whose partner is its left neighbour's port 1, which that neighbour
// steps only after its own port 0. The run stops at once with the wait-for cycle.
func TestRingDeadlock(t *testing.T) {
	rep, err := profileRun{topo: hw.Ring(3, 16), seed: 1, firmware: "upstream-async", app: app.NewExchange(0, nil)}.run(t)
	if !errors.Is(err, bridge.ErrStalled) || rep.Stall == nil {
		t.Fatalf("got %v, want a stall", err)
	}
	want := `alignment deadlock at cycle 781: node 0 -> node 2 -> node 1 -> node 0 wait for each other: each aligns one port at a time, in port order (upstream-async), and the port it steps faces a port its neighbour steps only later
wait-for chain:
  node 0 port 0 (upstream-async) FindingAlignment since cycle 489: waits for node 2 port 1 to announce; node 2 steps its port 0 first
  node 2 port 0 (upstream-async) FindingAlignment since cycle 780: waits for node 1 port 1 to announce; node 1 steps its port 0 first
  node 1 port 0 (upstream-async) FindingAlignment since cycle 352: waits for node 0 port 1 to announce; node 0 steps its port 0 first`
	if diff := cmp.Diff(want, rep.Stall.String()); diff != "" {
		t.Errorf("deadlock message (-want +got):\n%s", diff)
	}
	if got := err.Error(); got != want[:len(got)] {
		t.Errorf("error %q is not the message's first line", got)
	}
	if rep.Stall.Cause != bridge.StallDeadlock || len(rep.Stall.Chain) != 3 {
		t.Errorf("stall %+v: want cause %q and 3 links in the chain", rep.Stall, bridge.StallDeadlock)
	}
}

// upstreamSetup is a CPU cost between alignment and the packet phase that lets upstream's
// async-comms firmware complete on a pair: its partner then sees the zero word it waits for
// before the first packet (see TestUpstreamAsyncWaitingForZeroes).
var upstreamSetup = bridge.Cost{Poll: 20, PerByte16: 16, PerPacket: 300, Setup: 2000}

// TestProfilesComplete runs every profile on wirings where it can complete: the exchange
// app (for the profiles with a packet phase) or alignment alone, on a pair and on the rig,
// with the manager's report complete. The rig runs take a few seconds each on the
// reference machine.
func TestProfilesComplete(t *testing.T) {
	tests := []struct {
		name     string
		topo     hw.Topology
		firmware string
		cost     bridge.Cost
		exchange bool
	}{
		{"ringsim/pair", hw.Pair(16), "ringsim", bridge.DefaultCost, true},
		{"ringsim/ring", hw.Ring(3, 16), "ringsim", bridge.DefaultCost, true},
		{"ringsim/rig", hw.Rig(16), "ringsim", bridge.DefaultCost, true},
		{"upstream-async/pair", hw.Pair(16), "upstream-async", upstreamSetup, true},
		{"upstream-async/rig", hw.Rig(16), "upstream-async", bridge.DefaultCost, true},
		{"upstream-softugn/pair", hw.Pair(16), "upstream-softugn", bridge.DefaultCost, false},
		{"upstream-softugn/ring", hw.Ring(3, 16), "upstream-softugn", bridge.DefaultCost, false},
		{"upstream-softugn/rig", hw.Rig(16), "upstream-softugn", bridge.DefaultCost, false},
		{"mixed/pair", hw.Pair(16), "0=upstream-async,1=ringsim", bridge.DefaultCost, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			manager := 0
			if tt.topo.Name == "rig" {
				manager = hw.RigManager
			}
			var x *app.Exchange
			var a bridge.App
			if tt.exchange {
				x = app.NewExchange(manager, nil)
				a = x
			}
			start := time.Now()
			rep, err := profileRun{topo: tt.topo, seed: 1, firmware: tt.firmware, cost: tt.cost, app: a}.run(t)
			if err != nil {
				t.Fatalf("run: %v\n%s", err, rep.Stall)
			}
			t.Logf("%d link ends, %d cycles (%.2f ms simulated), %v wall", len(rep.Links), rep.Cycles, rep.SimSeconds*1e3, time.Since(start).Round(time.Millisecond))
			for _, l := range rep.Links {
				if l.AlignedCycle == 0 {
					t.Errorf("link end %v not aligned", l.Local)
				}
				if tt.exchange && l.EstablishedCycle == 0 {
					t.Errorf("link end %v not connected", l.Local)
				}
			}
			fw, _ := bridge.ParseFirmware(tt.firmware)
			checkPhases(t, rep, fw)
			if p, _ := fw.Uniform(tt.topo.Nodes); p == bridge.UpstreamSoftUGN {
				checkSoftUGN(t, rep, tt.topo)
			}
			if x != nil {
				if got, want := len(x.Report()), len(tt.topo.Links); got != want {
					t.Errorf("the manager's report has %d edges, want %d", got, want)
				}
				for _, m := range x.Missed() {
					t.Logf("exchange deadline missed: %s", m)
				}
			}
		})
	}
}

// TestUpstreamAsyncWaitingForZeroes is SPEC section 3's pitfall in upstream's firmware: it
// opens TCP right after its last link aligned, with no guard, and its transmit enables TX
// with the alignment's ACK still in TX word 0 (and seq and len in its upper half), so a
// partner still in WaitingForZeroes never reads 0 again. With a CPU that spends nothing
// between aligning and polling (Cost.Setup 0) a pair runs into it; the run stops with the
// diagnosis instead of timing out.
func TestUpstreamAsyncWaitingForZeroes(t *testing.T) {
	rep, err := profileRun{topo: hw.Pair(16), seed: 1, firmware: "upstream-async", app: app.NewExchange(0, nil)}.run(t)
	if !errors.Is(err, bridge.ErrStalled) || rep.Stall == nil || rep.Stall.Cause != bridge.StallHeldZeroes {
		t.Fatalf("got %v, want an endless WaitingForZeroes", err)
	}
	t.Logf("\n%s", rep.Stall)
	w := rep.Stall.Chain[0]
	if w.Phase != "WaitingForZeroes" || w.Firmware != bridge.UpstreamAsync {
		t.Errorf("chain starts with %v, want an upstream-async end in WaitingForZeroes", w)
	}
	if rep.Cycles > 100_000 {
		t.Errorf("diagnosed after %d cycles, want right after the partner's first packet", rep.Cycles)
	}
}

// TestSoftUGNPartnerHoldsZeroes mixes the soft-UGN alignment (TX never disabled) with the
// four-phase one: the four-phase end waits in WaitingForZeroes for a zero its partner never
// sends.
func TestSoftUGNPartnerHoldsZeroes(t *testing.T) {
	rep, err := profileRun{topo: hw.Pair(16), seed: 1, firmware: "0=upstream-softugn,1=ringsim"}.run(t)
	if !errors.Is(err, bridge.ErrStalled) || rep.Stall == nil || rep.Stall.Cause != bridge.StallHeldZeroes {
		t.Fatalf("got %v, want an endless WaitingForZeroes", err)
	}
	t.Logf("\n%s", rep.Stall)
	want := "node 1 port 0 waits for RX word 0 to read 0, but node 0 port 0 never disables TX (its protocol keeps its marker at TX word 0) since cycle"
	if d := rep.Stall.Detail; len(d) < len(want) || d[:len(want)] != want {
		t.Errorf("detail %q, want it to start with %q", d, want)
	}
}

// TestLinkDown cuts one direction of a pair (every frame arrives as zero): the end behind
// it never sees its partner's marker, and the run stops after a few scans, long before any
// time bound.
func TestLinkDown(t *testing.T) {
	for _, fw := range []string{"ringsim", "upstream-async", "upstream-softugn"} {
		t.Run(fw, func(t *testing.T) {
			topo := hw.Pair(16)
			topo.Links[0].Faults = hw.Faults{FrameZero: 1} // 0.0 -> 1.0
			rep, err := profileRun{topo: topo, seed: 1, firmware: fw}.run(t)
			if !errors.Is(err, bridge.ErrStalled) || rep.Stall == nil || rep.Stall.Cause != bridge.StallLinkDown {
				t.Fatalf("got %v, want link down", err)
			}
			t.Logf("\n%s", rep.Stall)
			if w := rep.Stall.Chain[0]; w.Node != 1 || w.Port != 0 || w.Phase != "FindingAlignment" {
				t.Errorf("chain starts with %v, want node 1 port 0 in FindingAlignment", w)
			}
			if rep.Cycles > 200_000 {
				t.Errorf("diagnosed after %d cycles, want within a few scans", rep.Cycles)
			}
		})
	}
}

// TestPacketTooLarge runs at D = 8, where the CRC framing carries 56-byte packets: less than
// IPv4's minimum MTU of 68, so the stack would send nothing and TCP would wait for ever.
func TestPacketTooLarge(t *testing.T) {
	for _, fw := range []string{"ringsim", "upstream-async"} {
		t.Run(fw, func(t *testing.T) {
			rep, err := profileRun{topo: hw.Pair(4), depth: 8, seed: 1, firmware: fw, cost: upstreamSetup, app: app.NewHello(1)}.run(t)
			if !errors.Is(err, bridge.ErrStalled) || rep.Stall == nil || rep.Stall.Cause != bridge.StallTooLarge {
				t.Fatalf("got %v, want packet too large", err)
			}
			t.Logf("\n%s", rep.Stall)
		})
	}
}

// TestDeadlineChain checks the last resort: a run that reaches its Deadline stops with
// ErrTimeout and the wait-for chain of the link ends that have not finished.
func TestDeadlineChain(t *testing.T) {
	rep, err := profileRun{topo: hw.Pair(16), seed: 1, firmware: "ringsim", deadline: 3000}.run(t)
	if !errors.Is(err, bridge.ErrTimeout) || rep.Stall == nil || rep.Stall.Cause != bridge.StallDeadline {
		t.Fatalf("got %v, want the deadline", err)
	}
	t.Logf("\n%s", rep.Stall)
	if len(rep.Stall.Chain) != 2 {
		t.Errorf("chain %v: want both link ends", rep.Stall.Chain)
	}
}

// segLog records a link end's TCP segments (sent and received) in the order the device
// moved them.
type segLog struct{ segs []tcpSegment }

type tcpSegment struct {
	src        [4]byte
	flags      byte
	seq, ack   uint32
	window     uint16
	payloadLen int
}

// WritePacket implements bridge.PacketWriter.
func (l *segLog) WritePacket(_ int64, pkt []byte) error {
	if len(pkt) < 40 || pkt[0]>>4 != 4 || pkt[9] != 6 {
		return nil
	}
	ihl := int(pkt[0]&15) * 4
	tcp := pkt[ihl:]
	total := int(binary.BigEndian.Uint16(pkt[2:]))
	var src [4]byte
	copy(src[:], pkt[12:16])
	l.segs = append(l.segs, tcpSegment{src: src, flags: tcp[13], seq: binary.BigEndian.Uint32(tcp[4:]),
		ack: binary.BigEndian.Uint32(tcp[8:]), window: binary.BigEndian.Uint16(tcp[14:]),
		payloadLen: total - ihl - int(tcp[12]>>4)*4})
	return nil
}

// Close implements bridge.PacketWriter.
func (l *segLog) Close() error { return nil }

// TestUpstreamBuffers checks upstream-async's 256-byte TCP buffers emulated around gVisor:
// every segment an upstream node sends advertises at most 256 bytes of window, and it never
// has more than 256 bytes sent and not acknowledged, also to a ringsim peer whose window is
// far larger; a ringsim node sending to an upstream one is held to 256 bytes by the
// clamped window. Derived addressing tells the two ends' segments apart in a capture.
func TestUpstreamBuffers(t *testing.T) {
	for _, fw := range []string{"upstream-async", "0=upstream-async,1=ringsim"} {
		t.Run(fw, func(t *testing.T) { checkUpstreamBuffers(t, fw) })
	}
}

func checkUpstreamBuffers(t *testing.T, firmware string) {
	logs := map[hw.Endpoint]*segLog{}
	derived := bridge.Derived
	tr := app.NewTransfer(8<<10, 1)
	_, err := profileRun{topo: hw.Pair(16), seed: 1, firmware: firmware, cost: upstreamSetup, app: tr,
		addressing: &derived, pcap: func(ep hw.Endpoint) bridge.PacketWriter {
			logs[ep] = &segLog{}
			return logs[ep]
		}}.run(t)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Verify(); err != nil {
		t.Fatal(err)
	}
	fw, _ := bridge.ParseFirmware(firmware)
	cfg, err := hw.Config{Topology: hw.Pair(16), Depth: 128, Seed: 1}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	for ep, l := range logs {
		upstream := fw.Of(ep.Node) == bridge.UpstreamAsync
		var dna [12]byte
		for i, w := range cfg.DNA[ep.Node] {
			binary.LittleEndian.PutUint32(dna[4*i:], w)
		}
		own := netstack.PortID{DNA: dna, Port: uint32(ep.Port)}.Addr().As4()
		var maxEnd, maxAck uint32
		var sent, worst int
		var widest uint16
		haveAck := false
		for _, s := range l.segs {
			mine := s.src == own
			switch {
			case mine && s.flags&0x02 != 0:
				maxEnd = s.seq + 1
			case mine:
				sent++
				widest = max(widest, s.window)
				// Data only: a FIN's sequence number is not an application byte.
				if end := s.seq + uint32(s.payloadLen); s.payloadLen > 0 && int32(end-maxEnd) > 0 {
					maxEnd = end
				}
			case s.flags&0x10 != 0 && (!haveAck || int32(s.ack-maxAck) > 0):
				maxAck, haveAck = s.ack, true
			}
			if haveAck {
				worst = max(worst, int(int32(maxEnd-maxAck)))
			}
		}
		t.Logf("link end %v (%s): %d segments after its SYN, widest window %d, at most %d bytes unacknowledged",
			ep, fw.Of(ep.Node), sent, widest, worst)
		if worst > 256 {
			t.Errorf("link end %v had %d bytes unacknowledged, want at most 256", ep, worst)
		}
		if upstream && widest > 256 {
			t.Errorf("link end %v advertised a window of %d bytes, want at most 256", ep, widest)
		}
		if !upstream && widest <= 256 {
			t.Errorf("ringsim link end %v advertised at most %d bytes: its window is not ringsim's", ep, widest)
		}
		if sent < 8<<10/256 {
			t.Errorf("link end %v sent %d segments, want at least %d", ep, sent, 8<<10/256)
		}
	}
}

// checkPhases checks each profile's alignment in the report: upstream-async steps a port
// only once every lower-numbered one of its node aligned; the soft-UGN protocol has no
// WaitingForZeroes; the four-phase protocols pass through all their phases.
func checkPhases(t *testing.T, rep *bridge.Report, fw bridge.Firmware) {
	t.Helper()
	lastAligned := map[int]uint64{}
	for _, l := range rep.Links { // in node, then port order
		_, wfz := l.PhaseCycles[bridge.WaitingForZeroes.String()]
		switch fw.Of(l.Local.Node) {
		case bridge.UpstreamAsync:
			if start := l.PhaseCycles[bridge.FindingAlignment.String()]; start < lastAligned[l.Local.Node] {
				t.Errorf("link end %v began FindingAlignment at cycle %d, before its node's previous port aligned (%d)",
					l.Local, start, lastAligned[l.Local.Node])
			}
			lastAligned[l.Local.Node] = l.AlignedCycle
			fallthrough
		case bridge.Ringsim:
			if !wfz {
				t.Errorf("link end %v: no WaitingForZeroes in %v", l.Local, l.PhaseCycles)
			}
		case bridge.UpstreamSoftUGN:
			if wfz || len(l.PhaseCycles) != 3 {
				t.Errorf("link end %v: phases %v, want FindingAlignment, AcknowledgingAlignment and Aligned", l.Local, l.PhaseCycles)
			}
		}
	}
}

// TestRTLFirmwareProfiles runs the profiles on the Verilated RTL: upstream's serial
// alignment stops on the ring with the same diagnosis, word for word, as on the reference
// machine, and each profile completes on a pair.
func TestRTLFirmwareProfiles(t *testing.T) {
	tests := []struct {
		name     string
		topo     hw.Topology
		firmware string
		cost     bridge.Cost
		app      func() bridge.App
		stall    bridge.StallCause
	}{
		{"upstream-async/ring", hw.Ring(3, 16), "upstream-async", bridge.DefaultCost, func() bridge.App { return app.NewExchange(0, nil) }, bridge.StallDeadlock},
		{"ringsim/ring", hw.Ring(3, 16), "ringsim", bridge.DefaultCost, func() bridge.App { return app.NewExchange(0, nil) }, ""},
		{"upstream-async/pair", hw.Pair(16), "upstream-async", upstreamSetup, func() bridge.App { return app.NewExchange(0, nil) }, ""},
		{"upstream-softugn/pair", hw.Pair(16), "upstream-softugn", bridge.DefaultCost, func() bridge.App { return nil }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fw, err := bridge.ParseFirmware(tt.firmware)
			if err != nil {
				t.Fatal(err)
			}
			run := func(m bridge.Machine) (*bridge.Report, error) {
				addressing := bridge.Derived
				if p, _ := fw.Uniform(tt.topo.Nodes); p == bridge.UpstreamAsync {
					addressing = bridge.Upstream
				}
				rt, err := bridge.New(bridge.Config{Machine: m, Wiring: tt.topo.Wiring(), Cost: tt.cost, Seed: 1, App: tt.app(),
					Deadline: 200_000_000, LinkLatency: 16, Firmware: fw, Addressing: addressing, SoftUGN: shortTiming})
				if err != nil {
					t.Fatal(err)
				}
				return rt.Run(context.Background())
			}
			cfg := hw.Config{Topology: tt.topo, Depth: 128, Seed: 1}
			start := time.Now()
			rep, err := run(engine(t, cfg))
			t.Logf("RTL: %d cycles in %v: %v", rep.Cycles, time.Since(start).Round(time.Millisecond), err)
			if tt.stall == "" {
				if err != nil {
					t.Fatalf("RTL run: %v\n%s", err, rep.Stall)
				}
				if p, _ := fw.Uniform(tt.topo.Nodes); p == bridge.UpstreamSoftUGN {
					checkSoftUGN(t, rep, tt.topo)
				}
				return
			}
			if rep.Stall == nil || rep.Stall.Cause != tt.stall {
				t.Fatalf("RTL run: got %v, want %s", err, tt.stall)
			}
			ref, _ := run(machine(t, cfg))
			if ref.Stall == nil {
				t.Fatalf("reference machine: no stall")
			}
			if diff := cmp.Diff(ref.Stall.String(), rep.Stall.String()); diff != "" {
				t.Errorf("the diagnosis differs (-reference +RTL):\n%s", diff)
			}
		})
	}
}

// checkSoftUGN checks what the soft-UGN demo's nodes measured, from their own reports:
// every node ran its events without missing a deadline, every link end has both edges,
// the edges name the wiring's partner, each direction's UGN is the same at both ends, and
// the two ends of a link agree on its round trip. Whether the UGNs are right is judged
// against the engine's truth in the job's and the gate's tests.
func checkSoftUGN(t *testing.T, rep *bridge.Report, topo hw.Topology) {
	t.Helper()
	nodes := map[int]*bridge.SoftUGNNode{}
	for _, n := range rep.SoftUGN {
		nodes[n.Node] = n
		if n.Iterations != shortTiming.Events || n.Missed() != 0 {
			t.Errorf("%v, want %d events and none missed", n, shortTiming.Events)
		}
	}
	port := func(ep hw.Endpoint) *bridge.SoftUGNPort {
		if n := nodes[ep.Node]; n != nil {
			for i := range n.Ports {
				if n.Ports[i].Port == ep.Port {
					return &n.Ports[i]
				}
			}
		}
		t.Fatalf("no soft-UGN port %v", ep)
		return nil
	}
	for _, l := range topo.Links {
		to, from := port(l.To), port(l.From)
		if to.Incoming == nil || from.Outgoing == nil {
			t.Errorf("%v: incoming edge %+v at the receiver, outgoing %+v at the sender", l, to.Incoming, from.Outgoing)
			continue
		}
		if in := to.Incoming; in.SrcNode != nodes[l.From.Node].NodeID || in.SrcPort != l.From.Port {
			t.Errorf("%v: the receiver's edge names node %#x port %d", l, in.SrcNode, in.SrcPort)
		}
		if to.Incoming.UGN != from.Outgoing.UGN {
			t.Errorf("%v: UGN %d at the receiver, %d at the sender", l, to.Incoming.UGN, from.Outgoing.UGN)
		}
		if to.RoundTrip == nil || from.RoundTrip == nil || *to.RoundTrip != *from.RoundTrip {
			t.Errorf("%v: round trips %v and %v differ", l, to.RoundTrip, from.RoundTrip)
		}
	}
}
