package bridge

import (
	"fmt"

	"github.com/ringsim/ringsim/sim/bus"
)

// The alignment markers, written as little-endian u64 to TX word 0 (SPEC section 3).
const (
	Announce    uint64 = 0xBADC0FFEE
	Acknowledge uint64 = 0xDEADABBA
)

// Phase is a link's alignment phase.
type Phase uint8

// The alignment phases of SPEC section 3, in order. The soft-UGN protocol has two of them
// (FindingAlignment, AcknowledgingAlignment); its DONE is Aligned.
const (
	Unaligned Phase = iota
	FindingAlignment
	AcknowledgingAlignment
	WaitingForZeroes
	Aligned
)

// String returns the phase's name as upstream spells it.
func (p Phase) String() string {
	switch p {
	case Unaligned:
		return "Unaligned"
	case FindingAlignment:
		return "FindingAlignment"
	case AcknowledgingAlignment:
		return "AcknowledgingAlignment"
	case WaitingForZeroes:
		return "WaitingForZeroes"
	case Aligned:
		return "Aligned"
	}
	return fmt.Sprintf("Phase(%d)", uint8(p))
}

func isMarker(w uint64) bool { return w == Announce || w == Acknowledge }

// aligner is one link end's alignment: the state a profile's alignment protocol
// (alignProtocol) steps, and what the stall detectors read. Each step is one pass of the
// node's alignment loop over this port.
type aligner struct {
	port  Port
	cost  Cost
	proto alignProtocol
	phase Phase
	// offset is the alignment offset the protocol keeps: the total clear_at_count shift
	// applied (mod D), or for the soft-UGN protocol the last value written.
	offset int
	clears int // clear_at_count writes
	scans  int // FindingAlignment passes over the RX buffer
	// Cycles at which the phases were entered (index Phase), and the aligned cycle; seen
	// says which phases were entered.
	entered [Aligned + 1]uint64
	seen    [Aligned + 1]bool

	// What the stall detectors read (stall.go).
	txOn      bool   // TX enabled by the alignment (or, soft-UGN, by its caller)
	txOnSince uint64 // cycle TX was enabled
	rx0       uint64 // the last RX word 0 read in AcknowledgingAlignment or WaitingForZeroes
	rx0At     uint64 // its cycle (0: none yet)
	// quiet are the start cycles of the FindingAlignment scans since the last one that saw
	// a marker: a link that delivers nothing leaves them piling up.
	quiet []uint64
	// watchAC (the real link, ringsim's recovery) reads the auto-centre total with every
	// marker action: acAt is the value when the relation was last measured, the baseline
	// for the adjustments after it (recovery.go).
	watchAC bool
	acAt    uint32
	acSeen  uint64 // the cycle acAt was read
}

func newAligner(p Port, cost Cost, proto alignProtocol) *aligner {
	return &aligner{port: p, cost: cost, proto: proto}
}

// step runs one action of the current phase through the node's CPU.
func (a *aligner) step(c *cpu) error { return a.proto.step(a, c) }

// result is the link's alignment as data.
func (a *aligner) result() LinkAlignment {
	return LinkAlignment{Port: a.port.Index, Offset: a.offset, Clears: a.clears, Scans: a.scans, Entered: a.entered}
}

func (a *aligner) enter(ph Phase, cycle uint64) {
	a.phase = ph
	a.entered[ph] = cycle
	a.seen[ph] = true
}

// marking reports whether the end's TX sends an alignment marker at word 0 (it announced
// and has not disabled TX): what a partner in FindingAlignment waits for.
func (a *aligner) marking() bool {
	return a.txOn && a.phase >= FindingAlignment && a.phase < WaitingForZeroes ||
		a.txOn && a.proto.keepsTX() && a.phase == Aligned
}

