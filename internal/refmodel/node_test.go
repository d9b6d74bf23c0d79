package refmodel

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ringsim/ringsim/sim/bus"
)

func TestNewNodeRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"depth 0", Config{Depth: 0, Ports: 1}},
		{"depth 1", Config{Depth: 1, Ports: 1}},
		{"no ports", Config{Depth: 16, Ports: 0}},
		{"map past 4 GiB", Config{Depth: 1 << 26, Ports: 8}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewNode(tt.cfg)
			if !errors.Is(err, ErrBadConfig) {
				t.Errorf("NewNode(%+v): got error %v, want %v", tt.cfg, err, ErrBadConfig)
			}
		})
	}
}

// TestClearAtCountWorkedExample is SPEC section 2's worked example: D = 8, v = 5, write
// asserted while the counter is 2: addresses 2 3 4 5(ack) 1 2 3 4 5 6 7 0 1.
func TestClearAtCountWorkedExample(t *testing.T) {
	s := newSystem(t, Config{Depth: 8, Ports: 1})
	m := s.Node.Map()
	s.Node.SetRXEnable(0, true)
	// Idle(2) takes cycles 0 and 1, so the write is asserted in cycle 2, when the counter is 2.
	if err := s.Submit([]bus.Op{bus.Idle(2), bus.Write(m.RX(0)+m.ClearAtCount(), 5)}); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	const tag = 0x1000
	var addrs []int
	in := make([]uint64, 1)
	for c := range uint64(15) {
		if c >= 2 {
			addrs = append(addrs, s.Node.RXCount(0))
		}
		in[0] = tag + c
		s.Step(in, nil)
	}
	if diff := cmp.Diff([]int{2, 3, 4, 5, 1, 2, 3, 4, 5, 6, 7, 0, 1}, addrs); diff != "" {
		t.Errorf("written addresses in cycles 2..14 (-want +got):\n%s", diff)
	}
	res, err := s.Take()
	if err != nil {
		t.Fatalf("Take: %v", err)
	}
	if got := res[1]; got.Err || got.Cycle != 5 {
		t.Errorf("clear_at_count result: got cycle %d err %v, want cycle 5 (the counter is 5) without ERR", got.Cycle, got.Err)
	}
	// Cycles 0..14 wrote 0 1 2 3 4 5 1 2 3 4 5 6 7 0 1: each word holds its last writer.
	want := []uint64{13, 14, 7, 8, 9, 10, 11, 12}
	for i, c := range want {
		if got := s.Node.RXWord(0, i); got != tag+c {
			t.Errorf("RX word %d: got %#x, want %#x (frame of cycle %d)", i, got, tag+c, c)
		}
	}
}

// TestClearAtCount checks clear_at_count against SPEC's rule for many depths, values and
// start counts: the write is acknowledged in the first cycle the counter equals v, and the
// counter afterwards equals the old counter minus v (mod D).
func TestClearAtCount(t *testing.T) {
	for _, d := range []int{2, 3, 8, 13} {
		for _, release := range []uint64{0, 5} {
			for start := range d + 1 {
				for v := range d {
					name := fmt.Sprintf("D=%d/release=%d/start=%d/v=%d", d, release, start, v)
					t.Run(name, func(t *testing.T) {
						checkClear(t, d, release, uint64(start), uint32(v))
					})
				}
			}
		}
	}
}

func checkClear(t *testing.T, d int, release, start uint64, v uint32) {
	n, err := NewNode(Config{Depth: d, Ports: 1, Release: release})
	if err != nil {
		t.Fatal(err)
	}
	m := n.Map()
	req := Request{Stb: true, We: true, Addr: m.RX(0) + m.ClearAtCount(), Data: v, Sel: 0xF}
	first := release + start
	old := func(c uint64) int { return int((c - release) % uint64(d)) }
	ack := first + uint64((int(v)-old(first)+d)%d)
	for c := uint64(0); c < ack+3*uint64(d); c++ {
		if c >= release {
			want := old(c)
			if c > ack {
				want = (old(c) - int(v) + d) % d
			}
			if got := n.RXCount(0); got != want {
				t.Fatalf("cycle %d: got counter %d, want %d", c, got, want)
			}
		}
		if c < first || c > ack {
			n.Step(Request{}, nil)
			continue
		}
		resp := n.Step(req, nil)
		if resp.Err || resp.Ack != (c == ack) {
			t.Fatalf("cycle %d: got ack %v err %v, want ack %v err false", c, resp.Ack, resp.Err, c == ack)
		}
	}
}

