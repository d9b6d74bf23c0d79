package job

import (
	"fmt"
	"sort"

	"github.com/ringsim/ringsim/bridge"
	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/sim/bus"
)

// RealLinkReport is the real link's truth, from the simulator, next to what the firmware
// believed: per link, its adjustments, link-ups and -downs and whether TX word i still lands
// at RX word i at the end; every node's clock over time; every elastic buffer's occupancy
// over time. It needs the embedded simulator (a machine that shares its events).
type RealLinkReport struct {
	Links  []LinkTruth   `json:"links"`
	Clocks []ClockSeries `json:"clocks"`
	// Occupancy is every link's elastic buffer occupancy (frames in the buffer; the centre
	// is half its depth) at the samples' cycles.
	Occupancy []OccupancySeries `json:"occupancy"`
	// events is how many of the simulator's events the report holds (the run's); later
	// ones happened after the firmware stopped.
	events int
}

// LinkTruth is one link direction on the real link.
type LinkTruth struct {
	Link int         `json:"link"`
	From hw.Endpoint `json:"from"`
	To   hw.Endpoint `json:"to"`
	// Ups and Downs are the cycles the link came up and went down.
	Ups   []uint64 `json:"up_cycles"`
	Downs []uint64 `json:"down_cycles,omitempty"`
	// Adjustments are the receiving elastic buffer's adjustments, in order.
	Adjustments []Adjustment `json:"adjustments"`
	// Inserted, Drained, Lost and Empty are the elastic buffer's counts: no-data cycles
	// fills inserted, frames drains dropped, frames a full buffer lost, reads of an empty
	// buffer.
	Inserted uint64 `json:"inserted"`
	Drained  uint64 `json:"drained"`
	Lost     uint64 `json:"lost"`
	Empty    uint64 `json:"empty"`
	// FirmwareAligned says the receiving end's firmware believes the link aligned at the
	// end (aligned, and not re-aligning), since FirmwareSince: its last alignment, or its
	// last compensation of an adjustment.
	FirmwareAligned bool   `json:"firmware_believes_aligned"`
	FirmwareSince   uint64 `json:"firmware_aligned_since,omitempty"`
	// Probed says the relation was measured at the end: the simulator wrote a pattern into
	// the sender's TX buffer through the backdoor and read where it landed in the
	// receiver's RX buffer. Offset is the RX word TX word 0 landed at (0: aligned),
	// Matched the words of Depth that landed at that offset intact.
	Probed  bool `json:"probed"`
	Offset  int  `json:"offset"`
	Matched int  `json:"matched"`
	Depth   int  `json:"depth"`
	// AfterEnd is the frames the elastic buffer was adjusted by after the receiving
	// firmware last looked (its last read of the auto-centre total, for firmware that keeps
	// the relation; else the end of the run) and before the probe turned the auto-centre
	// off. The firmware had no chance to compensate them, so Offset is the measured offset
	// less AfterEnd: the relation as the firmware would keep it.
	AfterEnd int `json:"adjusted_after_end,omitempty"`
	// checked is the receiving firmware's last read of the auto-centre total (0: none).
	checked uint64
	// Aligned is the truth: TX word i lands at RX word i.
	Aligned bool `json:"aligned"`
	// Broken says what broke the relation, when the firmware believes the link aligned and
	// it is not: the first change the simulator made to the link after FirmwareSince.
	Broken *Break `json:"broken,omitempty"`
}

// Adjustment is an elastic buffer adjustment.
type Adjustment struct {
	Cycle  uint64 `json:"cycle"`
	Frames int    `json:"frames"` // positive: a fill (TX word i lands later), negative: a drain
	Source string `json:"source"` // "auto-centre" or "firmware"
}

// Break is why a link's relation broke.
type Break struct {
	Cycle uint64 `json:"cycle"`
	Cause string `json:"cause"`
}

// ClockSeries is a node's clock offset over time (clock-control periods).
type ClockSeries struct {
	Node   int       `json:"node"`
	Cycles []uint64  `json:"cycles"`
	PPM    []float64 `json:"ppm"`
}

