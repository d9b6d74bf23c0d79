package conformance

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/go-hclog"

	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/sim"
	"github.com/ringsim/ringsim/sim/bus"
)

// The directed tests of SPEC section 2. Each runs one engine against any RTL that implements
// the node port contract, through the bus and the link ports only (no backdoor), and
// predicts every bus result, TX frame and RX word from the SPEC alone. RX tests drive each
// cycle's frame with a tag that names the cycle, so a word read back says which cycle wrote
// it; a failure names the first cycle where the RTL's behaviour diverged from the SPEC.

// ErrSpec is wrapped by the error of a directed test that saw the RTL break the SPEC. The
// error also wraps the *Divergence that says where (errors.As).
var ErrSpec = errors.New("RTL behaviour differs from the SPEC")

// ErrBadDirected is returned for a directed test that cannot run as configured.
var ErrBadDirected = errors.New("bad directed test")

// MinDirectedDepth is the smallest depth the directed tests support.
const MinDirectedDepth = 4

// DirectedConfig configures one directed test run.
type DirectedConfig struct {
	// Depth is the ring buffer depth D (at least MinDirectedDepth).
	Depth int
	// Ports is the node's port count; 0 means 1. The tests exercise the last port, so that
	// a decoder that only works for port 0 fails them, and "ports" checks that every port
	// has its own registers, buffers and links.
	Ports int
	// Seed varies the nodes' release cycles.
	Seed uint64
	// RTLDir is the RTL under test; empty means ringsim's own.
	RTLDir   string
	CacheDir string
	// OnModelBuild, if set, is told about model builds (sim.Config.OnModelBuild).
	OnModelBuild func(sim.BuildEvent)
	// Limits bound the simulation (cycle budget) and report how far it got.
	Limits Limits
	// Waveform, if set, dumps an FST of the run to this path from cycle WaveformFrom on
	// (the model is then built with waveform support).
	Waveform     string
	WaveformFrom uint64
	// Logger is defaulted when nil.
	Logger hclog.Logger
}

// Directed is one directed test of SPEC section 2.
type Directed struct {
	// Name identifies the test ("bus-timing").
	Name string
	// Summary says what the test checks.
	Summary string
	run     func(b *bench) error
	pair    bool // runs on two linked nodes instead of one
	// minPorts is the fewest ports the test needs (0: one).
	minPorts int
}

// Supports reports whether the test runs on nodes with the given number of ports.
func (d Directed) Supports(ports int) bool { return ports >= max(1, d.minPorts) }

// DirectedTests returns the directed tests, simplest first: a bus timing failure is
// reported before the ring buffer behaviour that depends on it.
func DirectedTests() []Directed {
	return []Directed{
		{Name: "bus-timing", Summary: "completion cycle and data of every kind of bus access, node block registers", run: busTiming},
		{Name: "bus-errors", Summary: "illegal accesses answer ERR in the cycle they are presented", run: busErrors},
		{Name: "byte-masks", Summary: "byte-masked TX writes in both halves of a word", run: byteMasks},
		{Name: "tx-output", Summary: "frame(t+1) = enable(t) ? mem[count(t)] : 0, the counter running while disabled", run: txOutput},
		{Name: "rx-input", Summary: "RX writes at the counter's address only while enabled, the counter running while disabled", run: rxInput},
		{Name: "clear-at-count", Summary: "clear_at_count stalls until the counter matches, writes there, continues from 1 (also after D-1)", run: clearAtCount},
		{Name: "enables", Summary: "no read pending after reset; TX and RX enable: reset 0, read back 1 while set, bit 0 only, byte lane 0", run: enables},
		{Name: "collisions", Summary: "a CPU read of the RX word hardware writes in the same cycle, and a CPU write of the TX word hardware reads, see the old word (read-first)", run: collisions},
		{Name: "ring-buffer", Summary: "upstream's ring buffer test over a link: rotation, freeze, zeroes, alignment", run: ringBuffer, pair: true},
		{Name: "ports", Summary: "every port has its own TX and RX registers, buffers, counters and link", run: portsTest, minPorts: 2},
	}
}

// LookupDirected returns the directed test called name.
func LookupDirected(name string) (Directed, bool) {
	for _, d := range DirectedTests() {
		if d.Name == name {
			return d, true
		}
	}
	return Directed{}, false
}