// TestBusTiming checks in which cycle each kind of access completes: ring buffer data reads
// one cycle after the request, everything else in the request cycle.
func TestBusTiming(t *testing.T) {
	const d, release = 16, 3
	m := bus.Map{Depth: d, Ports: 2}
	tests := []struct {
		name    string
		op      bus.Op
		latency uint64
		value   uint32
	}{
		{"tx data read low", bus.Read(m.TX(1) + m.Data(5)), 1, 0xCCCCDDDD},
		{"tx data read high", bus.Read(m.TX(1) + m.Data(5) + 4), 1, 0xAAAABBBB},
		{"tx data read last word", bus.Read(m.TX(0) + m.Data(d-1) + 4), 1, 0x77777777},
		{"rx data read low", bus.Read(m.RX(1) + m.Data(0)), 1, 0x44443333},
		{"rx data read high", bus.Read(m.RX(1) + m.Data(0) + 4), 1, 0x22221111},
		{"tx data write", bus.Write(m.TX(0)+m.Data(3), 1), 0, 0},
		{"tx data write no lanes", bus.WriteMasked(m.TX(0)+m.Data(3), 1, 0), 0, 0},
		{"tx enable read", bus.Read(m.TX(1) + m.Enable()), 0, 0},
		{"tx enable write", bus.Write(m.TX(1)+m.Enable(), 1), 0, 0},
		{"rx enable read", bus.Read(m.RX(0) + m.Enable()), 0, 0},
		{"rx enable write", bus.Write(m.RX(0)+m.Enable(), 1), 0, 0},
		{"node magic", bus.Read(bus.RegMagic), 0, bus.Magic},
		{"clear_at_count 0 at count 0", bus.Write(m.RX(0)+m.ClearAtCount(), 0), 0, 0},
		{"clear_at_count 7 at count 0", bus.Write(m.RX(1)+m.ClearAtCount(), 7), 7, 0},
		{"clear_at_count D-1 at count 0", bus.Write(m.RX(1)+m.ClearAtCount(), d-1), d - 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSystem(t, Config{Depth: d, Ports: 2, Release: release})
			s.Node.SetTXWord(1, 5, 0xAAAABBBB_CCCCDDDD)
			s.Node.SetTXWord(0, d-1, 0x77777777_88888888)
			s.Node.SetRXWord(1, 0, 0x22221111_44443333)
			res := runBatch(t, s, 100, tt.op)
			got := res[0]
			if got.Err {
				t.Fatalf("got ERR, want ACK")
			}
			if got.Cycle != release+tt.latency {
				t.Errorf("got completion in cycle %d, want %d (request in %d)", got.Cycle, release+tt.latency, release)
			}
			if got.Value != tt.value {
				t.Errorf("got value %#x, want %#x", got.Value, tt.value)
			}
		})
	}
}

