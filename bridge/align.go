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

// The alignment phases of SPEC section 3, in order.
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

// aligner runs SPEC section 3's state machine on one port. Each step is one pass of the
// node's alignment loop over this port: the node steps all its ports in turn.
type aligner struct {
	port  Port
	cost  Cost
	phase Phase
	// offset is the total clear_at_count shift applied (mod D): the measured offset n.
	offset int
	clears int // clear_at_count writes
	scans  int // FindingAlignment passes over the RX buffer
	// Cycles at which the phases were entered (index Phase), and the aligned cycle.
	entered [Aligned + 1]uint64
}

func newAligner(p Port, cost Cost) *aligner { return &aligner{port: p, cost: cost} }

// result is the link's alignment as data.
func (a *aligner) result() LinkAlignment {
	return LinkAlignment{Port: a.port.Index, Offset: a.offset, Clears: a.clears, Scans: a.scans, Entered: a.entered}
}

// step runs one action of the current phase through the node's CPU.
func (a *aligner) step(c *cpu) error {
	p := a.port
	switch a.phase {
	case Unaligned:
		res := c.exec(p.ZeroTX(), p.SetTXEnable(true), p.SetRXEnable(true), p.WriteTX(0, Announce))
		if err := checkOK(c.node, "alignment start", res); err != nil {
			return err
		}
		a.enter(FindingAlignment, res[len(res)-1].Cycle)
	case FindingAlignment:
		// Read every RX word, without stopping at a marker (upstream's scan).
		a.scans++
		found := false
		for i := 0; i < p.Depth; i++ {
			res := c.exec(idle([]bus.Op{p.ReadRX(i, 1)}, a.cost.Poll)...)
			if res[0].Err {
				return busError(c.node, fmt.Sprintf("scan of RX word %d", i), res[0])
			}
			w := Join64(res[0].Words)[0]
			if !isMarker(w) {
				continue
			}
			var r []bus.Result
			if i == 0 {
				r = c.exec(p.WriteTX(0, Acknowledge))
				found = true
			} else {
				r = c.exec(p.ClearAtCount(i))
				a.offset = (a.offset + i) % p.Depth
				a.clears++
			}
			if err := checkOK(c.node, "alignment marker action", r); err != nil {
				return err
			}
			if found && i == 0 {
				a.entered[AcknowledgingAlignment] = r[0].Cycle
			}
		}
		if found {
			a.phase = AcknowledgingAlignment
		}
	case AcknowledgingAlignment:
		w, cyc, err := a.readRX0(c)
		if err != nil {
			return err
		}
		if w == Acknowledge || w == 0 {
			res := c.exec(p.SetTXEnable(false))
			if err := checkOK(c.node, "alignment tx disable", res); err != nil {
				return err
			}
			a.enter(WaitingForZeroes, max(cyc, res[0].Cycle))
		}
	case WaitingForZeroes:
		w, _, err := a.readRX0(c)
		if err != nil {
			return err
		}
		if w == 0 {
			res := c.exec(p.SetRXEnable(false))
			if err := checkOK(c.node, "alignment rx disable", res); err != nil {
				return err
			}
			a.enter(Aligned, res[0].Cycle)
		}
	case Aligned:
	}
	return nil
}

func (a *aligner) enter(ph Phase, cycle uint64) {
	a.phase = ph
	a.entered[ph] = cycle
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
	return Join64(r.Words)[0], r.Cycle, nil
}