// Run runs the test. It returns nil if the RTL behaved as the SPEC says, an error wrapping
// ErrSpec and a *Divergence if it did not (an RTL assertion failure counts, at the cycle it
// stopped the simulation), and any other error if the test could not run (the model did
// not build, for example).
func (d Directed) Run(ctx context.Context, cfg DirectedConfig) error {
	ports := max(1, cfg.Ports)
	if cfg.Depth < MinDirectedDepth {
		return fmt.Errorf("%w: %s at depth %d: need at least %d", ErrBadDirected, d.Name, cfg.Depth, MinDirectedDepth)
	}
	if !d.Supports(ports) {
		return fmt.Errorf("%w: %s with %d port(s): needs at least %d", ErrBadDirected, d.Name, ports, d.minPorts)
	}
	topo := hw.Topology{Name: "single", Nodes: 1, Ports: ports}
	release := []uint64{3 + cfg.Seed%5}
	if d.pair {
		// Port p of node 0 is linked to port p of node 1, both ways.
		topo = hw.Topology{Name: "pair", Nodes: 2, Ports: ports}
		for p := 0; p < ports; p++ {
			a, b := hw.Endpoint{Node: 0, Port: p}, hw.Endpoint{Node: 1, Port: p}
			lat := 3 + uint32(cfg.Seed%7)
			topo.Links = append(topo.Links, hw.Link{From: a, To: b, Latency: lat}, hw.Link{From: b, To: a, Latency: lat})
		}
		s := cfg.Seed*0x9E3779B97F4A7C15 + 1
		release = []uint64{s % uint64(2*cfg.Depth), (s >> 20) % uint64(2*cfg.Depth)}
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	e, err := sim.New(ctx, hw.Config{
		Topology: topo, Depth: cfg.Depth, Seed: cfg.Seed, Release: release,
		DNA:       [][3]uint32{{0x01234567, 0x89ABCDEF, uint32(cfg.Seed)}, {0x76543210, 0xFEDCBA98, 0x55AA55AA}}[:topo.Nodes],
		Waveforms: cfg.Waveform != "", RTLDir: cfg.RTLDir,
	}, sim.Options{CacheDir: cfg.CacheDir, OnModelBuild: cfg.OnModelBuild,
		Logger: cfg.Logger.Named("directed").With("test", d.Name)})
	if err != nil {
		return err
	}
	defer e.Close()
	b := &bench{ctx: ctx, e: &Traced{Engine: e, Path: cfg.Waveform, From: cfg.WaveformFrom, Limits: cfg.Limits},
		m: bus.Map{Depth: cfg.Depth, Ports: ports}, d: cfg.Depth, rel: release, port: ports - 1}
	if err := d.run(b); err != nil {
		return fmt.Errorf("%s: %w", d.Name, err)
	}
	return nil
}

// Traced wraps an engine so that an FST dump starts when the simulation reaches From. Only
// Run honours the trigger; it returns exactly what the engine's Run would, so a run through
// Traced is cycle for cycle the same as one without. Traced satisfies bridge.Machine.
//
// It also bounds the run: a Run that would go past Limits.Budget cycles stops there with
// ErrCycleBudget, and every Run records the cycle reached in Limits.Reached, so a caller
// that gives up on a case (its wall-clock limit) knows where the simulation was.
type Traced struct {
	*sim.Engine
	// Path is the FST file; empty means no dump.
	Path string
	// From is the first cycle dumped.
	From uint64
	Limits
	started bool
}

// Limits bound a case's simulation and report how far it got.
type Limits struct {
	// Budget is the most cycles the simulation may run; 0 means no bound.
	Budget uint64
	// Reached, if set, receives the cycle reached after every Run.
	Reached *uint64
	// Bus, if set, keeps each node's last batch and the RTL's answers to it, so that a
	// failure can name the access it is about.
	Bus *BusLog
}

// ErrCycleBudget is returned by Traced.Run when the simulation used its cycle budget.
var ErrCycleBudget = errors.New("cycle budget exhausted")

// Run runs until the cycle count reaches until or some batch completes, starting the dump
// on the way.
func (t *Traced) Run(until uint64) ([]int, error) {
	if t.Budget != 0 && until > t.Budget {
		if t.Cycle() >= t.Budget {
			return nil, fmt.Errorf("%w: %d cycles", ErrCycleBudget, t.Budget)
		}
		until = t.Budget
	}
	done, err := t.run(until)
	if t.Reached != nil {
		*t.Reached = t.Cycle()
	}
	return done, err
}

func (t *Traced) run(until uint64) ([]int, error) {
	if t.Path != "" && !t.started {
		if c := t.Cycle(); c < t.From && until > t.From {
			done, err := t.Engine.Run(t.From)
			if err != nil || len(done) > 0 || t.Cycle() < t.From {
				return done, err
			}
		}
		if t.Cycle() >= t.From {
			if err := t.StartWaveform(t.Path); err != nil {
				return nil, err
			}
			t.started = true
		}
	}
	return t.Engine.Run(until)
}

// Submit implements bridge.Machine.Submit (sim.Engine.Submit), keeping the batch in
// Limits.Bus.
func (t *Traced) Submit(node int, ops []bus.Op) error {
	cycle := t.Cycle()
	if err := t.Engine.Submit(node, ops); err != nil {
		return err
	}
	if t.Bus != nil {
		t.Bus.submitted(node, ops, cycle)
	}
	return nil
}

// Results implements bridge.Machine.Results (sim.Engine.Results), keeping the answers in
// Limits.Bus.
func (t *Traced) Results(node int) ([]bus.Result, error) {
	res, err := t.Engine.Results(node)
	if err == nil && t.Bus != nil {
		t.Bus.completed(node, res)
	}
	return res, err
}

// Execute submits one batch to node and runs until it completes, like sim.Engine.Execute
// but through Run, so the dump starts on the way.
func (t *Traced) Execute(ctx context.Context, node int, ops []bus.Op) ([]bus.Result, error) {
	if err := t.Submit(node, ops); err != nil {
		return nil, err
	}
	for t.Busy(node) {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("execute on node %d: %w", node, err)
		}
		if _, err := t.Run(t.Cycle() + 1<<20); err != nil {
			return nil, err
		}
	}
	return t.Results(node)
}

// StoppedAt returns the first cycle in which the RTL broke a rule, if err is a stop of the
// simulation (a *sim.StopError): the cycle an assertion failed or $error, $fatal or $finish
// ran in, or, for a bus that did not answer, the last cycle in which the SPEC answers the
// access (the first cycle the RTL's behaviour differs from it).
func StoppedAt(err error) (uint64, bool) {
	var st *sim.StopError
	if !errors.As(err, &st) {
		return 0, false
	}
	if st.Kind == sim.StopBusTimeout {
		return st.Deadline, true
	}
	return st.Cycle, true
}

