package refmodel

import (
	"math/rand/v2"

	"github.com/ringsim/ringsim/sim/bus"
)

// RandomOps returns n random bus operations for a node with the given depth and ports,
// biased towards the addresses where the RTL has corner cases: ring buffer data (word 0,
// the last word, both halves), enable registers, clear_at_count (values < depth, values >=
// depth, partial masks, reads), offsets past the registers (8D+4, 8D+12, the window's last
// word), every node register and the unmapped offsets between them, windows past the last
// device, byte masks, blocks that run from data into enable and beyond, idles and polls.
//
// Every op passes bus.Op.Validate, and none is misaligned. Each op keeps the bus for a
// bounded time: a clear_at_count stalls at most depth-1 cycles, Idle lasts at most
// 2*depth cycles, blocks have at most 8 words, polls at most 8 reads 3 idle cycles apart.
// The same rng state gives the same ops.
func RandomOps(rng *rand.Rand, depth, ports, n int) []bus.Op {
	g := &opGen{r: rng, m: bus.Map{Depth: depth, Ports: ports}, d: depth, p: ports}
	g.win = uint32(1) << g.m.WindowLog2()
	ops := make([]bus.Op, n)
	for i := range ops {
		ops[i] = g.op()
	}
	return ops
}

// opGen draws the operations of RandomOps.
type opGen struct {
	r    *rand.Rand
	m    bus.Map
	d, p int
	win  uint32 // window size in bytes
}

func (g *opGen) op() bus.Op {
	switch k := g.r.IntN(100); {
	case k < 18: // TX data write
		return bus.WriteMasked(g.data(g.tx()), g.value(), g.mask())
	case k < 24: // TX enable
		return bus.WriteMasked(g.tx()+g.m.Enable(), g.enableValue(), g.enableMask())
	case k < 30: // RX enable
		return bus.WriteMasked(g.rx()+g.m.Enable(), g.enableValue(), g.enableMask())
	case k < 36: // clear_at_count
		return g.clear()
	case k < 41: // writes that must answer ERR (or a register that ignores them)
		return bus.WriteMasked(g.anyAddr(), g.value(), g.mask())
	case k < 49:
		return bus.Read(g.data(g.tx()))
	case k < 59:
		return bus.Read(g.data(g.rx()))
	case k < 63:
		return bus.Read(g.base() + g.m.Enable())
	case k < 68:
		return bus.Read(g.reg())
	case k < 72:
		return bus.Read(g.anyAddr())
	case k < 80:
		return g.readBlock()
	case k < 86:
		return g.writeBlock()
	case k < 94:
		return bus.Idle(g.idle())
	default:
		return g.poll()
	}
}

func (g *opGen) tx() uint32 { return g.m.TX(g.r.IntN(g.p)) }
func (g *opGen) rx() uint32 { return g.m.RX(g.r.IntN(g.p)) }
func (g *opGen) base() uint32 {
	if g.r.IntN(2) == 0 {
		return g.tx()
	}
	return g.rx()
}

// word returns a word index, often the first or the last.
func (g *opGen) word() int {
	switch g.r.IntN(4) {
	case 0:
		return 0
	case 1:
		return g.d - 1
	}
	return g.r.IntN(g.d)
}

// data returns the address of a random half of a data word of the buffer at base.
func (g *opGen) data(base uint32) uint32 {
	return base + g.m.Data(g.word()) + 4*uint32(g.r.IntN(2))
}

func (g *opGen) value() uint32 {
	switch g.r.IntN(8) {
	case 0:
		return 0
	case 1:
		return ^uint32(0)
	case 2:
		return uint32(g.r.IntN(2 * g.d))
	}
	return g.r.Uint32()
}

func (g *opGen) mask() uint8 {
	if g.r.IntN(2) == 0 {
		return 0xF
	}
	return uint8(g.r.IntN(16))
}

// enableValue is mostly 1, so that data flows; the upper bits are noise the RTL ignores.
func (g *opGen) enableValue() uint32 {
	v := g.r.Uint32() &^ 1
	if g.r.IntN(4) != 0 {
		v |= 1
	}
	if g.r.IntN(2) == 0 {
		v &= 1
	}
	return v
}

// enableMask mostly has bit 0 (the only one the RTL looks at).
func (g *opGen) enableMask() uint8 {
	if g.r.IntN(5) == 0 {
		return uint8(g.r.IntN(16))
	}
	return 0xF
}

