// Package simtest is a Verilator-free ringsim machine for fast tests: the reference model
// (internal/refmodel, SPEC section 2 as cycle-accurate Go, differential-tested against the
// RTL) grown into N nodes with links, run in the Verilated harness's lockstep order. It
// implements hw.Simulator, so the firmware (bridge), the gRPC server and the client run on
// it in seconds, with -race, and without a C++ toolchain. Tests that claim RTL behaviour
// run on the Verilated engine (package sim) instead.
package simtest

import (
	"context"

	"fmt"
	"math"

	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/internal/refmodel"
	"github.com/ringsim/ringsim/sim/bus"
)

// Machine is N reference-model nodes in lockstep with links (latency, seeded bit flips and
// zeroed frames, as the harness injects them). Create it with New. It is not safe for
// concurrent use.
type Machine struct {
	cfg    hw.Config
	nodes  []*refmodel.Node
	master []*refmodel.Master
	busy   []bool
	links  []link
	rx     [][]uint64 // per node, per port: the RX frame of the cycle
	cycle  uint64
	closed bool
}

var _ hw.Simulator = (*Machine)(nil)

// New returns a machine for cfg at cycle 0. The reference model has no waveforms: a
// configuration asking for them gets hw.ErrNoWaveforms.
func New(_ context.Context, cfg hw.Config) (*Machine, error) {
	cfg, err := cfg.Normalize()
	if err != nil {
		return nil, err
	}
	if cfg.Waveforms {
		return nil, fmt.Errorf("reference machine: %w", hw.ErrNoWaveforms)
	}
	if cfg.Link == hw.LinkReal {
		return nil, fmt.Errorf("reference machine: %w: it models the ideal link; the real link needs the Verilated engine", hw.ErrNoRealLink)
	}
	if cfg.RTLDir != "" {
		return nil, fmt.Errorf("%w: rtl_dir: the reference machine models ringsim's own RTL only", hw.ErrBadConfig)
	}
	t := cfg.Topology
	m := &Machine{cfg: cfg, rx: make([][]uint64, t.Nodes), busy: make([]bool, t.Nodes)}
	for n := 0; n < t.Nodes; n++ {
		nd, err := refmodel.NewNode(refmodel.Config{Depth: cfg.Depth, Ports: t.Ports, NodeID: uint32(n),
			DNA: cfg.DNA[n], Release: cfg.Release[n]})
		if err != nil {
			return nil, fmt.Errorf("%w: node %d: %v", hw.ErrBadConfig, n, err)
		}
		m.nodes = append(m.nodes, nd)
		m.master = append(m.master, refmodel.NewMaster())
		m.rx[n] = make([]uint64, t.Ports)
	}
	for i, l := range t.Links {
		k := link{cfg: l, line: make([]uint64, l.Latency+1), rng: newRng(cfg.Seed ^ (0x5851f42d4c957f2d * uint64(i+1)))}
		m.links = append(m.links, k)
		if l.Faults != (hw.Faults{}) {
			m.links[i].setFaults(l.Faults)
		}
	}
	return m, nil
}

// Info implements hw.Simulator.Info.
func (m *Machine) Info() hw.Info {
	c := m.cfg
	c.Topology.Links = append([]hw.Link(nil), c.Topology.Links...)
	c.Release = append([]uint64(nil), c.Release...)
	c.DNA = append([][3]uint32(nil), c.DNA...)
	return hw.Info{Config: c, Cycle: m.cycle, Model: hw.ModelInfo{Versions: "ringsim reference model (internal/refmodel)"}}
}

// Nodes implements hw.Simulator.Nodes.
func (m *Machine) Nodes() int { return m.cfg.Topology.Nodes }

// Ports implements hw.Simulator.Ports.
func (m *Machine) Ports() int { return m.cfg.Topology.Ports }

// Depth implements hw.Simulator.Depth.
func (m *Machine) Depth() int { return m.cfg.Depth }

// ClockHz implements hw.Simulator.ClockHz.
func (m *Machine) ClockHz() float64 { return m.cfg.ClockHz }

// Cycle implements hw.Simulator.Cycle.
func (m *Machine) Cycle() uint64 { return m.cycle }

// Release returns node's reset release cycle.
func (m *Machine) Release(node int) uint64 { return m.cfg.Release[node] }

// DNA returns node's device DNA.
func (m *Machine) DNA(node int) [3]uint32 { return m.cfg.DNA[node] }

func (m *Machine) checkNode(node int) error {
	if m.closed {
		return hw.ErrClosed
	}
	if node < 0 || node >= len(m.nodes) {
		return fmt.Errorf("%w: node %d (have %d)", hw.ErrBadNode, node, len(m.nodes))
	}
	return nil
}