// stopSpecError is a stop of the simulation seen as a SPEC violation: it reads as the
// stop's own sentence and wraps ErrSpec, the *Divergence at the stop's cycle and the
// *sim.StopError.
type stopSpecError struct {
	div  *Divergence
	stop *sim.StopError
}

func (e *stopSpecError) Error() string   { return e.stop.Error() }
func (e *stopSpecError) Unwrap() []error { return []error{ErrSpec, e.div, e.stop} }

// specError is a divergence from the SPEC: "cycle 6: read of node 0 port 0 TX data word 1
// low half (address 0x108, offset 0x8): RTL ACK in cycle 7, SPEC ACK in cycle 6". It wraps
// ErrSpec and the *Divergence.
type specError struct{ div *Divergence }

func (e *specError) Error() string {
	return fmt.Sprintf("cycle %d: %s", e.div.Cycle, e.div.Headline("SPEC"))
}
func (e *specError) Unwrap() []error { return []error{ErrSpec, e.div} }

// specErr reports a divergence as a SPEC violation.
func specErr(d *Divergence) error { return &specError{div: d} }

// bench is the running engine of one directed test.
type bench struct {
	ctx context.Context
	e   *Traced
	m   bus.Map
	d   int
	rel []uint64
	// port is the port under test: the last one.
	port int
	// submitted is the cycle the last batch's first operation was presented in: batches
	// here always start on a free master.
	submitted uint64
}

// stopped turns a stop of the simulation (an RTL assertion, a bus that did not answer)
// into a SPEC violation at its cycle (StoppedAt).
func (b *bench) stopped(err error) error {
	var st *sim.StopError
	c, ok := StoppedAt(err)
	if !ok || !errors.As(err, &st) {
		return err
	}
	return &stopSpecError{div: &Divergence{Cycle: c, What: st.Kind.String(), Want: "none", Got: st.Error()}, stop: st}
}

// exec runs one batch on node to completion.
func (b *bench) exec(node int, ops ...bus.Op) ([]bus.Result, error) {
	b.submitted = max(b.e.Cycle(), b.rel[node])
	res, err := b.e.Execute(b.ctx, node, ops)
	if err != nil {
		return nil, b.stopped(err)
	}
	return res, nil
}

// runTo runs until the cycle count reaches c.
func (b *bench) runTo(c uint64) error {
	for b.e.Cycle() < c {
		if _, err := b.e.Run(c); err != nil {
			return b.stopped(err)
		}
	}
	return nil
}

// expect is the SPEC's bus master: it predicts the result of each operation of a batch
// from the cycle the batch starts in.
type expect struct {
	m     bus.Map
	start uint64 // cycle the first operation is presented in
	next  uint64 // cycle the next operation is presented in
	ops   []bus.Op
	want  []bus.Result
	// anyValue are the reads whose value the SPEC leaves undefined: only their answer
	// (ACK or ERR, and its cycle) counts.
	anyValue map[int]bool
}

func (x *expect) add(op bus.Op, ticks uint64, err bool, value uint32) {
	x.ops = append(x.ops, op)
	r := bus.Result{Cycle: x.next + ticks - 1, Err: err, Value: value}
	x.want = append(x.want, r)
	x.next += ticks
}

// isData reports whether addr is a ring buffer data word (one cycle of read latency).
func isData(m bus.Map, addr uint32) bool {
	r := m.Decode(addr)
	return (r.Device == "TX" || r.Device == "RX") && r.Name == "data"
}

// ok adds an access the SPEC acknowledges, a data read one cycle late.
func (x *expect) ok(op bus.Op, value uint32) {
	ticks := uint64(1)
	if op.Kind == bus.KindRead && isData(x.m, op.Addr) {
		ticks = 2
	}
	x.add(op, ticks, false, value)
}

// okAnyValue adds a read the SPEC acknowledges without defining the value it returns.
func (x *expect) okAnyValue(op bus.Op) {
	if x.anyValue == nil {
		x.anyValue = map[int]bool{}
	}
	x.anyValue[len(x.ops)] = true
	x.ok(op, 0)
}

// block adds a block operation that transfers words (read data, or nil for a write).
func (x *expect) block(op bus.Op, words []uint32) {
	n := op.BlockWords()
	ticks := uint64(n)
	if op.Kind == bus.KindReadBlock {
		ticks = 2 * uint64(n)
	}
	x.add(op, ticks, false, 0)
	r := &x.want[len(x.want)-1]
	r.N = n
	if op.Kind == bus.KindReadBlock {
		r.Words = words
	}
}

// check runs the batch on node 0, whose master is free, and compares every result with the
// SPEC's.
func (x *expect) check(b *bench) ([]bus.Result, error) {
	got, err := b.exec(0, x.ops...)
	if err != nil {
		return nil, err
	}
	want := x.want
	if len(x.anyValue) > 0 {
		want = append([]bus.Result(nil), x.want...)
		for i := range x.anyValue {
			if i < len(got) {
				want[i].Value = got[i].Value
			}
		}
	}
	if div, _ := compareAnswers(x.m, 0, x.start, x.ops, want, got); div != nil {
		return got, specErr(div)
	}
	return got, nil
}

func newExpect(b *bench) *expect {
	c := max(b.e.Cycle(), b.rel[0])
	return &expect{m: b.m, start: c, next: c}
}