// TestErrors checks every access that must answer ERR, in the cycle it is presented.
func TestErrors(t *testing.T) {
	const d, ports, release = 16, 2, 2
	m := bus.Map{Depth: d, Ports: ports}
	win := uint32(1) << m.WindowLog2()
	clear0 := m.RX(0) + m.ClearAtCount()
	tests := []struct {
		name string
		op   bus.Op
	}{
		{"write rx data", bus.Write(m.RX(0)+m.Data(0), 1)},
		{"write rx data last word", bus.Write(m.RX(1)+m.Data(d-1)+4, 1)},
		{"masked write rx data", bus.WriteMasked(m.RX(0)+m.Data(2), 1, 0)},
		{"read clear_at_count", bus.Read(clear0)},
		{"clear_at_count = D", bus.Write(clear0, d)},
		{"clear_at_count = D+100", bus.Write(clear0, d+100)},
		{"clear_at_count = 2^32-1", bus.Write(clear0, 0xFFFFFFFF)},
		{"clear_at_count mask 0x7", bus.WriteMasked(clear0, 3, 0x7)},
		{"clear_at_count mask 0xE", bus.WriteMasked(clear0, 3, 0xE)},
		{"clear_at_count mask 0x0", bus.WriteMasked(clear0, 3, 0x0)},
		{"clear_at_count mask 0xB", bus.WriteMasked(clear0, 0, 0xB)},
		{"misaligned +1 read node", bus.Read(bus.RegMagic + 1)},
		{"misaligned +2 read tx data", bus.Read(m.TX(0) + 2)},
		{"misaligned +3 write rx enable", bus.Write(m.RX(0)+m.Enable()+3, 1)},
		{"misaligned +1 write tx data", bus.Write(m.TX(1)+m.Data(4)+1, 1)},
		{"unmapped window read", bus.Read(uint32(1+2*ports) << m.WindowLog2())},
		{"unmapped window write", bus.Write(uint32(1+2*ports)<<m.WindowLog2(), 1)},
		{"top of address space", bus.Read(0xFFFFFFFC)},
		{"tx 8D+4", bus.Read(m.TX(0) + m.Enable() + 4)},
		{"tx 8D+8 (no clear_at_count on TX)", bus.Write(m.TX(0)+m.ClearAtCount(), 0)},
		{"tx last offset of window", bus.Read(m.TX(1) + win - 4)},
		{"rx 8D+4 read", bus.Read(m.RX(0) + m.Enable() + 4)},
		{"rx 8D+4 write", bus.Write(m.RX(0)+m.Enable()+4, 0)},
		{"rx 8D+12", bus.Read(m.RX(1) + m.ClearAtCount() + 4)},
		{"node 0x24 (hole)", bus.Read(0x24)},
		{"node 0x30", bus.Read(0x30)},
		{"node last offset of window", bus.Read(win - 4)},
		{"node write magic", bus.Write(bus.RegMagic, 0)},
		{"node write cycle lo", bus.Write(bus.RegCycleLo, 0)},
		{"read block unmapped", bus.ReadBlock(uint32(1+2*ports)<<m.WindowLog2(), 4)},
		{"write block rx data", bus.WriteBlock(m.RX(0), []uint32{1, 2})},
		{"poll clear_at_count", bus.Poll(clear0, bus.UntilEqual, 0, 0, 1, 5)},
		{"poll misaligned", bus.Poll(m.TX(0)+m.Enable()+2, bus.UntilEqual, 0, 0, 1, 5)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSystem(t, Config{Depth: d, Ports: ports, Release: release})
			got := runBatch(t, s, 10, tt.op)[0]
			if !got.Err {
				t.Errorf("got ACK, want ERR")
			}
			if got.Cycle != release {
				t.Errorf("got ERR in cycle %d, want %d (the request cycle)", got.Cycle, release)
			}
			if got.N != 0 || got.Words != nil {
				t.Errorf("got N = %d, words %v; want 0, nil", got.N, got.Words)
			}
		})
	}
}

// TestBlockStopsAtErr checks blocks that run from the last data word into enable and then
// into the unmapped offset 8D+4.
func TestBlockStopsAtErr(t *testing.T) {
	const d = 8
	m := bus.Map{Depth: d, Ports: 1}
	s := newSystem(t, Config{Depth: d, Ports: 1})
	s.Node.SetRXWord(0, d-1, 0x12345678_9ABCDEF0)
	res := runBatch(t, s, 100,
		bus.WriteBlock(m.TX(0)+m.Enable()-4, []uint32{0xCAFEF00D, 1, 2, 3}),
		bus.ReadBlock(m.RX(0)+m.Enable()-4, 4),
	)
	want := []bus.Result{
		// cycle 0: data (ACK), 1: enable (ACK), 2: 8D+4 (ERR).
		{Cycle: 2, Err: true, N: 2},
		// cycles 3-4: data read, 5: enable (reads 0: RX was never enabled), 6: ERR.
		{Cycle: 6, Err: true, N: 2, Words: []uint32{0x12345678, 0}},
	}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if got := s.Node.TXWord(0, d-1); got != 0xCAFEF00D_00000000 {
		t.Errorf("TX word %d: got %#x, want %#x", d-1, got, uint64(0xCAFEF00D_00000000))
	}
	if !s.Node.TXEnable(0) {
		t.Errorf("TX enable: got false, want true (the block wrote 1)")
	}
}

