package sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/sim/bus"
)

// TestRingBufferScenario is upstream's ring buffer test (SPEC section 6), through the bus of
// the Verilated RTL: node 0's TX port feeds node 1's RX port.
func TestRingBufferScenario(t *testing.T) {
	for _, depth := range []int{16, 4000} {
		t.Run(fmt.Sprintf("D%d", depth), func(t *testing.T) {
			testRingBufferScenario(t, depth)
		})
	}
}

func testRingBufferScenario(t *testing.T, depth int) {
	const latency = 16
	e := newEngine(t, hw.Config{Topology: hw.Pair(latency), Depth: depth, Seed: 7})
	m := bus.Map{Depth: depth, Ports: 1}
	rng := rand.New(rand.NewPCG(uint64(depth), 1))
	pattern := func() []uint64 {
		p := make([]uint64, depth)
		for i := range p {
			p[i] = rng.Uint64() | 1 // distinct from zero
		}
		return p
	}
	settle := func() { // a full rotation plus the link and register delays
		if err := e.Step(uint64(depth + latency + 4)); err != nil {
			t.Fatal(err)
		}
	}
	matchRotation := func(step string, tx []uint64) int {
		t.Helper()
		rx := readRX(t, e, 1, 0)
		r := rotation(tx, rx)
		if r < 0 {
			t.Fatalf("%s: RX is not a rotation of TX\nTX[:4]=%x\nRX[:4]=%x", step, tx[:4], rx[:4])
		}
		return r
	}

	// 1. Write a pattern, wait D cycles: RX equals TX up to a rotation.
	p1 := pattern()
	writeTX(t, e, 0, 0, p1)
	setEnable(t, e, 0, m.TX(0), true)
	setEnable(t, e, 1, m.RX(0), true)
	settle()
	r1 := matchRotation("step 1", p1)

	// 2. Disable RX, write a new pattern: RX stays frozen.
	setEnable(t, e, 1, m.RX(0), false)
	p2 := pattern()
	writeTX(t, e, 0, 0, p2)
	settle()
	if r := matchRotation("step 2 (frozen)", p1); r != r1 {
		t.Errorf("step 2: frozen RX rotation %d, want %d", r, r1)
	}

	// 3. Re-enable RX: the new pattern, rotated the same way (the counters never stopped).
	setEnable(t, e, 1, m.RX(0), true)
	settle()
	if r := matchRotation("step 3", p2); r != r1 {
		t.Errorf("step 3: rotation %d, want %d", r, r1)
	}

	// 4. Disable TX: RX becomes all zero.
	setEnable(t, e, 0, m.TX(0), false)
	settle()
	for i, w := range readRX(t, e, 1, 0) {
		if w != 0 {
			t.Fatalf("step 4: RX[%d] = %#x with TX disabled, want 0", i, w)
		}
	}

	// 5. Re-enable TX: the rotation match is back.
	setEnable(t, e, 0, m.TX(0), true)
	settle()
	if r := matchRotation("step 5", p2); r != r1 {
		t.Errorf("step 5: rotation %d, want %d", r, r1)
	}

	// 6. Align: find where TX[0] lands and clear_at_count there; then TX[i] is at RX[i].
	rx := readRX(t, e, 1, 0)
	n := -1
	for i, w := range rx {
		if w == p2[0] {
			n = i
		}
	}
	if n < 0 {
		t.Fatal("step 6: TX[0] not found in RX")
	}
	mustOK(t, run(t, e, 1, bus.Write(m.RX(0)+m.ClearAtCount(), uint32(n))))
	settle()
	if diff := cmp.Diff(p2, readRX(t, e, 1, 0)); diff != "" {
		t.Errorf("step 6: after clear_at_count(%d) RX != TX (-want +got):\n%s", n, diff)
	}
}

