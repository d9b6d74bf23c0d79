package bridge

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/hashicorp/go-hclog"
	"gvisor.dev/gvisor/pkg/tcpip"

	"github.com/ringsim/ringsim/bridge/framing"
	"github.com/ringsim/ringsim/bridge/netstack"
	"github.com/ringsim/ringsim/sim/bus"
)

// Endpoint is one port of one node.
type Endpoint struct {
	Node int `json:"node"`
	Port int `json:"port"`
}

// String returns "node.port".
func (e Endpoint) String() string { return fmt.Sprintf("%d.%d", e.Node, e.Port) }

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
	// ErrMalformed and ErrUnexpected are what the upstream scenario apps (Hello, Exchange)
	// wrap when a peer sends a message that does not decode or that the protocol does not
	// allow at that point.
	ErrMalformed  = errors.New("malformed message")
	ErrUnexpected = errors.New("unexpected data from peer")
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
	// Peers maps every linked port to the port at the other end (both directions).
	Peers map[Endpoint]Endpoint
	// Framing is the packet framing: framing.CRC or framing.IP.
	Framing framing.Kind
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
	// Zero means the default (GuardCycles); negative disables the guard.
	Guard int64
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
	AlignTimeout uint64
	// Deadline bounds the whole run in cycles; 0 means no bound.
	Deadline uint64
	// App runs over the TCP connections; nil means none (align and connect only).
	App App
	// AlignOnly stops the run once every link is aligned (no packets, no TCP).
	AlignOnly bool
	// Pcap, if set, opens a packet sink for a link (called once per linked port).
	Pcap func(ep Endpoint, nsPerCycle float64) (PacketWriter, error)
	// Progress, if set, is called with each step and periodically during the app.
	Progress func(Progress)
	// Logger is defaulted when nil.
	Logger hclog.Logger
}

// PacketWriter records a link's packets (pcap.Writer satisfies it with a closer).
type PacketWriter interface {
	WritePacket(tsNanos int64, pkt []byte) error
	Close() error
}

// GuardCycles is the default alignment guard for a depth, the longest link latency and a
// polling cost: two rotations, twice the latency and a hundred polling iterations.
func GuardCycles(depth int, latency uint64, cost Cost) uint64 {
	return 2*uint64(depth) + 2*latency + 100*uint64(cost.Poll+2)
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
	Local Endpoint
	Peer  Endpoint
	DNA   [12]byte // the local node's DNA
	// Offset is the link's measured alignment offset at this end (LinkReport.Offset): the
	// total clear_at_count shift its RX applied, upstream's latency of the edge.
	Offset int
	*netstack.Conn
}

// App is the software that runs over the connections.
type App interface {
	// Open is called once per link end when its connection is established.
	Open(c *Conn) error
	// Step does the app's non-blocking work at cycle now and reports whether it finished.
	Step(now uint64) (bool, error)
}

type linkState struct {
	ep      Endpoint
	peer    Endpoint
	port    Port
	al      *aligner
	dev     *device
	ep4     *netstack.LinkEndpoint
	nicID   tcpip.NICID
	ln      *netstack.Listener
	dial    *netstack.Conn
	sym     *netstack.SymmetricOpen
	conn    *Conn
	pcap    PacketWriter
	ns      float64
	estab   uint64
	dialErr int
	// peerLink is the other end of the link.
	peerLink *linkState
	// sent holds a hash of every packet this end sent, so that the peer can tell a
	// corrupted packet its framing let through from a real one.
	sent      map[uint64]struct{}
	corrupted uint64 // accepted packets the peer never sent
}

// packet records a packet the device sent (out) or accepted (in).
func (l *linkState) packet(cycle uint64, pkt []byte, out bool) {
	if l.pcap != nil {
		_ = l.pcap.WritePacket(int64(float64(cycle)*l.ns+0.5), pkt)
	}
	if out {
		l.sent[fnv64(pkt)] = struct{}{}
	} else if _, ok := l.peerLink.sent[fnv64(pkt)]; !ok {
		l.corrupted++
	}
}