// compareAnswers returns the earliest disagreement between the SPEC's results (want) and
// the RTL's (got) of a batch that node started in cycle start, in the RTL's terms: ACK or
// ERR and its cycle, then the data read (word by word, at the cycle each was answered). It
// also returns the index of the operation that differed.
func compareAnswers(m bus.Map, node int, start uint64, ops []bus.Op, want, got []bus.Result) (*Divergence, int) {
	at := start // the cycle op i is presented in
	for i, op := range ops {
		w, g := want[i], got[i]
		what := OpString(m, node, op)
		switch {
		case w.Err != g.Err || w.Cycle != g.Cycle:
			return &Divergence{Cycle: min(w.Cycle, g.Cycle), What: what,
				Got: answer(g.Err, g.Cycle), Want: answer(w.Err, w.Cycle)}, i
		case w.Value != g.Value:
			return &Divergence{Cycle: w.Cycle, What: what,
				Got: fmt.Sprintf("%#08x", g.Value), Want: fmt.Sprintf("%#08x", w.Value)}, i
		case w.N != g.N:
			return &Divergence{Cycle: w.Cycle, What: what + ": words transferred",
				Got: fmt.Sprint(g.N), Want: fmt.Sprint(w.N)}, i
		}
		p := at
		for k := range w.Words {
			addr := op.Addr + 4*uint32(k)
			c := p
			if isData(m, addr) {
				c++
			}
			if k >= len(g.Words) || w.Words[k] != g.Words[k] {
				gv := "nothing"
				if k < len(g.Words) {
					gv = fmt.Sprintf("%#08x", g.Words[k])
				}
				return &Divergence{Cycle: c, What: fmt.Sprintf("read of %s (word %d of a read-block)", RegName(m, node, addr), k),
					Got: gv, Want: fmt.Sprintf("%#08x", w.Words[k])}, i
			}
			p = c + 1
		}
		at = w.Cycle + 1
	}
	return nil, -1
}

// busTiming checks completion cycles: writes and register reads in the cycle they are
// presented, data reads one cycle later, each operation right after the last, and the
// node block's values.
func busTiming(b *bench) error {
	x := newExpect(b)
	m, tx, rx := b.m, b.m.TX(b.port), b.m.RX(b.port)
	dna := b.e.DNA(0)
	x.ok(bus.Write(tx+8, 0x1234_5678), 0)
	x.ok(bus.Read(tx+8), 0x1234_5678)
	x.ok(bus.Write(tx+12, 0x9ABC_DEF0), 0)
	x.ok(bus.Read(tx+12), 0x9ABC_DEF0)
	x.ok(bus.Read(rx+8*uint32(b.d-1)), 0)
	x.ok(bus.Read(rx+8*uint32(b.d-1)+4), 0)
	x.ok(bus.Write(tx+m.Enable(), 0), 0)
	x.ok(bus.Read(tx+m.Enable()), 0)
	x.ok(bus.Write(rx+m.Enable(), 0), 0)
	x.ok(bus.Read(rx+m.Enable()), 0)
	x.ok(bus.Read(bus.RegMagic), bus.Magic)
	x.ok(bus.Read(bus.RegVersion), bus.MapVersion)
	x.ok(bus.Read(bus.RegNodeID), 0)
	x.ok(bus.Read(bus.RegDepth), uint32(b.d))
	x.ok(bus.Read(bus.RegPorts), uint32(m.Ports))
	x.ok(bus.Read(bus.RegWindowLog2), uint32(m.WindowLog2()))
	x.ok(bus.Read(bus.RegDNA0), dna[0])
	x.ok(bus.Read(bus.RegDNA1), dna[1])
	x.ok(bus.Read(bus.RegDNA2), dna[2])
	// CYCLE_LO counts cycles since reset: it reads c - release in cycle c.
	x.ok(bus.Read(bus.RegCycleLo), uint32(x.next-b.rel[0]))
	x.ok(bus.Read(bus.RegCycleHi), 0)
	x.add(bus.Idle(7), 7, false, 0)
	x.block(bus.WriteBlock(tx, []uint32{1, 2, 3, 4, 5}), nil)
	x.block(bus.ReadBlock(tx, 5), []uint32{1, 2, 3, 4, 5})
	x.add(bus.Read(0x7FFF_FFF0), 1, true, 0)
	_, err := x.check(b)
	return err
}

// busErrors checks that every illegal access answers ERR in the cycle it is presented and
// that the legal accesses next to them do not.
func busErrors(b *bench) error {
	x := newExpect(b)
	m, tx, rx, d := b.m, b.m.TX(b.port), b.m.RX(b.port), uint32(b.d)
	bad := []bus.Op{
		bus.Write(rx, 1),                                // RX data is read only
		bus.Write(rx+8*d-4, 1),                          // ... up to its last word
		bus.Read(rx + m.ClearAtCount()),                 // clear_at_count is write only
		bus.Write(rx+m.ClearAtCount(), d),               // values >= D
		bus.Write(rx+m.ClearAtCount(), 0xFFFF_FFFF),     //
		bus.WriteMasked(rx+m.ClearAtCount(), 1, 0x1),    // partial writes
		bus.Read(tx + m.Enable() + 4),                   // the enable register's high half
		bus.Write(tx+m.ClearAtCount(), 0),               // TX has no clear_at_count
		bus.Read(rx + m.Enable() + 4),                   //
		bus.Read(rx + m.ClearAtCount() + 4),             // past the last register
		bus.Read(uint32(m.Windows()) << m.WindowLog2()), // the window past the last device
		bus.Write(bus.RegNodeID, 1),                     // the node block is read only
		bus.Read(0x24),                                  // a hole in the node block
		bus.Read(0x30),                                  // past the node block
		bus.Read(uint32(1)<<m.WindowLog2() - 4 + 1<<31), // far away
	}
	for _, op := range bad {
		x.add(op, 1, true, 0)
	}
	x.ok(bus.Write(tx+8*d-4, 1), 0)
	x.ok(bus.Read(tx+8*d-4), 1)
	x.ok(bus.Read(rx+8*d-4), 0)
	_, err := x.check(b)
	return err
}