// alignProtocol is a profile's alignment state machine for one link end (SPEC section 3 and
// its upstream variants).
type alignProtocol interface {
	// step runs one action of a's current phase.
	step(a *aligner, c *cpu) error
	// keepsTX reports whether the protocol leaves TX enabled, with its marker, once aligned
	// (the soft-UGN protocol never disables it).
	keepsTX() bool
}

// alignSchedule is how a node's alignment loop steps its links.
type alignSchedule interface {
	// pass runs one pass of the loop and reports whether every link was aligned.
	pass(c *cpu, links []*linkState) (bool, error)
	// stepping reports whether the loop steps links[i] now: the wait-for graph's edges leave
	// from those (stall.go).
	stepping(links []*linkState, i int) bool
}

// allLinks steps every link that is not aligned yet in each pass, in port order: ringsim's
// loop and the soft-UGN demo's (ring_buffer_align.c:63-108).
type allLinks struct{}

// pass implements alignSchedule.pass: true once a pass finds every link aligned.
func (allLinks) pass(c *cpu, links []*linkState) (bool, error) {
	all := true
	for _, l := range links {
		if l.al.phase == Aligned {
			continue
		}
		all = false
		if err := l.al.step(c); err != nil {
			return false, err
		}
	}
	return all, nil
}

// stepping implements alignSchedule.stepping.
func (allLinks) stepping(links []*linkState, i int) bool { return links[i].al.phase != Aligned }

// portOrder is the async-comms demo's loop (its main.rs:168-172):
//
//	while !rx_aligned.iter_mut().zip(tx).all(|(rx, tx)| rx.align_step(tx)) {}
//
// Iterator::all stops at the first port whose align_step returns false, so a link is
// stepped only once every lower-numbered one is aligned. align_step returns true for an
// aligned port without touching the bus, and when its step reached Aligned.
type portOrder struct{}

// pass implements alignSchedule.pass.
func (portOrder) pass(c *cpu, links []*linkState) (bool, error) {
	for _, l := range links {
		if l.al.phase == Aligned {
			continue
		}
		if err := l.al.step(c); err != nil {
			return false, err
		}
		if l.al.phase != Aligned {
			return false, nil
		}
	}
	return true, nil
}

// stepping implements alignSchedule.stepping: only the lowest unaligned link.
func (portOrder) stepping(links []*linkState, i int) bool {
	for j, l := range links {
		if l.al.phase != Aligned {
			return j == i
		}
	}
	return false
}

// readRX0 reads RX word 0 after one polling loop iteration's worth of other work (the
// loop's bookkeeping and, on a node with several links, their steps come between two polls
// of the same link).
func (a *aligner) readRX0(c *cpu) (uint64, uint64, error) {
	res := c.exec(append(idle(nil, a.cost.Poll), a.port.ReadRX(0, 1))...)
	r := res[len(res)-1]
	if r.Err {
		return 0, 0, busError(c.node, "read of RX word 0", r)
	}
	w := Join64(r.Words)[0]
	a.rx0, a.rx0At = w, r.Cycle
	return w, r.Cycle, nil
}

// readRXWord reads RX word i as one loop iteration of a scan and returns it with the
// cycle of the read.
func (a *aligner) readRXWord(c *cpu, i int) (uint64, uint64, error) {
	res := c.exec(idle([]bus.Op{a.port.ReadRX(i, 1)}, a.cost.Poll)...)
	if res[0].Err {
		return 0, 0, busError(c.node, fmt.Sprintf("scan of RX word %d", i), res[0])
	}
	return Join64(res[0].Words)[0], res[0].Cycle, nil
}

// scanned records a FindingAlignment scan that started in cycle start.
func (a *aligner) scanned(start uint64, marker bool) {
	if marker {
		a.quiet = a.quiet[:0]
		return
	}
	a.quiet = append(a.quiet, start)
}