// TestByteMasks checks that sel bit k of a write at offset 8i+4h writes byte lane 4h+k of
// word i, and nothing else, for every mask and both halves.
func TestByteMasks(t *testing.T) {
	const d, word = 8, 3
	const old = uint64(0x11223344_55667788)
	const v = uint32(0xAABBCCDD)
	m := bus.Map{Depth: d, Ports: 1}
	for h := range 2 {
		for sel := range 16 {
			t.Run(fmt.Sprintf("half=%d/sel=%#x", h, sel), func(t *testing.T) {
				s := newSystem(t, Config{Depth: d, Ports: 1})
				s.Node.SetTXWord(0, word, old)
				addr := m.TX(0) + m.Data(word) + 4*uint32(h)
				res := runBatch(t, s, 10,
					bus.WriteMasked(addr, v, uint8(sel)),
					bus.Read(m.TX(0)+m.Data(word)),
					bus.Read(m.TX(0)+m.Data(word)+4),
				)
				want := old
				for k := range 4 {
					if sel&(1<<k) != 0 {
						lane := 4*h + k
						b := uint64(v>>(8*k)) & 0xFF
						want = want&^(0xFF<<(8*lane)) | b<<(8*lane)
					}
				}
				if got := s.Node.TXWord(0, word); got != want {
					t.Errorf("word: got %#016x, want %#016x", got, want)
				}
				if got := uint64(res[2].Value)<<32 | uint64(res[1].Value); got != want {
					t.Errorf("read back over the bus: got %#016x, want %#016x", got, want)
				}
				for i := range d {
					if got := s.Node.TXWord(0, i); i != word && got != 0 {
						t.Errorf("word %d: got %#x, want 0 (untouched)", i, got)
					}
				}
			})
		}
	}
}

// TestTXZeroWhileDisabled checks that a disabled TX buffer sends zeroes whatever it holds.
func TestTXZeroWhileDisabled(t *testing.T) {
	const d = 16
	s := newSystem(t, Config{Depth: d, Ports: 2, Release: 3})
	for i := range d {
		s.Node.SetTXWord(0, i, ^uint64(i))
		s.Node.SetTXWord(1, i, uint64(i+1))
	}
	s.Node.SetTXEnable(1, true) // port 1 only, from cycle 0 (reset clears it until 3)
	tx := make([]uint64, 2)
	for c := range 4 * d {
		s.Step(nil, tx)
		if tx[0] != 0 {
			t.Fatalf("cycle %d: port 0 (disabled) sent %#x, want 0", c, tx[0])
		}
		if c < 3 && tx[1] != 0 {
			t.Fatalf("cycle %d: port 1 in reset sent %#x, want 0", c, tx[1])
		}
	}
}

// txTrace records, per cycle, what SPEC's TX formula needs.
type txTrace struct {
	frame, word uint64 // TX frame of the cycle; mem[count] as it was during the cycle
	enable      bool
	count       int
}

// traceTX steps s for cycles cycles with RX frames rx(c) and returns, per cycle and port,
// the frame, enable, count and the word at count.
func traceTX(s *System, cycles int, rx func(c uint64, p int) uint64) [][]txTrace {
	n := s.Node
	out := make([][]txTrace, n.Ports())
	in := make([]uint64, n.Ports())
	for range cycles {
		c := n.Cycle()
		for p := range n.Ports() {
			out[p] = append(out[p], txTrace{
				frame: n.TX(p), enable: n.TXEnable(p), count: n.TXCount(p),
				word: n.TXWord(p, n.TXCount(p)),
			})
			if rx != nil {
				in[p] = rx(c, p)
			}
		}
		if s.Step(in, nil) && s.Master.Done() {
			if _, err := s.Take(); err != nil {
				panic(err)
			}
		}
	}
	return out
}

