package bridge

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ringsim/ringsim/bridge/framing"
	"github.com/ringsim/ringsim/bridge/netstack"
	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/sim/bus"
)

// linkState is one end of a link: its driver, alignment, packet device, the device's
// nic chain and the TCP connection over it.
type linkState struct {
	ep    hw.Endpoint
	peer  hw.Endpoint
	port  Port
	al    *aligner
	dev   packetDevice
	ep4   *netstack.LinkEndpoint
	nicID netstack.NIC
	ln    *netstack.Listener
	dial  *netstack.Conn
	sym   *netstack.SymmetricOpen
	conn  *Conn
	pcap  PacketWriter
	sniff *sniffer // the capture's nic wrapper, when pcap is set
	// acSeen is the cycle the firmware last read the link's auto-centre total to keep the
	// frame relation (LinkReport.RelationCheckedCycle).
	acSeen uint64
	// parkUGN is the link's UGN capture when the node parked at the aligned boundary (its
	// sticky elastic buffer flags were cleared then): the recovery's baseline, so that a
	// flap or a slip while the node waited is seen (nil: the node did not park).
	parkUGN *uint32
	// localAddr and peerAddr are the link end's IPv4 addresses, once attached.
	localAddr, peerAddr netip.Addr
	estab               uint64
	dialErr             int
	// The device's nic chain, outermost first: dropper (if DropRate > 0), sniffer (if
	// capturing), tally, the stack's endpoint.
	nic   nic
	drop  *dropper
	tally *tally
	// limits is the profile's TCP buffer emulation on this link (nil: none).
	limits *bufferLimits
	// The real link (recovery.go): the receiving end's watch, a re-alignment in progress,
	// and what the firmware did to keep the frame relation.
	health       *linkHealth
	re           *realigning
	recoveries   []Recovery
	realignments int
	// ugn is the hardware UGN the firmware read from the link's capture (the real link).
	ugn *int64
}

// stage is where a node's firmware is.
type stage uint8

const (
	stageBoot     stage = iota // booting, or before alignment
	stageAligning              // in its alignment loop
	stagePackets               // in its packet phase
	stageDone                  // aligned, in a run without a packet phase
)

type nodeState struct {
	id    int
	cpu   *cpu
	cost  Cost
	prof  *firmwareProfile
	stage stage
	links []*linkState
	// boot and alignment are the firmware phases' results, once they completed.
	boot      *Boot
	alignment *Alignment
	up        bool // devices started
	stack     *netstack.Stack
	busy      bool
	results   []bus.Result
	finished  bool
	parked    bool // at the aligned boundary, waiting for the others (Config.SaveAtAligned)
	// linksUpAt is when ringsim's firmware on the real link saw every link up (0 before).
	linksUpAt uint64
	// deferred is an idle loop iteration's batch the runtime holds until it decided whether
	// to stretch it (Runtime.quiescent); waiting says the node's batch is ringsim's wait.
	deferred []bus.Op
	waiting  bool
	// idlePass is the start cycle of the node's last main loop pass if that pass found
	// nothing to do (upstream-async's loop), 0 otherwise.
	idlePass uint64
	// softUGN is the soft-UGN demo's state (upstream-softugn's message phase; nil before).
	softUGN *SoftUGNNode
}

// Runtime runs the nodes' firmware in lockstep with the machine.
type Runtime struct {
	// runStart is the cycle Run began at (a resumed run: the checkpoint's).
	runStart uint64
	cfg      Config
	m        Machine
	log      hclog.Logger
	nodes    []*nodeState
	links    []*linkState
	clock    *netstack.Clock
	ns       float64 // nanoseconds per cycle
	stop     bool
	wall     time.Time
	guard    uint64
	steps    map[string]uint64
	byEP     map[hw.Endpoint]*linkState
	// alignOnly stops the run once every link aligned: Config.AlignOnly, or a node whose
	// profile has no packet phase.
	alignOnly bool
	// alignTimeoutSet says Config.AlignTimeout was given, so it bounds every profile.
	alignTimeoutSet bool
	// lastSend is the cycle of the last packet write of any device.
	lastSend uint64
}

// sent records a packet device's write that completed in cycle.
func (rt *Runtime) sent(cycle uint64) { rt.lastSend = max(rt.lastSend, cycle) }