// start is the Unaligned action of the four-phase protocols: zero TX, enable TX and RX,
// announce.
func (a *aligner) start(c *cpu) error {
	p := a.port
	res := c.exec(p.ZeroTX(), p.SetTXEnable(true), p.SetRXEnable(true), p.WriteTX(0, Announce))
	if err := checkOK(c.node, "alignment start", res); err != nil {
		return err
	}
	a.txOn, a.txOnSince = true, res[1].Cycle
	a.enter(FindingAlignment, res[len(res)-1].Cycle)
	return nil
}

// acknowledge is the AcknowledgingAlignment action of the four-phase protocols: when RX
// word 0 is ACK or 0, disable TX.
func (a *aligner) acknowledge(c *cpu) error {
	w, cyc, err := a.readRX0(c)
	if err != nil {
		return err
	}
	if w == Acknowledge || w == 0 {
		res := c.exec(a.port.SetTXEnable(false))
		if err := checkOK(c.node, "alignment tx disable", res); err != nil {
			return err
		}
		a.txOn = false
		a.enter(WaitingForZeroes, max(cyc, res[0].Cycle))
	}
	return nil
}

// waitZeroes is the WaitingForZeroes action: when RX word 0 is 0, disable RX.
func (a *aligner) waitZeroes(c *cpu) error {
	w, _, err := a.readRX0(c)
	if err != nil {
		return err
	}
	if w == 0 {
		res := c.exec(a.port.SetRXEnable(false))
		if err := checkOK(c.node, "alignment rx disable", res); err != nil {
			return err
		}
		a.enter(Aligned, res[0].Cycle)
	}
	return nil
}

// ringsimAlign is ringsim's alignment protocol, SPEC section 3: its scan reads every RX word
// without stopping at a marker, also after acknowledging one at word 0.
type ringsimAlign struct{}

// keepsTX implements alignProtocol.keepsTX.
func (ringsimAlign) keepsTX() bool { return false }

// step implements alignProtocol.step.
func (ringsimAlign) step(a *aligner, c *cpu) error {
	p := a.port
	switch a.phase {
	case Unaligned:
		return a.start(c)
	case FindingAlignment:
		a.scans++
		found, marker := false, false
		var start uint64
		for i := 0; i < p.Depth; i++ {
			res := c.exec(idle([]bus.Op{p.ReadRX(i, 1)}, a.cost.Poll)...)
			if res[0].Err {
				return busError(c.node, fmt.Sprintf("scan of RX word %d", i), res[0])
			}
			if i == 0 {
				start = res[0].Cycle
			}
			w := Join64(res[0].Words)[0]
			if !isMarker(w) {
				continue
			}
			marker = true
			var ops []bus.Op
			if i == 0 {
				ops = append(ops, p.WriteTX(0, Acknowledge))
				found = true
			} else {
				ops = append(ops, p.ClearAtCount(i))
				a.offset = (a.offset + i) % p.Depth
				a.clears++
			}
			if a.watchAC {
				ops = append(ops, p.AutoCentreTotal())
			}
			r := c.exec(ops...)
			if err := checkOK(c.node, "alignment marker action", r); err != nil {
				return err
			}
			if a.watchAC {
				a.acAt, a.acSeen = r[1].Value, r[1].Cycle
			}
			if found && i == 0 {
				a.entered[AcknowledgingAlignment] = r[0].Cycle
			}
		}
		a.scanned(start, marker)
		if found {
			a.phase = AcknowledgingAlignment
			a.seen[AcknowledgingAlignment] = true
		}
	case AcknowledgingAlignment:
		return a.acknowledge(c)
	case WaitingForZeroes:
		return a.waitZeroes(c)
	case Aligned:
	}
	return nil
}

// upstreamAlign is the alignment of upstream's HAL, AlignedReceiveBuffer::align_step in
// firmware-support/bittide-hal/src/manual_additions/ring_buffer.rs:247-307 (main 26adae95),
// which the async-comms demo runs: the same four phases as ringsimAlign, but its scan
// returns as soon as it acknowledged a marker at word 0 (l.267-272).
type upstreamAlign struct{}