// byteMasks writes TX words through every byte mask, in both halves, and reads them back.
func byteMasks(b *bench) error {
	x := newExpect(b)
	tx := b.m.TX(b.port)
	for mask := uint8(0); mask <= 0xF; mask++ {
		for half := uint32(0); half < 2; half++ {
			word := tx + 8*(uint32(mask)*2+half)%(8*uint32(b.d))
			addr := word + 4*half
			x.block(bus.WriteBlock(word, []uint32{0x1122_3344, 0x5566_7788}), nil)
			x.ok(bus.WriteMasked(addr, 0xAABB_CCDD, mask), 0)
			want := [2]uint32{0x1122_3344, 0x5566_7788}
			for k := 0; k < 4; k++ {
				if mask&(1<<k) != 0 {
					lane := uint32(0xFF) << (8 * k)
					want[half] = want[half]&^lane | 0xAABB_CCDD&lane
				}
			}
			x.ok(bus.Read(word), want[0])
			x.ok(bus.Read(word+4), want[1])
		}
	}
	_, err := x.check(b)
	return err
}

// tag marks a driven RX frame with the cycle it was driven in.
const tagMark = uint64(0x7A6C) << 48

func tag(c uint64) uint64 { return tagMark | c&(1<<48-1) }

func untag(w uint64) (uint64, bool) { return w & (1<<48 - 1), w&^(1<<48-1) == tagMark }

// word64 is 64-bit word i of a block read's 32-bit words (low half first).
func word64(ws []uint32, i int) uint64 { return uint64(ws[2*i]) | uint64(ws[2*i+1])<<32 }

func join(ws []uint32) []uint64 {
	out := make([]uint64, len(ws)/2)
	for i := range out {
		out[i] = word64(ws, i)
	}
	return out
}

// pattern returns the D words f(0), ..., f(D-1) and the 32-bit bus words that write them.
func pattern(d int, f func(i int) uint64) ([]uint64, []uint32) {
	w, bw := make([]uint64, d), make([]uint32, 2*d)
	for i := range w {
		w[i] = f(i)
		bw[2*i], bw[2*i+1] = uint32(w[i]), uint32(w[i]>>32)
	}
	return w, bw
}

// counter is a free-running ring buffer counter: count(t) = (t - base) mod D.
type counter struct {
	d    int
	base uint64
}

func (c counter) at(t uint64) int { return int((t - c.base) % uint64(c.d)) }

// next returns the first cycle >= from in which the counter equals v.
func (c counter) next(from uint64, v int) uint64 {
	return from + uint64((v-c.at(from)+c.d)%c.d)
}

// txOutput writes a pattern to TX, enables and disables it twice, and compares every
// frame on the link with frame(t) = enable(t-1) ? mem[count(t-1)] : 0.
func txOutput(b *bench) error {
	d := b.d
	pat, words := pattern(d, func(i int) uint64 { return 0x7E57_0000_0000_0000 | uint64(i+1)<<8 | uint64(i+1) })
	x := newExpect(b)
	x.block(bus.WriteBlock(b.m.TX(b.port), words), nil)
	if _, err := x.check(b); err != nil {
		return err
	}
	r0 := b.e.Cycle()
	n := 5*d + 16
	if err := b.e.Record(0, b.port, n); err != nil {
		return err
	}
	cnt := counter{d: d, base: b.rel[0]}
	// Enable when the counter is at D/2, so that a counter that stopped while disabled
	// sends another word first.
	x0 := cnt.next(r0+1, (d/2+d-1)%d)
	en := b.m.TX(b.port) + b.m.Enable()
	ops := []bus.Op{bus.Idle(uint32(x0 - r0)), bus.Write(en, 1), bus.Idle(uint32(d + d/2)), bus.Write(en, 0),
		bus.Idle(uint32(d / 2)), bus.Write(en, 1), bus.Idle(uint32(d)), bus.Write(en, 0), bus.Idle(4)}
	res, err := b.exec(0, ops...)
	if err != nil {
		return err
	}
	if err := b.runTo(r0 + uint64(n)); err != nil {
		return err
	}
	got, err := b.e.Recorded(0, b.port, n)
	if err != nil {
		return err
	}
	var on []uint64 // enable writes: cycle of each write, alternately on and off
	for i, op := range ops {
		if op.Kind == bus.KindWrite {
			if res[i].Err {
				return specErr(&Divergence{Cycle: res[i].Cycle, What: OpString(b.m, 0, op), Want: "ACK",
					Got: answer(true, res[i].Cycle)})
			}
			on = append(on, res[i].Cycle)
		}
	}
	enabled := func(t uint64) bool { // enable_q in cycle t: set by a write in cycle t-1 or earlier
		e := false
		for i, c := range on {
			if c < t {
				e = i%2 == 0
			}
		}
		return e
	}
	for i, f := range got {
		t := r0 + uint64(i)
		want := uint64(0)
		if enabled(t - 1) {
			want = pat[cnt.at(t-1)]
		}
		if f != want {
			return specErr(&Divergence{Cycle: t, What: fmt.Sprintf("node 0 port %d TX frame sent in cycle %d", b.port, t),
				Want: fmt.Sprintf("%#016x", want), Got: fmt.Sprintf("%#016x", f)})
		}
	}
	return nil
}