// OccupancySeries is a link's elastic buffer occupancy over time.
type OccupancySeries struct {
	Link      int      `json:"link"`
	Cycles    []uint64 `json:"cycles"`
	Occupancy []int    `json:"occupancy"`
}

// realLinkMachine is a machine that shares the real link's state and events (*sim.Engine).
type realLinkMachine interface {
	LinkState(link int) (hw.LinkState, error)
	Events(from, max int) ([]hw.Event, error)
}

// probeMachine is a machine with backdoor access and stepping (*sim.Engine).
type probeMachine interface {
	Peek(node, port int, t hw.Target, index int) (uint64, error)
	Poke(node, port int, t hw.Target, index int, v uint64) error
	Step(n uint64) error
}

// maxSeriesPoints bounds a series in the report; longer ones are thinned evenly.
const maxSeriesPoints = 400

// sampler records the run over time (bridge.Config.Sample): the application's bytes and
// the retransmissions, and on the real link every elastic buffer's occupancy.
type sampler struct {
	m       realLinkMachine // nil: not the real link
	samples []bridge.Sample
	occ     []OccupancySeries
}

func newSampler(m realLinkMachine, links int) *sampler {
	s := &sampler{m: m}
	if m != nil {
		s.occ = make([]OccupancySeries, links)
		for i := range s.occ {
			s.occ[i].Link = i
		}
	}
	return s
}

func (s *sampler) sample(b bridge.Sample) {
	s.samples = append(s.samples, b)
	for i := range s.occ {
		st, err := s.m.LinkState(i)
		if err != nil {
			return
		}
		s.occ[i].Cycles = append(s.occ[i].Cycles, b.Cycle)
		s.occ[i].Occupancy = append(s.occ[i].Occupancy, st.Occupancy)
	}
}

// truth builds the real link's report at the end of a run: the events and counts from the
// simulator, the firmware's beliefs from its report, and the probe.
func truth(m realLinkMachine, spec Spec, rep *bridge.Report, occ []OccupancySeries) (*RealLinkReport, error) {
	t := spec.Sim.Topology
	out := &RealLinkReport{}
	evs, err := m.Events(0, 0)
	if err != nil {
		return nil, err
	}
	out.events = len(evs)
	clocks := map[int]*ClockSeries{}
	for n := 0; n < t.Nodes; n++ {
		clocks[n] = &ClockSeries{Node: n}
	}
	for i, l := range t.Links {
		lt := LinkTruth{Link: i, From: l.From, To: l.To, Depth: spec.Sim.Depth, Adjustments: []Adjustment{}}
		st, err := m.LinkState(i)
		if err != nil {
			return nil, err
		}
		lt.Inserted, lt.Drained, lt.Lost, lt.Empty = st.Inserted, st.Drained, st.Lost, st.Empty
		out.Links = append(out.Links, lt)
	}
	for _, e := range evs {
		switch e.Kind {
		case hw.EventClock:
			if c := clocks[e.Node]; c != nil {
				c.Cycles = append(c.Cycles, e.Cycle)
				c.PPM = append(c.PPM, e.PPM)
			}
		case hw.EventLinkUp:
			out.Links[e.Link].Ups = append(out.Links[e.Link].Ups, e.Cycle)
		case hw.EventLinkDown:
			out.Links[e.Link].Downs = append(out.Links[e.Link].Downs, e.Cycle)
		case hw.EventAdjust:
			if i := adjustedLink(t, e); i >= 0 {
				src := "auto-centre"
				if e.Firmware {
					src = "firmware"
				}
				out.Links[i].Adjustments = append(out.Links[i].Adjustments, Adjustment{Cycle: e.Cycle, Frames: e.Frames, Source: src})
			}
		}
	}
	for n := 0; n < t.Nodes; n++ {
		c := clocks[n]
		c.Cycles, c.PPM = thin(c.Cycles, c.PPM)
		out.Clocks = append(out.Clocks, *c)
	}
	for _, o := range occ {
		o.Cycles, o.Occupancy = thin(o.Cycles, o.Occupancy)
		out.Occupancy = append(out.Occupancy, o)
	}
	// What the receiving ends' firmware believes.
	if rep != nil {
		for i := range out.Links {
			lt := &out.Links[i]
			for _, lr := range rep.Links {
				if lr.Local != lt.To {
					continue
				}
				lt.FirmwareAligned = lr.AlignedCycle > 0
				lt.FirmwareSince = lr.AlignedCycle
				lt.checked = lr.RelationCheckedCycle
				for _, r := range lr.Recoveries {
					switch {
					case r.Kind == bridge.Realigned && r.Done == 0:
						lt.FirmwareAligned = false // re-aligning at the end
					case r.Kind == bridge.Realigned:
						lt.FirmwareSince = r.Done
					default:
						lt.FirmwareSince = r.Cycle
					}
				}
			}
		}
	}
	return out, nil
}