func (m *Machine) checkPort(node, port int) error {
	if err := m.checkNode(node); err != nil {
		return err
	}
	if port < 0 || port >= m.cfg.Topology.Ports {
		return fmt.Errorf("%w: port %d (have %d)", hw.ErrBadPort, port, m.cfg.Topology.Ports)
	}
	return nil
}

// Busy implements hw.Simulator.Busy.
func (m *Machine) Busy(node int) bool { return node >= 0 && node < len(m.busy) && m.busy[node] }

// Submit implements hw.Simulator.Submit, with the engine's checks.
func (m *Machine) Submit(node int, ops []bus.Op) error {
	if err := m.checkNode(node); err != nil {
		return err
	}
	if m.busy[node] || m.master[node].Done() {
		return fmt.Errorf("submit to node %d: %w", node, hw.ErrBusy)
	}
	if _, err := bus.ValidateBatch(ops); err != nil {
		return fmt.Errorf("%w: node %d: %v", hw.ErrBadBatch, node, err)
	}
	if err := m.master[node].Submit(ops); err != nil {
		return fmt.Errorf("%w: node %d: %v", hw.ErrBadBatch, node, err)
	}
	m.busy[node] = true
	return nil
}

// Run implements hw.Simulator.Run: cycles until until, or until the end of a cycle in
// which some batch completed, in the harness's order (links, then every node's request,
// response and clock edge).
func (m *Machine) Run(until uint64) ([]int, error) {
	if m.closed {
		return nil, hw.ErrClosed
	}
	var done []int
	for m.cycle < until && done == nil {
		c := m.cycle
		for i := range m.links {
			l := &m.links[i]
			f := m.nodes[l.cfg.From.Node].TX(l.cfg.From.Port)
			if l.faulty {
				f = l.inject(f)
			}
			l.line[l.head] = f
			if l.head++; l.head == len(l.line) {
				l.head = 0
			}
			m.rx[l.cfg.To.Node][l.cfg.To.Port] = l.line[l.head]
		}
		for n, nd := range m.nodes {
			ms := m.master[n]
			if nd.InReset() || !ms.Busy() {
				nd.Step(refmodel.Request{}, m.rx[n])
				continue
			}
			if ms.Sample(nd.Step(ms.Request(), m.rx[n]), c) {
				m.busy[n] = false
				done = append(done, n)
			}
		}
		m.cycle++
	}
	return done, nil
}

// Results implements hw.Simulator.Results.
func (m *Machine) Results(node int) ([]bus.Result, error) {
	if err := m.checkNode(node); err != nil {
		return nil, err
	}
	r, err := m.master[node].Take()
	if err != nil {
		return nil, fmt.Errorf("node %d: %w", node, hw.ErrNoResults)
	}
	return r, nil
}

// Execute submits one batch to node and runs until it completes, like sim.Engine.Execute.
func (m *Machine) Execute(ctx context.Context, node int, ops []bus.Op) ([]bus.Result, error) {
	if err := m.Submit(node, ops); err != nil {
		return nil, err
	}
	for m.busy[node] {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("execute on node %d: %w", node, err)
		}
		if _, err := m.Run(m.cycle + 1<<20); err != nil {
			return nil, err
		}
	}
	return m.Results(node)
}

// Peek implements hw.Simulator.Peek.
func (m *Machine) Peek(node, port int, t hw.Target, index int) (uint64, error) {
	if err := m.checkPort(node, port); err != nil {
		return 0, err
	}
	if index < 0 || index >= m.cfg.Depth {
		return 0, fmt.Errorf("%w: word %d outside depth %d", hw.ErrBadBackdoor, index, m.cfg.Depth)
	}
	nd := m.nodes[node]
	switch t {
	case hw.TXMem:
		return nd.TXWord(port, index), nil
	case hw.RXMem:
		return nd.RXWord(port, index), nil
	case hw.TXEnable:
		return b2u(nd.TXEnable(port)), nil
	case hw.RXEnable:
		return b2u(nd.RXEnable(port)), nil
	case hw.TXCount:
		return uint64(nd.TXCount(port)), nil
	case hw.RXCount:
		return uint64(nd.RXCount(port)), nil
	}
	return 0, fmt.Errorf("%w: unknown backdoor target %d", hw.ErrBadBackdoor, t)
}