// rxModel is the SPEC's RX ring buffer driven with tagged frames. It replays every cycle
// from the enable writes and clear_at_count acknowledgements the bus reported, and knows
// for each cycle where its frame must have been written (or that it must not have been).
type rxModel struct {
	name    string // "node 0 port 1 RX data", for messages
	cnt     counter
	mem     []uint64
	where   map[uint64]int // cycle -> address its frame went to, -1 for none
	t       uint64         // next cycle to replay
	frame   func(t uint64) uint64
	enable  bool
	events  map[uint64]func() // applied at the end of a cycle
	enCycle []uint64
}

func newRXModel(b *bench, frame func(uint64) uint64) *rxModel {
	rel := b.rel[0]
	return &rxModel{name: fmt.Sprintf("node 0 port %d RX data", b.port), cnt: counter{d: b.d, base: rel},
		mem: make([]uint64, b.d), where: map[uint64]int{}, t: rel, frame: frame, events: map[uint64]func(){}}
}

// setEnable records an enable write in cycle c (enable_q changes at its end).
func (m *rxModel) setEnable(c uint64, on bool) {
	m.events[c] = chain(m.events[c], func() { m.enable = on })
}

// clear records a clear_at_count acknowledged in cycle c: the counter reads 1 in c+1.
func (m *rxModel) clear(c uint64) {
	m.events[c] = chain(m.events[c], func() { m.cnt.base = c })
}

func chain(a, b func()) func() {
	if a == nil {
		return b
	}
	return func() { a(); b() }
}

// replay advances the model to cycle c (exclusive).
func (m *rxModel) replay(c uint64) {
	for ; m.t < c; m.t++ {
		if m.enable {
			a := m.cnt.at(m.t)
			m.mem[a] = m.frame(m.t)
			m.where[m.t] = a
		} else {
			m.where[m.t] = -1
		}
		if f := m.events[m.t]; f != nil {
			f()
			delete(m.events, m.t)
		}
	}
}

// compare checks RX words read back against the model. addrs[i] is the address of got[i],
// read by a two-word block read that completed in cycle done[i]. A mismatch names the
// earliest cycle it implicates: a frame missing from its address, or a frame found where
// its cycle did not write.
func (m *rxModel) compare(addrs []int, got []uint64, done []uint64) error {
	var first *Divergence
	note := func(c uint64, what, want, gotS string) {
		if first == nil || c < first.Cycle {
			first = &Divergence{Cycle: c, What: what, Want: want, Got: gotS}
		}
	}
	present := map[uint64]int{} // the frames read back, and where
	for i, a := range addrs {
		if t, ok := m.genuine(got[i]); ok {
			present[t] = a
		}
	}
	for i, a := range addrs {
		want, g := m.mem[a], got[i]
		if g == want {
			continue
		}
		what := fmt.Sprintf("%s word %d", m.name, a)
		ws, gs := m.describe(want), m.describe(g)
		tg, genuine := m.genuine(g)
		noted := false
		if t, ok := m.genuine(want); ok {
			// The frame that belongs here is missing. If a later frame took its place and
			// it is nowhere else, it was overwritten: that later write is the divergence.
			if b, found := present[t]; found || !genuine || tg < t {
				where := ""
				if found {
					where = fmt.Sprintf(" (it is at word %d)", b)
				}
				note(t, fmt.Sprintf("%s should hold the frame of cycle %d%s", what, t, where), ws, gs)
				noted = true
			}
		}
		if genuine {
			if w, seen := m.where[tg]; !seen || w != a {
				dest := "not written (RX disabled)"
				if seen && w >= 0 {
					dest = fmt.Sprintf("written to word %d", w)
				}
				note(tg, fmt.Sprintf("%s holds the frame of cycle %d, which the SPEC has %s", what, tg, dest), ws, gs)
				noted = true
			}
		}
		if !noted {
			note(done[i], what, ws, gs)
		}
	}
	if first != nil {
		return specErr(first)
	}
	return nil
}

// genuine returns the cycle of a word read back if it is the frame that cycle drove; a
// word that only looks like one (a read torn between two frames, say) names no cycle.
func (m *rxModel) genuine(w uint64) (uint64, bool) {
	if t, ok := untag(w); ok && m.frame(t) == w {
		return t, true
	}
	return 0, false
}

// describe names a word read back: the frame of the cycle that drove it, or its value.
func (m *rxModel) describe(w uint64) string {
	if t, ok := m.genuine(w); ok {
		return fmt.Sprintf("the frame of cycle %d", t)
	}
	return fmt.Sprintf("%#016x", w)
}

// readRX appends block reads of the given RX words, in order.
func (b *bench) readRX(addrs []int) []bus.Op {
	ops := make([]bus.Op, len(addrs))
	for i, a := range addrs {
		ops[i] = bus.ReadBlock(b.m.RX(b.port)+8*uint32(a), 2)
	}
	return ops
}

// words extracts the words read by the block reads res[from:from+n].
func words(res []bus.Result, from, n int) ([]uint64, []uint64) {
	got := make([]uint64, n)
	done := make([]uint64, n)
	for i := 0; i < n; i++ {
		r := res[from+i]
		if len(r.Words) == 2 {
			got[i] = word64(r.Words, 0)
		}
		done[i] = r.Cycle
	}
	return got, done
}

func allWords(d int) []int {
	a := make([]int, d)
	for i := range a {
		a[i] = i
	}
	return a
}

// rxDrive drives every cycle's frame from cycle `from` on with its tag, for long enough for
// any RX test at this depth, and returns the frame function the model needs.
func (b *bench) rxDrive(from uint64) (func(uint64) uint64, error) {
	return b.drive(b.port, from, tag)
}

