package bridge

import (
	"encoding/binary"
	"fmt"

	"github.com/ringsim/ringsim/bridge/framing"
	"github.com/ringsim/ringsim/sim/bus"
)

// Boot is what a node's firmware learned from its node block at boot.
type Boot struct {
	// Release is the cycle the node left reset, known from its cycle counter: the phase of
	// its TX and RX counters.
	Release uint64 `json:"release_cycle"`
	// DNA is the node's device DNA, little endian.
	DNA [12]byte `json:"dna"`
}

// LinkAlignment is what aligning one link established.
type LinkAlignment struct {
	Port int `json:"port"`
	// Offset is the total clear_at_count shift its RX applied (mod D): the measured offset n.
	Offset int `json:"offset"`
	Clears int `json:"clears"`
	Scans  int `json:"scans"`
	// Entered is the cycle each phase was entered (index Phase).
	Entered [Aligned + 1]uint64 `json:"entered"`
}

// Alignment is a node's alignment result: the state the alignment phase hands to the
// packet phase, as data, so that a run can resume at that boundary.
type Alignment struct {
	Links []LinkAlignment `json:"links"`
	// Cycle is when the node's last link reached Aligned.
	Cycle uint64 `json:"cycle"`
}

// firmware is one node's software: boot, alignment and the packet phase, each handing the
// next its result.
func (rt *Runtime) firmware(n *nodeState, c *cpu) error {
	b, err := rt.boot(n, c)
	if err != nil {
		return err
	}
	al, err := rt.align(n, c, b)
	if err != nil {
		return err
	}
	if rt.cfg.AlignOnly {
		if rt.allAligned() {
			rt.stop = true
		}
		return nil
	}
	return rt.packets(n, c, b, al)
}

// packets is the packet phase: after the guard, every link's device starts, its TCP open
// begins, and the node serves its links until the run stops.
func (rt *Runtime) packets(n *nodeState, c *cpu, b Boot, al Alignment) error {
	if rt.guard > 0 {
		c.exec(bus.Idle(uint32(min(rt.guard, bus.MaxIdle))))
	}
	for i, l := range n.links {
		d, err := newDevice(l.port, rt.cfg.Framing, n.cost, rt.pacing(), b.Release, uint64(al.Links[i].Offset), nil)
		if err != nil {
			return err
		}
		l.dev = d
		d.readOnce = rt.cfg.IPReadOnce
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
func (rt *Runtime) boot(n *nodeState, c *cpu) (Boot, error) {
	var b Boot
	res := c.exec(bus.Read(bus.RegMagic), bus.Read(bus.RegVersion), bus.Read(bus.RegDepth),
		bus.Read(bus.RegPorts), bus.Read(bus.RegDNA0), bus.Read(bus.RegDNA1), bus.Read(bus.RegDNA2),
		bus.Read(bus.RegCycleLo), bus.Read(bus.RegCycleHi))
	if err := checkOK(n.id, "boot", res); err != nil {
		return b, fmt.Errorf("%w: %v", ErrBadHardware, err)
	}
	switch {
	case res[0].Value != bus.Magic:
		return b, fmt.Errorf("%w: node %d: magic %#08x, want %#08x", ErrBadHardware, n.id, res[0].Value, bus.Magic)
	case res[1].Value != bus.MapVersion:
		return b, fmt.Errorf("%w: node %d: register map version %d, want %d", ErrBadHardware, n.id, res[1].Value, bus.MapVersion)
	case int(res[2].Value) != rt.m.Depth() || int(res[3].Value) != rt.m.Ports():
		return b, fmt.Errorf("%w: node %d: depth %d and %d ports, want %d and %d", ErrBadHardware, n.id,
			res[2].Value, res[3].Value, rt.m.Depth(), rt.m.Ports())
	}
	for i := 0; i < 3; i++ {
		binary.LittleEndian.PutUint32(b.DNA[4*i:], res[4+i].Value)
	}
	counter := uint64(res[7].Value) | uint64(res[8].Value)<<32
	b.Release = res[7].Cycle - counter
	n.boot = &b
	return b, nil
}

// align runs the alignment state machine on all the node's links together and returns
// what it established.
func (rt *Runtime) align(n *nodeState, c *cpu, b Boot) (Alignment, error) {
	var al Alignment
	deadline := b.Release + rt.cfg.AlignTimeout
	for {
		all := true
		for _, l := range n.links {
			if l.al.phase == Aligned {
				continue
			}
			all = false
			if err := l.al.step(c); err != nil {
				return al, err
			}
		}
		if all {
			break
		}
		if now := rt.now(); now > deadline {
			return al, fmt.Errorf("%w on node %d at cycle %d: %s", ErrAlignTimeout, n.id, now, rt.alignState(n))
		}
	}
	for _, l := range n.links {
		al.Links = append(al.Links, l.al.result())
		al.Cycle = max(al.Cycle, l.al.entered[Aligned])
	}
	n.alignment = &al
	if rt.allAligned() {
		var c uint64
		for _, m := range rt.nodes {
			if m.alignment != nil {
				c = max(c, m.alignment.Cycle)
			}
		}
		rt.mark("aligned", c, "")
	}
	return al, nil
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
