package conformance

import (
	"fmt"

	"github.com/ringsim/ringsim/sim/bus"
)

// portsTest checks, on a node with several ports, that every port has its own windows,
// registers, buffers, counters and link, where the other tests only exercise the last
// port: PORTS reads the port count; each port's TX buffer keeps its own words; illegal
// accesses answer ERR on every port; setting one enable sets no other; clear_at_count on
// one port shifts that port's write counter only; each RX buffer writes its own link's
// frames and each TX buffer sends its own words on its own link.
func portsTest(b *bench) error {
	m, d, np := b.m, b.d, b.m.Ports
	x := newExpect(b)
	x.ok(bus.Read(bus.RegPorts), uint32(np))
	// Each port's TX buffer gets its own pattern, then each is read back.
	pats := make([][]uint64, np)
	for p := 0; p < np; p++ {
		var words []uint32
		pats[p], words = pattern(d, func(i int) uint64 { return portWord(p, i) })
		x.block(bus.WriteBlock(m.TX(p), words), nil)
	}
	for p := 0; p < np; p++ {
		for _, i := range []int{0, d - 1} {
			w := pats[p][i]
			x.block(bus.ReadBlock(m.TX(p)+8*uint32(i), 2), []uint32{uint32(w), uint32(w >> 32)})
		}
	}
	// Illegal accesses answer ERR on every port; so does the window past the last device.
	for p := 0; p < np; p++ {
		x.add(bus.Write(m.RX(p), 1), 1, true, 0)
		x.add(bus.Read(m.RX(p)+m.ClearAtCount()), 1, true, 0)
		x.add(bus.Write(m.TX(p)+m.ClearAtCount(), 0), 1, true, 0)
	}
	x.add(bus.Read(uint32(m.Windows())<<m.WindowLog2()), 1, true, 0)
	// One enable at a time: every other reads 0.
	for p := 0; p < np; p++ {
		for _, dev := range []uint32{m.TX(p), m.RX(p)} {
			x.ok(bus.Write(dev+m.Enable(), 1), 0)
			for q := 0; q < np; q++ {
				for _, other := range []uint32{m.TX(q), m.RX(q)} {
					x.ok(bus.Read(other+m.Enable()), b2u(other == dev))
				}
			}
			x.ok(bus.Write(dev+m.Enable(), 0), 0)
		}
	}
	// clear_at_count(v) on the last port shifts its counter alone: clear_at_count(0) then
	// completes on port 0 when the unshifted counter reads 0, on the last port when the
	// shifted one does.
	base := make([]uint64, np) // count_p(t) = (t - base[p]) mod D
	for p := range base {
		base[p] = b.rel[0]
	}
	last := np - 1
	clear := func(p, v int) {
		c := counter{d: d, base: base[p]}.next(x.next, v)
		x.add(bus.Write(m.RX(p)+m.ClearAtCount(), uint32(v)), c-x.next+1, false, 0)
		base[p] = c // the counter reads 1 in the next cycle
	}
	clear(last, d/2)
	clear(0, 0)
	clear(last, 0)
	clear(0, d-1)
	if _, err := x.check(b); err != nil {
		return err
	}
	if err := portsRX(b, base); err != nil {
		return err
	}
	return portsTX(b, pats)
}

