package conformance

import (
	"fmt"

	"github.com/ringsim/ringsim/sim/bus"
)

// collisions checks the two same-cycle collisions of a ring buffer's dual-port RAM. SPEC
// section 2 leaves a collision to the RAM and asks the model to document one behaviour;
// ringsim documents read-first for both RAMs (rtl/, the reference model, docs/check.md):
//
//   - RX: a CPU read presented in the cycle the write counter writes the word it reads
//     returns the word from before that write, whether RX is enabled or not;
//   - TX: a CPU write in the cycle hardware reads the word it writes leaves the old word on
//     the link; the new word goes out one rotation later.
//
// Every read and frame is predicted from the SPEC; the words written and driven name their
// cycle in each 32-bit half, so a read that returns the frame written in the same cycle,
// or a frame from the wrong word, says which.
func collisions(b *bench) error {
	if err := rxCollisions(b); err != nil {
		return err
	}
	return txCollisions(b)
}

// Each half of a frame driven into RX names its cycle: 0x5Acccccc low, 0xA5cccccc high.
const (
	loMark = 0x5A00_0000
	hiMark = 0xA500_0000
)

func collisionFrame(t uint64) uint64 {
	c := uint64(t & 0xFF_FFFF)
	return uint64(loMark) | c | (uint64(hiMark)|c)<<32
}

// describeHalf says what a 32-bit half read back is, given the cycle it was read in.
func describeHalf(v uint32, near uint64) string {
	c := uint64(v & 0xFF_FFFF)
	c |= near &^ 0xFF_FFFF
	if c > near {
		c -= 1 << 24
	}
	switch v &^ 0xFF_FFFF {
	case loMark:
		return fmt.Sprintf("%#08x (the low half of the frame of cycle %d)", v, c)
	case hiMark:
		return fmt.Sprintf("%#08x (the high half of the frame of cycle %d)", v, c)
	case 0:
		if v == 0 {
			return "0x00000000 (not written since reset)"
		}
	}
	return fmt.Sprintf("%#08x", v)
}

// plannedRead is a read of one half of RX word w, presented in cycle c.
type plannedRead struct {
	op   int
	c    uint64
	w    int
	half int
	// rel is where the write counter is relative to w in cycle c: 0 it writes w in c
	// (the collision), -1 it writes w in c+1, +1 it wrote w in c-1.
	rel int
}

// rxCollisions reads RX words while the write counter writes them, one cycle before and
// one after, with RX disabled (nothing is written: the reads return the old words) and
// enabled.
func rxCollisions(b *bench) error {
	d, rel := b.d, b.rel[0]
	frame, err := b.drive(b.port, rel, collisionFrame)
	if err != nil {
		return err
	}
	m := newRXModel(b, frame)
	rx := b.m.RX(b.port)
	en := rx + b.m.Enable()
	x := newExpect(b)
	var reads []plannedRead
	read := func(w, half, off int) {
		c := m.cnt.next(x.next, ((w+off)%d+d)%d)
		if c > x.next {
			x.add(bus.Idle(uint32(c-x.next)), c-x.next, false, 0)
		}
		reads = append(reads, plannedRead{op: len(x.ops), c: c, w: w, half: half, rel: off})
		x.ok(bus.Read(rx+8*uint32(w)+4*uint32(half)), 0) // the value is filled in below
	}
	words := []int{0, 1, d / 2, d - 1}
	// Disabled since reset: collisions return the zeroes RX holds.
	for _, w := range words {
		read(w, 0, 0)
		read(w, 1, 0)
	}
	// Enabled for more than a rotation, so that every word holds a frame.
	m.setEnable(x.next, true)
	x.ok(bus.Write(en, 1), 0)
	x.add(bus.Idle(uint32(d+2)), uint64(d+2), false, 0)
	for _, w := range words {
		for half := 0; half < 2; half++ {
			for _, off := range []int{-1, 0, 1} {
				read(w, half, off)
			}
		}
	}
	// Disabled again: a collision returns the word as the last enabled rotation left it.
	m.setEnable(x.next, false)
	x.ok(bus.Write(en, 0), 0)
	for _, w := range words {
		read(w, 0, 0)
		read(w, 1, 1)
	}
	// The SPEC's values: the word as it was before the edge that ends cycle c.
	for _, r := range reads {
		m.replay(r.c)
		x.want[r.op].Value = uint32(m.mem[r.w] >> (32 * r.half))
	}
	got, err := b.exec(0, x.ops...)
	if err != nil {
		return err
	}
	div, i := compareAnswers(b.m, 0, x.start, x.ops, x.want, got)
	if div == nil {
		return nil
	}
	for _, r := range reads {
		if r.op != i || div.Cycle != x.want[i].Cycle {
			continue
		}
		when := map[int]string{-1: "the cycle before the write counter writes that word",
			0: "the cycle the write counter writes that word", 1: "the cycle after the write counter wrote that word"}[r.rel]
		div.What += fmt.Sprintf(", presented in cycle %d, %s", r.c, when)
		if r.rel == 0 {
			div.What += " (read-first: the word from before that write)"
		}
		div.Got, div.Want = describeHalf(got[i].Value, r.c), describeHalf(x.want[i].Value, r.c)
	}
	return specErr(div)
}

