package sim

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/sim/bus"
)

// realPair starts a pair on the real link, both nodes out of reset at cycle 0.
func realPair(t *testing.T, depth int, latency uint32, r hw.RealLink) *Engine {
	t.Helper()
	return newEngine(t, hw.Config{Topology: hw.Pair(latency), Depth: depth, Seed: 11, Release: []uint64{0, 0},
		Link: hw.LinkReal, Real: r})
}

func linkState(t *testing.T, e *Engine, link int) hw.LinkState {
	t.Helper()
	st, err := e.LinkState(link)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// readLink reads a link register of node's port through the bus.
func readLink(t *testing.T, e *Engine, node, port int, reg uint32) uint32 {
	t.Helper()
	m := bus.Map{Depth: e.Depth(), Ports: e.Ports()}
	res := mustOK(t, run(t, e, node, bus.Read(m.Link(port)+reg)))
	return res[0].Value
}

func writeLink(t *testing.T, e *Engine, node, port int, reg, v uint32) {
	t.Helper()
	m := bus.Map{Depth: e.Depth(), Ports: e.Ports()}
	mustOK(t, run(t, e, node, bus.Write(m.Link(port)+reg, v)))
}

// TestRealLinkOccupancyDrift checks that an elastic buffer's occupancy moves at the rate
// the two clocks' ppm difference predicts, starts centred when its link comes up, and that
// underflow and overflow are counted, sticky, and visible to firmware through the bus.
func TestRealLinkOccupancyDrift(t *testing.T) {
	e := realPair(t, 16, 16, hw.RealLink{PPM: []float64{15, -25}, Up: []uint64{100, 300}, NoData: hw.FillZero})
	if err := e.Step(1000); err != nil {
		t.Fatal(err)
	}
	for l := 0; l < 2; l++ {
		st := linkState(t, e, l)
		if !st.Up || !st.Captured || st.Occupancy < 15 || st.Occupancy > 17 {
			t.Fatalf("link %d after bring-up: %+v, want up, captured, centred (16 of 32)", l, st)
		}
	}
	start := [2]int{linkState(t, e, 0).Occupancy, linkState(t, e, 1).Occupancy}
	const n = 300_000
	if err := e.Step(n); err != nil {
		t.Fatal(err)
	}
	// Link 0 carries node 0's frames into node 1's buffer: node 0 runs 40 ppm faster.
	want := 40e-6 * n
	for l, sign := range []float64{1, -1} {
		got := float64(linkState(t, e, l).Occupancy - start[l])
		if math.Abs(got-sign*want) > 1.5 {
			t.Errorf("link %d: occupancy moved %v frames in %d cycles, want %v", l, got, n, sign*want)
		}
	}
	// Run on until node 1's buffer overflows and node 0's runs empty.
	if err := e.Step(400_000); err != nil {
		t.Fatal(err)
	}
	over, under := linkState(t, e, 0), linkState(t, e, 1)
	if !over.Overflow || over.Lost == 0 || over.Shift != -int64(over.Lost) {
		t.Errorf("link 0: %+v, want overflow with lost frames shifting the relation back", over)
	}
	if !under.Underflow || under.Empty == 0 || under.Shift != int64(under.Empty) {
		t.Errorf("link 1: %+v, want underflow with empty reads shifting the relation forward", under)
	}
	if readLink(t, e, 1, 0, bus.LinkEBOverflow) != 1 || readLink(t, e, 0, 0, bus.LinkEBUnderflow) != 1 {
		t.Errorf("sticky flags not visible through the bus")
	}
	count := int32(readLink(t, e, 1, 0, bus.LinkEBDataCount))
	if count != 15 && count != 16 {
		t.Errorf("node 1's eb_data_count %d, want the full buffer's 15 or 16 (32 frames, centre 16)", count)
	}
	writeLink(t, e, 1, 0, bus.LinkEBClearStatus, 1)
	if got := readLink(t, e, 1, 0, bus.LinkEBOverflow); got != 0 && linkState(t, e, 0).Lost == over.Lost {
		t.Errorf("overflow still set after a clear with no new loss")
	}
}

// TestRealLinkAutoCenter enables the auto-centre on both ends through the bus and checks
// that it keeps the occupancy within its margin however far the clocks are apart, one
// adjustment at a time, with the total firmware reads equal to the events recorded.
func TestRealLinkAutoCenter(t *testing.T) {
	e := realPair(t, 16, 16, hw.RealLink{PPM: []float64{40, -40}, Up: []uint64{0, 0}})
	for n := 0; n < 2; n++ {
		writeLink(t, e, n, 0, bus.LinkACEnable, 1)
		if got := readLink(t, e, n, 0, bus.LinkACMargin); got != hw.DefaultAutoCenterMargin {
			t.Fatalf("ac_margin after reset = %d, want %d", got, hw.DefaultAutoCenterMargin)
		}
	}
	worst := 0
	for i := 0; i < 100; i++ {
		if err := e.Step(10_000); err != nil {
			t.Fatal(err)
		}
		for l := 0; l < 2; l++ {
			worst = max(worst, abs(linkState(t, e, l).Occupancy-16))
		}
	}
	// 80 ppm apart: a frame of drift every 12,500 cycles; the auto-centre acts beyond the
	// margin of 2, so between checks the occupancy strays at most a frame or two further.
	if worst > 4 {
		t.Errorf("occupancy strayed %d frames from the centre, want within the margin (2) and the drift between checks", worst)
	}
	evs, err := e.Events(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	total := map[int]int{}
	adjustments := 0
	for _, ev := range evs {
		if ev.Kind == hw.EventAdjust {
			if ev.Firmware {
				t.Errorf("adjustment %+v attributed to firmware", ev)
			}
			total[ev.Node] += ev.Frames
			adjustments++
		}
	}
	if adjustments < 10 {
		t.Errorf("%d adjustments in 1 M cycles at 80 ppm, want dozens", adjustments)
	}
	for n := 0; n < 2; n++ {
		if got := int(int32(readLink(t, e, n, 0, bus.LinkACTotalAdjustments))); got != total[n] {
			t.Errorf("node %d: ac_total_adjustments %d, events sum %d", n, got, total[n])
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// TestRealLinkManualAdjust checks that firmware's adjustment of +k or -k frames shifts the
// RX index at which TX word 0 lands by exactly k.
func TestRealLinkManualAdjust(t *testing.T) {
	const depth = 16
	e := realPair(t, depth, 5, hw.RealLink{PPM: []float64{0, 0}, Up: []uint64{0, 0}})
	m := bus.Map{Depth: depth, Ports: 1}
	tx := make([]uint64, depth)
	for i := range tx {
		tx[i] = 0xA5A5_0000_0000_0000 | uint64(i)
	}
	writeTX(t, e, 0, 0, tx)
	setEnable(t, e, 0, m.TX(0), true)
	setEnable(t, e, 1, m.RX(0), true)
	rot := func() int {
		if err := e.Step(4 * depth); err != nil {
			t.Fatal(err)
		}
		r := rotation(tx, readRX(t, e, 1, 0))
		if r < 0 {
			t.Fatalf("RX does not hold TX rotated: %x", readRX(t, e, 1, 0))
		}
		return r
	}
	r0 := rot()
	for _, k := range []int{3, -5, 1} {
		writeLink(t, e, 1, 0, bus.LinkEBAdjust, uint32(int32(k)))
		r := rot()
		if want := ((r0+k)%depth + depth) % depth; r != want {
			t.Errorf("after adjusting %+d: TX word 0 at RX word %d, want %d (was %d)", k, r, want, r0)
		}
		r0 = r
	}
	if st := linkState(t, e, 0); st.Inserted != 4 || st.Drained != 5 || st.Adjustments != 3 {
		t.Errorf("link 0: %+v, want 4 inserted, 5 drained, 3 adjustments", st)
	}
}

// TestRealLinkUGN checks the captured UGN (local minus remote) against what the test works
// out from the nodes' release times, clocks and the link's latency: the sender's first
// frame after link-up is its counter; the receiver captures it when its buffer has filled
// to the centre (16 frames) and reads it.
func TestRealLinkUGN(t *testing.T) {
	const latency = 23
	cfg := hw.Config{Topology: hw.Pair(latency), Depth: 16, Seed: 4, Release: []uint64{40, 7},
		Link: hw.LinkReal, Real: hw.RealLink{PPM: []float64{37, -12}, Up: []uint64{500, 1200}}}
	e := newEngine(t, cfg)
	if err := e.Step(5000); err != nil {
		t.Fatal(err)
	}
	var ck [2]hw.NodeClock
	for n := range ck {
		c, err := e.NodeClock(n)
		if err != nil {
			t.Fatal(err)
		}
		ck[n] = c
	}
	// Edge k of node n is at phase + k*period (32.32 nominal cycles; clock control is off,
	// so the period is constant).
	edge := func(n int, k uint64) *big.Int {
		x := new(big.Int).SetUint64(ck[n].Period)
		x.Mul(x, new(big.Int).SetUint64(k))
		return x.Add(x, new(big.Int).SetUint64(ck[n].Phase))
	}
	first := func(n int, at *big.Int) uint64 { // the first edge at or after at
		k := uint64(0)
		for edge(n, k).Cmp(at) < 0 {
			k++
		}
		return k
	}
	cyc := func(c uint64) *big.Int { return new(big.Int).Lsh(new(big.Int).SetUint64(c), 32) }
	for l, ln := range cfg.Topology.Links {
		s, r := ln.From.Node, ln.To.Node
		rel := [2]uint64{first(0, cyc(cfg.Release[0])), first(1, cyc(cfg.Release[1]))}
		if ck[s].Released != rel[s] || ck[r].Released != rel[r] {
			t.Fatalf("release edges %d, %d; the test works out %d, %d", ck[0].Released, ck[1].Released, rel[0], rel[1])
		}
		ks := first(s, cyc(cfg.Real.Up[l])) // the sender's first sampling cycle
		arrive := new(big.Int).Add(edge(s, ks+15), cyc(latency))
		kr := first(r, arrive) // the receiver reads it with 16 frames in (15 after it)
		wantLocal, wantRemote := kr-rel[r], ks-rel[s]
		st := linkState(t, e, l)
		if !st.Captured || st.UGNLocal != wantLocal || st.UGNRemote != wantRemote {
			t.Errorf("link %d: captured local %d remote %d (UGN %d); the test works out %d, %d (UGN %d)", l,
				st.UGNLocal, st.UGNRemote, int64(st.UGNLocal-st.UGNRemote), wantLocal, wantRemote, int64(wantLocal-wantRemote))
		}
		lo := readLink(t, e, r, 0, bus.LinkUGNLocalLo)
		hi := readLink(t, e, r, 0, bus.LinkUGNLocalHi)
		if uint64(hi)<<32|uint64(lo) != st.UGNLocal || readLink(t, e, r, 0, bus.LinkStatus) != 3 {
			t.Errorf("link %d: firmware reads local %d, status %d", l, uint64(hi)<<32|uint64(lo), readLink(t, e, r, 0, bus.LinkStatus))
		}
	}
}

// TestRealLinkFlap takes a link down and up again: the receiver gets no data meanwhile, UGN
// capture re-arms and takes the new first frame, and the events say when.
func TestRealLinkFlap(t *testing.T) {
	e := realPair(t, 16, 9, hw.RealLink{PPM: []float64{0, 0}, Up: []uint64{0, 0},
		Flaps: []hw.Flap{{Link: 0, Down: 20_000, Up: 23_000}}})
	if err := e.Step(10_000); err != nil {
		t.Fatal(err)
	}
	before := linkState(t, e, 0)
	if err := e.Step(11_000); err != nil {
		t.Fatal(err)
	}
	if st := linkState(t, e, 0); st.Up || st.Captured {
		t.Errorf("during the flap: %+v, want down and not captured", st)
	}
	if err := e.Step(10_000); err != nil {
		t.Fatal(err)
	}
	after := linkState(t, e, 0)
	if !after.Up || !after.Captured || after.UpCycle != 23_000 || after.UGNRemote <= before.UGNRemote {
		t.Errorf("after the flap: %+v (before %+v), want up since 23000 with a new, later capture", after, before)
	}
	evs, _ := e.Events(0, 0)
	var kinds []hw.EventKind
	for _, ev := range evs {
		if (ev.Kind == hw.EventLinkDown || ev.Kind == hw.EventLinkUp) && ev.Link == 0 {
			kinds = append(kinds, ev.Kind)
		}
	}
	if len(kinds) != 3 || kinds[1] != hw.EventLinkDown || kinds[2] != hw.EventLinkUp {
		t.Errorf("link 0's events %v, want up, down, up", kinds)
	}
}

// TestRealLinkUpAfterRelease checks that a link comes up no earlier than both its nodes
// left reset, with the flaps the schedule asks for: node 1 leaves reset at 30,000; link 0
// (up at 1,000) is in a flap from 10,000 to 40,000 then, so it comes up at 40,000; link 1's
// flap (5,000 to 8,000) lies wholly before the release, so it comes up at 30,000. Each
// comes up once, and its capture holds both nodes' running counters.
func TestRealLinkUpAfterRelease(t *testing.T) {
	cfg := hw.Config{Topology: hw.Pair(16), Depth: 16, Seed: 5, Release: []uint64{0, 30_000},
		Link: hw.LinkReal, Real: hw.RealLink{PPM: []float64{0, 0}, Up: []uint64{1000, 2000},
			Flaps: []hw.Flap{{Link: 0, Down: 10_000, Up: 40_000}, {Link: 1, Down: 5000, Up: 8000}}}}
	e := newEngine(t, cfg)
	if err := e.Step(50_000); err != nil {
		t.Fatal(err)
	}
	evs, _ := e.Events(0, 0)
	for l, want := range []uint64{40_000, 30_000} {
		var ups, downs []uint64
		for _, ev := range evs {
			if ev.Link != l {
				continue
			}
			switch ev.Kind {
			case hw.EventLinkUp:
				ups = append(ups, ev.Cycle)
			case hw.EventLinkDown:
				downs = append(downs, ev.Cycle)
			}
		}
		if len(ups) != 1 || ups[0] != want || len(downs) != 0 {
			t.Errorf("link %d: up at %v, down at %v; want up once, at %d", l, ups, downs, want)
		}
		// The capture: the sender's counter when it sent its first frame (node 1 sends 0,
		// leaving reset at that edge) and the receiver's when the frame arrived, the
		// latency and 15 more frames later (16 in the elastic buffer).
		st := linkState(t, e, l)
		sender := uint64(cfg.Release[cfg.Topology.Links[l].From.Node])
		receiver := uint64(cfg.Release[cfg.Topology.Links[l].To.Node])
		if !st.Up || !st.Captured || st.UpCycle != want || st.UGNRemote != want-sender || st.UGNLocal < want+16+15-receiver {
			t.Errorf("link %d: %+v, want up since %d, remote counter %d, local at least %d", l, st, want, want-sender, want+31-receiver)
		}
	}
}

// TestRealLinkRXMemory checks that RX memory starts seeded-random on the real link (the
// block RAM has no reset) and zero on the ideal one, and that the same seed gives the same
// words.
func TestRealLinkRXMemory(t *testing.T) {
	words := func(e *Engine) []uint64 {
		out := make([]uint64, 16)
		for i := range out {
			v, err := e.Peek(1, 0, hw.RXMem, i)
			if err != nil {
				t.Fatal(err)
			}
			out[i] = v
		}
		return out
	}
	a := words(realPair(t, 16, 1, hw.RealLink{}))
	b := words(realPair(t, 16, 1, hw.RealLink{}))
	zero := words(realPair(t, 16, 1, hw.RealLink{RXMemory: hw.FillZero}))
	ideal := words(newEngine(t, hw.Config{Topology: hw.Pair(1), Depth: 16, Seed: 11}))
	nonzero := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("word %d differs between two runs of one seed", i)
		}
		if a[i] != 0 {
			nonzero++
		}
		if zero[i] != 0 || ideal[i] != 0 {
			t.Errorf("word %d: %#x with zero fill, %#x on the ideal link; want 0", i, zero[i], ideal[i])
		}
	}
	if nonzero < 15 {
		t.Errorf("%d of 16 random words are non-zero", nonzero)
	}
}

// TestRealLinkLocalCycles checks that bus results carry the node's own cycles, and that a
// node's cycle counter counts them.
func TestRealLinkLocalCycles(t *testing.T) {
	e := realPair(t, 16, 4, hw.RealLink{PPM: []float64{500, -500}})
	ctx := context.Background()
	if err := e.Step(1_000_000); err != nil {
		t.Fatal(err)
	}
	for n := 0; n < 2; n++ {
		res, err := e.Execute(ctx, n, []bus.Op{bus.Read(bus.RegCycleLo)})
		if err != nil {
			t.Fatal(err)
		}
		ck, _ := e.NodeClock(n)
		r := res[0]
		if r.Value != uint32(r.Local-ck.Released) {
			t.Errorf("node %d: counter %d in own cycle %d (released in %d)", n, r.Value, r.Local, ck.Released)
		}
		want := float64(r.Cycle) * (1 + []float64{500e-6, -500e-6}[n])
		if math.Abs(float64(r.Local)-want) > 2 {
			t.Errorf("node %d: own cycle %d at global cycle %d, want about %v", n, r.Local, r.Cycle, want)
		}
	}
}

// TestRealLinkHeldRegisters checks the link registers that hold what firmware writes, each
// port its own: ac_margin by byte lanes, ac_enable's bit 0 only with lane 0 selected,
// elastic_buffer_delta by full words only (a partial write answers ERR and changes nothing).
func TestRealLinkHeldRegisters(t *testing.T) {
	e := newEngine(t, hw.Config{Topology: hw.Ring(3, 8), Depth: 16, Seed: 3, Release: []uint64{0, 0, 0},
		Link: hw.LinkReal})
	m := bus.Map{Depth: e.Depth(), Ports: e.Ports()}
	reg := func(port int, r uint32) uint32 { return m.Link(port) + r }
	res := run(t, e, 0,
		bus.WriteMasked(reg(1, bus.LinkACMargin), 0xAABB, 0x1), // 0
		bus.Read(reg(1, bus.LinkACMargin)),
		bus.WriteMasked(reg(1, bus.LinkACMargin), 0xCCDD, 0x2),
		bus.Read(reg(1, bus.LinkACMargin)),
		bus.Read(reg(0, bus.LinkACMargin)),
		bus.WriteMasked(reg(1, bus.LinkACEnable), 1, 0x2), // 5
		bus.Read(reg(1, bus.LinkACEnable)),
		bus.WriteMasked(reg(1, bus.LinkACEnable), 1, 0x1),
		bus.Read(reg(1, bus.LinkACEnable)),
		bus.Read(reg(0, bus.LinkACEnable)),
		bus.Write(reg(1, bus.LinkEBDelta), 0xFFFFFFF9), // 10
		bus.WriteMasked(reg(1, bus.LinkEBDelta), 5, 0x1),
		bus.Read(reg(1, bus.LinkEBDelta)),
		bus.Read(reg(0, bus.LinkEBDelta)),
		bus.WriteMasked(reg(1, bus.LinkACMargin), 0x1234, 0x3),
		bus.Read(reg(1, bus.LinkACMargin)),                         // 15
		bus.WriteMasked(reg(1, bus.LinkACMargin), 0xFFFF5678, 0xC), // lanes 2-3: no bits
		bus.Read(reg(1, bus.LinkACMargin)),
		bus.WriteMasked(reg(1, bus.LinkACEnable), 0, 0x1),
		bus.Read(reg(1, bus.LinkACEnable)),
	)
	type want struct {
		i   int
		err bool
		v   uint32
	}
	def := uint32(hw.DefaultAutoCenterMargin)
	for _, w := range []want{
		{1, false, def&0xFF00 | 0xBB}, {3, false, 0xCCBB}, {4, false, def},
		{5, false, 0}, {6, false, 0}, {8, false, 1}, {9, false, 0},
		{10, false, 0}, {11, true, 0}, {12, false, 0xFFFFFFF9}, {13, false, 0},
		{15, false, 0x1234}, {16, false, 0}, {17, false, 0x1234}, {18, false, 0}, {19, false, 0},
	} {
		r := res[w.i]
		if r.Err != w.err || (!w.err && r.Value != w.v) {
			t.Errorf("op %d: err %v value %#x, want err %v value %#x", w.i, r.Err, r.Value, w.err, w.v)
		}
	}
}

// TestRealLinkOneEvaluation runs the same random co-simulation on the real link (clock
// control, clocks apart, a flap) with a model with assertions (two evaluations per edge)
// and one without (one evaluation: the bus response and the link registers' pulses come
// from the wrapper's copies registered at the edge): firmware batches that also write
// eb_adjust, clear the sticky flags, switch auto-centre and read the link registers. Every
// result, the cycle every Run returned at, the links' state, the events and the RX
// memories must be the same.
func TestRealLinkOneEvaluation(t *testing.T) {
	runOnce := func(noAssert bool) []string {
		topo := hw.Ring(3, 12)
		cfg := hw.Config{Topology: topo, Depth: 16, Seed: 9, NoAssert: noAssert, Link: hw.LinkReal,
			Real: hw.RealLink{PPM: []float64{-40, 5, 35}, Control: true, UpdateCycles: 2000,
				Flaps: []hw.Flap{{Link: 1, Down: 9000, Up: 12000}}}}
		e := newEngine(t, cfg)
		m := bus.Map{Depth: cfg.Depth, Ports: topo.Ports}
		rng := rand.New(rand.NewPCG(3, 3))
		var trace []string
		for e.Cycle() < 40_000 {
			for n := 0; n < topo.Nodes; n++ {
				if e.Busy(n) || rng.IntN(2) == 0 {
					continue
				}
				ops := randomBatch(rng, m)
				for k := rng.IntN(3); k > 0; k-- {
					p := rng.IntN(topo.Ports)
					switch rng.IntN(5) {
					case 0:
						ops = append(ops, bus.Write(m.Link(p)+bus.LinkEBAdjust, uint32(int32(rng.IntN(7)-3))))
					case 1:
						ops = append(ops, bus.Write(m.Link(p)+bus.LinkEBClearStatus, 1))
					case 2:
						ops = append(ops, bus.Write(m.Link(p)+bus.LinkACEnable, uint32(rng.IntN(2))))
					default:
						ops = append(ops, bus.Read(m.Link(p)+uint32(4*rng.IntN(8))))
					}
				}
				if err := e.Submit(n, ops); err != nil {
					t.Fatal(err)
				}
			}
			done, err := e.Run(e.Cycle() + uint64(1+rng.IntN(2000)))
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range done {
				res, err := e.Results(n)
				if err != nil {
					t.Fatal(err)
				}
				trace = append(trace, fmt.Sprintf("cycle %d node %d: %+v", e.Cycle(), n, res))
			}
		}
		for l := range topo.Links {
			trace = append(trace, fmt.Sprintf("link %d: %+v", l, linkState(t, e, l)))
		}
		evs, err := e.Events(0, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		adjusts := 0
		for _, ev := range evs {
			trace = append(trace, fmt.Sprintf("event %+v", ev))
			if ev.Kind == hw.EventAdjust {
				adjusts++
			}
		}
		if adjusts < 5 {
			t.Fatalf("only %d adjustments: the test does not exercise eb_adjust", adjusts)
		}
		for n := 0; n < topo.Nodes; n++ {
			for p := 0; p < topo.Ports; p++ {
				for i := 0; i < cfg.Depth; i++ {
					v, err := e.Peek(n, p, hw.RXMem, i)
					if err != nil {
						t.Fatal(err)
					}
					trace = append(trace, fmt.Sprintf("rx %d.%d[%d] %#x", n, p, i, v))
				}
			}
		}
		return trace
	}
	want, got := runOnce(false), runOnce(true)
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("one evaluation: first difference at entry %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
	if len(got) != len(want) {
		t.Fatalf("one evaluation: %d entries, want %d", len(got), len(want))
	}
}