// keepsTX implements alignProtocol.keepsTX.
func (upstreamAlign) keepsTX() bool { return false }

// step implements alignProtocol.step.
func (upstreamAlign) step(a *aligner, c *cpu) error {
	p := a.port
	switch a.phase {
	case Unaligned:
		return a.start(c)
	case FindingAlignment:
		a.scans++
		var start uint64
		marker := false
		for i := 0; i < p.Depth; i++ {
			w, cyc, err := a.readRXWord(c, i)
			if err != nil {
				return err
			}
			if i == 0 {
				start = cyc
			}
			if !isMarker(w) {
				continue
			}
			marker = true
			if i == 0 {
				r := c.exec(p.WriteTX(0, Acknowledge))
				if err := checkOK(c.node, "alignment acknowledge", r); err != nil {
					return err
				}
				a.scanned(start, true)
				a.enter(AcknowledgingAlignment, r[0].Cycle)
				return nil
			}
			r := c.exec(p.ClearAtCount(i))
			if err := checkOK(c.node, "alignment clear_at_count", r); err != nil {
				return err
			}
			a.offset = (a.offset + i) % p.Depth
			a.clears++
		}
		a.scanned(start, marker)
	case AcknowledgingAlignment:
		return a.acknowledge(c)
	case WaitingForZeroes:
		return a.waitZeroes(c)
	case Aligned:
	}
	return nil
}

// softUGNAlign is the soft-UGN demo's alignment, align_ring_buffers in
// firmware-binaries/demos/soft-ugn-demo-management-unit/src/ring_buffer_align.c:40-112 (main
// 26adae95): TX and RX were enabled by the caller (softUGNPrepare) and are never toggled;
// Unaligned clears TX and announces (l.51-59); FindingAlignment stops at the first marker
// (l.96): at word 0 it acknowledges, elsewhere it keeps the index as the port's alignment
// offset and writes it to clear_at_count (l.89-95); AcknowledgingAlignment ends the
// protocol (Aligned, upstream's DONE) when RX word 0 is ACK or 0 (l.98-106).
type softUGNAlign struct{}

// keepsTX implements alignProtocol.keepsTX.
func (softUGNAlign) keepsTX() bool { return true }

// step implements alignProtocol.step.
func (softUGNAlign) step(a *aligner, c *cpu) error {
	p := a.port
	switch a.phase {
	case Unaligned:
		res := c.exec(p.ZeroTX(), p.WriteTX(0, Announce))
		if err := checkOK(c.node, "soft-UGN alignment start", res); err != nil {
			return err
		}
		a.enter(FindingAlignment, res[len(res)-1].Cycle)
	case FindingAlignment:
		a.scans++
		var start uint64
		for i := 0; i < p.Depth; i++ {
			w, cyc, err := a.readRXWord(c, i)
			if err != nil {
				return err
			}
			if i == 0 {
				start = cyc
			}
			if !isMarker(w) {
				continue
			}
			a.scanned(start, true)
			if i == 0 {
				r := c.exec(p.WriteTX(0, Acknowledge))
				if err := checkOK(c.node, "soft-UGN acknowledge", r); err != nil {
					return err
				}
				a.enter(AcknowledgingAlignment, r[0].Cycle)
				return nil
			}
			r := c.exec(p.ClearAtCount(i))
			if err := checkOK(c.node, "soft-UGN clear_at_count", r); err != nil {
				return err
			}
			a.offset = i
			a.clears++
			return nil
		}
		a.scanned(start, false)
	case AcknowledgingAlignment:
		w, cyc, err := a.readRX0(c)
		if err != nil {
			return err
		}
		if w == Acknowledge || w == 0 {
			a.enter(Aligned, cyc)
		}
	case Aligned:
	}
	return nil
}
