package hw

import (
	"fmt"
	"math"
)

// LinkModel selects the link the simulation presents (SPEC section 8).
type LinkModel uint8

// The link models. The zero value is the ideal link, so a configuration that says nothing
// about links keeps today's behaviour.
const (
	// LinkIdeal: one shared clock, a fixed latency, every link up from reset, RX memory
	// zeroed (SPEC sections 2-6).
	LinkIdeal LinkModel = iota
	// LinkReal: the link bittide's hardware presents (SPEC section 8): a clock per node,
	// the sender's cycle counter as a link's first frame, an elastic buffer per receiving
	// port, links that come up one by one and may flap, RX memory not cleared.
	LinkReal
)

// String returns "ideal" or "real".
func (m LinkModel) String() string {
	if m == LinkReal {
		return "real"
	}
	return "ideal"
}

// ParseLinkModel parses "ideal" or "real".
func ParseLinkModel(s string) (LinkModel, error) {
	switch s {
	case "ideal":
		return LinkIdeal, nil
	case "real":
		return LinkReal, nil
	}
	return 0, fmt.Errorf("%w: link model %q: want ideal or real", ErrBadConfig, s)
}

// MarshalText implements encoding.TextMarshaler.
func (m LinkModel) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *LinkModel) UnmarshalText(b []byte) error {
	v, err := ParseLinkModel(string(b))
	if err == nil {
		*m = v
	}
	return err
}

// Defaults and limits of the real link. Upstream facts (bittide-hardware main 26adae95):
// the demos' elastic buffers hold 32 frames (GenericDemo/Core.hs:100); clock control
// changes a node's frequency by 10 ppb per step (Instances/Common.hs:41-44, callisto.rs:68),
// one step every 200 us (clock_control.rs:77-78), with a gain of 2e-8 (ClockControl/Config.hs:62).
const (
	// DefaultPPMRange bounds the seeded initial frequency offsets: uniform in +-20 ppm,
	// the tolerance of a common crystal oscillator. Upstream documents no range for its
	// demos; its older topology experiments shifted nodes by up to +-100 ppm on purpose.
	DefaultPPMRange = 20
	// MaxPPM bounds any node's frequency offset.
	MaxPPM = 1000
	// DefaultEBDepth is the elastic buffer's depth in frames.
	DefaultEBDepth = 32
	// MinEBDepth and MaxEBDepth bound it (a power of two, as upstream's FIFO).
	MinEBDepth = 4
	MaxEBDepth = 1 << 12
	// DefaultStepPPB is clock control's frequency step, in parts per billion.
	DefaultStepPPB = 10
	// DefaultUpdateCycles is clock control's update period in a node's own cycles: 200 us
	// at 125 MHz.
	DefaultUpdateCycles = 25_000
	// DefaultGain is clock control's gain: the frequency correction asked for per frame
	// of summed domain difference (2e-8: two steps per frame).
	DefaultGain = 2e-8
	// DefaultBringUpCycles bounds the seeded times at which links come up, in nominal
	// cycles after the start. On hardware a link's transceiver is ready 95 ms or more after
	// good PRBS (Transceiver.hs:645-666); ringsim compresses bring-up by default so that
	// runs do not idle for millions of cycles; set it for longer.
	DefaultBringUpCycles = 20_000
	// DefaultAutoCenterMargin is the auto-centre's margin after reset (ElasticBuffer.hs:370).
	DefaultAutoCenterMargin = 2
	// AutoCenterWait is how many cycles the auto-centre waits after an adjustment
	// (AutoCenter.hs:27-33, 98-103).
	AutoCenterWait = 256
)

// Fill selects what a word the simulator makes up is: the RX ring buffer's memory at
// reset, or the word it writes in a cycle with no data from the link.
type Fill uint8

// The fills. The zero value is the real link's default: seeded random.
const (
	FillRandom Fill = iota
	FillZero
)

// String returns "random" or "zero".
func (f Fill) String() string {
	if f == FillZero {
		return "zero"
	}
	return "random"
}

