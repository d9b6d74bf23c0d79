package bridge

import (
	"github.com/ringsim/ringsim/sim/bus"
)

// Port is the ring buffer driver of one link port, the HAL of upstream's ring_buffer.rs as
// bus operations: it builds the operations, a node's CPU executes them with their real
// cycle cost. Words are 64 bits, little endian, as the CPU sees them.
type Port struct {
	Index int
	Depth int
	tx    uint32 // TX ring buffer base address
	rx    uint32 // RX ring buffer base address
	m     bus.Map
}

// NewPort returns the driver of port p for a node whose map is m.
func NewPort(m bus.Map, p int) Port {
	return Port{Index: p, Depth: m.Depth, tx: m.TX(p), rx: m.RX(p), m: m}
}

// TXAddr is the bus address of TX word i (its low half).
func (p Port) TXAddr(i int) uint32 { return p.tx + uint32(8*i) }

// RXAddr is the bus address of RX word i (its low half).
func (p Port) RXAddr(i int) uint32 { return p.rx + uint32(8*i) }

func b2u(on bool) uint32 {
	if on {
		return 1
	}
	return 0
}

// SetTXEnable enables or disables the TX ring buffer.
func (p Port) SetTXEnable(on bool) bus.Op { return bus.Write(p.tx+p.m.Enable(), b2u(on)) }

// SetRXEnable enables or disables the RX ring buffer.
func (p Port) SetRXEnable(on bool) bus.Op { return bus.Write(p.rx+p.m.Enable(), b2u(on)) }

// RXEnable reads the RX enable register.
func (p Port) RXEnable() bus.Op { return bus.Read(p.rx + p.m.Enable()) }

// ReadTX reads n 32-bit words of TX starting at byte offset off (a multiple of 4).
func (p Port) ReadTX(off, n int) bus.Op { return bus.ReadBlock(p.tx+uint32(off), n) }

// ReadRXBytes reads n 32-bit words of RX starting at byte offset off (a multiple of 4).
func (p Port) ReadRXBytes(off, n int) bus.Op { return bus.ReadBlock(p.rx+uint32(off), n) }

// ClearAtCount writes v to the RX clear_at_count register; it stalls the CPU until the RX
// write counter equals v.
func (p Port) ClearAtCount(v int) bus.Op { return bus.Write(p.rx+p.m.ClearAtCount(), uint32(v)) }

// WriteTX writes 64-bit words to TX starting at word i.
func (p Port) WriteTX(i int, words ...uint64) bus.Op {
	return bus.WriteBlock(p.TXAddr(i), split64(words))
}

// ReadRX reads n 64-bit words of RX starting at word i; Join64 turns the result back.
func (p Port) ReadRX(i, n int) bus.Op { return bus.ReadBlock(p.RXAddr(i), 2*n) }

// ZeroTX writes zero to every TX word.
func (p Port) ZeroTX() bus.Op { return bus.WriteBlock(p.TXAddr(0), make([]uint32, 2*p.Depth)) }

// PollRXLow spins on the low half of RX word 0 until cond(value, v) holds, at most
// maxReads reads, interval idle cycles between reads.
func (p Port) PollRXLow(cond bus.Cond, v uint32, interval, maxReads uint32) bus.Op {
	return bus.Poll(p.RXAddr(0), cond, 0xFFFF_FFFF, v, interval, maxReads)
}

func split64(ws []uint64) []uint32 {
	out := make([]uint32, 2*len(ws))
	for i, w := range ws {
		out[2*i], out[2*i+1] = uint32(w), uint32(w>>32)
	}
	return out
}

// Join64 turns the 32-bit words of a block read into 64-bit words.
func Join64(ws []uint32) []uint64 {
	out := make([]uint64, len(ws)/2)
	for i := range out {
		out[i] = uint64(ws[2*i]) | uint64(ws[2*i+1])<<32
	}
	return out
}

// The link window (real link only: elastic buffer and UGN capture registers,
// docs/reallink.md). On the ideal link the window is unmapped and these answer ERR.

// LinkAddr is the bus address of the port's link register at offset reg (bus.Link*).
func (p Port) LinkAddr(reg uint32) uint32 { return p.m.Link(p.Index) + reg }

// The bits of the link's status register (bus.LinkStatus).
const (
	linkUp       = 1 // the link is up
	linkCaptured = 2 // UGN capture holds this link-up's first frame
)

// LinkStatus reads the link's status: bit 0 link up, bit 1 UGN captured.
func (p Port) LinkStatus() bus.Op { return bus.Read(p.LinkAddr(bus.LinkStatus)) }

// PollLinkStatus polls the link's status until every bit of mask is set, at most maxReads
// reads.
func (p Port) PollLinkStatus(mask, interval, maxReads uint32) bus.Op {
	return bus.Poll(p.LinkAddr(bus.LinkStatus), bus.UntilEqual, mask, mask, interval, maxReads)
}

// SetAutoCentre turns the elastic buffer's auto-centre on or off.
func (p Port) SetAutoCentre(on bool) bus.Op { return bus.Write(p.LinkAddr(bus.LinkACEnable), b2u(on)) }

// AutoCentreTotal reads the auto-centre's signed sum of adjustments.
func (p Port) AutoCentreTotal() bus.Op { return bus.Read(p.LinkAddr(bus.LinkACTotalAdjustments)) }

// EBFlags reads the elastic buffer's sticky underflow and overflow flags (two reads).
func (p Port) EBFlags() []bus.Op {
	return []bus.Op{bus.Read(p.LinkAddr(bus.LinkEBUnderflow)), bus.Read(p.LinkAddr(bus.LinkEBOverflow))}
}

// ClearEBFlags clears the sticky flags.
func (p Port) ClearEBFlags() bus.Op { return bus.Write(p.LinkAddr(bus.LinkEBClearStatus), 1) }
