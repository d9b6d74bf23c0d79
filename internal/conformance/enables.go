package conformance

import "github.com/ringsim/ringsim/sim/bus"

// enables checks the state a ring buffer comes out of reset in and its enable registers as
// SPEC section 2 has them. Right after reset no read is pending: a data read presented in
// the first cycle is answered one cycle later, like any other (TX data is undefined after
// reset, so only its answer counts; RX data is 0 on the ideal link). The enables are one
// bit, read/write, reset 0, answered in the cycle presented: each reads back 0 after reset
// and 1 while set (bus-timing reads them only while 0), only bit 0 is kept (the other bits
// of a write are ignored and read back as 0), byte lane 0 carries it (a masked write
// without lane 0 leaves it), and the two registers are independent.
func enables(b *bench) error {
	x := newExpect(b)
	m := b.m
	x.okAnyValue(bus.Read(m.TX(b.port)))
	x.ok(bus.Read(m.RX(b.port)+4), 0)
	txEn, rxEn := m.TX(b.port)+m.Enable(), m.RX(b.port)+m.Enable()
	for _, en := range []struct{ self, other uint32 }{{txEn, rxEn}, {rxEn, txEn}} {
		x.ok(bus.Read(en.self), 0) // reset value
		x.ok(bus.Write(en.self, 1), 0)
		x.ok(bus.Read(en.self), 1) // reads back 1 while set
		x.ok(bus.Read(en.other), 0)
		x.ok(bus.WriteMasked(en.self, 0, 0xE), 0) // lane 0 not written: still 1
		x.ok(bus.Read(en.self), 1)
		x.ok(bus.Write(en.self, 0xFFFF_FFFE), 0) // bit 0 clear, the rest ignored
		x.ok(bus.Read(en.self), 0)
		x.ok(bus.Write(en.self, 0xFFFF_FFFF), 0) // bit 0 set: reads back exactly 1
		x.ok(bus.Read(en.self), 1)
		x.ok(bus.Read(en.other), 0)
		x.ok(bus.WriteMasked(en.self, 0x0000_00FE, 0x1), 0) // lane 0 written: bit 0 clear
		x.ok(bus.Read(en.self), 0)
	}
	// Both set at once, then both cleared: each reads back its own value.
	x.ok(bus.Write(txEn, 1), 0)
	x.ok(bus.Write(rxEn, 1), 0)
	x.ok(bus.Read(txEn), 1)
	x.ok(bus.Read(rxEn), 1)
	x.ok(bus.Write(txEn, 0), 0)
	x.ok(bus.Read(rxEn), 1)
	x.ok(bus.Read(txEn), 0)
	x.ok(bus.Write(rxEn, 0), 0)
	x.ok(bus.Read(rxEn), 0)
	_, err := x.check(b)
	return err
}
