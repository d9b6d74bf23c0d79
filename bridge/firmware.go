package bridge

import (
	"encoding/binary"
	"fmt"

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
	// Offset is the link's alignment offset: the total clear_at_count shift its RX applied
	// (mod D), the measured offset n; the soft-UGN protocol keeps the last value written.
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
// next its result, with each phase's strategy taken from the node's profile.
func (rt *Runtime) firmware(n *nodeState, c *cpu) error {
	if rt.cfg.Resume != nil {
		// Restored at the aligned boundary (Runtime.resume filled in the results).
		n.stage = stagePackets
		return n.prof.packets.run(rt, n, c, *n.boot, *n.alignment)
	}
	b, err := rt.boot(n, c)
	if err != nil {
		return err
	}
	if rt.cfg.RealLink && n.prof.name == Ringsim {
		if err := rt.linksUp(n, c); err != nil {
			return err
		}
		n.linksUpAt = rt.now() // the alignment timeout counts from here
	}
	if n.prof.prepare != nil {
		if err := n.prof.prepare(rt, n, c); err != nil {
			return err
		}
	}
	al, err := rt.align(n, c, b)
	if err != nil {
		return err
	}
	if rt.alignOnly {
		n.stage = stageDone
		if rt.cfg.RealLink && !rt.cfg.NoRecovery && n.prof.name == Ringsim {
			if err := rt.holdAligned(n, c); err != nil {
				return err
			}
		}
		if rt.allAligned() {
			rt.stop = true
		}
		return nil
	}
	if rt.cfg.SaveAtAligned != nil || rt.cfg.RunSeed != 0 {
		if rt.cfg.RealLink && !rt.cfg.NoRecovery {
			// What the links are as the node waits: the recovery's baseline (watch).
			for _, l := range n.links {
				res := c.exec(l.port.ClearEBFlags(), bus.Read(l.port.LinkAddr(bus.LinkUGNLocalLo)))
				if err := checkOK(n.id, "link state at the aligned boundary", res); err != nil {
					return err
				}
				u := res[1].Value
				l.parkUGN = &u
			}
		}
		c.park()
	}
	n.stage = stagePackets
	return n.prof.packets.run(rt, n, c, b, al)
}

// linksUp is ringsim's firmware on the real link before alignment: turn every elastic
// buffer's auto-centre on (Config.AutoCentre) and wait until each link is up (its status
// register), so that alignment does not scan an RX buffer that only the link's no-data
// words fill.
func (rt *Runtime) linksUp(n *nodeState, c *cpu) error {
	for _, l := range n.links {
		if rt.cfg.AutoCentre {
			if err := checkOK(n.id, "auto-centre on", c.exec(l.port.SetAutoCentre(true))); err != nil {
				return err
			}
		}
	}
	return waitLinksUp(n, c)
}

// waitLinksUp waits until each of the node's links is up.
func waitLinksUp(n *nodeState, c *cpu) error {
	for _, l := range n.links {
		if err := waitLinkStatus(n, c, l, linkUp, "link status"); err != nil {
			return err
		}
	}
	return nil
}

// waitLinkStatus polls link l's status register until every bit of mask is set
// (linkUp, linkCaptured).
func waitLinkStatus(n *nodeState, c *cpu, l *linkState, mask uint32, what string) error {
	for {
		res := c.exec(l.port.PollLinkStatus(mask, n.cost.Poll, 1000))
		if err := checkOK(n.id, what, res); err != nil {
			return err
		}
		if res[0].Value&mask == mask {
			return nil
		}
	}
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
	// The node's own cycles: its counters run on its clock (the same as global cycles on
	// the ideal link).
	b.Release = res[7].Local - counter
	n.boot = &b
	return b, nil
}

// align runs the alignment state machine on all the node's links together and returns
// what it established.
func (rt *Runtime) align(n *nodeState, c *cpu, b Boot) (Alignment, error) {
	var al Alignment
	n.stage = stageAligning
	bounded := n.prof.alignTimeout || rt.alignTimeoutSet
	deadline := max(b.Release, n.linksUpAt) + rt.cfg.AlignTimeout
	if rt.cfg.RealLink {
		deadline += rt.cfg.BringUp
	}
	for {
		all, err := n.prof.schedule.pass(c, n.links)
		if err != nil {
			return al, err
		}
		if all {
			break
		}
		if now := rt.now(); bounded && now > deadline {
			return al, rt.stallError(StallAlignTimeout, now, ErrAlignTimeout,
				fmt.Sprintf("node %d: %s", n.id, rt.alignState(n)), rt.waits(func(l *linkState) bool {
					return l.ep.Node == n.id && l.al.phase != Aligned
				}))
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
