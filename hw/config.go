// Package hw is the contract of a ringsim simulation: the configuration of the simulated
// bittide hardware (nodes, ports, ring buffer depth, topology, links, faults, start
// offsets, device DNA, clock), its validation with one set of limits and messages, the
// wiring plan firmware derives from it, and the interface of a running simulation. The
// Verilated engine (sim), the reference machine (sim/simtest), the gRPC server and client,
// the firmware (bridge) and the commands all use these types; only the API edge converts
// them to and from protobuf.
package hw

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Limits of a simulation. The engine, the reference machine, the gRPC server and the
// commands all check against these.
const (
	// MinDepth and MaxDepth bound the ring buffer depth D in 64-bit words.
	MinDepth = 2
	MaxDepth = 1 << 20
	// MaxNodes is the most nodes in a simulation.
	MaxNodes = 256
	// MaxPorts is the most link ports per node.
	MaxPorts = 64
	// MaxLatency is the longest link latency in cycles.
	MaxLatency = 1 << 24
	// MaxBufferWords is the most 64-bit ring buffer words in a simulation (nodes * ports *
	// depth): 2^24 words are 256 MiB of TX and RX memory.
	MaxBufferWords = 1 << 24
	// MinClockHz and MaxClockHz bound the link clock.
	MinClockHz = 1e3
	MaxClockHz = 1e12
)

// DefaultClockHz is bittide's link clock in upstream's hardware demo.
const DefaultClockHz = 125e6

// Errors of configuration and topology.
var (
	// ErrBadConfig is wrapped by every configuration error (FieldError unwraps to it).
	ErrBadConfig = errors.New("bad configuration")
	// ErrUnknownTopology is returned by ParseTopology for names it does not know.
	ErrUnknownTopology = errors.New("unknown topology")
)

// FieldError is a configuration error in one field. Field is a dotted path in the
// configuration's JSON spelling ("depth", "topology.links[3].latency"), so that the API
// edge and the commands can name their own spelling of the same field.
type FieldError struct {
	Field string
	// Msg says what is wrong, without the field name.
	Msg string
	// Limit is true when the value is well-formed but above a resource limit (the gRPC
	// server answers RESOURCE_EXHAUSTED instead of INVALID_ARGUMENT).
	Limit bool
}

// Error implements error: "field: message".
func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Unwrap makes every FieldError an ErrBadConfig.
func (e *FieldError) Unwrap() error { return ErrBadConfig }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

func limitErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...), Limit: true}
}

// Config describes a simulation.
type Config struct {
	// Topology gives the node count, ports per node and the links.
	Topology Topology `json:"topology"`
	// Depth is the ring buffer depth D in 64-bit words.
	Depth int `json:"depth"`
	// Seed fixes every random choice: start offsets, DNA, fault injection.
	Seed uint64 `json:"seed"`
	// Release is each node's reset release cycle. Nil means seeded, uniform in [0, MaxSkew].
	Release []uint64 `json:"release_cycles,omitempty"`
	// MaxSkew bounds seeded release cycles; 0 means 4*Depth.
	MaxSkew uint64 `json:"max_skew,omitempty"`
	// DNA is each node's 96-bit device DNA (bits [31:0], [63:32], [95:64]); nil means seeded.
	DNA [][3]uint32 `json:"dna,omitempty"`
	// ClockHz is the link clock, used for waveform time and by clients; 0 means 125 MHz.
	ClockHz float64 `json:"clock_hz,omitempty"`
	// Waveforms builds the model with FST support so StartWaveform works (7-10 % slower).
	Waveforms bool `json:"waveforms,omitempty"`
	// RTLDir is a directory of node RTL implementing the port contract; empty means ringsim's.
	RTLDir string `json:"rtl_dir,omitempty"`
	// NoAssert builds the model without the RTL's assertions.
	NoAssert bool `json:"no_assert,omitempty"`
	// Link selects the ideal link (the zero value) or the real one, configured by Real.
	Link LinkModel `json:"link,omitempty"`
	// Real configures the real link; it must be zero on the ideal link.
	Real RealLink `json:"real,omitzero"`
}