// checkTXFormula checks frame(t+1) = enable(t) ? mem[count(t)] : 0 and that the counter
// is (t - release) mod D, whatever happened on the bus.
func checkTXFormula(t *testing.T, tr []txTrace, release uint64, d int) {
	t.Helper()
	for c := 0; c+1 < len(tr); c++ {
		want := uint64(0)
		if tr[c].enable {
			want = tr[c].word
		}
		if got := tr[c+1].frame; got != want {
			t.Fatalf("cycle %d: got frame %#x, want %#x (enable %v, count %d)", c+1, got, want, tr[c].enable, tr[c].count)
		}
		wantCount := 0
		if uint64(c) >= release {
			wantCount = int((uint64(c) - release) % uint64(d))
		}
		if tr[c].count != wantCount {
			t.Fatalf("cycle %d: got TX count %d, want %d", c, tr[c].count, wantCount)
		}
	}
}

// TestEnableTiming checks frame(t+1) = enable(t) ? mem[count(t)] : 0 around enable and
// disable writes: an enable write acknowledged in cycle a first shows in frame(a+2).
func TestEnableTiming(t *testing.T) {
	const d, release = 8, 2
	m := bus.Map{Depth: d, Ports: 1}
	s := newSystem(t, Config{Depth: d, Ports: 1, Release: release})
	for i := range d {
		s.Node.SetTXWord(0, i, 0x100+uint64(i))
	}
	en := m.TX(0) + m.Enable()
	// Enable acknowledged in cycle 2+3 = 5, disable in 5+1+10 = 16.
	if err := s.Submit([]bus.Op{bus.Idle(3), bus.Write(en, 1), bus.Idle(10), bus.Write(en, 0)}); err != nil {
		t.Fatal(err)
	}
	tr := traceTX(s, 40, nil)[0]
	checkTXFormula(t, tr, release, d)
	const on, off = 5, 16
	wantFrames := map[int]uint64{
		on:      0,
		on + 1:  0,                                // enable(on) is still 0
		on + 2:  0x100 + uint64((on+1-release)%d), // enable(on+1) = 1
		off + 1: 0x100 + uint64((off-release)%d),  // enable(off) is still 1
		off + 2: 0,
	}
	for c, want := range wantFrames {
		if got := tr[c].frame; got != want {
			t.Errorf("cycle %d: got frame %#x, want %#x", c, got, want)
		}
	}
}

// TestTXFormulaUnderRandomTraffic checks the TX formula, the counters and the RX write rule
// while random batches run.
func TestTXFormulaUnderRandomTraffic(t *testing.T) {
	for _, d := range []int{2, 5, 16} {
		t.Run(fmt.Sprintf("D=%d", d), func(t *testing.T) {
			const ports, release, cycles = 2, 7, 20000
			s := newSystem(t, Config{Depth: d, Ports: ports, Release: release})
			rng := newRand(uint64(d))
			n := s.Node
			in := make([]uint64, ports)
			var tr [ports][]txTrace
			for range cycles {
				if !s.Master.Busy() && !s.Master.Done() {
					if err := s.Submit(RandomOps(rng, d, ports, 16)); err != nil {
						t.Fatal(err)
					}
				}
				var rxEn [ports]bool
				var rxCount [ports]int
				for p := range ports {
					tr[p] = append(tr[p], txTrace{frame: n.TX(p), enable: n.TXEnable(p),
						count: n.TXCount(p), word: n.TXWord(p, n.TXCount(p))})
					in[p] = rng.Uint64()
					rxEn[p], rxCount[p] = n.RXEnable(p), n.RXCount(p)
				}
				if s.Step(in, nil) {
					if _, err := s.Take(); err != nil {
						t.Fatal(err)
					}
				}
				for p := range ports {
					if rxEn[p] {
						if got := n.RXWord(p, rxCount[p]); got != in[p] {
							t.Fatalf("cycle %d port %d: RX word %d: got %#x, want the frame %#x", n.Cycle()-1, p, rxCount[p], got, in[p])
						}
					}
					if got := n.RXCount(p); n.Cycle() > release && got != (rxCount[p]+1)%d && got != 1 {
						t.Fatalf("cycle %d port %d: RX count went from %d to %d", n.Cycle()-1, p, rxCount[p], got)
					}
				}
			}
			for p := range ports {
				checkTXFormula(t, tr[p], release, d)
			}
		})
	}
}

