// Package sim runs N Verilated ringsim nodes in lockstep: one global cycle count, every
// node clocked every cycle, links with latency and seeded faults, and one bus master (the
// node's CPU) per node that executes batches of bus operations with the RTL's real
// handshake timing. The per-cycle loop lives in a C++ harness compiled with the model; Go
// crosses into it once per Run, never once per cycle.
package sim

/*
#cgo CFLAGS: -I${SRCDIR}/internal/harness/csrc
#include "rslib.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"github.com/hashicorp/go-hclog"

	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/sim/bus"
	"github.com/ringsim/ringsim/sim/internal/modelbuild"
)

// Errors returned by the engine: the contract's (package hw), named here too for callers
// of the engine.
var (
	ErrBadConfig   = hw.ErrBadConfig
	ErrClosed      = hw.ErrClosed
	ErrBadNode     = hw.ErrBadNode
	ErrBadPort     = hw.ErrBadPort
	ErrBadLink     = hw.ErrBadLink
	ErrBadBatch    = hw.ErrBadBatch
	ErrBusy        = hw.ErrBusy
	ErrNoResults   = hw.ErrNoResults
	ErrStopped     = hw.ErrStopped
	ErrNoWaveforms = hw.ErrNoWaveforms
	ErrWaveform    = hw.ErrWaveform
	ErrNoBackdoor  = hw.ErrNoBackdoor
	ErrBadBackdoor = hw.ErrBadBackdoor
	// ErrNoVerilator: Verilator or the C++ compiler is missing (an hw.ErrNoTool).
	ErrNoVerilator = hw.ErrNoTool
)

// BuildEvent reports a model build's progress (Config.OnModelBuild).
type BuildEvent = modelbuild.Event

// The stages a BuildEvent reports.
const (
	BuildStart = modelbuild.StageStart
	BuildDone  = modelbuild.StageDone
)

// Options are the engine's settings that are not part of the simulation's configuration:
// where models are cached and who hears about their builds.
type Options struct {
	// CacheDir is the model cache; empty means the default (see modelbuild.DefaultCacheDir).
	CacheDir string
	// OnModelBuild, if set, is told when a model has to be built (not found in the cache),
	// at each stage of the build and when it ends, so a command can show what it waits for.
	OnModelBuild func(BuildEvent)
	// Logger is defaulted when nil.
	Logger hclog.Logger
	// Threads is how many threads clock the nodes: 0 or 1 means one, AutoThreads gives a
	// count for an otherwise idle machine. Results do not depend on it. The lanes wait for
	// each other every few cycles, so on a loaded machine (other processes on every CPU)
	// more threads can be much slower than one. The real link, models with waveform
	// support, zero-latency links and drives/records run on one thread whatever it says.
	Threads int
}

// MaxThreads bounds Options.Threads.
const MaxThreads = 64

// AutoThreads is a thread count for n nodes on an otherwise idle machine: one thread per
// two nodes, at most one per CPU. A thread of its own for each node of a pair costs more in
// synchronisation than it saves (BenchmarkThreads).
func AutoThreads(n int) int {
	return max(1, min(runtime.NumCPU(), n/2, MaxThreads))
}

// Engine is a running simulation of the Verilated RTL. It is not safe for concurrent use:
// callers serialize.
type Engine struct {
	cfg   hw.Config
	lib   *lib
	sim   *C.rs_sim
	model hw.ModelInfo
	log   hclog.Logger
	nodes []nodeState
	done  []uint64
	wave  string // path of the open waveform, if any
	// threads is the thread count asked for; the harness may use fewer (Threads).
	threads int
}

type nodeState struct {
	busy    bool
	cops    []C.rs_op
	words   []uint32
	cres    []C.rs_result
	results []bus.Result
	ready   bool
}

var _ hw.RealLinkSimulator = (*Engine)(nil)

// New builds (or loads from the cache) the model for cfg and starts a simulation at cycle 0.
// Building needs Verilator and a C++ compiler; a missing tool gives ErrNoVerilator with the
// install command, RTL that does not build hw.ErrBadRTL with the tool's messages.
func New(ctx context.Context, cfg hw.Config, opt Options) (*Engine, error) {
	cfg, err := cfg.Normalize()
	if err != nil {
		return nil, err
	}
	if opt.Threads < 0 || opt.Threads > MaxThreads {
		return nil, fmt.Errorf("%w: threads %d outside [0, %d]", ErrBadConfig, opt.Threads, MaxThreads)
	}
	if opt.Threads == 0 {
		opt.Threads = 1
	}
	if opt.Logger == nil {
		opt.Logger = hclog.NewNullLogger()
	}
	log := opt.Logger.Named("sim")
	b := &modelbuild.Builder{CacheDir: opt.CacheDir, Logger: log, OnEvent: opt.OnModelBuild}
	m, err := b.Build(ctx, modelbuild.Spec{
		RTLDir: cfg.RTLDir, Depth: cfg.Depth, Ports: cfg.Topology.Ports,
		Trace: cfg.Waveforms, Assert: !cfg.NoAssert, RealLink: cfg.Link == hw.LinkReal,
	})
	if err != nil {
		return nil, fmt.Errorf("build model: %w", buildErr(err))
	}
	l, err := loadLib(m.Path)
	if err != nil {
		return nil, err
	}
	if l.depth != cfg.Depth || l.ports != cfg.Topology.Ports {
		return nil, fmt.Errorf("%w: model %s has depth %d and %d ports, want %d and %d",
			ErrBadConfig, m.Path, l.depth, l.ports, cfg.Depth, cfg.Topology.Ports)
	}
	e := &Engine{
		cfg: cfg,
		lib: l,
		model: hw.ModelInfo{Path: m.Path, Key: m.Key, RTLHash: m.RTLHash, Versions: m.Versions,
			Cached: m.Cached},
		log:     log,
		threads: opt.Threads,
		nodes:   make([]nodeState, cfg.Topology.Nodes),
		done:    make([]uint64, (cfg.Topology.Nodes+63)/64),
	}
	if err := e.create(); err != nil {
		return nil, err
	}
	runtime.SetFinalizer(e, func(e *Engine) { e.Close() })
	return e, nil
}

// create makes the C++ simulation. The configuration goes through C memory: cgo forbids
// passing Go memory that holds Go pointers.
func (e *Engine) create() error {
	t := e.cfg.Topology
	n := t.Nodes
	cfg := (*C.rs_config)(C.calloc(1, C.sizeof_rs_config))
	defer C.free(unsafe.Pointer(cfg))
	var links []C.rs_link
	if len(t.Links) > 0 {
		p := C.calloc(C.size_t(len(t.Links)), C.sizeof_rs_link)
		defer C.free(p)
		links = unsafe.Slice((*C.rs_link)(p), len(t.Links))
		cfg.links = (*C.rs_link)(p)
	}
	for i, l := range t.Links {
		links[i] = C.rs_link{
			src_node: C.uint32_t(l.From.Node), src_port: C.uint32_t(l.From.Port),
			dst_node: C.uint32_t(l.To.Node), dst_port: C.uint32_t(l.To.Port),
			latency: C.uint32_t(l.Latency),
		}
	}
	rel := C.calloc(C.size_t(n), 8)
	defer C.free(rel)
	dna := C.calloc(C.size_t(3*n), 4)
	defer C.free(dna)
	relS := unsafe.Slice((*C.uint64_t)(rel), n)
	dnaS := unsafe.Slice((*C.uint32_t)(dna), 3*n)
	for i := 0; i < n; i++ {
		relS[i] = C.uint64_t(e.cfg.Release[i])
		for k := 0; k < 3; k++ {
			dnaS[3*i+k] = C.uint32_t(e.cfg.DNA[i][k])
		}
	}
	cfg.nodes = C.uint32_t(n)
	cfg.nlinks = C.uint32_t(len(t.Links))
	cfg.reset_release = (*C.uint64_t)(rel)
	cfg.dna = (*C.uint32_t)(dna)
	cfg.seed = C.uint64_t(e.cfg.Seed)
	cfg.clock_period_ps = C.uint64_t(1e12/e.cfg.ClockHz + 0.5)
	cfg.threads = C.uint32_t(e.threads)
	if e.cfg.Link == hw.LinkReal {
		real, free := realConfig(e.cfg)
		defer free()
		cfg.real = real
	}
	var msg [512]C.char
	e.sim = C.rsl_new(e.lib.c, cfg, &msg[0], C.size_t(len(msg)))
	if e.sim == nil {
		return fmt.Errorf("%w: create simulation: %s", ErrBadConfig, C.GoString(&msg[0]))
	}
	for i, l := range t.Links {
		if l.Faults != (hw.Faults{}) {
			if err := e.SetFaults(i, l.Faults); err != nil {
				e.Close()
				return err
			}
		}
	}
	return nil
}

func (e *Engine) cerr() string { return C.GoString(C.rsl_error(e.lib.c, e.sim)) }

// realConfig builds the harness's real-link configuration in C memory (cgo forbids passing
// Go memory that holds Go pointers); free releases it.
func realConfig(c hw.Config) (*C.rs_real, func()) {
	r := c.Real
	var ptrs []unsafe.Pointer
	alloc := func(n, size int) unsafe.Pointer {
		p := C.calloc(C.size_t(max(n, 1)), C.size_t(size))
		ptrs = append(ptrs, p)
		return p
	}
	rc := (*C.rs_real)(alloc(1, C.sizeof_rs_real))
	ppm := unsafe.Slice((*C.double)(alloc(len(r.PPM), 8)), len(r.PPM))
	for i, v := range r.PPM {
		ppm[i] = C.double(v)
	}
	rc.ppm = &ppm[0]
	if len(r.DriftRates) > 0 {
		d := unsafe.Slice((*C.double)(alloc(len(r.DriftRates), 8)), len(r.DriftRates))
		for i, v := range r.DriftRates {
			d[i] = C.double(v)
		}
		rc.drift = &d[0]
	}
	up := unsafe.Slice((*C.uint64_t)(alloc(len(r.Up), 8)), max(len(r.Up), 1))
	for i, v := range r.Up {
		up[i] = C.uint64_t(v)
	}
	rc.up = &up[0]
	if len(r.Flaps) > 0 {
		fl := unsafe.Slice((*C.rs_flap)(alloc(len(r.Flaps), C.sizeof_rs_flap)), len(r.Flaps))
		for i, f := range r.Flaps {
			fl[i] = C.rs_flap{link: C.uint32_t(f.Link), down: C.uint64_t(f.Down), up: C.uint64_t(f.Up)}
		}
		rc.flaps, rc.nflaps = &fl[0], C.uint32_t(len(r.Flaps))
	}
	rc.eb_depth = C.uint32_t(r.EBDepth)
	rc.control = C.uint32_t(b2u(r.Control))
	rc.settled = C.uint32_t(b2u(r.Settled))
	rc.step_ppb = C.double(r.StepPPB)
	rc.gain = C.double(r.Gain)
	rc.update_cycles = C.uint64_t(r.UpdateCycles)
	rc.rx_random = C.uint32_t(b2u(r.RXMemory == hw.FillRandom))
	rc.nodata_random = C.uint32_t(b2u(r.NoData == hw.FillRandom))
	return rc, func() {
		for _, p := range ptrs {
			C.free(p)
		}
	}
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// Threads returns how many threads clock the nodes.
func (e *Engine) Threads() int {
	if e.sim == nil {
		return 0
	}
	return int(C.rsl_threads(e.lib.c, e.sim))
}

// ParallelCycles returns how many cycles so far ran with the nodes split across threads;
// the others ran on the caller's thread (short runs, batches about to complete).
func (e *Engine) ParallelCycles() uint64 {
	if e.sim == nil {
		return 0
	}
	return uint64(C.rsl_parallel_cycles(e.lib.c, e.sim))
}

// Close ends the simulation, closing any waveform dump. It is safe to call twice.
func (e *Engine) Close() error {
	if e.sim == nil {
		return nil
	}
	var err error
	if e.wave != "" {
		err = e.StopWaveform()
	}
	C.rsl_free(e.lib.c, e.sim)
	e.sim = nil
	runtime.SetFinalizer(e, nil)
	return err
}

// Info implements hw.Simulator.Info.
func (e *Engine) Info() hw.Info {
	c := e.cfg
	c.Topology.Links = append([]hw.Link(nil), c.Topology.Links...)
	c.Release = append([]uint64(nil), c.Release...)
	c.DNA = append([][3]uint32(nil), c.DNA...)
	c.Waveforms = e.lib.trace
	return hw.Info{Config: c, Cycle: e.Cycle(), Model: e.model}
}

// buildErr classifies a model build error for callers that only know the contract: the
// RTL's fault (hw.ErrBadRTL) or a missing tool (hw.ErrNoTool, which modelbuild.ErrNoTool is).
func buildErr(err error) error {
	if errors.Is(err, modelbuild.ErrNoSources) || errors.Is(err, modelbuild.ErrVerilator) ||
		errors.Is(err, modelbuild.ErrCompile) || errors.Is(err, modelbuild.ErrBadSpec) {
		return fmt.Errorf("%w: %w", hw.ErrBadRTL, err)
	}
	return err
}

// Nodes is the number of nodes.
func (e *Engine) Nodes() int { return e.cfg.Topology.Nodes }

// Ports is the number of link ports per node.
func (e *Engine) Ports() int { return e.cfg.Topology.Ports }

// Depth is the ring buffer depth in 64-bit words.
func (e *Engine) Depth() int { return e.cfg.Depth }

// ClockHz is the link clock frequency.
func (e *Engine) ClockHz() float64 { return e.cfg.ClockHz }

// Release returns node's reset release cycle.
func (e *Engine) Release(node int) uint64 { return e.cfg.Release[node] }

// DNA returns node's device DNA.
func (e *Engine) DNA(node int) [3]uint32 { return e.cfg.DNA[node] }

// Cycle is the next cycle to run (the number of cycles run so far).
func (e *Engine) Cycle() uint64 {
	if e.sim == nil {
		return 0
	}
	return uint64(C.rsl_cycle(e.lib.c, e.sim))
}

func (e *Engine) checkNode(node int) error {
	if e.sim == nil {
		return ErrClosed
	}
	if node < 0 || node >= len(e.nodes) {
		return fmt.Errorf("%w: node %d (have %d)", ErrBadNode, node, len(e.nodes))
	}
	return nil
}

// Busy reports whether node has a batch in flight.
func (e *Engine) Busy(node int) bool { return node >= 0 && node < len(e.nodes) && e.nodes[node].busy }

// Submit gives node's bus master a batch. The batch starts in the first cycle the master
// is free and the node is out of reset. A node has at most one batch in flight.
func (e *Engine) Submit(node int, ops []bus.Op) error {
	if err := e.checkNode(node); err != nil {
		return err
	}
	ns := &e.nodes[node]
	if ns.busy {
		return fmt.Errorf("submit to node %d: %w", node, ErrBusy)
	}
	if _, err := bus.ValidateBatch(ops); err != nil {
		return fmt.Errorf("%w: node %d: %v", ErrBadBatch, node, err)
	}
	ns.cops = ns.cops[:0]
	ns.words = ns.words[:0]
	for _, op := range ops {
		c := C.rs_op{kind: C.uint32_t(op.Kind), addr: C.uint32_t(op.Addr)}
		switch op.Kind {
		case bus.KindWrite:
			c.data, c.sel = C.uint32_t(op.Value), C.uint32_t(op.Mask)
		case bus.KindReadBlock:
			c.count, c.off = C.uint32_t(op.Count), C.uint32_t(len(ns.words))
			ns.words = append(ns.words, make([]uint32, op.Count)...)
		case bus.KindWriteBlock:
			c.count, c.off = C.uint32_t(len(op.Words)), C.uint32_t(len(ns.words))
			ns.words = append(ns.words, op.Words...)
		case bus.KindIdle:
			c.count = C.uint32_t(op.Count)
		case bus.KindPoll:
			c.data, c.sel, c.count = C.uint32_t(op.Value), C.uint32_t(op.Cond), C.uint32_t(op.Count)
			c.mask, c.interval = C.uint32_t(op.PollMask), C.uint32_t(op.Interval)
		}
		ns.cops = append(ns.cops, c)
	}
	var wp *C.uint32_t
	if len(ns.words) > 0 {
		wp = (*C.uint32_t)(unsafe.Pointer(&ns.words[0]))
	}
	rc := C.rsl_submit(e.lib.c, e.sim, C.uint32_t(node), &ns.cops[0], C.uint32_t(len(ns.cops)), wp, C.uint32_t(len(ns.words)))
	if rc != C.RS_OK {
		return fmt.Errorf("%w: node %d: %s", ErrBadBatch, node, e.cerr())
	}
	ns.busy = true
	ns.ready = false
	return nil
}

// Run runs cycles until the cycle count reaches until, or until the end of a cycle in which
// some node's batch completed, whichever comes first. It returns the nodes whose batches
// completed (their results are then available from Results).
func (e *Engine) Run(until uint64) ([]int, error) {
	if e.sim == nil {
		return nil, ErrClosed
	}
	if until <= e.Cycle() {
		return nil, nil
	}
	clear(e.done)
	n := C.rsl_run(e.lib.c, e.sim, C.uint64_t(until), (*C.uint64_t)(unsafe.Pointer(&e.done[0])))
	if n < 0 {
		return nil, e.stopError() // a *StopError (stop.go)
	}
	var doneNodes []int
	for w, bits := range e.done {
		for bits != 0 {
			b := trailingZeros(bits)
			bits &^= 1 << b
			node := 64*w + b
			if err := e.collect(node); err != nil {
				return doneNodes, err
			}
			doneNodes = append(doneNodes, node)
		}
	}
	return doneNodes, nil
}

func trailingZeros(x uint64) int {
	n := 0
	for x&1 == 0 {
		x >>= 1
		n++
	}
	return n
}

// collect copies node's completed batch out of the harness.
func (e *Engine) collect(node int) error {
	ns := &e.nodes[node]
	if cap(ns.cres) < len(ns.cops) {
		ns.cres = make([]C.rs_result, len(ns.cops))
	}
	ns.cres = ns.cres[:len(ns.cops)]
	var wp *C.uint32_t
	if len(ns.words) > 0 {
		wp = (*C.uint32_t)(unsafe.Pointer(&ns.words[0]))
	}
	rc := C.rsl_take(e.lib.c, e.sim, C.uint32_t(node), &ns.cres[0], C.uint32_t(len(ns.cres)), wp, C.uint32_t(len(ns.words)))
	if rc != C.RS_OK {
		return fmt.Errorf("collect node %d: %s", node, e.cerr())
	}
	res := make([]bus.Result, len(ns.cops))
	for i := range res {
		c, op := &ns.cres[i], &ns.cops[i]
		r := &res[i]
		r.Cycle, r.Local, r.Err, r.Value = uint64(c.cycle), uint64(c.local), c.err != 0, uint32(c.data)
		switch bus.Kind(op.kind) {
		case bus.KindReadBlock:
			r.N = int(c.words)
			r.Words = append([]uint32(nil), ns.words[op.off:int(op.off)+r.N]...)
		case bus.KindWriteBlock, bus.KindPoll:
			r.N = int(c.words)
		}
	}
	ns.results = res
	ns.busy = false
	ns.ready = true
	return nil
}

// Results returns node's completed batch, once: the slice has one result per operation.
func (e *Engine) Results(node int) ([]bus.Result, error) {
	if err := e.checkNode(node); err != nil {
		return nil, err
	}
	ns := &e.nodes[node]
	if !ns.ready {
		return nil, fmt.Errorf("node %d: %w", node, ErrNoResults)
	}
	ns.ready = false
	r := ns.results
	ns.results = nil
	return r, nil
}

// Execute submits one batch to node and runs until it completes, however long that takes
// in simulated time (other nodes' batches that complete meanwhile keep their results).
// It is a convenience for tests and scripts; lockstep callers use Submit and Run.
func (e *Engine) Execute(ctx context.Context, node int, ops []bus.Op) ([]bus.Result, error) {
	if err := e.Submit(node, ops); err != nil {
		return nil, err
	}
	for e.nodes[node].busy {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("execute on node %d: %w", node, err)
		}
		if _, err := e.Run(e.Cycle() + 1<<20); err != nil {
			return nil, err
		}
	}
	return e.Results(node)
}

// Step runs exactly n cycles, whatever batches complete on the way (their results stay
// available from Results).
func (e *Engine) Step(n uint64) error {
	end := e.Cycle() + n
	for e.Cycle() < end {
		if _, err := e.Run(end); err != nil {
			return err
		}
	}
	return nil
}

// SetFaults changes a link's fault rates from the next cycle on.
func (e *Engine) SetFaults(link int, f hw.Faults) error {
	if e.sim == nil {
		return ErrClosed
	}
	if link < 0 || link >= len(e.cfg.Topology.Links) {
		return fmt.Errorf("%w: link %d (have %d)", ErrBadLink, link, len(e.cfg.Topology.Links))
	}
	if err := f.Validate(); err != nil {
		return fmt.Errorf("link %d: %w", link, err)
	}
	if rc := C.rsl_set_faults(e.lib.c, e.sim, C.uint32_t(link), C.double(f.BitFlip), C.double(f.FrameZero)); rc != C.RS_OK {
		return fmt.Errorf("%w: %s", ErrBadConfig, e.cerr())
	}
	e.cfg.Topology.Links[link].Faults = f
	return nil
}

// ReseedFaults seeds every link's fault injector afresh from seed, keeping its rates, as a
// new simulation with that seed would: the faults from the next cycle on depend on seed
// instead of on what came before. A run that forks several continuations from one
// checkpoint gives each its own faults this way.
func (e *Engine) ReseedFaults(seed uint64) error {
	if e.sim == nil {
		return ErrClosed
	}
	if rc := C.rsl_reseed_faults(e.lib.c, e.sim, C.uint64_t(seed)); rc != C.RS_OK {
		return fmt.Errorf("%w: %s", ErrBadConfig, e.cerr())
	}
	return nil
}

// FaultCounts reports how many bits a link's injector flipped and frames it zeroed.
func (e *Engine) FaultCounts(link int) (flips, zeroed uint64, err error) {
	if e.sim == nil {
		return 0, 0, ErrClosed
	}
	if link < 0 || link >= len(e.cfg.Topology.Links) {
		return 0, 0, fmt.Errorf("%w: link %d (have %d)", ErrBadLink, link, len(e.cfg.Topology.Links))
	}
	var f, z C.uint64_t
	C.rsl_fault_counts(e.lib.c, e.sim, C.uint32_t(link), &f, &z)
	return uint64(f), uint64(z), nil
}

// cTarget is the harness's (rs_api.h) number for a backdoor target.
func cTarget(t hw.Target) C.uint32_t {
	switch t {
	case hw.TXMem:
		return C.RS_BD_TX_MEM
	case hw.TXEnable:
		return C.RS_BD_TX_ENABLE
	case hw.TXCount:
		return C.RS_BD_TX_COUNT
	case hw.RXMem:
		return C.RS_BD_RX_MEM
	case hw.RXEnable:
		return C.RS_BD_RX_ENABLE
	case hw.RXCount:
		return C.RS_BD_RX_COUNT
	}
	return 0 // the harness answers "unknown backdoor target"
}

func (e *Engine) backdoorErr(rc C.int, op string, node, port int) error {
	switch rc {
	case C.RS_OK:
		return nil
	case C.RS_ENOTSUP:
		return fmt.Errorf("%s node %d port %d: %w", op, node, port, ErrNoBackdoor)
	case C.RS_ESTOPPED:
		return fmt.Errorf("%s node %d port %d: %w: %s", op, node, port, ErrStopped, e.cerr())
	}
	return fmt.Errorf("%s node %d port %d: %w: %s", op, node, port, ErrBadBackdoor, e.cerr())
}

func (e *Engine) checkPort(node, port int) error {
	if err := e.checkNode(node); err != nil {
		return err
	}
	if port < 0 || port >= e.cfg.Topology.Ports {
		return fmt.Errorf("%w: port %d (have %d)", ErrBadPort, port, e.cfg.Topology.Ports)
	}
	return nil
}

// Peek reads ring buffer state without advancing time; index selects the word of a memory.
func (e *Engine) Peek(node, port int, t hw.Target, index int) (uint64, error) {
	if err := e.checkPort(node, port); err != nil {
		return 0, err
	}
	if index < 0 || index >= e.cfg.Depth {
		return 0, fmt.Errorf("%w: word %d outside depth %d", ErrBadBackdoor, index, e.cfg.Depth)
	}
	var v C.uint64_t
	rc := C.rsl_peek(e.lib.c, e.sim, C.uint32_t(node), C.uint32_t(port), cTarget(t), C.uint32_t(index), &v)
	return uint64(v), e.backdoorErr(rc, "peek", node, port)
}

// Poke writes ring buffer state without advancing time.
func (e *Engine) Poke(node, port int, t hw.Target, index int, v uint64) error {
	if err := e.checkPort(node, port); err != nil {
		return err
	}
	if index < 0 || index >= e.cfg.Depth {
		return fmt.Errorf("%w: word %d outside depth %d", ErrBadBackdoor, index, e.cfg.Depth)
	}
	rc := C.rsl_poke(e.lib.c, e.sim, C.uint32_t(node), C.uint32_t(port), cTarget(t), C.uint32_t(index), C.uint64_t(v))
	return e.backdoorErr(rc, "poke", node, port)
}

// Drive makes port's RX input the given frames for the next len(frames) cycles, instead of
// its link (for directed and differential tests).
func (e *Engine) Drive(node, port int, frames []uint64) error {
	if err := e.checkPort(node, port); err != nil {
		return err
	}
	var p *C.uint64_t
	if len(frames) > 0 {
		p = (*C.uint64_t)(unsafe.Pointer(&frames[0]))
	}
	if rc := C.rsl_drive(e.lib.c, e.sim, C.uint32_t(node), C.uint32_t(port), p, C.uint32_t(len(frames))); rc != C.RS_OK {
		return fmt.Errorf("drive: %s", e.cerr())
	}
	return nil
}

// Record starts recording port's TX output for the next n cycles.
func (e *Engine) Record(node, port, n int) error {
	if err := e.checkPort(node, port); err != nil {
		return err
	}
	if rc := C.rsl_record(e.lib.c, e.sim, C.uint32_t(node), C.uint32_t(port), C.uint32_t(n)); rc != C.RS_OK {
		return fmt.Errorf("record: %s", e.cerr())
	}
	return nil
}

// Recorded returns the frames recorded since Record (one per cycle, at most n).
func (e *Engine) Recorded(node, port, n int) ([]uint64, error) {
	if err := e.checkPort(node, port); err != nil {
		return nil, err
	}
	out := make([]uint64, n)
	var p *C.uint64_t
	if n > 0 {
		p = (*C.uint64_t)(unsafe.Pointer(&out[0]))
	}
	k := C.rsl_recorded(e.lib.c, e.sim, C.uint32_t(node), C.uint32_t(port), p, C.uint32_t(n))
	if k < 0 {
		return nil, fmt.Errorf("recorded: %s", e.cerr())
	}
	return out[:k], nil
}

// StartWaveform starts an FST dump of every node to path. The engine must have been
// created with Config.Waveforms.
func (e *Engine) StartWaveform(path string) error {
	if e.sim == nil {
		return ErrClosed
	}
	if !e.lib.trace {
		return fmt.Errorf("start waveform: %w (create the engine with Waveforms)", ErrNoWaveforms)
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	if rc := C.rsl_trace_open(e.lib.c, e.sim, cpath); rc != C.RS_OK {
		return fmt.Errorf("%w: %s", ErrWaveform, e.cerr())
	}
	e.wave = path
	e.log.Info("waveform started", "path", path, "cycle", e.Cycle())
	return nil
}

// StopWaveform ends the FST dump (a no-op if none is open) and returns its path.
func (e *Engine) StopWaveform() error {
	if e.sim == nil {
		return ErrClosed
	}
	if e.wave == "" {
		return nil
	}
	if rc := C.rsl_trace_close(e.lib.c, e.sim); rc != C.RS_OK {
		return fmt.Errorf("%w: %s", ErrWaveform, e.cerr())
	}
	e.log.Info("waveform stopped", "path", e.wave, "cycle", e.Cycle())
	e.wave = ""
	return nil
}

// Waveform returns the path of the open FST dump, or "".
func (e *Engine) Waveform() string { return e.wave }

// LinkState implements hw.RealLinkSimulator.LinkState.
func (e *Engine) LinkState(link int) (hw.LinkState, error) {
	if e.sim == nil {
		return hw.LinkState{}, ErrClosed
	}
	if link < 0 || link >= len(e.cfg.Topology.Links) {
		return hw.LinkState{}, fmt.Errorf("%w: link %d (have %d)", ErrBadLink, link, len(e.cfg.Topology.Links))
	}
	if e.cfg.Link != hw.LinkReal {
		return hw.LinkState{}, fmt.Errorf("link %d: %w", link, hw.ErrNoRealLink)
	}
	var st C.rs_link_status
	if rc := C.rsl_link_state(e.lib.c, e.sim, C.uint32_t(link), &st); rc != C.RS_OK {
		return hw.LinkState{}, fmt.Errorf("%w: %s", ErrBadConfig, e.cerr())
	}
	return hw.LinkState{
		Up: st.up != 0, Captured: st.captured != 0, Occupancy: int(st.occupancy),
		Underflow: st.underflow != 0, Overflow: st.overflow != 0, AutoCenterTotal: int(st.ac_total),
		UGNLocal: uint64(st.ugn_local), UGNRemote: uint64(st.ugn_remote),
		Inserted: uint64(st.inserted), Drained: uint64(st.drained), Lost: uint64(st.lost), Empty: uint64(st.empty),
		Adjustments: uint64(st.adjustments), Shift: int64(st.shift), DomainDifference: int64(st.ddc),
		UpCycle: uint64(st.up_cycle),
	}, nil
}

// NodeClock implements hw.RealLinkSimulator.NodeClock.
func (e *Engine) NodeClock(node int) (hw.NodeClock, error) {
	if err := e.checkNode(node); err != nil {
		return hw.NodeClock{}, err
	}
	if e.cfg.Link != hw.LinkReal {
		return hw.NodeClock{}, fmt.Errorf("node %d: %w", node, hw.ErrNoRealLink)
	}
	var c C.rs_clock_status
	if rc := C.rsl_node_clock(e.lib.c, e.sim, C.uint32_t(node), &c); rc != C.RS_OK {
		return hw.NodeClock{}, fmt.Errorf("%w: %s", ErrBadConfig, e.cerr())
	}
	return hw.NodeClock{PPM: float64(c.ppm), Requests: int64(c.requests), Local: uint64(c.local),
		Period: uint64(c.period), Phase: uint64(c.phase), Released: uint64(c.released)}, nil
}

// Events implements hw.RealLinkSimulator.Events.
func (e *Engine) Events(from, max int) ([]hw.Event, error) {
	if e.sim == nil {
		return nil, ErrClosed
	}
	var out []hw.Event
	var buf [256]C.rs_event
	for {
		want := len(buf)
		if max > 0 {
			want = min(want, max-len(out))
		}
		if want == 0 {
			return out, nil
		}
		k := int(C.rsl_events(e.lib.c, e.sim, C.uint64_t(from+len(out)), &buf[0], C.uint32_t(want)))
		for _, ev := range buf[:k] {
			x := hw.Event{Kind: hw.EventKind(ev.kind), Cycle: uint64(ev.cycle), Local: uint64(ev.local), Node: int(ev.node),
				Frames: int(ev.frames), Firmware: ev.source == 1, PPM: float64(ev.ppm)}
			if x.Kind == hw.EventLinkUp || x.Kind == hw.EventLinkDown {
				x.Link = int(ev.port)
			} else {
				x.Port = int(ev.port)
			}
			out = append(out, x)
		}
		if k < want {
			return out, nil
		}
	}
}

// The harness's event kinds are the contract's: each index is 0 or the build fails.
var (
	_ = [1]struct{}{}[int(hw.EventAdjust)-C.RS_EV_ADJUST]
	_ = [1]struct{}{}[int(hw.EventLinkUp)-C.RS_EV_LINK_UP]
	_ = [1]struct{}{}[int(hw.EventLinkDown)-C.RS_EV_LINK_DOWN]
	_ = [1]struct{}{}[int(hw.EventClock)-C.RS_EV_CLOCK]
)