// ParseFill parses "random" or "zero".
func ParseFill(s string) (Fill, error) {
	switch s {
	case "random":
		return FillRandom, nil
	case "zero":
		return FillZero, nil
	}
	return 0, fmt.Errorf("%w: fill %q: want random or zero", ErrBadConfig, s)
}

// MarshalText implements encoding.TextMarshaler.
func (f Fill) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (f *Fill) UnmarshalText(b []byte) error {
	v, err := ParseFill(string(b))
	if err == nil {
		*f = v
	}
	return err
}

// Flap takes a link down and brings it up again: a transceiver reset. While it is down
// the receiver gets no data; when it comes back its first frame is the sender's counter
// again, UGN capture re-arms and the elastic buffer restarts centred, so the frame
// relation changes.
type Flap struct {
	// Link indexes Topology.Links.
	Link int `json:"link"`
	// Down and Up are nominal cycles (global time); Up > Down.
	Down uint64 `json:"down_cycle"`
	Up   uint64 `json:"up_cycle"`
}

// RealLink configures the real link (Config.Link == LinkReal). Zero values mean the
// defaults above.
type RealLink struct {
	// PPM is each node's initial frequency offset in ppm; nil means seeded, uniform in
	// +-PPMRange.
	PPM []float64 `json:"ppm,omitempty"`
	// PPMRange bounds the seeded offsets; 0 means DefaultPPMRange.
	PPMRange float64 `json:"ppm_range,omitempty"`
	// Drift is how fast each oscillator's offset wanders, in ppm per simulated second; each
	// node gets a seeded rate in +-Drift (DriftRates). 0 means none.
	Drift      float64   `json:"drift_ppm_per_s,omitempty"`
	DriftRates []float64 `json:"drift_rates,omitempty"`
	// Control turns clock control on: every UpdateCycles of its own clock a node steps its
	// frequency by StepPPB towards Gain times the sum of its links' domain differences.
	Control bool `json:"clock_control,omitempty"`
	// Settled starts with the clocks converged: every node at the same frequency (the mean
	// of the offsets) and every elastic buffer centred, so long scenarios need not
	// simulate convergence.
	Settled bool `json:"settled,omitempty"`
	// StepPPB, UpdateCycles and Gain are clock control's; 0 means the defaults.
	StepPPB      float64 `json:"step_ppb,omitempty"`
	UpdateCycles uint64  `json:"update_cycles,omitempty"`
	Gain         float64 `json:"gain,omitempty"`
	// EBDepth is each elastic buffer's depth in frames; 0 means DefaultEBDepth.
	EBDepth int `json:"eb_depth,omitempty"`
	// BringUp bounds the seeded link-up times in nominal cycles; 0 means
	// DefaultBringUpCycles. Up, if set, gives each link's up time instead.
	BringUp uint64   `json:"bring_up_cycles,omitempty"`
	Up      []uint64 `json:"up_cycles,omitempty"`
	// Flaps are scheduled link flaps.
	Flaps []Flap `json:"flaps,omitempty"`
	// RXMemory is what the RX ring buffers hold at reset (the demos' block RAM has no
	// reset): random by default.
	RXMemory Fill `json:"rx_memory,omitempty"`
	// NoData is what an RX ring buffer writes in a cycle without data (an empty elastic
	// buffer, a fill, a link that is down): random by default.
	NoData Fill `json:"no_data,omitempty"`
}

