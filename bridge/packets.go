package bridge

import (
	"fmt"

	"github.com/ringsim/ringsim/bridge/framing"
	"github.com/ringsim/ringsim/sim/bus"
)

// packetPhase is a profile's packet phase: after alignment it starts the node's packet
// devices, gives each link its TCP open, and serves the devices until the run stops.
type packetPhase interface {
	run(rt *Runtime, n *nodeState, c *cpu, b Boot, al Alignment) error
}

// packetDevice is what the runtime needs from a link's packet device, whatever the profile.
type packetDevice interface {
	// MTU is the largest IP packet the device carries.
	MTU() int
	// counters returns the device's frame counters.
	counters() DeviceStats
	// attach sets the nic chain the device delivers to and takes packets from.
	attach(n nic)
	// sendingSince is the cycle the device's first packet write completed (TX word 0 is
	// not zero from then on), or 0 before the first packet.
	sendingSince() uint64
}

// ringsimPackets is ringsim's packet phase: after the guard, every link's device starts and
// its TCP open begins; then the node polls every link's header in one pass and serves the
// links in turn, a single-link node waiting on its RX header in between.
type ringsimPackets struct{}

// run implements packetPhase.run.
func (ringsimPackets) run(rt *Runtime, n *nodeState, c *cpu, b Boot, al Alignment) error {
	if n.cost.Setup > 0 {
		c.exec(bus.Idle(n.cost.Setup))
	}
	if rt.guard > 0 {
		c.exec(bus.Idle(uint32(min(rt.guard, bus.MaxIdle))))
	}
	devs := make([]*device, len(n.links))
	for i, l := range n.links {
		d, err := newDevice(l.port, rt.cfg.Framing, n.cost, rt.pacing(), b.Release, uint64(al.Links[i].Offset), nil)
		if err != nil {
			return err
		}
		l.dev, devs[i] = d, d
		d.readOnce = rt.cfg.IPReadOnce
		if rt.cfg.RealLink {
			if err := rt.readUGN(n, c, l); err != nil {
				return err
			}
		}
		if err := rt.attach(n, l); err != nil {
			return err
		}
		if err := d.start(c); err != nil {
			return err
		}
	}
	n.up = true
	if rt.cfg.RealLink && !rt.cfg.NoRecovery {
		// The real link: watch each link's frame relation (recovery.go).
		for i, l := range n.links {
			devs[i].watch = true
			if err := rt.watch(n, c, l, l.al); err != nil {
				return err
			}
		}
	}
	now := rt.now()
	var poll []bus.Op
	var polled []int
	for !rt.stop {
		// Links re-aligning take their next step; the others are polled.
		realigning := false
		for i, l := range n.links {
			if l.re != nil {
				realigning = true
				if err := rt.stepRealign(n, c, l, devs[i]); err != nil {
					return err
				}
			}
		}
		// Poll every link's header in one pass, then serve the links in turn.
		poll, polled = poll[:0], polled[:0]
		for i, d := range devs {
			if n.links[i].re == nil {
				poll = append(poll, d.pollOps()...)
				polled = append(polled, i)
			}
		}
		if len(polled) == 0 {
			continue
		}
		res := c.exec(poll...)
		now = res[len(res)-1].Cycle
		did := false
		k := 0
		for _, i := range polled {
			d := devs[i]
			hdr := res[k]
			k += len(d.pollOps())
			ok, t, err := d.service(c, hdr, now)
			if err != nil {
				return err
			}
			rt.sent(d.lastSend)
			now = t
			did = did || ok
			if d.watch {
				l := n.links[i]
				switch {
				case d.announced:
					err = rt.realign(n, c, l, now, "the partner asked (its ANNOUNCE marker at RX word 0): it lost this link's other direction")
				case d.failing:
					err = rt.realign(n, c, l, now, fmt.Sprintf("persistent framing errors: %d frames rejected and none accepted in %d cycles",
						d.fails, now-d.failSince))
				case now >= l.health.next:
					err = rt.checkLink(n, c, l, d)
				}
				if err != nil {
					return err
				}
				realigning = realigning || l.re != nil
			}
		}
		if !did && !realigning {
			now = rt.wait(n, devs, c, now)
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
func (rt *Runtime) wait(n *nodeState, devs []*device, c *cpu, now uint64) uint64 {
	if len(n.links) != 1 {
		return now
	}
	l, d := n.links[0], devs[0]
	bound := uint64(4 * rt.m.Depth())
	if l.ep4.Pending() > 0 {
		if d.nextTX <= now {
			return now
		}
		bound = min(bound, d.nextTX-now)
	}
	if t, ok := rt.nextTimer(); ok {
		if t <= now {
			return now
		}
		bound = min(bound, t-now)
	}
	per := uint64(n.cost.Poll) + 2
	reads := uint32(max(bound/per, 1))
	n.waiting = true
	res := c.exec(l.port.PollRXLow(bus.UntilNotEqual, d.lastHdr[0], n.cost.Poll, reads))
	n.waiting = false
	return res[0].Cycle
}

// nextTimer is the cycle of the stacks' next timer, if any.
func (rt *Runtime) nextTimer() (uint64, bool) {
	d, ok := rt.clock.NextDeadline()
	if !ok {
		return 0, false
	}
	return uint64(float64(d) / rt.ns), true
}
