package bridge

import (
	"context"
	"fmt"
	"math/rand/v2"
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
	ep      hw.Endpoint
	peer    hw.Endpoint
	port    Port
	al      *aligner
	dev     *device
	ep4     *netstack.LinkEndpoint
	nicID   netstack.NIC
	ln      *netstack.Listener
	dial    *netstack.Conn
	sym     *netstack.SymmetricOpen
	conn    *Conn
	pcap    PacketWriter
	estab   uint64
	dialErr int
	// The device's nic chain, outermost first: dropper (if DropRate > 0), sniffer (if
	// capturing), tally, the stack's endpoint.
	nic   nic
	drop  *dropper
	tally *tally
}

type nodeState struct {
	id    int
	cpu   *cpu
	cost  Cost
	links []*linkState
	// boot and alignment are the firmware phases' results, once they completed.
	boot      *Boot
	alignment *Alignment
	up        bool // devices started
	stack     *netstack.Stack
	busy      bool
	results   []bus.Result
	finished  bool
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
	if cfg.Framing == nil {
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
	}
	bm := bus.Map{Depth: m.Depth(), Ports: m.Ports()}
	for n := 0; n < m.Nodes(); n++ {
		ns := &nodeState{id: n, cost: cfg.Cost}
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
			l.al = newAligner(l.port, ns.cost)
			l.nic = l.tally
			if cfg.Pcap != nil {
				w, err := cfg.Pcap(ep, rt.ns)
				if err != nil {
					rt.close()
					return nil, fmt.Errorf("pcap for %v: %w", ep, err)
				}
				l.pcap = w
				l.nic = &sniffer{nested: nested{l.nic}, w: w, ns: rt.ns}
			}
			if cfg.DropRate > 0 {
				rng := rand.New(rand.NewPCG(cfg.Seed, uint64(ep.Node)<<16|uint64(ep.Port)))
				l.drop = &dropper{nested: nested{l.nic}, rate: cfg.DropRate, rng: rng}
				l.nic = l.drop
			}
			ns.links = append(ns.links, l)
			rt.links = append(rt.links, l)
		}
		rt.nodes = append(rt.nodes, ns)
	}
	byEP := map[hw.Endpoint]*linkState{}
	for _, l := range rt.links {
		byEP[l.ep] = l
	}
	for _, l := range rt.links {
		l.tally.peer = byEP[l.peer].tally
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