// Poke implements hw.Simulator.Poke.
func (m *Machine) Poke(node, port int, t hw.Target, index int, v uint64) error {
	if err := m.checkPort(node, port); err != nil {
		return err
	}
	if index < 0 || index >= m.cfg.Depth {
		return fmt.Errorf("%w: word %d outside depth %d", hw.ErrBadBackdoor, index, m.cfg.Depth)
	}
	nd := m.nodes[node]
	switch t {
	case hw.TXMem:
		nd.SetTXWord(port, index, v)
	case hw.RXMem:
		nd.SetRXWord(port, index, v)
	case hw.TXEnable:
		nd.SetTXEnable(port, v&1 != 0)
	case hw.RXEnable:
		nd.SetRXEnable(port, v&1 != 0)
	case hw.TXCount, hw.RXCount:
		return fmt.Errorf("%w: counters are read only", hw.ErrBadBackdoor)
	default:
		return fmt.Errorf("%w: unknown backdoor target %d", hw.ErrBadBackdoor, t)
	}
	return nil
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// SetFaults implements hw.Simulator.SetFaults.
func (m *Machine) SetFaults(link int, f hw.Faults) error {
	if m.closed {
		return hw.ErrClosed
	}
	if link < 0 || link >= len(m.links) {
		return fmt.Errorf("%w: link %d (have %d)", hw.ErrBadLink, link, len(m.links))
	}
	if err := f.Validate(); err != nil {
		return fmt.Errorf("link %d: %w", link, err)
	}
	m.links[link].setFaults(f)
	m.cfg.Topology.Links[link].Faults = f
	return nil
}

// FaultCounts implements hw.Simulator.FaultCounts.
func (m *Machine) FaultCounts(link int) (flips, zeroed uint64, err error) {
	if m.closed {
		return 0, 0, hw.ErrClosed
	}
	if link < 0 || link >= len(m.links) {
		return 0, 0, fmt.Errorf("%w: link %d (have %d)", hw.ErrBadLink, link, len(m.links))
	}
	return m.links[link].flips, m.links[link].zeroed, nil
}

// errNoWaveforms is what the waveform calls answer.
var errNoWaveforms = fmt.Errorf("reference machine: %w", hw.ErrNoWaveforms)

// StartWaveform implements hw.Simulator.StartWaveform: the reference model has none.
func (m *Machine) StartWaveform(string) error { return errNoWaveforms }

// StopWaveform implements hw.Simulator.StopWaveform (nothing is ever open).
func (m *Machine) StopWaveform() error { return nil }

// Waveform implements hw.Simulator.Waveform.
func (m *Machine) Waveform() string { return "" }

// Close implements hw.Simulator.Close.
func (m *Machine) Close() error {
	m.closed = true
	return nil
}

// link is one direction of a link with the harness's delay line and fault injector
// (struct Link in harness.cpp, same random streams).
type link struct {
	cfg     hw.Link
	line    []uint64
	head    int
	faulty  bool
	flip    float64
	zero    float64
	flipGap uint64
	zeroGap uint64
	flips   uint64
	zeroed  uint64
	rng     rng
}

func (l *link) setFaults(f hw.Faults) {
	l.flip, l.zero = f.BitFlip, f.FrameZero
	l.faulty = f.BitFlip > 0 || f.FrameZero > 0
	l.flipGap = l.rng.gap(f.BitFlip)
	l.zeroGap = l.rng.gap(f.FrameZero)
}

func (l *link) inject(f uint64) uint64 {
	if l.zeroGap == 0 {
		f = 0
		l.zeroed++
		l.zeroGap = l.rng.gap(l.zero)
	} else {
		l.zeroGap--
	}
	for l.flipGap < 64 {
		f ^= 1 << l.flipGap
		l.flips++
		l.flipGap += 1 + l.rng.gap(l.flip)
	}
	l.flipGap -= 64
	return f
}

// rng is the harness's xoshiro256** seeded with splitmix64.
type rng struct{ s [4]uint64 }

func newRng(seed uint64) rng {
	var r rng
	for i := range r.s {
		seed += 0x9e3779b97f4a7c15
		z := seed
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		r.s[i] = z ^ (z >> 31)
	}
	return r
}

func rotl(x uint64, k uint) uint64 { return x<<k | x>>(64-k) }

func (r *rng) next() uint64 {
	s := &r.s
	result := rotl(s[1]*5, 7) * 9
	t := s[1] << 17
	s[2] ^= s[0]
	s[3] ^= s[1]
	s[1] ^= s[2]
	s[0] ^= s[3]
	s[2] ^= t
	s[3] = rotl(s[3], 45)
	return result
}

// unit is uniform in (0, 1].
func (r *rng) unit() float64 { return float64((r.next()>>11)+1) * (1.0 / 9007199254740992.0) }

// gap is the number of failures before the first success of a Bernoulli(p) sequence.
func (r *rng) gap(p float64) uint64 {
	const never = uint64(1) << 62
	if p <= 0 {
		return never
	}
	if p >= 1 {
		return 0
	}
	g := math.Floor(math.Log(r.unit()) / math.Log1p(-p))
	if g >= float64(never) {
		return never
	}
	return uint64(g)
}