// validate checks the real link's settings for a topology.
func (r RealLink) validate(t Topology) error {
	if r.PPM != nil && len(r.PPM) != t.Nodes {
		return fieldErr("real.ppm", "%d values for %d nodes", len(r.PPM), t.Nodes)
	}
	for i, p := range r.PPM {
		if math.IsNaN(p) || math.Abs(p) > MaxPPM {
			return fieldErr(fmt.Sprintf("real.ppm[%d]", i), "%v outside +-%d", p, MaxPPM)
		}
	}
	for _, f := range []struct {
		name string
		v    float64
		max  float64
	}{{"real.ppm_range", r.PPMRange, MaxPPM}, {"real.drift_ppm_per_s", r.Drift, MaxPPM},
		{"real.step_ppb", r.StepPPB, 1e6}, {"real.gain", r.Gain, 1}} {
		if math.IsNaN(f.v) || f.v < 0 || f.v > f.max {
			return fieldErr(f.name, "%v outside [0, %g]", f.v, f.max)
		}
	}
	if r.UpdateCycles > 1<<32 {
		return fieldErr("real.update_cycles", "%d above %d", r.UpdateCycles, uint64(1)<<32)
	}
	if r.EBDepth != 0 && (r.EBDepth < MinEBDepth || r.EBDepth > MaxEBDepth || r.EBDepth&(r.EBDepth-1) != 0) {
		return fieldErr("real.eb_depth", "%d: want a power of two in [%d, %d]", r.EBDepth, MinEBDepth, MaxEBDepth)
	}
	if r.BringUp > 1<<40 {
		return fieldErr("real.bring_up_cycles", "%d above %d", r.BringUp, uint64(1)<<40)
	}
	if r.DriftRates != nil && len(r.DriftRates) != t.Nodes {
		return fieldErr("real.drift_rates", "%d values for %d nodes", len(r.DriftRates), t.Nodes)
	}
	if r.Up != nil && len(r.Up) != len(t.Links) {
		return fieldErr("real.up_cycles", "%d values for %d links", len(r.Up), len(t.Links))
	}
	for i, f := range r.Flaps {
		field := fmt.Sprintf("real.flaps[%d]", i)
		if f.Link < 0 || f.Link >= len(t.Links) {
			return fieldErr(field+".link", "link %d (have %d)", f.Link, len(t.Links))
		}
		if f.Up <= f.Down {
			return fieldErr(field, "up_cycle %d is not after down_cycle %d", f.Up, f.Down)
		}
	}
	if r.RXMemory > FillZero {
		return fieldErr("real.rx_memory", "unknown fill %d", r.RXMemory)
	}
	if r.NoData > FillZero {
		return fieldErr("real.no_data", "unknown fill %d", r.NoData)
	}
	return nil
}

// normalize fills the real link's defaults and seeded values with rng.
func (r RealLink) normalize(t Topology, uniform func() float64) RealLink {
	if r.PPMRange == 0 {
		r.PPMRange = DefaultPPMRange
	}
	if r.StepPPB == 0 {
		r.StepPPB = DefaultStepPPB
	}
	if r.UpdateCycles == 0 {
		r.UpdateCycles = DefaultUpdateCycles
	}
	if r.Gain == 0 {
		r.Gain = DefaultGain
	}
	if r.EBDepth == 0 {
		r.EBDepth = DefaultEBDepth
	}
	if r.BringUp == 0 {
		r.BringUp = DefaultBringUpCycles
	}
	if r.PPM == nil {
		r.PPM = make([]float64, t.Nodes)
		for i := range r.PPM {
			r.PPM[i] = (2*uniform() - 1) * r.PPMRange
		}
	}
	if r.Up == nil {
		r.Up = make([]uint64, len(t.Links))
		for i := range r.Up {
			r.Up[i] = min(uint64(uniform()*float64(r.BringUp+1)), r.BringUp)
		}
	}
	if r.Drift > 0 && r.DriftRates == nil {
		r.DriftRates = make([]float64, t.Nodes)
		for i := range r.DriftRates {
			r.DriftRates[i] = (2*uniform() - 1) * r.Drift
		}
	}
	return r
}

func (r RealLink) isZero() bool {
	return r.PPM == nil && r.PPMRange == 0 && r.Drift == 0 && r.DriftRates == nil && !r.Control && !r.Settled &&
		r.StepPPB == 0 && r.UpdateCycles == 0 && r.Gain == 0 && r.EBDepth == 0 && r.BringUp == 0 &&
		r.Up == nil && r.Flaps == nil && r.RXMemory == FillRandom && r.NoData == FillRandom
}

