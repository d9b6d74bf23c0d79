package bridge

import (
	"fmt"

	"github.com/ringsim/ringsim/sim/bus"
)

// Recovery: ringsim's firmware on the real link keeps each link's frame relation (TX word
// i lands at RX word i) through what the link does to it after alignment (docs/reallink.md,
// "Surviving the real link"). The receiving end of each link watches it:
//
//   - Every healthEvery cycles it reads the link's status, UGN capture, auto-centre total
//     and sticky elastic buffer flags (five register reads).
//   - An adjustment the hardware counted (the auto-centre total moved by s frames: TX word
//     i now lands at RX word i+s) is compensated at once and exactly, on this end alone: a
//     clear_at_count of s mod D moves the RX write counter back by s.
//   - Anything that shifts the relation by an amount the firmware cannot know (the link
//     went down, or came back up with a new UGN capture; the elastic buffer under- or
//     overflowed), a partner that asks (its ANNOUNCE marker at RX word 0), or persistent
//     framing errors (a shift nothing counted) re-align the link in the protocol: this end
//     stops its packet device and runs SPEC section 3's alignment from Unaligned. Its
//     ANNOUNCE reaches the partner's RX word 0 when that direction is still aligned, and the
//     partner joins; when both directions broke, both ends see it themselves. Once aligned
//     and past the guard, the device restarts. TCP keeps its connection: the segments lost
//     meanwhile are retransmitted.

// healthEvery is how often a receiving end checks its link, in cycles per depth word.
const healthEvery = 2

// errorsToRealign, errorWindow and errorHorizon bound persistent framing errors: this many
// frames the framing rejected, and no packet accepted, over at least errorWindow
// rotations and within errorHorizon rotations.
const (
	errorsToRealign = 8
	errorWindow     = 16
	errorHorizon    = 64
)

// The kinds of Recovery.
const (
	Compensated = "compensated" // a counted adjustment undone on this end
	Realigned   = "realigned"   // the alignment protocol ran again on the link
)

// Recovery is one thing ringsim's firmware did to keep a link's frame relation.
type Recovery struct {
	// Cycle is when the firmware noticed (global cycles).
	Cycle uint64 `json:"cycle"`
	// Kind is Compensated or Realigned.
	Kind  string `json:"kind"`
	Cause string `json:"cause"`
	// Shift is the compensation's frames (compensated); Done the cycle the link carried
	// packets again (realigned).
	Shift int    `json:"shift,omitempty"`
	Done  uint64 `json:"done_cycle,omitempty"`
}

// linkHealth is what a receiving end's checks compare against.
type linkHealth struct {
	next     uint64 // cycle of the next check
	acTotal  uint32 // the auto-centre total the relation is good for
	ugnLocal uint32 // the UGN capture of the link-up it is good for
}

// realigning is a link end re-running the alignment.
type realigning struct {
	al         *aligner
	up         bool   // the link is up (status polled)
	guardUntil uint64 // after Aligned: the device restarts from this cycle
	rec        int    // index of its Recovery
}

// watch starts watching a link whose device just started, aligned by al: the adjustments'
// baseline is the auto-centre total when al last saw the partner's marker (adjustments
// since then shifted the relation the alignment measured, and the first check compensates
// them); the UGN capture's is what it holds now; the sticky flags are cleared.
func (rt *Runtime) watch(n *nodeState, c *cpu, l *linkState, al *aligner) error {
	if u := l.parkUGN; u != nil {
		// Parked at the aligned boundary: the baseline is what the link was then, and the
		// sticky flags hold what happened since.
		l.health = &linkHealth{next: rt.now(), ugnLocal: *u, acTotal: al.acAt}
		l.acSeen = al.acSeen
		return nil
	}
	p := l.port
	res := c.exec(p.ClearEBFlags(), bus.Read(p.LinkAddr(bus.LinkUGNLocalLo)))
	if err := checkOK(n.id, "link watch", res); err != nil {
		return err
	}
	l.health = &linkHealth{next: res[1].Cycle, ugnLocal: res[1].Value, acTotal: al.acAt}
	l.acSeen = al.acSeen
	return nil
}

// compensate undoes the adjustments the auto-centre made since the relation was last good
// (ac, read at cycle now, against the baseline): a clear_at_count of the total shift
// moves the RX write counter back by it. d, the link's packet device, if any, learns the
// new shift.
func (rt *Runtime) compensate(n *nodeState, c *cpu, l *linkState, d *device, ac uint32, now uint64) error {
	h := l.health
	l.acSeen = now
	if ac == h.acTotal {
		return nil
	}
	s := int(int32(ac - h.acTotal))
	depth := l.port.Depth
	v := ((s % depth) + depth) % depth
	if v != 0 {
		r := c.exec(l.port.ClearAtCount(v))
		if err := checkOK(n.id, "adjustment compensation", r); err != nil {
			return err
		}
	}
	if d != nil {
		d.shift = (d.shift + uint64(v)) % uint64(depth)
		d.fails = 0 // the frames read since the adjustment were shifted: expected rejects
	}
	h.acTotal = ac
	l.recoveries = append(l.recoveries, Recovery{Cycle: now, Kind: Compensated, Shift: s,
		Cause: fmt.Sprintf("the auto-centre adjusted the elastic buffer by %+d frames", s)})
	return nil
}