// Validate checks the configuration against the limits without filling defaults.
func (c Config) Validate() error {
	if err := c.Topology.Validate(); err != nil {
		return err
	}
	if c.Depth < MinDepth || c.Depth > MaxDepth {
		return fieldErr("depth", "%d outside [%d, %d]", c.Depth, MinDepth, MaxDepth)
	}
	if w := uint64(c.Topology.Nodes) * uint64(c.Topology.Ports) * uint64(c.Depth); w > MaxBufferWords {
		return limitErr("depth", "%d nodes x %d ports x depth %d = %d ring buffer words, limit %d",
			c.Topology.Nodes, c.Topology.Ports, c.Depth, w, uint64(MaxBufferWords))
	}
	if c.ClockHz != 0 && !(c.ClockHz >= MinClockHz && c.ClockHz <= MaxClockHz) {
		return fieldErr("clock_hz", "%v Hz outside [%g, %g] (0 means %g)", c.ClockHz, MinClockHz, MaxClockHz, DefaultClockHz)
	}
	if c.Release != nil && len(c.Release) != c.Topology.Nodes {
		return fieldErr("release_cycles", "%d values for %d nodes", len(c.Release), c.Topology.Nodes)
	}
	if c.DNA != nil && len(c.DNA) != c.Topology.Nodes {
		return fieldErr("dna", "%d values for %d nodes", len(c.DNA), c.Topology.Nodes)
	}
	for _, r := range []byte(c.RTLDir) {
		if r == 0 {
			return fieldErr("rtl_dir", "contains a NUL byte")
		}
	}
	switch c.Link {
	case LinkIdeal:
		if !c.Real.isZero() {
			return fieldErr("real", "real-link settings on the ideal link: set link to real")
		}
	case LinkReal:
		if err := c.Real.validate(c.Topology); err != nil {
			return err
		}
	default:
		return fieldErr("link", "unknown link model %d", c.Link)
	}
	return nil
}

// Normalize validates the configuration and fills its defaults: the clock, and the seeded
// release cycles and DNA. The same seed gives the same values everywhere.
func (c Config) Normalize() (Config, error) {
	if err := c.Validate(); err != nil {
		return c, err
	}
	if c.ClockHz == 0 {
		c.ClockHz = DefaultClockHz
	}
	n := c.Topology.Nodes
	rng := rand.New(rand.NewPCG(c.Seed, 0x72696e6773696d)) // "ringsim"
	if c.MaxSkew == 0 {
		c.MaxSkew = 4 * uint64(c.Depth)
	}
	if c.Release == nil {
		c.Release = make([]uint64, n)
		for i := range c.Release {
			c.Release[i] = rng.Uint64N(c.MaxSkew + 1)
		}
	}
	if c.DNA == nil {
		c.DNA = make([][3]uint32, n)
		for i := range c.DNA {
			c.DNA[i] = [3]uint32{rng.Uint32(), rng.Uint32(), rng.Uint32()}
		}
	}
	if c.Link == LinkReal {
		// A stream of its own, so that the release cycles and DNA stay those of the ideal
		// link with the same seed.
		real := rand.New(rand.NewPCG(c.Seed, 0x7265616c6c696e6b)) // "reallink"
		c.Real = c.Real.normalize(c.Topology, real.Float64)
	}
	return c, nil
}

// Faults are a link's injected fault rates. Both are probabilities in [0, 1].
type Faults struct {
	// BitFlip is the probability that any one bit of a frame is inverted.
	BitFlip float64 `json:"bit_flip,omitempty"`
	// FrameZero is the probability that a whole 64-bit frame arrives as zero (a lost word).
	FrameZero float64 `json:"frame_zero,omitempty"`
}

// Validate reports whether the rates are probabilities.
func (f Faults) Validate() error {
	for _, r := range []struct {
		name string
		v    float64
	}{{"bit_flip", f.BitFlip}, {"frame_zero", f.FrameZero}} {
		if math.IsNaN(r.v) || r.v < 0 || r.v > 1 {
			return fieldErr(r.name, "rate %v is not a probability in [0, 1]", r.v)
		}
	}
	return nil
}

// Prefix returns err with prefix added to a FieldError's field ("topology.links[2]" +
// "latency"); other errors come back unchanged.
func Prefix(prefix string, err error) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		f := *fe
		if f.Field == "" {
			f.Field = prefix
		} else {
			f.Field = prefix + "." + f.Field
		}
		return &f
	}
	return err
}