// drain lets the batches the firmware left in flight complete, so that none writes a TX
// buffer during the probe.
func drain(m Machine) error {
	b, ok := m.(interface{ Busy(node int) bool })
	if !ok {
		return nil
	}
	for n := 0; n < m.Nodes(); n++ {
		for b.Busy(n) {
			done, err := m.Run(m.Cycle() + 1<<20)
			if err != nil {
				return err
			}
			for _, k := range done {
				if _, err := m.Results(k); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// probe measures every link's frame relation at the end of a run: a distinct pattern in
// each sender's TX buffer, TX and RX enabled, a few rotations, then where the pattern landed
// in each receiver's RX buffer. It changes the machine: it runs after the firmware.
//
// The probe runs for a few rotations, long enough for an elastic buffer's auto-centre to
// adjust in the middle of it (every ~100,000 cycles at 100 ppm apart), which would move the
// pattern and blame the firmware for an adjustment it never saw. So the auto-centre is
// turned off on every link first (through each receiving node's bus), and adjustments the
// buffers made after the firmware stopped are taken out of the measured offset.
func probe(m probeMachine, spec Spec, r *RealLinkReport) error {
	t, d := spec.Sim.Topology, spec.Sim.Depth
	if err := autoCentreOff(m, spec); err != nil {
		return err
	}
	pattern := func(link, i int) uint64 { return 0x9E3779B97F4A7C15*uint64(link+1) ^ uint64(i)<<17 ^ uint64(i) }
	var longest uint64
	for i, l := range t.Links {
		for w := 0; w < d; w++ {
			if err := m.Poke(l.From.Node, l.From.Port, hw.TXMem, w, pattern(i, w)); err != nil {
				return err
			}
		}
		if err := m.Poke(l.From.Node, l.From.Port, hw.TXEnable, 0, 1); err != nil {
			return err
		}
		if err := m.Poke(l.To.Node, l.To.Port, hw.RXEnable, 0, 1); err != nil {
			return err
		}
		longest = max(longest, uint64(l.Latency))
	}
	eb := uint64(spec.Sim.Real.EBDepth)
	if eb == 0 {
		eb = hw.DefaultEBDepth
	}
	if err := m.Step(3*uint64(d) + longest + 2*eb + 64); err != nil {
		return err
	}
	for i, l := range t.Links {
		rx := make([]uint64, d)
		for w := range rx {
			v, err := m.Peek(l.To.Node, l.To.Port, hw.RXMem, w)
			if err != nil {
				return err
			}
			rx[w] = v
		}
		best, bestN := 0, -1
		for k := 0; k < d; k++ {
			n := 0
			for w := 0; w < d; w++ {
				if rx[(w+k)%d] == pattern(i, w) {
					n++
				}
			}
			if n > bestN {
				best, bestN = k, n
			}
		}
		lt := &r.Links[i]
		lt.Probed, lt.Offset, lt.Matched = true, best, bestN
		if best > d/2 {
			lt.Offset = best - d
		}
	}
	// Adjustments after the firmware stopped (a fill of s frames moves TX word i to RX word
	// i+s).
	if rm, ok := m.(realLinkMachine); ok {
		evs, err := rm.Events(r.events, 0)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if i := adjustedLink(t, e); e.Kind == hw.EventAdjust && i >= 0 {
				r.Links[i].AfterEnd += e.Frames
			}
		}
	}
	for i := range r.Links {
		lt := &r.Links[i]
		for _, a := range lt.Adjustments {
			if lt.checked > 0 && a.Cycle > lt.checked {
				lt.AfterEnd += a.Frames // in the run, after the firmware's last look
			}
		}
		if s := lt.AfterEnd; s != 0 {
			lt.Offset = ((lt.Offset-s)%d+d+d/2)%d - d/2
		}
		lt.Aligned = lt.Offset == 0 && lt.Matched >= d/2
	}
	return nil
}

// adjustedLink returns the link whose receiving end an adjustment event is at, or -1.
func adjustedLink(t hw.Topology, e hw.Event) int {
	for i, l := range t.Links {
		if l.To.Node == e.Node && l.To.Port == e.Port {
			return i
		}
	}
	return -1
}

// autoCentreOff turns every elastic buffer's auto-centre off through its node's bus, as
// firmware would, and waits for the writes.
func autoCentreOff(m probeMachine, spec Spec) error {
	bm, ok := m.(Machine)
	if !ok {
		return nil
	}
	t := spec.Sim.Topology
	ops := make([][]bus.Op, t.Nodes)
	for _, l := range t.Links {
		p := bridge.NewPort(bus.Map{Depth: spec.Sim.Depth, Ports: t.Ports}, l.To.Port)
		ops[l.To.Node] = append(ops[l.To.Node], p.SetAutoCentre(false))
	}
	for n, o := range ops {
		if len(o) == 0 {
			continue
		}
		if err := bm.Submit(n, o); err != nil {
			return err
		}
	}
	return drain(bm)
}

// explain fills in why a link the firmware believes aligned is not: the first adjustment
// or link-down after the firmware's alignment, else the elastic buffer's slips.
func explain(r *RealLinkReport) {
	for i := range r.Links {
		lt := &r.Links[i]
		if !lt.Probed || lt.Aligned || !lt.FirmwareAligned {
			continue
		}
		var b *Break
		for _, a := range lt.Adjustments {
			if a.Cycle > lt.FirmwareSince && (lt.checked == 0 || a.Cycle <= lt.checked) {
				kind := "fill"
				if a.Frames < 0 {
					kind = "drain"
				}
				b = &Break{Cycle: a.Cycle, Cause: fmt.Sprintf("%s %s of %+d frames at the receiving elastic buffer (node %d port %d)",
					a.Source, kind, a.Frames, lt.To.Node, lt.To.Port)}
				break
			}
		}
		for _, c := range lt.Downs {
			if c > lt.FirmwareSince && (b == nil || c < b.Cycle) {
				b = &Break{Cycle: c, Cause: "the link went down (a transceiver reset); it came back with a new frame relation"}
			}
		}
		if b == nil {
			b = &Break{Cycle: lt.FirmwareSince, Cause: fmt.Sprintf("no adjustment or link-down after the firmware aligned at cycle %d: "+
				"the elastic buffer slipped (%d empty reads, %d frames lost in the run), or the alignment itself was wrong",
				lt.FirmwareSince, lt.Empty, lt.Lost)}
		}
		lt.Broken = b
	}
}

// BrokenLinks returns the links whose firmware believes them aligned while they are not.
func (r *RealLinkReport) BrokenLinks() []LinkTruth {
	var out []LinkTruth
	for _, l := range r.Links {
		if l.Broken != nil {
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Broken.Cycle < out[j].Broken.Cycle })
	return out
}

// thin keeps at most maxSeriesPoints points of a series, evenly spread, always the last.
func thin[X, Y any](x []X, y []Y) ([]X, []Y) {
	if len(x) <= maxSeriesPoints {
		return x, y
	}
	var ox []X
	var oy []Y
	step := float64(len(x)-1) / float64(maxSeriesPoints-1)
	for k := 0; k < maxSeriesPoints; k++ {
		i := int(float64(k)*step + 0.5)
		ox, oy = append(ox, x[i]), append(oy, y[i])
	}
	return ox, oy
}