// TestClearAtCountWorkedExample reproduces SPEC section 2's example address for address:
// D = 8, v = 5, written while the counter is 2: 2 3 4 5(ack) 1 2 3 4 5 6 7 0 1.
func TestClearAtCountWorkedExample(t *testing.T) {
	const depth = 8
	e := newEngine(t, hw.Config{Topology: hw.Pair(0), Depth: depth, Seed: 1, Release: []uint64{0, 0}})
	m := bus.Map{Depth: depth, Ports: 1}
	mustOK(t, run(t, e, 1, bus.Write(m.RX(0)+m.Enable(), 1)))
	// Wait until the write can be presented while the counter is 2: the write starts in the
	// cycle after the previous operation completes.
	cnt, err := e.Peek(1, 0, hw.RXCount, 0)
	if err != nil {
		t.Fatal(err)
	}
	wait := (2 - int(cnt) + depth) % depth // idle cycles so the write starts at count 2
	// Drive distinct frames (the cycle number) so memory shows which address each cycle hit.
	const n = 13
	frames := make([]uint64, n+depth)
	for i := range frames {
		frames[i] = 0x1000 + uint64(i)
	}
	start := e.Cycle()
	if err := e.Drive(1, 0, frames); err != nil {
		t.Fatal(err)
	}
	var ops []bus.Op
	if wait > 0 {
		ops = append(ops, bus.Idle(uint32(wait)))
	}
	ops = append(ops, bus.Write(m.RX(0)+m.ClearAtCount(), 5))
	if err := e.Submit(1, ops); err != nil {
		t.Fatal(err)
	}
	var got []int
	ack := uint64(0)
	for len(got) < n {
		c, err := e.Peek(1, 0, hw.RXCount, 0)
		if err != nil {
			t.Fatal(err)
		}
		if e.Cycle() >= start+uint64(wait) {
			got = append(got, int(c))
		}
		done, err := e.Run(e.Cycle() + 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(done) > 0 {
			res, _ := e.Results(1)
			ack = res[len(res)-1].Cycle
			if res[len(res)-1].Err {
				t.Fatalf("clear_at_count answered ERR")
			}
			// The frame of the ack cycle is written at address 5.
			w, _ := e.Peek(1, 0, hw.RXMem, 5)
			if want := frames[ack-start]; w != want {
				t.Errorf("RX[5] after the ack = %#x, want the ack cycle's frame %#x", w, want)
			}
		}
	}
	want := []int{2, 3, 4, 5, 1, 2, 3, 4, 5, 6, 7, 0, 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("write addresses (-want +got):\n%s", diff)
	}
	if wantAck := start + uint64(wait) + 3; ack != wantAck {
		t.Errorf("ack in cycle %d, want %d (the 4th cycle of the write)", ack, wantAck)
	}
}

// TestBusTiming checks completion cycles: writes and register reads in the cycle they are
// presented, data reads one cycle later, and each operation starting right after the last.
func TestBusTiming(t *testing.T) {
	const depth = 16
	e := newEngine(t, hw.Config{Topology: hw.Pair(3), Depth: depth, Seed: 2, Release: []uint64{5, 9}})
	m := bus.Map{Depth: depth, Ports: 1}
	tx, rx := m.TX(0), m.RX(0)
	tests := []struct {
		name  string
		op    bus.Op
		ticks uint64 // cycles the operation takes
	}{
		{"tx data write", bus.Write(tx+8, 1), 1},
		{"tx data read", bus.Read(tx + 8), 2},
		{"tx data read high half", bus.Read(tx + 12), 2},
		{"rx data read", bus.Read(rx + 8*(depth-1)), 2},
		{"tx enable write", bus.Write(tx+m.Enable(), 0), 1},
		{"tx enable read", bus.Read(tx + m.Enable()), 1},
		{"rx enable write", bus.Write(rx+m.Enable(), 0), 1},
		{"rx enable read", bus.Read(rx + m.Enable()), 1},
		{"node block read", bus.Read(bus.RegDepth), 1},
		{"idle 7", bus.Idle(7), 7},
		{"write block of 5", bus.WriteBlock(tx, []uint32{1, 2, 3, 4, 5}), 5},
		{"read block of 5", bus.ReadBlock(tx, 5), 10},
		{"unmapped (ERR)", bus.Read(0x7FFF_FFF0), 1},
	}
	var ops []bus.Op
	for _, tt := range tests {
		ops = append(ops, tt.op)
	}
	res := run(t, e, 0, ops...)
	prev := uint64(5) - 1 // node 0 leaves reset in cycle 5: its first op starts there
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := res[i].Cycle, prev+tt.ticks; got != want {
				t.Errorf("completed in cycle %d, want %d", got, want)
			}
		})
		prev = res[i].Cycle
	}
	if !res[len(res)-1].Err {
		t.Errorf("unmapped read: got ACK, want ERR")
	}
	if res[8].Value != depth {
		t.Errorf("DEPTH register = %d, want %d", res[8].Value, depth)
	}
}