// LinkState is a link's receiving end on the real link: its elastic buffer, UGN capture,
// and what the simulator did to the frame relation (the report's truth).
type LinkState struct {
	Up       bool `json:"up"`
	Captured bool `json:"captured"` // UGN capture took this link-up's first frame
	// Occupancy is the elastic buffer's frames; the centre is half its depth.
	Occupancy int  `json:"occupancy"`
	Underflow bool `json:"underflow"` // sticky flags, as firmware sees them
	Overflow  bool `json:"overflow"`
	// AutoCenterTotal is the auto-centre's signed sum of adjustments.
	AutoCenterTotal int `json:"auto_center_total"`
	// UGNLocal and UGNRemote are the receiver's counter at capture and the captured frame
	// (the sender's counter); the hardware UGN is local minus remote.
	UGNLocal  uint64 `json:"ugn_local"`
	UGNRemote uint64 `json:"ugn_remote"`
	// Inserted counts no-data cycles fills inserted, Drained frames drains dropped, Lost
	// frames a full buffer lost, Empty reads of an empty buffer.
	Inserted uint64 `json:"inserted"`
	Drained  uint64 `json:"drained"`
	Lost     uint64 `json:"lost"`
	Empty    uint64 `json:"empty"`
	// Adjustments counts the adjustments applied (auto-centre and firmware).
	Adjustments uint64 `json:"adjustments"`
	// Shift is the net change of the frame relation since the last link-up, in frames:
	// positive when TX word i lands later (at RX word i+Shift).
	Shift int64 `json:"shift"`
	// DomainDifference is frames arrived minus cycles read since the buffer primed.
	DomainDifference int64 `json:"domain_difference"`
	// UpCycle is the last link-up, in global cycles.
	UpCycle uint64 `json:"up_cycle"`
}

// NodeClock is a node's clock on the real link.
type NodeClock struct {
	PPM      float64 `json:"ppm"`      // the current frequency offset
	Requests int64   `json:"requests"` // clock control's net speed-up requests
	Local    uint64  `json:"local"`    // the node's own cycles so far
	// Period is the current period in nominal cycles, 32.32 fixed point; Phase the time of
	// the node's first edge (32.32, below one cycle); Released the own cycle it left reset.
	Period   uint64 `json:"period"`
	Phase    uint64 `json:"phase"`
	Released uint64 `json:"released"`
}

// EventKind is what a real-link event records.
type EventKind uint8

// The events.
const (
	EventAdjust   EventKind = 1 // an elastic buffer adjustment
	EventLinkUp   EventKind = 2 // a link came (back) up
	EventLinkDown EventKind = 3 // a link went down
	EventClock    EventKind = 4 // a node's clock at a clock-control period
)

// String names the kind.
func (k EventKind) String() string {
	switch k {
	case EventAdjust:
		return "adjust"
	case EventLinkUp:
		return "link-up"
	case EventLinkDown:
		return "link-down"
	case EventClock:
		return "clock"
	}
	return fmt.Sprintf("event(%d)", uint8(k))
}

// Event is something the real link did, in order.
type Event struct {
	Kind  EventKind `json:"kind"`
	Cycle uint64    `json:"cycle"` // global cycle
	Local uint64    `json:"local"` // the node's own cycle (Adjust, Clock)
	Node  int       `json:"node"`  // Adjust, Clock: the node; LinkUp/Down: the receiving node
	Port  int       `json:"port"`  // Adjust: the receiving port
	Link  int       `json:"link"`  // LinkUp/Down: the link
	// Frames is an adjustment's signed frame count: positive fills, negative drains.
	Frames int `json:"frames,omitempty"`
	// Firmware is true for an adjustment firmware wrote (eb_adjust), false for auto-centre.
	Firmware bool    `json:"firmware,omitempty"`
	PPM      float64 `json:"ppm,omitempty"` // Clock
}

// RealLinkSimulator is a Simulator that models the real link: its links' receiving ends,
// its nodes' clocks and what happened to them. On the ideal link its methods answer
// ErrNoRealLink.
type RealLinkSimulator interface {
	Simulator
	LinkState(link int) (LinkState, error)
	NodeClock(node int) (NodeClock, error)
	// Events returns at most max events (all when max <= 0) from index from on: the first
	// call passes 0, the next the count returned so far.
	Events(from, max int) ([]Event, error)
}