// fnv64 is FNV-1a, 64 bits.
func fnv64(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

type nodeState struct {
	id       int
	cpu      *cpu
	cost     Cost
	links    []*linkState
	dna      [12]byte
	release  uint64
	booted   bool
	aligned  uint64 // cycle all links aligned (0: not yet)
	up       bool   // devices started
	stack    *netstack.Stack
	busy     bool
	results  []bus.Result
	finished bool
}

// Runtime runs the nodes' firmware in lockstep with the machine.
type Runtime struct {
	cfg   Config
	m     Machine
	log   hclog.Logger
	nodes []*nodeState
	links []*linkState
	clock *netstack.Clock
	ns    float64 // nanoseconds per cycle
	stop  bool
	wall  time.Time
	guard uint64
	steps map[string]uint64
}

// New checks cfg and prepares a run.
func New(cfg Config) (*Runtime, error) {
	m := cfg.Machine
	if m == nil {
		return nil, fmt.Errorf("%w: no machine", ErrBadConfig)
	}
	if cfg.Framing == 0 {
		cfg.Framing = framing.CRC
	}
	if _, err := framing.MTU(cfg.Framing, m.Depth()); err != nil {
		return nil, fmt.Errorf("%w: framing %v at depth %d: %v", ErrBadConfig, cfg.Framing, m.Depth(), err)
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.AlignTimeout == 0 {
		cfg.AlignTimeout = 200*uint64(m.Depth()) + 100_000
	}
	if !(cfg.DropRate >= 0 && cfg.DropRate <= 1) {
		return nil, fmt.Errorf("%w: drop rate %v is not in [0, 1]", ErrBadConfig, cfg.DropRate)
	}
	if len(cfg.Peers) == 0 {
		return nil, fmt.Errorf("%w: no links", ErrBadConfig)
	}
	for a, b := range cfg.Peers {
		for _, e := range []Endpoint{a, b} {
			if e.Node < 0 || e.Node >= m.Nodes() || e.Port < 0 || e.Port >= m.Ports() {
				return nil, fmt.Errorf("%w: endpoint %v outside %d nodes x %d ports", ErrBadConfig, e, m.Nodes(), m.Ports())
			}
		}
		if back, ok := cfg.Peers[b]; !ok || back != a {
			return nil, fmt.Errorf("%w: link %v-%v is not symmetric", ErrBadConfig, a, b)
		}
	}
	rt := &Runtime{
		cfg:   cfg,
		m:     m,
		log:   cfg.Logger.Named("bridge"),
		clock: netstack.NewClock(),
		ns:    1e9 / m.ClockHz(),
		steps: map[string]uint64{},
	}
	bm := bus.Map{Depth: m.Depth(), Ports: m.Ports()}
	for n := 0; n < m.Nodes(); n++ {
		ns := &nodeState{id: n, cost: cfg.Cost}
		if c, ok := cfg.NodeCost[n]; ok {
			ns.cost = c
		}
		for p := 0; p < m.Ports(); p++ {
			ep := Endpoint{n, p}
			peer, ok := cfg.Peers[ep]
			if !ok {
				continue
			}
			l := &linkState{ep: ep, peer: peer, port: NewPort(bm, p), ns: rt.ns, sent: map[uint64]struct{}{}}
			l.al = newAligner(l.port, ns.cost)
			if cfg.Pcap != nil {
				w, err := cfg.Pcap(ep, rt.ns)
				if err != nil {
					rt.close()
					return nil, fmt.Errorf("pcap for %v: %w", ep, err)
				}
				l.pcap = w
			}
			ns.links = append(ns.links, l)
			rt.links = append(rt.links, l)
		}
		rt.nodes = append(rt.nodes, ns)
	}
	byEP := map[Endpoint]*linkState{}
	for _, l := range rt.links {
		byEP[l.ep] = l
	}
	for _, l := range rt.links {
		l.peerLink = byEP[l.peer]
	}
	switch {
	case cfg.Guard > 0:
		rt.guard = uint64(cfg.Guard)
	case cfg.Guard == 0:
		rt.guard = GuardCycles(m.Depth(), 0, cfg.Cost)
	}
	return rt, nil
}

// SetGuardLatency sizes the default guard for the longest link latency (in cycles).
func (rt *Runtime) SetGuardLatency(latency uint64) {
	if rt.cfg.Guard == 0 {
		rt.guard = GuardCycles(rt.m.Depth(), latency, rt.cfg.Cost)
	}
}

func (rt *Runtime) now() uint64 { return rt.m.Cycle() }

func (rt *Runtime) mark(step string, cycle uint64, msg string) {
	if _, ok := rt.steps[step]; ok {
		return
	}
	rt.steps[step] = cycle
	rt.log.Info("step", "step", step, "cycle", cycle)
	if rt.cfg.Progress != nil {
		rt.cfg.Progress(Progress{Step: step, Cycle: cycle, Message: msg})
	}
}

// Run runs the firmware of every node until the app finished on every link (or, without
// an app, until every link is connected), an error, or the deadline.
func (rt *Runtime) Run(ctx context.Context) (*Report, error) {
	rt.wall = time.Now()
	start := rt.now()
	defer rt.close()
	for _, n := range rt.nodes {
		if len(n.links) == 0 {
			n.finished = true
			continue
		}
		n.cpu = newCPU(n.id, func(c *cpu) error { return rt.firmware(n, c) })
	}
	var runErr error
	lastProgress := time.Now()
	for runErr == nil {
		if err := ctx.Err(); err != nil {
			runErr = fmt.Errorf("run interrupted at cycle %d: %w", rt.now(), err)
			break
		}
		// 1. Resume every node whose batch completed; submit its next batch.
		active := 0
		for _, n := range rt.nodes {
			if n.finished || n.busy {
				if !n.finished {
					active++
				}
				continue
			}
			ops, ok := n.cpu.step(n.results)
			n.results = nil
			if !ok {
				n.finished = true
				if n.cpu.err != nil {
					runErr = n.cpu.err
				}
				continue
			}
			if err := rt.m.Submit(n.id, ops); err != nil {
				runErr = fmt.Errorf("node %d: %w", n.id, err)
				break
			}
			n.busy = true
			active++
		}
		if runErr != nil {
			break
		}
		// 2. Time and TCP processing, then the application.
		if err := rt.advance(); err != nil {
			runErr = err
			break
		}
		if rt.stop || active == 0 {
			break
		}
		if rt.cfg.Progress != nil && time.Since(lastProgress) > 200*time.Millisecond {
			lastProgress = time.Now()
			rt.progress()
		}
		// 3. Simulated time until the next batch completion or timer.
		until := rt.now() + 1<<20
		if d, ok := rt.clock.NextDeadline(); ok {
			c := uint64(float64(d)/rt.ns) + 1
			until = min(until, max(c, rt.now()+1))
		}
		if rt.cfg.Deadline > 0 {
			if rt.now() >= rt.cfg.Deadline {
				runErr = fmt.Errorf("%w: cycle %d reached: %s", ErrTimeout, rt.cfg.Deadline, rt.stuck())
				break
			}
			until = min(until, rt.cfg.Deadline)
		}
		done, err := rt.m.Run(until)
		if err != nil {
			runErr = fmt.Errorf("simulation failed at cycle %d: %w", rt.now(), err)
			break
		}
		for _, id := range done {
			res, err := rt.m.Results(id)
			if err != nil {
				runErr = err
				break
			}
			n := rt.nodes[id]
			n.results = res
			n.busy = false
		}
	}
	rep := rt.buildReport(start)
	if runErr != nil {
		rep.Error = runErr.Error()
	}
	return rep, runErr
}

// advance sets the stacks' clock to the current cycle, runs the TCP processing that
// packets and timers caused, then the application.
func (rt *Runtime) advance() error {
	rt.clock.Advance(int64(float64(rt.now()) * rt.ns))
	rt.barrier()
	if err := rt.connect(); err != nil {
		return err
	}
	if rt.cfg.App == nil {
		if rt.allConnected() {
			rt.stop = true
		}
		return nil
	}
	if !rt.allConnected() {
		return nil
	}
	finished, err := rt.cfg.App.Step(rt.now())
	if err != nil {
		return fmt.Errorf("%w at cycle %d: %w", ErrApp, rt.now(), err)
	}
	rt.barrier()
	if finished {
		rt.stop = true
	}
	return nil
}

func (rt *Runtime) barrier() {
	for _, n := range rt.nodes {
		if n.stack != nil {
			n.stack.Barrier()
		}
	}
}

func (rt *Runtime) allConnected() bool {
	for _, l := range rt.links {
		if l.conn == nil {
			return false
		}
	}
	return true
}

// connect advances the TCP opens of links whose devices are up.
func (rt *Runtime) connect() error {
	for _, l := range rt.links {
		if l.conn != nil || rt.nodes[l.ep.Node].stack == nil || l.ep4 == nil {
			continue
		}
		c, err := rt.pollOpen(l)
		if err != nil {
			return err
		}
		if c == nil {
			continue
		}
		l.conn = &Conn{Local: l.ep, Peer: l.peer, DNA: rt.nodes[l.ep.Node].dna, Offset: l.al.offset, Conn: c}
		l.estab = rt.now()
		rt.log.Debug("connection established", "link", l.ep.String()+"-"+l.peer.String(), "cycle", l.estab)
		if rt.cfg.App != nil {
			if err := rt.cfg.App.Open(l.conn); err != nil {
				return fmt.Errorf("%w: open on %v: %w", ErrApp, l.ep, err)
			}
		}
	}
	if rt.allConnected() {
		rt.mark("established", rt.lastEstablished(), "")
	}
	return nil
}

func (rt *Runtime) lastEstablished() uint64 {
	var c uint64
	for _, l := range rt.links {
		c = max(c, l.estab)
	}
	return c
}

func (rt *Runtime) pollOpen(l *linkState) (*netstack.Conn, error) {
	switch {
	case l.sym != nil:
		c, err := l.sym.Poll()
		if errors.Is(err, netstack.ErrWouldBlock) {
			return nil, nil
		}
		return c, err
	case l.ln != nil:
		c, err := l.ln.Accept()
		if errors.Is(err, netstack.ErrWouldBlock) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("accept on %v: %w", l.ep, err)
		}
		l.ln.Close()
		l.ln = nil
		return c, nil
	case l.dial != nil:
		st := l.dial.State()
		switch {
		case st == netstack.StateError || st == netstack.StateClose:
			// Refused (the listener was not there yet) or timed out: dial again.
			l.dial.Close()
			l.dial = nil
			l.dialErr++
			return nil, rt.dial(l)
		case l.dial.Established():
			c := l.dial
			l.dial = nil
			return c, nil
		}
	}
	return nil, nil
}

func (rt *Runtime) portID(ep Endpoint) netstack.PortID {
	return netstack.PortID{DNA: rt.nodes[ep.Node].dna, Port: uint32(ep.Port)}
}

func (rt *Runtime) dial(l *linkState) error {
	st := rt.nodes[l.ep.Node].stack
	local := netip.AddrPortFrom(rt.portID(l.ep).Addr(), 0)
	remote := netip.AddrPortFrom(rt.portID(l.peer).Addr(), ListenPort)
	c, err := st.Dial(l.nicID, local, remote)
	if err != nil {
		return fmt.Errorf("dial on %v: %w", l.ep, err)
	}
	l.dial = c
	return nil
}

// upstreamAddr is the address both ends of every link use in upstream addressing.
var upstreamAddr = netip.AddrFrom4([4]byte{10, 0, 0, 1})

// attach gives a node's link a NIC and starts its TCP open (listen, dial or symmetric).
// Called by the firmware when the link's device is up; the peer has booted by then.
func (rt *Runtime) attach(n *nodeState, l *linkState) error {
	if n.stack == nil {
		seed := rt.cfg.Seed*0x9E3779B97F4A7C15 + uint64(n.id+1)*0xBF58476D1CE4E5B9
		win := rt.cfg.Window
		if win == 0 {
			win = DefaultWindow
		}
		minRTO := rt.cfg.MinRTO
		if minRTO == 0 {
			minRTO = DefaultMinRTO
		}
		st, err := netstack.New(netstack.Options{Seed: seed, Clock: rt.clock, MinRTO: minRTO,
			ReceiveBuffer: max(win*l.dev.MTU(), 4096), DisableRACK: !rt.cfg.RACK})
		if err != nil {
			return err
		}
		n.stack = st
	}
	l.ep4 = netstack.NewLinkEndpoint(uint32(l.dev.MTU()), linkQueue)
	l.dev.nic = l.ep4
	local, peer := rt.portID(l.ep).Addr(), rt.portID(l.peer).Addr()
	if rt.cfg.Addressing == Upstream {
		local, peer = upstreamAddr, upstreamAddr
	}
	id, err := n.stack.AddLink(l.ep4, local, peer)
	if err != nil {
		return fmt.Errorf("node %d port %d: %w", n.id, l.ep.Port, err)
	}
	l.nicID = id
	switch {
	case rt.cfg.Addressing == Upstream:
		port := uint16(UpstreamPort + rt.linkIndex(l))
		l.sym, err = n.stack.OpenSymmetric(id, netip.AddrPortFrom(upstreamAddr, port))
	case netstack.Connects(rt.portID(l.ep), rt.portID(l.peer)):
		err = rt.dial(l)
	default:
		l.ln, err = n.stack.Listen(id, netip.AddrPortFrom(local, ListenPort))
	}
	if err != nil {
		return fmt.Errorf("node %d port %d: open: %w", n.id, l.ep.Port, err)
	}
	return nil
}

// linkIndex numbers the link l belongs to: the rank of its lower endpoint among the lower
// endpoints of all links. Both ends compute the same number.
func (rt *Runtime) linkIndex(l *linkState) int {
	low := func(a, b Endpoint) Endpoint {
		if b.Node < a.Node || b.Node == a.Node && b.Port < a.Port {
			return b
		}
		return a
	}
	mine := low(l.ep, l.peer)
	i := 0
	for _, m := range rt.links {
		e := low(m.ep, m.peer)
		if m.ep == e && (e.Node < mine.Node || e.Node == mine.Node && e.Port < mine.Port) {
			i++
		}
	}
	return i
}

// firmware is one node's software, from boot to the packet loop.
func (rt *Runtime) firmware(n *nodeState, c *cpu) error {
	if err := rt.boot(n, c); err != nil {
		return err
	}
	if err := rt.align(n, c); err != nil {
		return err
	}
	if rt.cfg.AlignOnly {
		if rt.allAligned() {
			rt.stop = true
		}
		return nil
	}
	if rt.guard > 0 {
		c.exec(bus.Idle(uint32(min(rt.guard, bus.MaxIdle))))
	}
	for _, l := range n.links {
		d, err := newDevice(l.port, rt.cfg.Framing, n.cost, rt.pacing(), n.release, uint64(l.al.offset), nil)
		if err != nil {
			return err
		}
		l.dev = d
		d.sink = l
		d.drop = rt.cfg.DropRate
		d.readOnce = rt.cfg.IPReadOnce
		d.rng = rand.New(rand.NewPCG(rt.cfg.Seed, uint64(l.ep.Node)<<16|uint64(l.ep.Port)))
		if err := rt.attach(n, l); err != nil {
			return err
		}
		if err := d.start(c); err != nil {
			return err
		}
	}
	n.up = true
	now := rt.now()
	var poll []bus.Op
	for !rt.stop {
		// Poll every link's header in one pass, then serve the links in turn.
		poll = poll[:0]
		for _, l := range n.links {
			poll = append(poll, l.dev.pollOps()...)
		}
		res := c.exec(poll...)
		now = res[len(res)-1].Cycle
		did := false
		k := 0
		for _, l := range n.links {
			hdr := res[k]
			k += len(l.dev.pollOps())
			ok, t, err := l.dev.service(c, hdr, now)
			if err != nil {
				return err
			}
			now = t
			did = did || ok
		}
		if !did {
			now = rt.wait(n, c, now)
		}
	}
	return nil
}

func (rt *Runtime) pacing() uint64 {
	if rt.cfg.Pacing > 0 {
		return rt.cfg.Pacing
	}
	mtu, _ := framing.MTU(rt.cfg.Framing, rt.m.Depth())
	links := 1
	for _, n := range rt.nodes {
		links = max(links, len(n.links))
	}
	return DefaultPacing(rt.cfg.Framing, rt.m.Depth(), mtu, rt.cfg.Cost) * uint64(links)
}

// DefaultPacing is the default minimum number of cycles from the end of one packet write
// to the start of the next on a node with one link: the time a receiver needs to take a
// full-size packet off the ring buffer (T_recv of the goodput bound) plus half a rotation.
// Measured at the default configuration (D = 256, crc, default costs, BER 1e-7, 4 seeds,
// README "Goodput"), the best fixed pacing was 2600-2800 cycles; this formula gives 2706
// there. A receiver with k links serves them all with one CPU, so the runtime multiplies
// it by the largest number of links a node has.
func DefaultPacing(kind framing.Kind, depth, mtu int, c Cost) uint64 {
	frame := mtu
	if kind == framing.CRC {
		frame += framing.HeaderLen
	}
	w := 2 * uint64((frame+7)/8)
	cpu := uint64(c.PerPacket) + uint64(c.bytes(frame))
	tRecv := 6 + 2*w + uint64(c.Poll) + cpu
	if kind == framing.IP {
		// The seed framing's receiver reads a packet twice, a rotation apart, and takes it
		// only if both reads agree; in between it may send its own packet. Measured best
		// fixed pacing at D = 256: 7500 (0.18-0.19 bytes/cycle; 6000: 0.04, 9000: 0.16).
		tSend := w + cpu
		return 2*tRecv + tSend + uint64(depth)
	}
	return tRecv + uint64(depth)/2
}

// wait spins on a single link's RX header until it changes, a packet is due to be sent, or
// the next stack timer, like a firmware main loop; nodes with several links just loop.
func (rt *Runtime) wait(n *nodeState, c *cpu, now uint64) uint64 {
	if len(n.links) != 1 {
		return now
	}
	l := n.links[0]
	bound := uint64(4 * rt.m.Depth())
	if l.ep4.Pending() > 0 {
		if l.dev.nextTX <= now {
			return now
		}
		bound = min(bound, l.dev.nextTX-now)
	}
	if d, ok := rt.clock.NextDeadline(); ok {
		t := uint64(float64(d) / rt.ns)
		if t <= now {
			return now
		}
		bound = min(bound, t-now)
	}
	per := uint64(n.cost.Poll) + 2
	reads := uint32(max(bound/per, 1))
	res := c.exec(l.port.PollRXLow(bus.UntilNotEqual, l.dev.lastHdr[0], n.cost.Poll, reads))
	return res[0].Cycle
}

// boot reads the node block: magic, geometry, DNA, and the cycle counter, from which the
// firmware knows when it left reset (its TX and RX counters' phase).
func (rt *Runtime) boot(n *nodeState, c *cpu) error {
	res := c.exec(bus.Read(bus.RegMagic), bus.Read(bus.RegVersion), bus.Read(bus.RegDepth),
		bus.Read(bus.RegPorts), bus.Read(bus.RegDNA0), bus.Read(bus.RegDNA1), bus.Read(bus.RegDNA2),
		bus.Read(bus.RegCycleLo), bus.Read(bus.RegCycleHi))
	if err := checkOK(n.id, "boot", res); err != nil {
		return fmt.Errorf("%w: %v", ErrBadHardware, err)
	}
	switch {
	case res[0].Value != bus.Magic:
		return fmt.Errorf("%w: node %d: magic %#08x, want %#08x", ErrBadHardware, n.id, res[0].Value, bus.Magic)
	case res[1].Value != bus.MapVersion:
		return fmt.Errorf("%w: node %d: register map version %d, want %d", ErrBadHardware, n.id, res[1].Value, bus.MapVersion)
	case int(res[2].Value) != rt.m.Depth() || int(res[3].Value) != rt.m.Ports():
		return fmt.Errorf("%w: node %d: depth %d and %d ports, want %d and %d", ErrBadHardware, n.id,
			res[2].Value, res[3].Value, rt.m.Depth(), rt.m.Ports())
	}
	for i := 0; i < 3; i++ {
		binary.LittleEndian.PutUint32(n.dna[4*i:], res[4+i].Value)
	}
	counter := uint64(res[7].Value) | uint64(res[8].Value)<<32
	n.release = res[7].Cycle - counter
	n.booted = true
	return nil
}

// align runs the alignment state machine on all the node's links together.
func (rt *Runtime) align(n *nodeState, c *cpu) error {
	deadline := n.release + rt.cfg.AlignTimeout
	for {
		all := true
		for _, l := range n.links {
			if l.al.phase == Aligned {
				continue
			}
			all = false
			if err := l.al.step(c); err != nil {
				return err
			}
		}
		if all {
			break
		}
		if now := rt.now(); now > deadline {
			return fmt.Errorf("%w on node %d at cycle %d: %s", ErrAlignTimeout, n.id, now, rt.alignState(n))
		}
	}
	var last uint64
	for _, l := range n.links {
		last = max(last, l.al.entered[Aligned])
	}
	n.aligned = last
	if rt.allAligned() {
		var c uint64
		for _, m := range rt.nodes {
			c = max(c, m.aligned)
		}
		rt.mark("aligned", c, "")
	}
	return nil
}

func (rt *Runtime) allAligned() bool {
	for _, l := range rt.links {
		if l.al.phase != Aligned {
			return false
		}
	}
	return true
}

func (rt *Runtime) alignState(n *nodeState) string {
	s := ""
	for _, l := range n.links {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("link %v-%v in %v", l.ep, l.peer, l.al.phase)
	}
	return s
}

// stuck describes what has not finished, for timeout messages.
func (rt *Runtime) stuck() string {
	for _, l := range rt.links {
		if l.al.phase != Aligned {
			return fmt.Sprintf("link %v-%v still in %v", l.ep, l.peer, l.al.phase)
		}
	}
	for _, l := range rt.links {
		if l.conn == nil {
			return fmt.Sprintf("link %v-%v has no TCP connection", l.ep, l.peer)
		}
	}
	if p, ok := rt.cfg.App.(interface{ Pending() string }); ok {
		return p.Pending()
	}
	return "the application has not finished"
}

func (rt *Runtime) progress() {
	if p, ok := rt.cfg.App.(interface{ Progress() (int64, int64) }); ok {
		done, total := p.Progress()
		rt.cfg.Progress(Progress{Step: "transfer", Cycle: rt.now(), Done: done, Total: total})
	}
}

func (rt *Runtime) close() {
	for _, n := range rt.nodes {
		if n.cpu != nil && !n.cpu.done {
			n.cpu.halt()
		}
	}
	for _, l := range rt.links {
		if l.pcap != nil {
			_ = l.pcap.Close()
		}
	}
	for _, n := range rt.nodes {
		if n.stack != nil {
			n.stack.Close()
		}
	}
}