// TestBusErrors checks that every illegal access answers ERR in the cycle it is presented.
func TestBusErrors(t *testing.T) {
	const depth = 16
	e := newEngine(t, hw.Config{Topology: hw.Pair(3), Depth: depth, Seed: 3, Release: []uint64{0, 0}})
	m := bus.Map{Depth: depth, Ports: 1}
	tx, rx := m.TX(0), m.RX(0)
	tests := []struct {
		name string
		op   bus.Op
		err  bool
	}{
		{"write rx data", bus.Write(rx, 1), true},
		{"write rx data last word", bus.Write(rx+8*depth-4, 1), true},
		{"read clear_at_count", bus.Read(rx + m.ClearAtCount()), true},
		{"clear_at_count = D", bus.Write(rx+m.ClearAtCount(), depth), true},
		{"clear_at_count huge", bus.Write(rx+m.ClearAtCount(), 0xFFFF_FFFF), true},
		{"clear_at_count partial mask", bus.WriteMasked(rx+m.ClearAtCount(), 1, 0x1), true},
		{"tx past enable", bus.Read(tx + m.Enable() + 4), true},
		{"tx clear offset", bus.Write(tx+m.ClearAtCount(), 0), true},
		{"rx enable high half", bus.Read(rx + m.Enable() + 4), true},
		{"rx past clear_at_count", bus.Read(rx + m.ClearAtCount() + 4), true},
		{"window past the last port", bus.Read(m.RX(0) + (1 << m.WindowLog2())), true},
		{"node block write", bus.Write(bus.RegNodeID, 1), true},
		{"node block hole", bus.Read(0x24), true},
		{"node block past end", bus.Read(0x30), true},
		{"clear_at_count = D-1 is legal", bus.Write(rx+m.ClearAtCount(), depth-1), false},
		{"clear_at_count = 0 is legal", bus.Write(rx+m.ClearAtCount(), 0), false},
		{"tx last data word", bus.Write(tx+8*depth-4, 1), false},
		{"rx last data word read", bus.Read(rx + 8*depth - 4), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.Cycle()
			res := run(t, e, 0, tt.op)
			if res[0].Err != tt.err {
				t.Errorf("ERR = %v, want %v", res[0].Err, tt.err)
			}
			if tt.err && res[0].Cycle != before {
				t.Errorf("ERR in cycle %d, want %d (same cycle)", res[0].Cycle, before)
			}
		})
	}
	// A misaligned single access reaches the RTL, which answers ERR in the cycle it is
	// presented; a misaligned block never reaches the bus.
	before := e.Cycle()
	if res := run(t, e, 0, bus.Read(tx+2)); !res[0].Err || res[0].Cycle != before {
		t.Errorf("misaligned read: %+v, want ERR in cycle %d", res[0], before)
	}
	if _, err := e.Execute(context.Background(), 0, []bus.Op{bus.ReadBlock(tx+2, 2)}); !errors.Is(err, ErrBadBatch) {
		t.Errorf("misaligned block: got %v, want ErrBadBatch", err)
	}
}

// TestByteMasks writes TX words through every byte mask and reads them back.
func TestByteMasks(t *testing.T) {
	const depth = 16
	e := newEngine(t, hw.Config{Topology: hw.Pair(3), Depth: depth, Seed: 4, Release: []uint64{0, 0}})
	m := bus.Map{Depth: depth, Ports: 1}
	for mask := uint8(0); mask <= 0xF; mask++ {
		for half := uint32(0); half < 2; half++ {
			addr := m.TX(0) + 8*uint32(mask) + 4*half
			res := mustOK(t, run(t, e, 0,
				bus.Write(addr, 0x11223344),
				bus.WriteMasked(addr, 0xAABBCCDD, mask),
				bus.Read(addr), bus.Read(addr^4)))
			want := uint32(0)
			for k := 0; k < 4; k++ {
				lane := uint32(0xFF) << (8 * k)
				if mask&(1<<k) != 0 {
					want |= 0xAABBCCDD & lane
				} else {
					want |= 0x11223344 & lane
				}
			}
			if res[2].Value != want {
				t.Errorf("mask %04b half %d: read %#08x, want %#08x", mask, half, res[2].Value, want)
			}
			if half == 0 && res[3].Value != 0 {
				t.Errorf("mask %04b: the other half changed to %#08x", mask, res[3].Value)
			}
		}
	}
}