// New checks cfg and prepares a run.
func New(cfg Config) (*Runtime, error) {
	m := cfg.Machine
	if m == nil {
		return nil, fmt.Errorf("%w: no machine", ErrBadConfig)
	}
	if cfg.Framing == nil {
		cfg.Framing = framing.CRC
	}
	if _, err := framing.MTU(cfg.Framing, m.Depth()); err != nil {
		return nil, fmt.Errorf("%w: framing %v at depth %d: %v", ErrBadConfig, cfg.Framing, m.Depth(), err)
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if err := cfg.Firmware.Validate(m.Nodes()); err != nil {
		return nil, err
	}
	alignTimeoutSet := cfg.AlignTimeout != 0
	if cfg.AlignTimeout == 0 {
		cfg.AlignTimeout = 200*uint64(m.Depth()) + 100_000
	}
	if !(cfg.DropRate >= 0 && cfg.DropRate <= 1) {
		return nil, fmt.Errorf("%w: drop rate %v is not in [0, 1]", ErrBadConfig, cfg.DropRate)
	}
	if len(cfg.Wiring) == 0 {
		return nil, fmt.Errorf("%w: no links", ErrBadConfig)
	}
	for a, b := range cfg.Wiring {
		for _, e := range []hw.Endpoint{a, b} {
			if e.Node < 0 || e.Node >= m.Nodes() || e.Port < 0 || e.Port >= m.Ports() {
				return nil, fmt.Errorf("%w: endpoint %v outside %d nodes x %d ports", ErrBadConfig, e, m.Nodes(), m.Ports())
			}
		}
		if back, ok := cfg.Wiring[b]; !ok || back != a {
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
		byEP:  map[hw.Endpoint]*linkState{},

		alignOnly:       cfg.AlignOnly,
		alignTimeoutSet: alignTimeoutSet,
	}
	bm := bus.Map{Depth: m.Depth(), Ports: m.Ports()}
	for n := 0; n < m.Nodes(); n++ {
		ns := &nodeState{id: n, cost: cfg.Cost, prof: profileOf(cfg.Firmware.Of(n))}
		if c, ok := cfg.NodeCost[n]; ok {
			ns.cost = c
		}
		for p := 0; p < m.Ports(); p++ {
			ep := hw.Endpoint{Node: n, Port: p}
			peer, ok := cfg.Wiring[ep]
			if !ok {
				continue
			}
			l := &linkState{ep: ep, peer: peer, port: NewPort(bm, p), tally: newTally()}
			l.al = newAligner(l.port, ns.cost, ns.prof.protocol)
			l.al.watchAC = cfg.RealLink && !cfg.NoRecovery && ns.prof.name == Ringsim
			l.nic = l.tally
			if cfg.Pcap != nil {
				w, err := cfg.Pcap(ep, rt.ns)
				if err != nil {
					rt.close()
					return nil, fmt.Errorf("pcap for %v: %w", ep, err)
				}
				l.pcap = w
				l.sniff = &sniffer{nested: nested{l.nic}, w: w, ns: rt.ns}
				l.nic = l.sniff
			}
			if cfg.DropRate > 0 {
				rng := rand.New(rand.NewPCG(rt.runSeed(), uint64(ep.Node)<<16|uint64(ep.Port)))
				l.drop = &dropper{nested: nested{l.nic}, rate: cfg.DropRate, rng: rng}
				l.nic = l.drop
			}
			ns.links = append(ns.links, l)
			rt.links = append(rt.links, l)
		}
		if len(ns.links) > 0 && ns.prof.packets == nil {
			rt.alignOnly = true
		}
		rt.nodes = append(rt.nodes, ns)
	}
	for _, l := range rt.links {
		rt.byEP[l.ep] = l
	}
	if !rt.alignOnly {
		if err := rt.checkMessages(); err != nil {
			rt.close()
			return nil, err
		}
	}
	if rt.cfg.SoftUGN == (SoftUGNTiming{}) {
		rt.cfg.SoftUGN = DefaultSoftUGNTiming(m.ClockHz())
	}
	for _, l := range rt.links {
		l.tally.peer = rt.byEP[l.peer].tally
	}
	if cfg.SaveAtAligned != nil || cfg.Resume != nil || cfg.RunSeed != 0 {
		if _, ok := m.(FaultReseeder); cfg.RunSeed != 0 && !ok {
			rt.close()
			return nil, fmt.Errorf("%w: a run seed needs a machine whose fault injectors can be re-seeded (the embedded simulator)", ErrBadConfig)
		}
		if cfg.SaveAtAligned != nil && cfg.Resume != nil {
			rt.close()
			return nil, fmt.Errorf("%w: save at the aligned boundary and resume from it in one run", ErrBadConfig)
		}
		profiles := make([]Profile, len(rt.nodes))
		for _, n := range rt.nodes {
			if len(n.links) > 0 {
				profiles[n.id] = n.prof.name
			}
		}
		if err := BoundaryError(profiles, rt.alignOnly); err != nil {
			rt.close()
			return nil, err
		}
	}
	switch {
	case cfg.Guard > 0:
		rt.guard = uint64(cfg.Guard)
	case cfg.Guard == 0:
		rt.guard = GuardCycles(m.Depth(), cfg.LinkLatency, cfg.Cost)
	}
	return rt, nil
}

func (rt *Runtime) now() uint64 { return rt.m.Cycle() }

// runSeed is the seed of what happens after the aligned boundary (Config.RunSeed).
func (rt *Runtime) runSeed() uint64 {
	if rt.cfg.RunSeed != 0 {
		return rt.cfg.RunSeed
	}
	return rt.cfg.Seed
}

// atBoundary is the barrier's work once every node is at the aligned boundary: the
// snapshot for SaveAtAligned, then the run seed's faults.
func (rt *Runtime) atBoundary() error {
	if rt.cfg.SaveAtAligned != nil {
		if err := rt.cfg.SaveAtAligned(rt.snapshot()); err != nil {
			return fmt.Errorf("save at the aligned boundary: %w", err)
		}
	}
	return rt.reseed()
}

// reseed seeds the links' faults with the run seed (Config.RunSeed).
func (rt *Runtime) reseed() error {
	if rt.cfg.RunSeed == 0 {
		return nil
	}
	return rt.m.(FaultReseeder).ReseedFaults(rt.cfg.RunSeed)
}

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
	rt.runStart = start
	defer rt.close()
	if s := rt.cfg.Resume; s != nil {
		err := rt.resume(s)
		if err == nil {
			err = rt.reseed()
		}
		if err != nil {
			rep := rt.buildReport(start)
			rep.Error = err.Error()
			return rep, err
		}
		start = 0 // the report covers the run since reset, which this one continues
	}
	for _, n := range rt.nodes {
		if len(n.links) == 0 {
			n.finished = true
			continue
		}
		n.cpu = newCPU(n.id, func(c *cpu) error { return rt.firmware(n, c) })
	}
	var runErr error
	lastProgress := time.Now()
	var nextSample uint64
	for runErr == nil {
		if err := ctx.Err(); err != nil {
			runErr = fmt.Errorf("run interrupted at cycle %d: %w", rt.now(), err)
			break
		}
		// 1. Resume every node whose batch completed; submit its next batch.
		active, parked := 0, 0
		for _, n := range rt.nodes {
			if n.finished || n.busy || n.parked {
				if !n.finished {
					active++
				}
				if n.parked {
					parked++
				}
				continue
			}
			ops, ok := n.cpu.step(n.results)
			n.results = nil
			if ok && n.cpu.parked {
				n.cpu.parked, n.parked = false, true
				active++
				parked++
				continue
			}
			if ok && n.cpu.sleepable {
				n.cpu.sleepable = false
				n.deferred, n.busy = ops, true
				active++
				continue
			}
			if !ok {
				n.finished = true
				if n.cpu.err != nil {
					runErr = rt.diagnose(n.cpu.err)
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
		// 1b. Every node at the aligned boundary: the snapshot, then they go on.
		if parked > 0 && parked == active {
			if err := rt.atBoundary(); err != nil {
				runErr = err
				break
			}
			for _, n := range rt.nodes {
				n.parked = false
			}
			continue
		}
		// 2. Time and TCP processing, then the application.
		if err := rt.advance(); err != nil {
			runErr = err
			break
		}
		if rt.stop || active == 0 {
			break
		}
		// 2b. A run that can no longer finish stops now, with the reason.
		if err := rt.detect(); err != nil {
			runErr = err
			break
		}
		if err := rt.submitDeferred(); err != nil {
			runErr = err
			break
		}
		if rt.cfg.Sample != nil && rt.now() >= nextSample {
			rt.cfg.Sample(rt.sample())
			nextSample = rt.now() + max(rt.cfg.SampleEvery, 1)
		}
		if rt.cfg.Progress != nil && time.Since(lastProgress) > 200*time.Millisecond {
			lastProgress = time.Now()
			rt.progress()
		}
		// 3. Simulated time until the next batch completion or timer.
		until := rt.now() + 1<<20
		if t, ok := rt.nextTimer(); ok {
			until = min(until, max(t+1, rt.now()+1))
		}
		if rt.cfg.Deadline > 0 {
			if rt.now() >= rt.cfg.Deadline {
				runErr = rt.stallError(StallDeadline, rt.now(), ErrTimeout,
					fmt.Sprintf("cycle %d reached: %s", rt.cfg.Deadline, rt.stuck()), rt.waits(nil))
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
	if err := rt.closeCaptures(); err != nil && runErr == nil {
		runErr = err
	}
	rep := rt.buildReport(start)
	if runErr != nil {
		rep.Error = runErr.Error()
		var se *StallError
		if errors.As(runErr, &se) {
			st := se.Stall
			rep.Stall = &st
		}
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

// sample is the run now, for Config.Sample.
func (rt *Runtime) sample() Sample {
	s := Sample{Cycle: rt.now()}
	if p, ok := rt.cfg.App.(interface{ Progress() (int64, int64) }); ok {
		s.Received, _ = p.Progress()
	}
	for _, n := range rt.nodes {
		if n.stack != nil {
			s.Retransmissions += n.stack.Stats().TCPRetransmits
		}
	}
	return s
}

func (rt *Runtime) progress() {
	if p, ok := rt.cfg.App.(interface{ Progress() (int64, int64) }); ok {
		done, total := p.Progress()
		rt.cfg.Progress(Progress{Step: "transfer", Cycle: rt.now(), Done: done, Total: total})
	}
}

// closeCaptures closes every link end's capture and returns the first write or close that
// failed: a capture that lost packets fails the run rather than pass for complete.
func (rt *Runtime) closeCaptures() error {
	var first error
	for _, l := range rt.links {
		if l.pcap == nil {
			continue
		}
		err := l.sniff.err
		if cerr := l.pcap.Close(); err == nil {
			err = cerr
		}
		l.pcap = nil
		if err != nil && first == nil {
			first = fmt.Errorf("capture of link end %v: %w", l.ep, err)
		}
	}
	return first
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

// quiescent reports whether nothing in the system can change before the next stack timer:
// every node with links is in its packet phase and idle (a whole loop pass that began after
// the last packet write had landed everywhere found nothing, or ringsim's wait on its RX
// header), and no stack has a packet queued. Then no TX buffer is written, every RX buffer
// receives the same words again, and only a timer (a TCP retransmission) starts anything.
func (rt *Runtime) quiescent() bool {
	settled := rt.lastSend + rt.margin()
	for _, n := range rt.nodes {
		if n.finished || len(n.links) == 0 {
			continue
		}
		if n.stage != stagePackets || !n.waiting && n.idlePass <= settled {
			return false
		}
	}
	for _, l := range rt.links {
		if l.ep4 == nil || l.ep4.Pending() > 0 {
			return false
		}
	}
	return true
}

// submitDeferred submits the idle iterations held back in this round: stretched to the next
// stack timer when the system is quiescent (a simulation shortcut: the loop iterations it
// skips would each have found nothing), as they are otherwise.
func (rt *Runtime) submitDeferred() error {
	sleep := uint64(0)
	for _, n := range rt.nodes {
		if n.deferred != nil && sleep == 0 {
			if !rt.quiescent() {
				sleep = 1
				continue
			}
			until := rt.now() + 1<<20
			if t, ok := rt.nextTimer(); ok {
				until = min(until, t+1)
			}
			if rt.cfg.Deadline > 0 {
				until = min(until, rt.cfg.Deadline)
			}
			if until <= rt.now()+1 {
				sleep = 1 // a timer is due, or the deadline: nothing to skip
				continue
			}
			sleep = until - rt.now()
		}
	}
	for _, n := range rt.nodes {
		if n.deferred == nil {
			continue
		}
		ops := n.deferred
		n.deferred = nil
		if sleep > 1 {
			// The iteration's own operations (an RX enable among them), then the rest.
			ops = append(ops, bus.Idle(uint32(min(sleep, bus.MaxIdle))))
		}
		if err := rt.m.Submit(n.id, ops); err != nil {
			return fmt.Errorf("node %d: %w", n.id, err)
		}
	}
	return nil
}