// txCollisions writes TX words in the cycle hardware reads them and checks every frame of
// the link against frame(t+1) = enable(t) ? mem[count(t)] : 0 with the RAM read-first.
func txCollisions(b *bench) error {
	d := b.d
	tx := b.m.TX(b.port)
	_, words := pattern(d, func(i int) uint64 { return 0x0C0C_0000_0000_0000 | uint64(i)<<32 | uint64(i) })
	x := newExpect(b)
	x.block(bus.WriteBlock(tx, words), nil)
	x.ok(bus.Write(tx+b.m.Enable(), 1), 0)
	if _, err := x.check(b); err != nil {
		return err
	}
	enabledFrom := x.want[len(x.want)-1].Cycle + 1 // enable(t) from this cycle on
	r0 := b.e.Cycle()
	cnt := counter{d: d, base: b.rel[0]}
	// Collisions at the first, middle and last word, each half, then a rotation more so
	// that the new words go out too.
	type write struct {
		c    uint64
		addr uint32
		v    uint32
	}
	x = newExpect(b)
	var writes []write
	for k, w := range []int{0, d / 2, d - 1} {
		for half := 0; half < 2; half++ {
			c := cnt.next(x.next, w)
			if c > x.next {
				x.add(bus.Idle(uint32(c-x.next)), c-x.next, false, 0)
			}
			addr := tx + 8*uint32(w) + 4*uint32(half)
			v := uint32(0xC011_0000) | uint32(k)<<8 | uint32(half)
			writes = append(writes, write{c: c, addr: addr, v: v})
			x.ok(bus.Write(addr, v), 0)
		}
	}
	n := int(x.next-r0) + 2*d + 2
	x.add(bus.Idle(uint32(2*d+2)), uint64(2*d+2), false, 0)
	if err := b.e.Record(0, b.port, n); err != nil {
		return err
	}
	if _, err := x.check(b); err != nil {
		return err
	}
	got, err := b.e.Recorded(0, b.port, n)
	if err != nil {
		return err
	}
	// mem before the edge that ends cycle t: the pattern and the writes of earlier cycles.
	memAt := func(t uint64, i int) uint64 {
		lo, hi := words[2*i], words[2*i+1]
		for _, w := range writes {
			if w.c < t && w.addr == tx+8*uint32(i) {
				lo = w.v
			}
			if w.c < t && w.addr == tx+8*uint32(i)+4 {
				hi = w.v
			}
		}
		return uint64(lo) | uint64(hi)<<32
	}
	for k, f := range got {
		t := r0 + uint64(k) // frame(t) was read from memory in cycle t-1
		want := uint64(0)
		if t-1 >= enabledFrom {
			want = memAt(t-1, cnt.at(t-1))
		}
		if f != want {
			what := fmt.Sprintf("node 0 port %d TX frame sent in cycle %d (TX data word %d, read from memory in cycle %d)",
				b.port, t, cnt.at(t-1), t-1)
			for _, w := range writes {
				if w.c == t-1 && w.addr&^7 == tx+8*uint32(cnt.at(t-1)) {
					what += ", the cycle the CPU wrote that word (read-first: the old word goes out)"
				}
			}
			return specErr(&Divergence{Cycle: t, What: what, Want: fmt.Sprintf("%#016x", want), Got: fmt.Sprintf("%#016x", f)})
		}
	}
	// Leave TX disabled, as the other tests expect.
	x = newExpect(b)
	x.ok(bus.Write(tx+b.m.Enable(), 0), 0)
	_, err = x.check(b)
	return err
}
