package bridge

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ringsim/ringsim/bridge/framing"
	"github.com/ringsim/ringsim/bridge/netstack"
	"github.com/ringsim/ringsim/hw"
)

// Addressing chooses how link endpoints get their IP addresses (SPEC section 5).
type Addressing uint8

// The addressing modes.
const (
	// Derived: each end's address is derived from its node's DNA and its port number; the
	// end with the smaller (DNA, port) dials, the other listens. The wiring plan (Peers)
	// tells each node who is at the other end, as a static hosts file would.
	Derived Addressing = iota
	// Upstream: both ends of every link use the same address and port and open at once
	// (TCP simultaneous open), as upstream firmware does.
	Upstream
)

// String returns "derived" or "upstream".
func (a Addressing) String() string {
	if a == Upstream {
		return "upstream"
	}
	return "derived"
}

// ParseAddressing parses "derived" or "upstream".
func ParseAddressing(s string) (Addressing, error) {
	switch s {
	case "derived":
		return Derived, nil
	case "upstream":
		return Upstream, nil
	}
	return 0, fmt.Errorf("%w: addressing %q: want derived or upstream", ErrBadConfig, s)
}

// Errors returned by Run.
var (
	ErrBadConfig    = errors.New("bad bridge configuration")
	ErrBadHardware  = errors.New("hardware does not look like a ringsim node")
	ErrAlignTimeout = errors.New("alignment timeout")
	ErrTimeout      = errors.New("deadline exceeded")
	ErrApp          = errors.New("application failed")
	// ErrStalled is wrapped by a StallError whose cause was proven from the nodes' state:
	// the run could never have finished.
	ErrStalled = errors.New("run stalled")
)

// Defaults.
const (
	// UpstreamPort is the TCP port of link 0 in upstream addressing. Links are numbered in
	// the order of their lower endpoint in the wiring plan and link i uses UpstreamPort + i,
	// so no two links of a node share a port (gVisor refuses a second late open on one).
	UpstreamPort = 8080
	// ListenPort is the TCP port listeners use in derived addressing.
	ListenPort = 7000
	// linkQueue is the outbound packet queue of each link, in packets. The receive window
	// (Window) keeps TCP far below it.
	linkQueue = 4096
	// minReceiveBuffer is the smallest TCP receive buffer gVisor takes (tcp.MinBufferSize).
	minReceiveBuffer = 4096
	// DefaultWindow is the TCP receive window in packets: a few times the link's
	// bandwidth-delay product (one packet per pacing interval, a round trip of a few
	// intervals).
	DefaultWindow = 16
	// DefaultMinRTO is the TCP minimum retransmission timeout. A simulated link's round
	// trip is tens of microseconds; gVisor's (and Linux's) 200 ms default would make one
	// lost segment cost longer than a whole 1 MiB transfer, so ringsim uses what datacenter
	// TCP stacks use.
	DefaultMinRTO = time.Millisecond
)