// drive drives port's RX input from cycle `from` on with f(cycle), for long enough for any
// RX test at this depth, and returns the frame function (0 outside that span).
func (b *bench) drive(port int, from uint64, f func(uint64) uint64) (func(uint64) uint64, error) {
	start := b.e.Cycle()
	n := uint64(80*b.d + 2000)
	frames := make([]uint64, n)
	frame := func(t uint64) uint64 {
		if t < from || t >= start+n {
			return 0
		}
		return f(t)
	}
	for i := range frames {
		frames[i] = frame(start + uint64(i))
	}
	return frame, b.e.Drive(0, port, frames)
}

// checkOps fails on the first bus ERR of node's batch (the directed RX tests expect none).
func checkOps(m bus.Map, node int, ops []bus.Op, res []bus.Result) error {
	for i, r := range res {
		if r.Err {
			return specErr(&Divergence{Cycle: r.Cycle, What: OpString(m, node, ops[i]), Want: "ACK",
				Got: answer(true, r.Cycle)})
		}
	}
	return nil
}

// rxInput checks that a disabled RX ignores its input, that an enabled RX writes every
// frame at its counter's address, and that the counter runs whether or not enabled.
func rxInput(b *bench) error {
	d, rel := b.d, b.rel[0]
	s := rel + 2 // first tagged cycle
	frame, err := b.rxDrive(s)
	if err != nil {
		return err
	}
	m := newRXModel(b, frame)
	// A: RX disabled since reset. Read the words of the first k tagged cycles right away,
	// before a misbehaving RX could overwrite them: all must still be zero.
	k := max(1, min(d/4, 8))
	var addrs []int
	for j := 0; j < k; j++ {
		addrs = append(addrs, m.cnt.at(s+uint64(j)))
	}
	ops := append([]bus.Op{bus.Idle(uint32(s + uint64(k) - rel))}, b.readRX(addrs)...)
	res, err := b.exec(0, ops...)
	if err != nil {
		return err
	}
	if err := checkOps(b.m, 0, ops, res); err != nil {
		return err
	}
	m.replay(res[1].Cycle - 3) // the first read's RAM access
	got, done := words(res, 1, k)
	if err := m.compare(addrs, got, done); err != nil {
		return err
	}
	// B: enable RX for k cycles so that its first write lands at D/2, then at word 1:
	// the counter kept running while RX was disabled, before and after.
	en := b.m.RX(b.port) + b.m.Enable()
	for _, target := range []int{d / 2, 1} {
		c0 := b.e.Cycle()
		x := m.cnt.next(c0+2, (target+d-1)%d) // enable write in x: first write in x+1
		ops := []bus.Op{bus.Idle(uint32(x - c0)), bus.Write(en, 1)}
		if k > 1 {
			ops = append(ops, bus.Idle(uint32(k-1)))
		}
		ops = append(ops, bus.Write(en, 0), bus.ReadBlock(b.m.RX(b.port), 2*d))
		res, err := b.exec(0, ops...)
		if err != nil {
			return err
		}
		if err := checkOps(b.m, 0, ops, res); err != nil {
			return err
		}
		m.setEnable(res[1].Cycle, true)
		m.setEnable(res[len(res)-2].Cycle, false)
		rd := res[len(res)-1]
		m.replay(rd.Cycle - uint64(4*d) + 1)
		if err := m.compare(allWords(d), join(rd.Words), blockDone(rd, d)); err != nil {
			return err
		}
	}
	return nil
}

// blockDone returns the completion cycle of each 64-bit word of a whole-buffer block read.
func blockDone(r bus.Result, d int) []uint64 {
	start := r.Cycle + 1 - uint64(4*d)
	out := make([]uint64, d)
	for i := range out {
		out[i] = start + uint64(4*i+3)
	}
	return out
}

// clearAtCount reproduces SPEC section 2's worked example at any depth (v = 5D/8, written
// while the counter is 2), then checks the addresses of the following rotation, the
// stalls of clear_at_count 0 and D-1, and where the counter goes after clear_at_count(D-1):
// to 1, not to the 0 it would have wrapped to without the clear.
func clearAtCount(b *bench) error {
	d, rel := b.d, b.rel[0]
	frame, err := b.rxDrive(rel)
	if err != nil {
		return err
	}
	m := newRXModel(b, frame)
	rx := b.m.RX(b.port)
	en, clr := rx+b.m.Enable(), rx+b.m.ClearAtCount()
	v := 5 * d / 8
	// Part 1: enable RX, present clear_at_count(v) while the counter is 2, disable RX
	// right after the ACK. Words 2..v get the frames up to the ACK's, word 1 the next one.
	c0 := max(b.e.Cycle(), rel)
	p := m.cnt.next(c0+2, 2)
	ops := []bus.Op{bus.Idle(uint32(p - 1 - c0)), bus.Write(en, 1), bus.Write(clr, uint32(v)),
		bus.Write(en, 0), bus.ReadBlock(rx, 2*d)}
	if err := b.clearPart(m, ops, map[int]int{2: v}); err != nil {
		return err
	}
	// Part 2: clear_at_count(v) with RX disabled, then enable RX for one rotation from the
	// ACK: the counter reads 1 after the ACK, then 2 .. D-1, 0. Then clear_at_count(0)
	// stalls until the counter reads 0.
	ops = []bus.Op{bus.Write(clr, uint32(v)), bus.Write(en, 1)}
	if d > 2 {
		ops = append(ops, bus.Idle(uint32(d-2)))
	}
	ops = append(ops, bus.Write(en, 0), bus.ReadBlock(rx, 2*d), bus.Write(clr, 0))
	if err := b.clearPart(m, ops, map[int]int{0: v, len(ops) - 1: 0}); err != nil {
		return err
	}
	// Part 3: RX enabled while the counter is 1, then clear_at_count(D-1): it stalls until
	// the counter reads D-1, the frames of the stall land at 2 .. D-1 (the ACK's at D-1
	// too), and the counter continues from 1, not from the 0 it would have wrapped to
	// without the clear: the next D-2 frames land at 1 .. D-2 and word 0 keeps its word.
	ops = []bus.Op{bus.Write(en, 1), bus.Write(clr, uint32(d-1)), bus.Idle(uint32(d - 3)),
		bus.Write(en, 0), bus.ReadBlock(rx, 2*d)}
	return b.clearPart(m, ops, map[int]int{1: d - 1})
}

