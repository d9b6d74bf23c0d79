package hw

import (
	"errors"

	"github.com/ringsim/ringsim/sim/bus"
)

// Errors a Simulator returns. Implementations wrap them with the node, port or link and
// the detail; callers test with errors.Is (the gRPC server maps each to a status code).
var (
	ErrClosed      = errors.New("simulation closed")
	ErrBadNode     = errors.New("no such node")
	ErrBadPort     = errors.New("no such port")
	ErrBadLink     = errors.New("no such link")
	ErrBadBatch    = errors.New("bad batch")
	ErrBusy        = errors.New("node has a batch in flight")
	ErrNoResults   = errors.New("no completed batch")
	ErrStopped     = errors.New("RTL stopped the simulation")
	ErrNoWaveforms = errors.New("model built without waveform support")
	ErrWaveform    = errors.New("waveform dump failed")
	ErrNoBackdoor  = errors.New("RTL does not expose the backdoor variable")
	ErrBadBackdoor = errors.New("bad backdoor access")
	// ErrNoTool: a tool the simulation needs (Verilator, a C++ compiler) is missing.
	ErrNoTool = errors.New("tool not found")
	// ErrBadRTL: the RTL does not build (no sources, Verilator or the compiler failed).
	ErrBadRTL = errors.New("RTL does not build")
	// ErrNoRealLink: link state and node clocks exist on the real link only.
	ErrNoRealLink = errors.New("no real link")
)

// Target names ring buffer state for backdoor access (Peek, Poke).
type Target uint32

// The backdoor targets. Memories are addressed by 64-bit word index; the others take
// index 0.
const (
	TXMem    Target = 1
	TXEnable Target = 2
	TXCount  Target = 3 // read only
	RXMem    Target = 4
	RXEnable Target = 5
	RXCount  Target = 6 // read only
)

// IsMem reports whether t is a memory (addressed by word index).
func (t Target) IsMem() bool { return t == TXMem || t == RXMem }

// ReadOnly reports whether t cannot be poked.
func (t Target) ReadOnly() bool { return t == TXCount || t == RXCount }

// String returns the target's name.
func (t Target) String() string {
	switch t {
	case TXMem:
		return "tx_mem"
	case TXEnable:
		return "tx_enable"
	case TXCount:
		return "tx_count"
	case RXMem:
		return "rx_mem"
	case RXEnable:
		return "rx_enable"
	case RXCount:
		return "rx_count"
	}
	return "target(?)"
}

// ModelInfo identifies what simulates the nodes: for the Verilated engine, the model build.
type ModelInfo struct {
	Path     string `json:"path,omitempty"`
	Key      string `json:"key,omitempty"`      // hash of everything that went into the build
	RTLHash  string `json:"rtl_hash,omitempty"` // hash of the RTL sources
	Versions string `json:"versions,omitempty"` // Verilator and C++ compiler versions
	Cached   bool   `json:"cached,omitempty"`
}

// Info describes a running simulation.
type Info struct {
	// Config is the effective configuration: defaults filled, seeded values drawn, and
	// each link's current fault rates.
	Config Config
	// Cycle is the next cycle to run.
	Cycle uint64
	Model ModelInfo
}

// Simulator is a running simulation: N nodes in lockstep, each with a CPU bus master that
// executes batches of bus operations, links with faults, backdoor access and waveforms.
// The Verilated engine (*sim.Engine) and the reference machine (sim/simtest) implement
// it; the gRPC server serves any implementation. Implementations need not be safe for
// concurrent use: callers serialize.
//
// Protocol: Submit gives an idle node a batch (it starts in the first cycle the master is
// free and the node is out of reset); Run advances until a given cycle or until the end
// of a cycle in which some batches completed and returns those nodes; Results returns a
// completed batch's results once.
type Simulator interface {
	Info() Info
	Nodes() int
	Ports() int
	Depth() int
	ClockHz() float64
	Cycle() uint64
	Busy(node int) bool
	Submit(node int, ops []bus.Op) error
	Run(until uint64) ([]int, error)
	Results(node int) ([]bus.Result, error)
	// Peek and Poke read and write ring buffer state without advancing time.
	Peek(node, port int, t Target, index int) (uint64, error)
	Poke(node, port int, t Target, index int, v uint64) error
	// SetFaults changes a link's fault rates from the next cycle on; FaultCounts reports
	// how many bits its injector flipped and frames it zeroed so far.
	SetFaults(link int, f Faults) error
	FaultCounts(link int) (flips, zeroed uint64, err error)
	// StartWaveform starts an FST dump of every node (the simulation must have been
	// created with Config.Waveforms); StopWaveform ends it; Waveform is the open dump's
	// path or "".
	StartWaveform(path string) error
	StopWaveform() error
	Waveform() string
	// Close ends the simulation. It is safe to call twice.
	Close() error
}