// TestTXWhileDisabled checks that a disabled TX sends zeroes but keeps its memory usable.
func TestTXWhileDisabled(t *testing.T) {
	const depth = 16
	e := newEngine(t, hw.Config{Topology: hw.Pair(0), Depth: depth, Seed: 5, Release: []uint64{0, 0}})
	m := bus.Map{Depth: depth, Ports: 1}
	pat := make([]uint64, depth)
	for i := range pat {
		pat[i] = 0xA5A5_0000_0000_0000 | uint64(i+1)
	}
	writeTX(t, e, 0, 0, pat)
	if err := e.Record(0, 0, 4*depth); err != nil {
		t.Fatal(err)
	}
	if err := e.Step(2 * depth); err != nil {
		t.Fatal(err)
	}
	setEnable(t, e, 0, m.TX(0), true)
	if err := e.Step(2 * depth); err != nil {
		t.Fatal(err)
	}
	frames, err := e.Recorded(0, 0, 4*depth)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range frames[:2*depth] {
		if f != 0 {
			t.Fatalf("cycle %d: disabled TX sent %#x, want 0", i, f)
		}
	}
	// frame(t+1) = mem[count(t)] once enabled: consecutive pattern words, wrapping.
	var seen []uint64
	for _, f := range frames[2*depth:] {
		if f != 0 {
			seen = append(seen, f)
		}
	}
	if len(seen) < depth {
		t.Fatalf("enabled TX sent %d non-zero frames, want at least %d", len(seen), depth)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i]&0xFF != seen[i-1]&0xFF%depth+1 {
			t.Fatalf("TX frames out of order: %#x after %#x", seen[i], seen[i-1])
		}
	}
}

// TestDeterminism runs the same traffic twice per seed: the same seed gives the same
// frames, bus results and FST bytes; another seed gives other start offsets and faults.
func TestDeterminism(t *testing.T) {
	type outcome struct {
		Results []bus.Result
		Frames  []uint64
		RX      []uint64
		FST     []byte
		Flips   uint64
	}
	run := func(seed uint64) outcome {
		const depth = 16
		topo := hw.Pair(5)
		for i := range topo.Links {
			topo.Links[i].Faults = hw.Faults{BitFlip: 2e-3, FrameZero: 1e-2}
		}
		e := newEngine(t, hw.Config{Topology: topo, Depth: depth, Seed: seed, Waveforms: true})
		m := bus.Map{Depth: depth, Ports: 1}
		wave := filepath.Join(t.TempDir(), "run.fst")
		if err := e.StartWaveform(wave); err != nil {
			t.Fatal(err)
		}
		if err := e.Record(1, 0, 2000); err != nil {
			t.Fatal(err)
		}
		pat := make([]uint64, depth)
		for i := range pat {
			pat[i] = 0x0123_4567_89AB_CDEF * uint64(i+1)
		}
		var o outcome
		o.Results = append(o.Results, run(t, e, 0, bus.WriteBlock(m.TX(0), words64(pat)),
			bus.Write(m.TX(0)+m.Enable(), 1))...)
		o.Results = append(o.Results, run(t, e, 1, bus.Write(m.RX(0)+m.Enable(), 1),
			bus.Write(m.TX(0), 0xFEED), bus.Write(m.TX(0)+m.Enable(), 1), bus.Idle(500))...)
		if err := e.Step(2000 - e.Cycle()); err != nil {
			t.Fatal(err)
		}
		var err error
		if o.Frames, err = e.Recorded(1, 0, 2000); err != nil {
			t.Fatal(err)
		}
		o.RX = readRX(t, e, 1, 0)
		o.Flips, _, _ = e.FaultCounts(0)
		if err := e.StopWaveform(); err != nil {
			t.Fatal(err)
		}
		o.FST = fileBytes(t, wave)
		return o
	}
	a, b, c := run(11), run(11), run(12)
	if diff := cmp.Diff(a.Results, b.Results); diff != "" {
		t.Errorf("same seed, different bus results (-first +second):\n%s", diff)
	}
	if diff := cmp.Diff(a.Frames, b.Frames); diff != "" {
		t.Errorf("same seed, different TX frames (-first +second):\n%s", diff)
	}
	if diff := cmp.Diff(a.RX, b.RX); diff != "" {
		t.Errorf("same seed, different RX contents (-first +second):\n%s", diff)
	}
	if !bytes.Equal(a.FST, b.FST) {
		t.Errorf("same seed, different FST bytes (%d and %d bytes)", len(a.FST), len(b.FST))
	}
	if len(a.FST) < 1000 {
		t.Errorf("FST is %d bytes: too small to hold 2000 cycles of two nodes", len(a.FST))
	}
	if a.Flips == 0 {
		t.Errorf("no bit flips injected at rate 2e-3 over 2000 frames")
	}
	if cmp.Equal(a.Results, c.Results) && cmp.Equal(a.RX, c.RX) {
		t.Errorf("seeds 11 and 12 gave the same results and RX contents")
	}
	if bytes.Equal(a.FST, c.FST) {
		t.Errorf("seeds 11 and 12 gave the same FST bytes")
	}
}

func fileBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fstTimes reads the start and end time of an FST file's header (big-endian u64 at byte
// offsets 9 and 17, gtkwave/fstapi.c).
func fstTimes(t *testing.T, path string) (uint64, uint64) {
	t.Helper()
	b := fileBytes(t, path)
	if len(b) < 25 || b[0] != 0 { // FST_BL_HDR
		t.Fatalf("%s: not an FST file (%d bytes)", path, len(b))
	}
	be := func(p []byte) uint64 {
		var v uint64
		for _, c := range p {
			v = v<<8 | uint64(c)
		}
		return v
	}
	return be(b[9:17]), be(b[17:25])
}

// TestWaveformOnOff switches the FST dump on and off while the simulation runs, into two
// files, and checks that each covers exactly its window of simulated time.
func TestWaveformOnOff(t *testing.T) {
	e := newEngine(t, hw.Config{Topology: hw.Pair(2), Depth: 16, Seed: 9, Waveforms: true})
	period := uint64(1e12 / hw.DefaultClockHz) // ps per cycle (8000)
	dir := t.TempDir()
	windows := []struct{ from, to uint64 }{{100, 200}, {300, 450}}
	for i, w := range windows {
		if err := e.Step(w.from - e.Cycle()); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, string(rune('a'+i))+".fst")
		if err := e.StartWaveform(path); err != nil {
			t.Fatal(err)
		}
		if err := e.StartWaveform(path + "2"); !errors.Is(err, ErrWaveform) {
			t.Errorf("second StartWaveform: got %v, want ErrWaveform", err)
		}
		if err := e.Step(w.to - w.from); err != nil {
			t.Fatal(err)
		}
		if err := e.StopWaveform(); err != nil {
			t.Fatal(err)
		}
		start, end := fstTimes(t, path)
		if wantStart, wantEnd := w.from*period, (w.to-1)*period+period/2; start != wantStart || end != wantEnd {
			t.Errorf("window %d: FST covers [%d, %d] ps, want [%d, %d]", i, start, end, wantStart, wantEnd)
		}
	}
	// A model without waveform support refuses clearly.
	plain := newEngine(t, hw.Config{Topology: hw.Pair(2), Depth: 16, Seed: 9})
	if err := plain.StartWaveform(filepath.Join(dir, "x.fst")); !errors.Is(err, ErrNoWaveforms) {
		t.Errorf("StartWaveform without support: got %v, want ErrNoWaveforms", err)
	}
	if err := e.StartWaveform(filepath.Join(dir, "no", "such", "dir.fst")); !errors.Is(err, ErrWaveform) {
		t.Errorf("StartWaveform into a missing directory: got %v, want ErrWaveform", err)
	}
}

// TestBackdoor pokes ring buffer memory and registers without advancing time and sees the
// hardware use them: a poked TX word goes out on the link once TX is poked enabled.
func TestBackdoor(t *testing.T) {
	const depth = 16
	e := newEngine(t, hw.Config{Topology: hw.Pair(0), Depth: depth, Seed: 1, Release: []uint64{0, 0}})
	before := e.Cycle()
	for i := 0; i < depth; i++ {
		if err := e.Poke(0, 0, hw.TXMem, i, 0xC0DE_0000+uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Poke(0, 0, hw.TXEnable, 0, 1); err != nil {
		t.Fatal(err)
	}
	if err := e.Poke(1, 0, hw.RXEnable, 0, 1); err != nil {
		t.Fatal(err)
	}
	if e.Cycle() != before {
		t.Fatalf("backdoor access advanced time from %d to %d", before, e.Cycle())
	}
	if err := e.Poke(0, 0, hw.TXCount, 0, 3); !errors.Is(err, ErrBadBackdoor) {
		t.Errorf("poke of a counter: got %v, want ErrBadBackdoor", err)
	}
	if _, err := e.Peek(0, 0, hw.TXMem, depth); !errors.Is(err, ErrBadBackdoor) {
		t.Errorf("peek past the buffer: got %v, want ErrBadBackdoor", err)
	}
	if _, err := e.Peek(0, 1, hw.TXMem, 0); !errors.Is(err, ErrBadPort) {
		t.Errorf("peek of port 1: got %v, want ErrBadPort", err)
	}
	if err := e.Step(2*depth + 4); err != nil {
		t.Fatal(err)
	}
	rx := readRX(t, e, 1, 0)
	tx := make([]uint64, depth)
	for i := range tx {
		tx[i], _ = e.Peek(0, 0, hw.TXMem, i)
	}
	if r := rotation(tx, rx); r < 0 {
		t.Errorf("RX %x is not a rotation of the poked TX %x", rx, tx)
	}
	if en, _ := e.Peek(1, 0, hw.RXEnable, 0); en != 1 {
		t.Errorf("RX enable reads %d after the poke, want 1", en)
	}
}