func (g *opGen) clear() bus.Op {
	a := g.rx() + g.m.ClearAtCount()
	switch k := g.r.IntN(20); {
	case k < 15: // well-formed: stalls up to depth-1 cycles
		v := uint32(g.word())
		return bus.Write(a, v)
	case k < 17: // out of range
		return bus.Write(a, uint32(g.d)+uint32(g.r.IntN(3))*uint32(g.r.IntN(1<<20)))
	case k < 19: // partial
		return bus.WriteMasked(a, uint32(g.r.IntN(g.d)), uint8(g.r.IntN(15)))
	default: // read of a write-only register
		return bus.Read(a)
	}
}

// reg returns a node block offset: a register, a hole (0x24), the first offset past the
// registers or the window's last word.
func (g *opGen) reg() uint32 {
	switch g.r.IntN(8) {
	case 0:
		return 0x24
	case 1:
		return 0x30
	case 2:
		return g.win - 4
	}
	return 4 * uint32(g.r.IntN(12))
}

// odd returns an offset inside a ring buffer window past its registers, or TX's
// clear_at_count offset (which TX does not have).
func (g *opGen) odd() uint32 {
	e := g.m.Enable()
	switch g.r.IntN(5) {
	case 0:
		return e + 4
	case 1:
		return e + 8
	case 2:
		return e + 12
	case 3:
		return g.win - 4
	}
	room := int(g.win-e-16) / 4
	if room == 0 {
		return e + 4
	}
	return e + 16 + 4*uint32(g.r.IntN(room))
}

// unmapped returns an address in a window past the last device.
func (g *opGen) unmapped() uint32 {
	first := uint64(1+2*g.p) * uint64(g.win)
	switch g.r.IntN(3) {
	case 0:
		return uint32(first)
	case 1:
		return 0xFFFFFFFC
	}
	return uint32(first + 4*g.r.Uint64N((1<<32-first)/4))
}

// anyAddr is any address class: data, registers, holes and unmapped windows.
func (g *opGen) anyAddr() uint32 {
	switch g.r.IntN(8) {
	case 0:
		return g.data(g.rx())
	case 1:
		return g.reg()
	case 2:
		return g.base() + g.odd()
	case 3:
		return g.unmapped()
	case 4:
		return g.rx() + g.m.ClearAtCount()
	case 5:
		return g.base() + g.m.Enable()
	case 6:
		return g.data(g.tx())
	}
	return g.base() + g.odd()
}

// blockBase returns a block start: inside data, just before enable (so that the block runs
// into enable and the ERR past it), or an odd address.
func (g *opGen) blockBase(base uint32) uint32 {
	switch g.r.IntN(6) {
	case 0:
		return base + g.m.Enable() - 4*uint32(1+g.r.IntN(3))
	case 1:
		if g.r.IntN(2) == 0 {
			return g.reg()
		}
		return g.unmapped() &^ 0x3F
	}
	return g.data(base)
}

func (g *opGen) readBlock() bus.Op {
	a := g.blockBase(g.base())
	return bus.ReadBlock(a, g.blockLen(a))
}

func (g *opGen) writeBlock() bus.Op {
	base := g.tx()
	if g.r.IntN(8) == 0 {
		base = g.rx() // ERR on the first data word
	}
	a := g.blockBase(base)
	words := make([]uint32, g.blockLen(a))
	for i := range words {
		words[i] = g.value()
	}
	return bus.WriteBlock(a, words)
}

// blockLen returns 1..8 words that do not run past the end of the address space.
func (g *opGen) blockLen(a uint32) int {
	n := 1 + g.r.IntN(8)
	if room := int((uint64(0xFFFFFFFF)-uint64(a))/4) + 1; n > room {
		n = room
	}
	return n
}

func (g *opGen) idle() uint32 {
	if g.r.IntN(4) == 0 {
		return 1 + uint32(g.r.IntN(2*g.d))
	}
	return 1 + uint32(g.r.IntN(4))
}

func (g *opGen) poll() bus.Op {
	cond := bus.UntilEqual
	if g.r.IntN(2) == 0 {
		cond = bus.UntilNotEqual
	}
	reads := 1 + uint32(g.r.IntN(8))
	interval := uint32(g.r.IntN(4))
	switch g.r.IntN(6) {
	case 0, 1:
		return bus.Poll(g.base()+g.m.Enable(), cond, 1, uint32(g.r.IntN(2)), interval, reads)
	case 2:
		return bus.Poll(g.data(g.rx()), cond, g.r.Uint32(), 0, interval, reads)
	case 3:
		return bus.Poll(bus.RegCycleLo, cond, 7, uint32(g.r.IntN(8)), interval, reads)
	case 4:
		return bus.Poll(g.data(g.tx()), cond, ^uint32(0), g.value(), interval, reads)
	}
	return bus.Poll(g.anyAddr(), cond, g.r.Uint32(), g.r.Uint32(), interval, reads)
}