// clearPart runs a batch of enable writes, clear_at_count writes (ops index -> value) and
// whole-buffer reads, checking each operation's completion cycle against the SPEC (a
// clear_at_count completes in the first cycle the counter equals its value) and each
// buffer read against the model.
func (b *bench) clearPart(m *rxModel, ops []bus.Op, clears map[int]int) error {
	res, err := b.exec(0, ops...)
	if err != nil {
		return err
	}
	next := b.submitted
	for i, op := range ops {
		want := next
		switch op.Kind {
		case bus.KindIdle:
			want = next + uint64(op.Count) - 1
		case bus.KindReadBlock:
			want = next + 2*uint64(op.Count) - 1
		}
		if v, ok := clears[i]; ok {
			m.replay(next)
			want = m.cnt.next(next, v)
		}
		if res[i].Err || res[i].Cycle != want {
			what := OpString(b.m, 0, op)
			if v, ok := clears[i]; ok {
				what += fmt.Sprintf(" (the SPEC holds the bus until the RX write counter is %d)", v)
			}
			return specErr(&Divergence{Cycle: min(want, res[i].Cycle), What: what,
				Want: answer(false, want), Got: answer(res[i].Err, res[i].Cycle)})
		}
		switch _, isClear := clears[i]; {
		case isClear:
			m.replay(want)
			m.clear(want)
		case op.Kind == bus.KindWrite:
			m.setEnable(want, op.Value == 1)
		case op.Kind == bus.KindReadBlock:
			m.replay(next)
			if err := m.compare(allWords(b.d), join(res[i].Words), blockDone(res[i], b.d)); err != nil {
				return err
			}
		}
		next = want + 1
	}
	return nil
}

// ringBuffer is upstream's ring buffer test (SPEC section 6) over a link from node 0's TX
// to node 1's RX, with the rotation predicted: TX word 0 lands at RX word
// (release0 - release1 + latency + 1) mod D.
func ringBuffer(b *bench) error {
	d := b.d
	lat := int64(b.e.Info().Config.Topology.Links[0].Latency)
	r := int(((int64(b.rel[0])-int64(b.rel[1])+lat+1)%int64(d) + int64(d)) % int64(d))
	m := b.m
	tx, rx := m.TX(b.port), m.RX(b.port)
	txEn, rxEn := tx+m.Enable(), rx+m.Enable()
	settle := bus.Idle(uint32(int64(d) + lat + 4)) // a rotation plus the link and registers
	p1, w1 := pattern(d, func(i int) uint64 { return 1<<56 | 0x00C0_FFEE_0000_0000 | uint64(i+1) })
	p2, w2 := pattern(d, func(i int) uint64 { return 2<<56 | 0x00C0_FFEE_0000_0000 | uint64(i+1) })
	zero := make([]uint64, d)
	type action struct {
		node int
		ops  []bus.Op
	}
	on := func(node int, ops ...bus.Op) action { return action{node, ops} }
	steps := []struct {
		name string
		acts []action // then node 1 reads its whole RX buffer
		want []uint64
		rot  int
	}{
		{"write a pattern, enable both: RX is TX rotated",
			[]action{on(0, bus.WriteBlock(tx, w1), bus.Write(txEn, 1)), on(1, bus.Write(rxEn, 1), settle)}, p1, r},
		{"disable RX, write a new pattern: RX stays frozen",
			[]action{on(1, bus.Write(rxEn, 0)), on(0, bus.WriteBlock(tx, w2), settle)}, p1, r},
		{"enable RX again: the new pattern, same rotation", []action{on(1, bus.Write(rxEn, 1), settle)}, p2, r},
		{"disable TX: RX becomes all zero", []action{on(0, bus.Write(txEn, 0), settle)}, zero, 0},
		{"enable TX again: the rotation is back", []action{on(0, bus.Write(txEn, 1), settle)}, p2, r},
		{fmt.Sprintf("clear_at_count(%d): RX equals TX", r),
			[]action{on(1, bus.Write(rx+m.ClearAtCount(), uint32(r)), settle)}, p2, 0},
	}
	for i, st := range steps {
		for _, a := range st.acts {
			res, err := b.exec(a.node, a.ops...)
			if err != nil {
				return err
			}
			if err := checkOps(m, a.node, a.ops, res); err != nil {
				return err
			}
		}
		read := []bus.Op{bus.ReadBlock(rx, 2*d)}
		res, err := b.exec(1, read...)
		if err != nil {
			return err
		}
		if err := checkOps(m, 1, read, res); err != nil {
			return err
		}
		got, done := join(res[0].Words), blockDone(res[0], d)
		for a := range got {
			if want := st.want[(a-st.rot+d)%d]; got[a] != want {
				return specErr(&Divergence{Cycle: done[a], What: fmt.Sprintf("step %d (%s): node 1 port %d RX data word %d",
					i+1, st.name, b.port, a), Want: fmt.Sprintf("%#016x", want), Got: fmt.Sprintf("%#016x", got[a])})
			}
		}
	}
	return nil
}
