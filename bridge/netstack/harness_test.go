package netstack_test

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/ringsim/ringsim/bridge/netstack"
)

// impairment describes what a wire does to packets.
type impairment struct {
	Loss    float64 // probability a packet is dropped
	Dup     float64 // probability a packet is delivered twice
	Reorder float64 // probability a packet gets an extra random delay of up to Jitter
	Corrupt float64 // probability one bit of a (copy of a) packet is flipped
	Jitter  int64   // ns, maximum extra delay of a reordered packet
}

// wireConfig is the timing of a wire.
const (
	wireLatency = 10_000 // ns from leaving one endpoint to reaching the other
	wireGap     = 1_000  // ns between two packets leaving an endpoint (about D = 128 at 125 MHz)
	tickNanos   = 1_000  // ns per lockstep tick

	idleStepNanos = 1_000_000 // ns per tick when nothing is scheduled
)

// flight is a packet on a wire.
type flight struct {
	at  int64
	seq uint64
	b   []byte
}

// wire carries packets from one link endpoint to another with a latency, a
// rate limit and seeded impairments.
type wire struct {
	from, to *netstack.LinkEndpoint
	im       impairment
	rng      *rand.Rand
	flights  []flight // sorted by (at, seq)
	seq      uint64
	nextFree int64 // earliest time the next packet may leave

	sent, lost, duplicated, corrupted, delivered int
}

func newWire(from, to *netstack.LinkEndpoint, im impairment, seed uint64) *wire {
	return &wire{from: from, to: to, im: im, rng: rand.New(rand.NewPCG(seed, 0x77697265))}
}

// pump moves packets that may leave by now from the source endpoint onto the
// wire; trace sees each packet as it leaves.
func (w *wire) pump(now int64, trace func(now int64, b []byte)) {
	for w.nextFree <= now && w.from.Pending() > 0 {
		b := w.from.Pop()
		w.nextFree = max(w.nextFree, now) + wireGap
		w.sent++
		trace(now, b)
		if w.rng.Float64() < w.im.Loss {
			w.lost++
			continue
		}
		copies := 1
		if w.rng.Float64() < w.im.Dup {
			copies = 2
			w.duplicated++
		}
		for range copies {
			p := b
			if w.rng.Float64() < w.im.Corrupt {
				p = slices.Clone(b)
				bit := w.rng.IntN(8 * len(p))
				p[bit/8] ^= 1 << (bit % 8)
				w.corrupted++
			}
			at := now + wireLatency
			if w.im.Jitter > 0 && w.rng.Float64() < w.im.Reorder {
				at += w.rng.Int64N(w.im.Jitter)
			}
			w.seq++
			f := flight{at: at, seq: w.seq, b: p}
			i, _ := slices.BinarySearchFunc(w.flights, f, func(a, b flight) int {
				if a.at != b.at {
					return int(a.at - b.at)
				}
				return int(a.seq) - int(b.seq)
			})
			w.flights = slices.Insert(w.flights, i, f)
		}
	}
}

// deliver hands every packet due by now to the destination endpoint.
func (w *wire) deliver(now int64) {
	n := 0
	for n < len(w.flights) && w.flights[n].at <= now {
		w.to.Deliver(w.flights[n].b)
		w.delivered++
		n++
	}
	w.flights = slices.Delete(w.flights, 0, n)
}

// next returns the earliest time the wire has something to do.
func (w *wire) next() (int64, bool) {
	t, ok := int64(0), false
	if len(w.flights) > 0 {
		t, ok = w.flights[0].at, true
	}
	if w.from.Pending() > 0 && (!ok || w.nextFree < t) {
		t, ok = w.nextFree, true
	}
	return t, ok
}

// pairConfig configures a two-node simulation.
type pairConfig struct {
	Seeds    [2]uint64 // stack seeds
	WireSeed uint64
	Im       impairment
	MinRTO   time.Duration
	MTU      uint32 // link MTU, default netstack.DefaultMTU
	Links    int    // number of parallel links, default 1
	// Addrs gives each link's addresses: Addrs(link) = (address of node 0's
	// end, address of node 1's end).
	Addrs func(link int) (netip.Addr, netip.Addr)
}