// Config configures a bridge run.
type Config struct {
	// Machine is the simulated hardware.
	Machine Machine
	// Wiring maps every linked port to the port at the other end (both directions): the
	// wiring plan firmware knows statically (hw.Topology.Wiring).
	Wiring hw.Wiring
	// Framing is the packet framing: framing.CRC (the default) or framing.IP. It is
	// ringsim's device's; upstream-async's device always uses the CRC layout.
	Framing framing.Codec
	// Firmware says which firmware profile each node runs; the zero value runs ringsim's
	// everywhere (docs/firmware.md).
	Firmware Firmware
	// Cost is the CPU cost model of every node; NodeCost overrides it per node.
	Cost     Cost
	NodeCost map[int]Cost
	// Pacing is the minimum cycles between packet writes on a link; 0 means DefaultPacing.
	Pacing uint64
	// DropRate is the probability that a link's packet device drops a packet it received
	// intact (injected frame loss, seeded).
	DropRate float64
	// IPReadOnce makes the ip framing's receiver take a packet on its first read, as the
	// design note describes, leaving corruption to the IP and TCP checksums, instead of
	// confirming it with a second read a rotation later (the default). For comparisons.
	IPReadOnce bool
	// Guard is how many cycles a node waits after its links aligned before it sends
	// packets, so that a partner still in WaitingForZeroes sees the zero word it waits for.
	// Zero means the default (GuardCycles for LinkLatency); negative disables the guard.
	Guard int64
	// LinkLatency is the longest link latency in cycles, which the default guard covers and
	// the stall detectors allow for.
	LinkLatency uint64
	// ZeroingLinks says some link zeroes whole frames (hw.Faults.FrameZero): a zeroed frame
	// can still release a WaitingForZeroes that the partner's TX holds, so the detector that
	// proves such a wait endless is off.
	ZeroingLinks bool
	// Addressing chooses derived or upstream addresses.
	Addressing Addressing
	// Seed seeds the stacks and the application data.
	Seed uint64
	// MinRTO is the TCP minimum retransmission timeout; 0 means DefaultMinRTO.
	MinRTO time.Duration
	// Window is each connection's receive window in packets of the link MTU; 0 means
	// DefaultWindow.
	Window int
	// RACK keeps gVisor's RACK-TLP loss detection on. It is off by default: the device
	// queues segments for thousands of cycles before the wire takes them, RACK reads that
	// as loss, and one real loss turned into a hundred spurious retransmissions (README,
	// "TCP settings").
	RACK bool
	// AlignTimeout bounds alignment in cycles after a node's release; 0 means 200*D + 100000.
	// On the real link it counts from when the node's links are up, plus BringUp.
	AlignTimeout uint64
	// BringUp is the longest a link may take to come up on the real link (a partner's link
	// may come up that much later than the node's own): the alignment timeout allows for
	// it, as upstream's firmware gives a link's start-up its own time.
	BringUp uint64
	// Deadline bounds the whole run in cycles; 0 means no bound.
	Deadline uint64
	// App runs over the TCP connections; nil means none (align and connect only; nodes on
	// upstream-softugn run the soft-UGN demo's messages instead of TCP).
	App App
	// AlignOnly stops the run once every link is aligned (no packets, no TCP).
	AlignOnly bool
	// SoftUGN is the soft-UGN demo's timing (upstream-softugn's message phase); the zero
	// value means DefaultSoftUGNTiming.
	SoftUGN SoftUGNTiming
	// RealLink says the hardware presents the real link (docs/reallink.md): each port has a
	// link window (elastic buffer, UGN capture), links come up late and may flap, and RX
	// memory starts random. ringsim's firmware then waits for each link to come up before
	// aligning it.
	RealLink bool
	// AutoCentre (real link) makes ringsim's firmware turn every elastic buffer's auto-centre
	// on at boot and leave it on: the buffers stay centred while clocks settle, and every
	// adjustment shifts the frame relation.
	AutoCentre bool
	// NoRecovery (real link) turns off ringsim's firmware's watch over each link's frame
	// relation after alignment (recovery.go): the firmware then behaves as before it had
	// one, which shows what the real link does to an unprotected protocol.
	NoRecovery bool
	// SaveAtAligned, if set, holds every node at the aligned boundary (its links aligned,
	// before its guard and packet phase) until all are there, then calls it with the
	// firmware's state while no batch is in flight, so the machine can be checkpointed at
	// the same cycle; then the nodes go on. Nodes that align first wait for the others, so a
	// run that saves is not cycle for cycle a run that does not (a restored run is the
	// saving run's continuation). ringsim's firmware only.
	SaveAtAligned func(Snapshot) error
	// Resume, if set, starts every node at the aligned boundary from a snapshot taken
	// with SaveAtAligned, on a machine restored from the checkpoint taken with it.
	Resume *Snapshot
	// RunSeed, if not 0, seeds what happens after the aligned boundary instead of Seed:
	// the links' fault injectors are re-seeded there (the machine must be a
	// FaultReseeder), and the netstacks and the injected drops use it. Seed then fixes the
	// set-up (start offsets, DNA, clocks, alignment) and RunSeed the rest, so one saved
	// boundary serves every RunSeed (a sweep's forks). It holds the nodes at the boundary as
	// SaveAtAligned does.
	RunSeed uint64
	// Pcap, if set, opens a packet sink for a link (called once per linked port).
	Pcap func(ep hw.Endpoint, nsPerCycle float64) (PacketWriter, error)
	// Progress, if set, is called with each step and periodically during the app.
	Progress func(Progress)
	// Sample, if set, is called between batches at least SampleEvery cycles apart (global
	// cycles), for reports that plot the run over time; it must not change the machine.
	Sample      func(Sample)
	SampleEvery uint64
	// Logger is defaulted when nil.
	Logger hclog.Logger
}

// PacketWriter records a link's packets (pcap.Writer satisfies it with a closer).
type PacketWriter interface {
	WritePacket(tsNanos int64, pkt []byte) error
	Close() error
}