// portWord is word i of port p's TX pattern: the low half is p<<24 | i, the high half
// 0x7070pppi with the low bits of p and i, so that halves, words and ports all differ.
func portWord(p, i int) uint64 {
	hi := 0x7070_0000 | uint32(p&0xF)<<12 | uint32(i&0xFFF)
	return uint64(hi)<<32 | uint64(uint32(p)<<24|uint32(i))
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// portFrame is the frame driven into port p's RX input in cycle t: the port and the cycle.
func portFrame(p int) func(uint64) uint64 {
	return func(t uint64) uint64 { return (0x7B00|uint64(p))<<48 | t&(1<<48-1) }
}

// portsRX drives every port's RX input with frames that name the port and the cycle,
// enables every RX for a rotation and checks each buffer word by word against its own
// counter (base, after the clears portsTest made).
func portsRX(b *bench, base []uint64) error {
	m, d, np := b.m, b.d, b.m.Ports
	start := b.e.Cycle()
	for p := 0; p < np; p++ {
		if _, err := b.drive(p, start, portFrame(p)); err != nil {
			return err
		}
	}
	x := newExpect(b)
	on := make([]uint64, np) // enable write cycles: frames of the next cycle on are written
	for p := 0; p < np; p++ {
		on[p] = x.next
		x.ok(bus.Write(m.RX(p)+m.Enable(), 1), 0)
	}
	x.add(bus.Idle(uint32(d)), uint64(d), false, 0)
	off := make([]uint64, np)
	for p := 0; p < np; p++ {
		off[p] = x.next
		x.ok(bus.Write(m.RX(p)+m.Enable(), 0), 0)
	}
	for p := 0; p < np; p++ {
		// Word a of port p holds the frame of the last enabled cycle whose counter was a.
		want := make([]uint32, 2*d)
		for t := on[p] + 1; t <= off[p]; t++ {
			a := counter{d: d, base: base[p]}.at(t)
			f := portFrame(p)(t)
			want[2*a], want[2*a+1] = uint32(f), uint32(f>>32)
		}
		x.block(bus.ReadBlock(m.RX(p), 2*d), want)
	}
	got, err := b.exec(0, x.ops...)
	if err != nil {
		return err
	}
	div, i := compareAnswers(m, 0, x.start, x.ops, x.want, got)
	if div == nil {
		return nil
	}
	// Name the frame a wrong word holds: which port's link it came from, and its cycle.
	if x.ops[i].Kind == bus.KindReadBlock && len(got[i].Words) == 2*d {
		for k := 0; k < d; k++ {
			g := word64(got[i].Words, k)
			w := word64(x.want[i].Words, k)
			if g == w {
				continue
			}
			p := int(x.ops[i].Addr>>m.WindowLog2()-2) / 2
			div.What = fmt.Sprintf("node 0 port %d RX data word %d", p, k)
			div.Got, div.Want = describePortFrame(g), describePortFrame(w)
			if q, t, ok := untagPort(g); ok && (q != p || t < on[p]+1 || t > off[p]) {
				div.Cycle = min(div.Cycle, t) // a frame written where it does not belong
			}
			if _, t, ok := untagPort(w); ok {
				div.Cycle = min(div.Cycle, t) // a frame missing from where it belongs
			}
			break
		}
	}
	return specErr(div)
}

func untagPort(w uint64) (int, uint64, bool) {
	if w>>56 != 0x7B {
		return 0, 0, false
	}
	return int(w >> 48 & 0xFF), w & (1<<48 - 1), true
}

func describePortFrame(w uint64) string {
	if p, t, ok := untagPort(w); ok {
		return fmt.Sprintf("the frame driven into port %d in cycle %d", p, t)
	}
	return fmt.Sprintf("%#016x", w)
}

// portsTX enables every TX buffer and checks that each link carries its own port's words:
// frame(t+1) = enable(t) ? mem[count(t)] : 0, port by port.
func portsTX(b *bench, pats [][]uint64) error {
	m, d, np := b.m, b.d, b.m.Ports
	x := newExpect(b)
	r0 := x.next
	n := np + 2*d + 2
	for p := 0; p < np; p++ {
		if err := b.e.Record(0, p, n); err != nil {
			return err
		}
	}
	on := make([]uint64, np)
	for p := 0; p < np; p++ {
		on[p] = x.next
		x.ok(bus.Write(m.TX(p)+m.Enable(), 1), 0)
	}
	x.add(bus.Idle(uint32(2*d+2)), uint64(2*d+2), false, 0)
	for p := 0; p < np; p++ {
		x.ok(bus.Write(m.TX(p)+m.Enable(), 0), 0)
	}
	if _, err := x.check(b); err != nil {
		return err
	}
	cnt := counter{d: d, base: b.rel[0]}
	for p := 0; p < np; p++ {
		got, err := b.e.Recorded(0, p, n)
		if err != nil {
			return err
		}
		for k, f := range got {
			t := r0 + uint64(k)
			want := uint64(0)
			if t-1 > on[p] {
				want = pats[p][cnt.at(t-1)]
			}
			if f != want {
				return specErr(&Divergence{Cycle: t, What: fmt.Sprintf("node 0 port %d TX frame sent in cycle %d", p, t),
					Want: describeTX(want), Got: describeTX(f)})
			}
		}
	}
	return nil
}

// describeTX names a frame of a port's TX pattern: "port 1 TX data word 5".
func describeTX(w uint64) string {
	if w>>48 == 0x7070 {
		lo := uint32(w)
		return fmt.Sprintf("%#016x (port %d TX data word %d)", w, lo>>24, lo&0xFF_FFFF)
	}
	return fmt.Sprintf("%#016x", w)
}