// holdAligned is ringsim's firmware on the real link when the run only aligns: it keeps
// compensating its links' adjustments, as its packet phase would, until every link of the
// system is aligned (the run then stops).
func (rt *Runtime) holdAligned(n *nodeState, c *cpu) error {
	for _, l := range n.links {
		if err := rt.watch(n, c, l, l.al); err != nil {
			return err
		}
	}
	for {
		for _, l := range n.links {
			res := c.exec(l.port.AutoCentreTotal())
			if err := checkOK(n.id, "link check", res); err != nil {
				return err
			}
			if err := rt.compensate(n, c, l, nil, res[0].Value, res[0].Cycle); err != nil {
				return err
			}
		}
		if rt.stop || rt.allAligned() {
			return nil
		}
		c.exec(bus.Idle(uint32(healthEvery * n.links[0].port.Depth)))
	}
}

// checkLink is one health check of a link end in its packet phase. It compensates a
// counted adjustment, or starts a re-alignment.
func (rt *Runtime) checkLink(n *nodeState, c *cpu, l *linkState, d *device) error {
	p := l.port
	ops := append([]bus.Op{p.LinkStatus(), bus.Read(p.LinkAddr(bus.LinkUGNLocalLo)), p.AutoCentreTotal()}, p.EBFlags()...)
	res := c.exec(ops...)
	if err := checkOK(n.id, "link check", res); err != nil {
		return err
	}
	now := res[len(res)-1].Cycle
	h := l.health
	h.next = now + healthEvery*uint64(p.Depth)
	status, ugn, ac, under, over := res[0].Value, res[1].Value, res[2].Value, res[3].Value&1, res[4].Value&1
	switch {
	case status&1 == 0:
		return rt.realign(n, c, l, now, "the link went down")
	case ugn != h.ugnLocal:
		return rt.realign(n, c, l, now, "the link went down and came back up (a new UGN capture)")
	case under != 0 || over != 0:
		what := "underflowed"
		if over != 0 {
			what = "overflowed"
			if under != 0 {
				what = "underflowed and overflowed"
			}
		}
		return rt.realign(n, c, l, now, "the elastic buffer "+what)
	default:
		return rt.compensate(n, c, l, d, ac, res[2].Cycle)
	}
}

// realign stops the link's packet device and starts the alignment protocol again.
func (rt *Runtime) realign(n *nodeState, c *cpu, l *linkState, now uint64, cause string) error {
	l.recoveries = append(l.recoveries, Recovery{Cycle: now, Kind: Realigned, Cause: cause})
	al := newAligner(l.port, n.cost, n.prof.protocol)
	al.watchAC = true
	l.re = &realigning{al: al, rec: len(l.recoveries) - 1}
	rt.log.Debug("re-aligning", "link", l.ep, "cycle", now, "cause", cause)
	// Clear the sticky flags now, so that the next check sees only what happens after.
	return checkOK(n.id, "elastic buffer flags clear", c.exec(l.port.ClearEBFlags()))
}

// stepRealign runs one step of a link end's re-alignment: wait for the link, align, wait out
// the guard, restart the device.
func (rt *Runtime) stepRealign(n *nodeState, c *cpu, l *linkState, d *device) error {
	re := l.re
	switch {
	case !re.up:
		res := c.exec(l.port.PollLinkStatus(linkUp, n.cost.Poll, 1000))
		if err := checkOK(n.id, "link status", res); err != nil {
			return err
		}
		re.up = res[0].Value&linkUp != 0
		return nil
	case re.al.phase != Aligned:
		return re.al.step(c)
	case re.guardUntil == 0:
		re.guardUntil = re.al.entered[Aligned] + max(rt.guard, 1)
		return nil
	}
	if now := rt.now(); now < re.guardUntil {
		c.exec(bus.Idle(uint32(min(re.guardUntil-now, bus.MaxIdle))))
		return nil
	}
	d.shift = (d.shift + uint64(re.al.offset)) % uint64(d.port.Depth)
	d.reset()
	if err := d.start(c); err != nil {
		return err
	}
	if err := rt.watch(n, c, l, re.al); err != nil {
		return err
	}
	l.recoveries[re.rec].Done = rt.now()
	l.realignments++
	l.re = nil
	return nil
}

// readUGN reads a link's UGN capture (the real link): the hardware UGN is the receiver's
// counter when the link's first frame arrived minus that frame, the sender's counter. It
// is recorded for the link end's report and its connection (upstream's exchange sends it).
func (rt *Runtime) readUGN(n *nodeState, c *cpu, l *linkState) error {
	p := l.port
	res := c.exec(p.LinkStatus(), bus.Read(p.LinkAddr(bus.LinkUGNLocalLo)), bus.Read(p.LinkAddr(bus.LinkUGNLocalHi)),
		bus.Read(p.LinkAddr(bus.LinkUGNRemoteLo)), bus.Read(p.LinkAddr(bus.LinkUGNRemoteHi)))
	if err := checkOK(n.id, "UGN capture", res); err != nil {
		return err
	}
	if res[0].Value&linkCaptured == 0 {
		return nil // nothing captured (the link is down)
	}
	local := uint64(res[1].Value) | uint64(res[2].Value)<<32
	remote := uint64(res[3].Value) | uint64(res[4].Value)<<32
	ugn := int64(local - remote)
	l.ugn = &ugn
	return nil
}