// FaultReseeder is a machine whose links' fault injectors can be seeded afresh
// (*sim.Engine), for Config.RunSeed.
type FaultReseeder interface {
	ReseedFaults(seed uint64) error
}

// PacketNamer is a PacketWriter that also records which IP address is which link end (a
// pcapng name resolution block). The runtime calls Names once the link end has its
// addresses, before its first packet.
type PacketNamer interface {
	Names(local, peer hw.Endpoint, localAddr, peerAddr netip.Addr) error
}

// GuardCycles is the default alignment guard for a depth, the longest link latency and a
// polling cost: two rotations, twice the latency and a hundred polling iterations.
func GuardCycles(depth int, latency uint64, cost Cost) uint64 {
	return 2*uint64(depth) + 2*latency + 100*uint64(cost.Poll+2)
}

// Sample is the run at a cycle, for reports over time.
type Sample struct {
	Cycle uint64
	// Received is the application's bytes received so far (all links; 0 for applications
	// that do not count them); Retransmissions the stacks' TCP retransmissions so far.
	Received        int64
	Retransmissions uint64
}

// Progress reports a step of the run.
type Progress struct {
	Step    string // "aligned", "established", "transfer", "transferred", "verified", "closed"
	Cycle   uint64
	Done    int64 // transfer: bytes received so far (all links)
	Total   int64 // transfer: bytes expected (all links)
	Message string
}

// Conn is one end of a link's TCP connection, handed to the App.
type Conn struct {
	Local hw.Endpoint
	Peer  hw.Endpoint
	DNA   [12]byte // the local node's DNA
	// Offset is the link's alignment offset at this end (LinkReport.Offset): the total
	// clear_at_count shift its RX applied. It is not the hardware UGN of the edge.
	Offset int
	// Firmware is the local node's profile.
	Firmware Profile
	// HardwareUGN is the link's hardware UGN the firmware read from UGN capture (local
	// minus remote counter; the real link only, else nil).
	HardwareUGN *int64
	// ExchangeTimeout, if non-zero, is how many cycles the profile gives each step of an
	// exchange (TCPSettings.ExchangeTimeout at the link clock).
	ExchangeTimeout uint64
	*netstack.Conn
	limits *bufferLimits // the profile's send limit, if any
}

// Write writes as netstack.Conn.Write does, but keeps at most the profile's SendLimit bytes
// written and not yet acknowledged by the peer (TCPSettings.SendLimit): with no room it
// returns netstack.ErrWouldBlock.
func (c *Conn) Write(p []byte) (int, error) {
	if c.limits == nil || c.limits.sendLimit == 0 {
		return c.Conn.Write(p)
	}
	room := c.limits.room()
	if room <= 0 && len(p) > 0 {
		return 0, netstack.ErrWouldBlock
	}
	n, err := c.Conn.Write(p[:min(len(p), room)])
	c.limits.written += uint64(n)
	return n, err
}

// App is the software that runs over the connections.
type App interface {
	// Open is called once per link end when its connection is established.
	Open(c *Conn) error
	// Step does the app's non-blocking work at cycle now and reports whether it finished.
	Step(now uint64) (bool, error)
}

// DefaultPacing is the default minimum number of cycles from the end of one packet write
// to the start of the next on a node with one link: the time a receiver needs to take a
// full-size packet off the ring buffer (T_recv of the goodput bound) plus half a rotation.
// Measured at the default configuration (D = 256, crc, default costs, BER 1e-7, 4 seeds,
// README "Goodput"), the best fixed pacing was 2600-2800 cycles; this formula gives 2706
// there. A receiver with k links serves them all with one CPU, so the runtime multiplies
// it by the largest number of links a node has.
func DefaultPacing(codec framing.Codec, depth, mtu int, c Cost) uint64 {
	frame := mtu + codec.Overhead()
	w := 2 * uint64((frame+7)/8)
	cpu := uint64(c.PerPacket) + uint64(c.bytes(frame))
	tRecv := 6 + 2*w + uint64(c.Poll) + cpu
	if codec.Confirms() {
		// The seed framing's receiver reads a packet twice, a rotation apart, and takes it
		// only if both reads agree; in between it may send its own packet. Measured best
		// fixed pacing at D = 256: 7500 (0.18-0.19 bytes/cycle; 6000: 0.04, 9000: 0.16).
		tSend := w + cpu
		return 2*tRecv + tSend + uint64(depth)
	}
	return tRecv + uint64(depth)/2
}