// TestCountersRunWhileDisabled checks that both counters run from the release on whether
// or not the buffers are enabled: enabling later starts at the running count.
func TestCountersRunWhileDisabled(t *testing.T) {
	const d, release = 8, 3
	m := bus.Map{Depth: d, Ports: 1}
	s := newSystem(t, Config{Depth: d, Ports: 1, Release: release})
	for i := range d {
		s.Node.SetTXWord(0, i, 0x100+uint64(i))
	}
	// Cycles 3..13 idle, 14: RX enable, 15: TX enable.
	if err := s.Submit([]bus.Op{bus.Idle(11), bus.Write(m.RX(0)+m.Enable(), 1),
		bus.Write(m.TX(0)+m.Enable(), 1)}); err != nil {
		t.Fatal(err)
	}
	in := make([]uint64, 1)
	var frames []uint64
	for c := range uint64(30) {
		want := 0
		if c >= release {
			want = int((c - release) % d)
		}
		if got := s.Node.RXCount(0); got != want {
			t.Fatalf("cycle %d: got RX count %d, want %d", c, got, want)
		}
		if got := s.Node.TXCount(0); got != want {
			t.Fatalf("cycle %d: got TX count %d, want %d", c, got, want)
		}
		frames = append(frames, s.Node.TX(0))
		in[0] = 0x1000 + c
		s.Step(in, nil)
	}
	// RX enabled from cycle 15 on: cycles 15..29 wrote addresses (c-3) mod 8.
	for c := uint64(15); c < 30; c++ {
		if c+d < 30 {
			continue // overwritten later
		}
		if got, want := s.Node.RXWord(0, int((c-release)%d)), 0x1000+c; got != want {
			t.Errorf("RX word %d: got %#x, want %#x (frame of cycle %d)", (c-release)%d, got, want, c)
		}
	}
	// TX enabled from cycle 16 on: the first frame is in cycle 17, word count(16) = 5.
	if frames[16] != 0 || frames[17] != 0x105 {
		t.Errorf("frames of cycles 16, 17: got %#x %#x, want 0 0x105", frames[16], frames[17])
	}
}

// TestReadFirst checks both RAMs' same-cycle collisions: a CPU write to the TX word the
// hardware reads sends the old word; a CPU read of the RX word the hardware writes returns
// the old word.
func TestReadFirst(t *testing.T) {
	const d = 8
	m := bus.Map{Depth: d, Ports: 1}
	t.Run("tx", func(t *testing.T) {
		n, err := NewNode(Config{Depth: d, Ports: 1})
		if err != nil {
			t.Fatal(err)
		}
		n.SetTXEnable(0, true)
		n.SetTXWord(0, 3, 0x01010101_02020202)
		var frames []uint64
		for c := range 20 {
			frames = append(frames, n.TX(0))
			req := Request{}
			if c == 3 { // the hardware reads word 3 in cycle 3
				req = Request{Stb: true, We: true, Addr: m.TX(0) + m.Data(3), Data: 0xFFFFFFFF, Sel: 0xF}
			}
			if resp := n.Step(req, nil); req.Stb && !resp.Ack {
				t.Fatalf("write not acknowledged in its cycle")
			}
		}
		if frames[4] != 0x01010101_02020202 {
			t.Errorf("frame after the collision: got %#x, want the old word", frames[4])
		}
		if frames[12] != 0x01010101_FFFFFFFF {
			t.Errorf("frame one rotation later: got %#x, want the new word", frames[12])
		}
	})
	t.Run("rx", func(t *testing.T) {
		n, err := NewNode(Config{Depth: d, Ports: 1})
		if err != nil {
			t.Fatal(err)
		}
		n.SetRXEnable(0, true)
		in := make([]uint64, 1)
		read := Request{Stb: true, Addr: m.RX(0) + m.Data(3)}
		var got []uint32
		for c := range uint64(14) {
			in[0] = 0x5500_0000_0000_0000 | c
			req := Request{}
			if c == 11 || c == 12 { // the hardware writes word 3 in cycle 11
				req = read
			}
			if resp := n.Step(req, in); resp.Ack {
				got = append(got, resp.Data)
			}
		}
		if len(got) != 1 || got[0] != 3 {
			t.Errorf("read of word 3 requested in cycle 11: got %v, want [3] (the frame of cycle 3)", got)
		}
		if w := n.RXWord(0, 3); w != 0x5500_0000_0000_000B {
			t.Errorf("RX word 3: got %#x, want the frame of cycle 11", w)
		}
	})
}