// pair is two stacks joined by wires, driven in lockstep on one clock.
type pair struct {
	tb      testing.TB
	clock   *netstack.Clock
	st      [2]*netstack.Stack
	nic     [][2]netstack.NIC // nic[link][node]
	wires   []*wire           // wires[2*link+node] carries node's end to the other node
	now     int64
	trace   hash.Hash
	pkts    int
	longest int // bytes of the longest packet sent
	// app runs once per tick after the barriers (the "CPU" of both nodes).
	app func()
}

func newPair(tb testing.TB, cfg pairConfig) *pair {
	tb.Helper()
	if cfg.Links == 0 {
		cfg.Links = 1
	}
	p := &pair{tb: tb, clock: netstack.NewClock(), trace: sha256.New()}
	for i := range p.st {
		st, err := netstack.New(netstack.Options{Seed: cfg.Seeds[i], Clock: p.clock, MinRTO: cfg.MinRTO})
		if err != nil {
			tb.Fatalf("New(seed %d): %v", cfg.Seeds[i], err)
		}
		p.st[i] = st
		tb.Cleanup(st.Close)
	}
	for l := range cfg.Links {
		a0, a1 := cfg.Addrs(l)
		addrs := [2]netip.Addr{a0, a1}
		var eps [2]*netstack.LinkEndpoint
		var nics [2]netstack.NIC
		for i := range eps {
			eps[i] = netstack.NewLinkEndpoint(cfg.MTU, 0)
			nic, err := p.st[i].AddLink(eps[i], addrs[i], addrs[1-i])
			if err != nil {
				tb.Fatalf("node %d AddLink(%v, %v): %v", i, addrs[i], addrs[1-i], err)
			}
			nics[i] = nic
		}
		p.nic = append(p.nic, nics)
		for i := range eps {
			p.wires = append(p.wires, newWire(eps[i], eps[1-i], cfg.Im, cfg.WireSeed+uint64(2*l+i)))
		}
	}
	return p
}

// tick advances one step: fire timers, deliver arrived packets, run TCP, run
// the application, send packets. When nothing is in flight or queued it jumps
// straight to the next timer or arrival.
func (p *pair) tick() {
	next := p.now + tickNanos
	busy := false
	var wake int64 = -1
	for _, w := range p.wires {
		if t, ok := w.next(); ok {
			busy = true
			if wake < 0 || t < wake {
				wake = t
			}
		}
	}
	if d, ok := p.clock.NextDeadline(); ok && (wake < 0 || d < wake) {
		wake = d
	}
	if wake > next {
		next = wake
	} else if !busy && wake < 0 {
		// Nothing is scheduled: take a longer step.
		next = p.now + idleStepNanos
	}
	p.now = next
	p.clock.Advance(p.now)
	for _, w := range p.wires {
		w.deliver(p.now)
	}
	for _, st := range p.st {
		st.Barrier()
	}
	if p.app != nil {
		p.app()
	}
	for i, w := range p.wires {
		dir := byte(i)
		w.pump(p.now, func(now int64, b []byte) {
			var hdr [13]byte
			binary.LittleEndian.PutUint64(hdr[0:], uint64(now))
			hdr[8] = dir
			binary.LittleEndian.PutUint32(hdr[9:], uint32(len(b)))
			p.trace.Write(hdr[:])
			p.trace.Write(b)
			p.pkts++
			p.longest = max(p.longest, len(b))
		})
	}
}

// runUntil ticks until done returns true or the simulated time passes limit.
func (p *pair) runUntil(limit time.Duration, what string, done func() bool) {
	p.tb.Helper()
	for !done() {
		if p.now > int64(limit) {
			p.tb.Fatalf("%s: not done after %v simulated", what, limit)
		}
		p.tick()
	}
}

// time returns the simulated time.
func (p *pair) time() time.Duration { return time.Duration(p.now) }

// traceSum returns the hash of all packets so far with their times.
func (p *pair) traceSum() [32]byte {
	var s [32]byte
	copy(s[:], p.trace.Sum(nil))
	return s
}