// TestRotation is SPEC section 6's ring buffer test through a loopback of latency L:
// RX equals TX up to a rotation (of L+1 words) after D cycles; RX frozen while disabled;
// all zero after TX is disabled; aligned with clear_at_count = L+1, RX equals TX exactly.
func TestRotation(t *testing.T) {
	for _, d := range []int{2, 5, 16} {
		for _, lat := range []int{0, 1, 3, 17} {
			for _, release := range []uint64{0, 4} {
				t.Run(fmt.Sprintf("D=%d/L=%d/release=%d", d, lat, release), func(t *testing.T) {
					checkRotation(t, d, lat, release)
				})
			}
		}
	}
}

func checkRotation(t *testing.T, d, lat int, release uint64) {
	m := bus.Map{Depth: d, Ports: 1}
	s := newSystem(t, Config{Depth: d, Ports: 1, Release: release})
	l := newLoopback(lat)
	limit := 20*d + 4*lat + 100
	run := func(ops ...bus.Op) []bus.Result {
		t.Helper()
		if err := s.Submit(ops); err != nil {
			t.Fatal(err)
		}
		if !stepLoop(s, l, limit) {
			t.Fatalf("batch did not complete")
		}
		res, err := s.Take()
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	pattern := func(seed uint32) []uint32 {
		w := make([]uint32, 2*d)
		for i := range w {
			w[i] = seed + uint32(i)*0x01010101
		}
		return w
	}
	settle := bus.Idle(uint32(d + lat + 4))
	readRX := func() []uint32 {
		t.Helper()
		res := run(bus.ReadBlock(m.RX(0), 2*d))
		return res[0].Words
	}
	rotation := func(tx, rx []uint32) int {
		for r := range d {
			ok := true
			for j := range d {
				k := ((j-r)%d + d) % d
				ok = ok && rx[2*j] == tx[2*k] && rx[2*j+1] == tx[2*k+1]
			}
			if ok {
				return r
			}
		}
		return -1
	}
	wantRot := (lat + 1) % d
	a := pattern(0x10000001)
	run(bus.WriteBlock(m.TX(0), a), bus.Write(m.TX(0)+m.Enable(), 1),
		bus.Write(m.RX(0)+m.Enable(), 1), settle)
	if r := rotation(a, readRX()); r != wantRot {
		t.Fatalf("after enabling: got rotation %d, want %d", r, wantRot)
	}
	// Disable RX, write a new pattern: RX stays frozen.
	b := pattern(0x20000002)
	run(bus.Write(m.RX(0)+m.Enable(), 0), bus.WriteBlock(m.TX(0), b), settle)
	if r := rotation(a, readRX()); r != wantRot {
		t.Fatalf("RX disabled: got rotation %d of the old pattern, want %d (frozen)", r, wantRot)
	}
	run(bus.Write(m.RX(0)+m.Enable(), 1), settle)
	if r := rotation(b, readRX()); r != wantRot {
		t.Fatalf("RX re-enabled: got rotation %d, want %d", r, wantRot)
	}
	// Disable TX: RX becomes all zero.
	run(bus.Write(m.TX(0)+m.Enable(), 0), settle)
	if diff := cmp.Diff(make([]uint32, 2*d), readRX()); diff != "" {
		t.Fatalf("TX disabled: RX not all zero (-want +got):\n%s", diff)
	}
	run(bus.Write(m.TX(0)+m.Enable(), 1), settle)
	if r := rotation(b, readRX()); r != wantRot {
		t.Fatalf("TX re-enabled: got rotation %d, want %d", r, wantRot)
	}
	// Align: shift the RX counter by the rotation, then TX[i] lands at RX[i].
	run(bus.Write(m.RX(0)+m.ClearAtCount(), uint32(wantRot)), settle)
	if diff := cmp.Diff(b, readRX()); diff != "" {
		t.Fatalf("aligned: RX differs from TX (-want +got):\n%s", diff)
	}
}

// TestResponseData checks wb_dat_o where the master does not look at it: stale RAM read
// data while a data read waits and with a data write, zero on errors outside a device.
func TestResponseData(t *testing.T) {
	const d = 8
	m := bus.Map{Depth: d, Ports: 1}
	n, err := NewNode(Config{Depth: d, Ports: 1})
	if err != nil {
		t.Fatal(err)
	}
	n.SetRXWord(0, 2, 0xAAAAAAAA_BBBBBBBB)
	steps := []struct {
		req  Request
		want Response
	}{
		{Request{Stb: true, Addr: m.RX(0) + m.Data(2) + 4}, Response{}},
		{Request{Stb: true, Addr: m.RX(0) + m.Data(2) + 4}, Response{Ack: true, Data: 0xAAAAAAAA}},
		{Request{}, Response{}},
		// A write to RX data answers ERR with the stale read data on wb_dat_o.
		{Request{Stb: true, We: true, Addr: m.RX(0) + m.Data(5), Sel: 0xF}, Response{Err: true, Data: 0xAAAAAAAA}},
		// A new read shows the old data while it waits.
		{Request{Stb: true, Addr: m.RX(0) + m.Data(2)}, Response{Data: 0xAAAAAAAA}},
		{Request{Stb: true, Addr: m.RX(0) + m.Data(2)}, Response{Ack: true, Data: 0xBBBBBBBB}},
		{Request{Stb: true, Addr: m.RX(0) + m.ClearAtCount() + 1}, Response{Err: true}},
		{Request{Stb: true, We: true, Addr: bus.RegMagic}, Response{Err: true, Data: bus.Magic}},
		{Request{Stb: true, Addr: 0x24}, Response{Err: true}},
		{Request{Stb: true, Addr: m.RX(0) + m.Enable()}, Response{Ack: true}},
	}
	for i, st := range steps {
		if got := n.Step(st.req, nil); got != st.want {
			t.Errorf("cycle %d (%+v): got %+v, want %+v", i, st.req, got, st.want)
		}
	}
}

// TestEnableWriteNeedsSelBit0 checks that an enable write only changes enable when sel
// bit 0 is set, and then to bit 0 of the data.
func TestEnableWriteNeedsSelBit0(t *testing.T) {
	m := bus.Map{Depth: 4, Ports: 1}
	tests := []struct {
		name string
		op   bus.Op
		want bool
	}{
		{"data 1 sel F", bus.Write(m.TX(0)+m.Enable(), 1), true},
		{"data 1 sel 1", bus.WriteMasked(m.TX(0)+m.Enable(), 1, 1), true},
		{"data 1 sel E", bus.WriteMasked(m.TX(0)+m.Enable(), 1, 0xE), false},
		{"data 2 sel F", bus.Write(m.TX(0)+m.Enable(), 2), false},
		{"data 0xFFFFFFFF sel F", bus.Write(m.TX(0)+m.Enable(), 0xFFFFFFFF), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, rx := range []bool{false, true} {
				s := newSystem(t, Config{Depth: 4, Ports: 1})
				op := tt.op
				if rx {
					op.Addr = m.RX(0) + m.Enable()
				}
				res := runBatch(t, s, 10, op, bus.Read(op.Addr))
				if res[0].Err || res[1].Err {
					t.Fatalf("rx=%v: got ERR", rx)
				}
				got := s.Node.TXEnable(0)
				if rx {
					got = s.Node.RXEnable(0)
				}
				if got != tt.want || res[1].Value != b2u(tt.want) {
					t.Errorf("rx=%v: got enable %v (read %d), want %v", rx, got, res[1].Value, tt.want)
				}
			}
		})
	}
}
