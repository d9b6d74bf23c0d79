package bridge

import (
	"bytes"
	"encoding/binary"

	"github.com/ringsim/ringsim/bridge/framing"
	"github.com/ringsim/ringsim/sim/bus"
)

// DeviceStats counts one link's packet device traffic.
type DeviceStats struct {
	Sent     uint64 `json:"sent"`     // packets written to TX
	Accepted uint64 `json:"accepted"` // packets received and handed to the stack
	Repeats  uint64 `json:"repeats"`  // the same packet seen again on a later rotation
	// BadCRC counts CRC framing rejects (crc) or malformed IP headers (ip).
	BadCRC    uint64 `json:"bad_crc"`
	BadLength uint64 `json:"bad_length"`
	Lost      uint64 `json:"lost"` // gaps in the CRC framing's sequence numbers
	// TornTX counts hardware rotations that sent a mix of an old and a new packet, worked
	// out exactly from the cycles of the CPU's writes and the TX read counter.
	TornTX uint64 `json:"torn_tx"`
	// TornRX counts packet reads where the hardware wrote RX between the CPU's header poll
	// and its disabling RX for the read (the header it then read had changed).
	TornRX uint64 `json:"torn_rx"`
	Polls  uint64 `json:"polls"` // header polls
	// Unconfirmed counts seed-framing (ip) reads that disagreed with the read before: a
	// corrupted or torn copy that the receiver did not take for the packet.
	Unconfirmed uint64 `json:"unconfirmed"`
	// Dropped counts accepted packets thrown away on purpose (Config.DropRate): injected
	// frame loss on top of what the hardware does by itself.
	Dropped uint64 `json:"dropped_injected"`
}

// device is the IP-only packet device of one link (SPEC section 4): one packet at a time
// at the start of the TX buffer, re-sent every rotation until the next overwrites it.
type device struct {
	port    Port
	cost    Cost
	pacing  uint64 // minimum cycles from the end of one packet write to the next
	release uint64 // the node's reset release cycle, known from its cycle counter
	enc     *framing.Encoder
	dec     *framing.Decoder
	nic     nic // the stack's endpoint, wrapped (nic.go)
	stats   DeviceStats
	shift   uint64   // the RX counter's total clear_at_count shift (the aligned offset)
	hdrN    int      // 64-bit header words polled
	lastHdr []uint32 // the header words last acted on
	retries int      // reads of the current header that failed the framing's checks
	// cand (ip framing) is a frame read once and waiting for confirmation: with no link
	// checksum, the seed framing's receiver hands a packet to the stack only when two reads
	// at least a rotation apart agree byte for byte (each rotation brings fresh bit errors
	// and tears), so a corrupted read is never taken for the packet. candAt is its cycle.
	cand   []byte
	candAt uint64
	// readOnce turns the confirmation off: the design note's literal receiver, which
	// leaves corrupted reads to the IP and TCP checksums.
	readOnce bool
	// watch (the real link) makes receive report what asks for a re-alignment: the
	// partner's ANNOUNCE at RX word 0 (announced), or persistent framing errors (failing).
	watch     bool
	announced bool
	failing   bool
	fails     int    // frames the framing rejected since the last accepted one
	failSince uint64 // the first of them
	nextTX    uint64 // first cycle a new packet write may start
	first     uint64 // cycle the first packet write completed (0: none yet)
	lastSend  uint64 // cycle the last packet write completed
	buf       []byte
	writes    []framing.Write32
}

var _ packetDevice = (*device)(nil)

func newDevice(p Port, codec framing.Codec, cost Cost, pacing, release, shift uint64, n nic) (*device, error) {
	enc, err := framing.NewEncoder(codec, p.Depth)
	if err != nil {
		return nil, err
	}
	dec, err := framing.NewDecoder(codec, p.Depth)
	if err != nil {
		return nil, err
	}
	d := &device{port: p, cost: cost, pacing: pacing, release: release, shift: shift, enc: enc, dec: dec, nic: n}
	// The words a poll reads to tell a new frame from the last (framing.Codec.PollWords).
	d.hdrN = codec.PollWords()
	d.lastHdr = make([]uint32, 2*d.hdrN)
	return d, nil
}

// MTU implements packetDevice.MTU.
func (d *device) MTU() int { return d.enc.MTU() }

// attach implements packetDevice.attach.
func (d *device) attach(n nic) { d.nic = n }

// sendingSince implements packetDevice.sendingSince.
func (d *device) sendingSince() uint64 { return d.first }

// start enables the link for packets: TX word 0 (still the alignment marker) cleared, RX
// on, TX on, sending zeroes until the first packet.
func (d *device) start(c *cpu) error {
	return checkOK(c.node, "device start",
		c.exec(d.port.WriteTX(0, 0), d.port.SetRXEnable(true), d.port.SetTXEnable(true)))
}

// pollOps are the operations of one header poll: read the header words, then one
// polling loop iteration's worth of other work. A node polls all its links in one pass.
func (d *device) pollOps() []bus.Op {
	return idle([]bus.Op{d.port.ReadRX(0, d.hdrN)}, d.cost.Poll)
}

// service acts on a header poll's result (the first of pollOps' results) and then sends a
// queued packet if the pacing allows; it reports whether it did anything, and the cycle
// the CPU reached.
func (d *device) service(c *cpu, hdr bus.Result, now uint64) (bool, uint64, error) {
	did, now, err := d.receive(c, hdr, now)
	if err != nil {
		return false, now, err
	}
	if d.nic.Pending() > 0 && now >= d.nextTX {
		end, err := d.send(c)
		if err != nil {
			return false, now, err
		}
		return true, end, nil
	}
	return did, now, nil
}

// receive looks at a polled header; if it changed, it reads the whole frame with RX
// disabled and hands an accepted packet to the stack.
func (d *device) receive(c *cpu, r bus.Result, now uint64) (bool, uint64, error) {
	p := d.port
	if r.Err {
		return false, r.Cycle, busError(c.node, "packet header poll", r)
	}
	d.stats.Polls++
	hdr := r.Words
	if equalWords(hdr, d.lastHdr) && !(d.cand != nil && now >= d.candAt+uint64(p.Depth)) {
		return false, now, nil
	}
	hb := wordsToBytes(hdr)
	if d.watch && binary.LittleEndian.Uint64(hb) == Announce {
		// The partner runs the alignment again: it lost this link's other direction.
		d.announced = true
		copy(d.lastHdr, hdr)
		return false, now, nil
	}
	n, err := d.dec.FrameLen(hb[:framing.HeaderLen])
	if err != nil {
		// A repeat, or a header the framing rejects (counted by the decoder): nothing to read.
		copy(d.lastHdr, hdr)
		if d.watch && !bytes.Equal(hb, make([]byte, len(hb))) {
			d.failed(now)
		}
		return false, now, nil
	}
	words := max((n+7)/8, d.hdrN) // a corrupted IP length may be shorter than the header polled
	// Word 0 of a new packet has arrived; the rest of the packet arrives in the same pass of
	// the RX write counter. If the counter has not passed the packet's last word yet, wait
	// for it, or the read mixes in the previous pass's words.
	var ops []bus.Op
	// The RX counter runs on the node's own clock: the poll's local cycle, moved on by the
	// cycles since (a few: the clocks' ppm apart make no difference there).
	if k := d.rxCount(r.Local + (now - r.Cycle) + 1); k < uint64(words) {
		ops = append(ops, bus.Idle(uint32(uint64(words)-k)))
	}
	ops = append(ops, p.SetRXEnable(false), p.ReadRX(0, words), p.SetRXEnable(true))
	rd := len(ops) - 2
	ops = idle(ops, d.cost.PerPacket+d.cost.bytes(n))
	res := c.exec(ops...)
	if err := checkOK(c.node, "packet read", res); err != nil {
		return false, res[len(res)-1].Cycle, err
	}
	now = res[len(res)-1].Cycle
	frame := wordsToBytes(res[rd].Words)
	if !bytes.Equal(frame[:len(hb)], hb) {
		d.stats.TornRX++
	}
	if d.dec.Codec().Confirms() && !d.readOnce {
		if d.cand == nil || !bytes.Equal(d.cand, frame[:n]) {
			if d.cand != nil {
				d.stats.Unconfirmed++
			}
			// First read of this packet, or two reads that disagree: read it again a
			// rotation later.
			d.cand = append(d.cand[:0], frame[:n]...)
			d.candAt = res[rd].Cycle
			copy(d.lastHdr, hdr)
			return false, now, nil
		}
		d.cand = nil
	}
	pkt, v := d.dec.Decode(frame[:n])
	switch v {
	case framing.Accepted:
		copy(d.lastHdr, res[rd].Words[:len(d.lastHdr)])
		d.retries = 0
		d.fails = 0
		d.nic.Deliver(pkt, res[rd].Cycle)
		return true, now, nil
	case framing.Repeat:
		copy(d.lastHdr, res[rd].Words[:len(d.lastHdr)])
		d.fails = 0 // a packet seen again intact: the relation holds
	default:
		if d.watch {
			d.failed(now)
		}
		// Corrupted or torn: the next rotation rewrites the buffer, so read it again, but
		// give up on a header after a few tries.
		if d.retries++; d.retries >= maxRetries {
			copy(d.lastHdr, hdr)
			d.retries = 0
		}
	}
	return false, now, nil
}

// failed counts a frame the framing rejected; many of them close together, over many
// rotations, with no packet accepted mean the frame relation is broken by something
// nothing counted. (A quiet partner sends nothing new for long stretches: rejects spread
// over them, as a compensation's transient ones, do not count together.)
func (d *device) failed(now uint64) {
	if d.fails == 0 || now-d.failSince > errorHorizon*uint64(d.port.Depth) {
		d.fails, d.failSince = 0, now // too far apart to mean anything together
	}
	d.fails++
	if d.fails >= errorsToRealign && now-d.failSince >= errorWindow*uint64(d.port.Depth) {
		d.failing = true
	}
}

// reset forgets what the device knew of the RX buffer before a re-alignment.
func (d *device) reset() {
	clear(d.lastHdr)
	d.cand = nil
	d.retries, d.fails = 0, 0
	d.announced, d.failing = false, false
}

// maxRetries bounds the reads of one header whose frame fails the framing's checks.
const maxRetries = 4

// rxCount is the RX write counter in cycle c: it started at 0 when the node left reset,
// and every clear_at_count(v) moved it back by v.
func (d *device) rxCount(c uint64) uint64 {
	depth := uint64(d.port.Depth)
	return (c - d.release + depth - d.shift%depth) % depth
}

// send writes the next queued packet: everything but the commit bytes first, the commit
// bytes (the CRC, or the first IP header bytes) last, so a reader never sees a new header
// over an old body.
func (d *device) send(c *cpu) (uint64, error) {
	pkt := d.nic.Pop()
	if len(pkt) > d.MTU() {
		return 0, &tooLarge{node: c.node, port: d.port.Index, size: len(pkt), mtu: d.MTU(), depth: d.port.Depth}
	}
	f, err := d.enc.Encode(d.buf, pkt)
	if err != nil {
		// Not an IP packet: the stack never hands the device one.
		return 0, err
	}
	d.buf = f.Data
	d.writes = f.Writes32(d.writes[:0])
	ops := make([]bus.Op, 0, 4)
	// The writes come in runs of ascending offsets; each run is one block write.
	var run []uint32
	runStart := -1
	flush := func() {
		if run != nil {
			ops = append(ops, bus.WriteBlock(d.port.TXAddr(0)+uint32(runStart), run))
			run = nil
		}
	}
	for _, w := range d.writes {
		if run != nil && w.Offset == runStart+4*len(run) {
			run = append(run, w.Value)
			continue
		}
		flush()
		runStart = w.Offset
		run = []uint32{w.Value}
	}
	flush()
	nw := len(ops)
	ops = idle(ops, d.cost.PerPacket+d.cost.bytes(len(pkt)))
	res := c.exec(ops...)
	if err := checkOK(c.node, "packet write", res); err != nil {
		return 0, err
	}
	d.stats.Sent++
	d.lastSend = res[nw-1].Cycle
	if d.first == 0 {
		d.first = res[nw-1].Cycle
	}
	d.nic.Sent(pkt, res[nw-1].Cycle)
	d.stats.TornTX += d.torn(ops[:nw], res[:nw])
	end := res[len(res)-1].Cycle
	d.nextTX = res[nw-1].Cycle + d.pacing
	return end, nil
}

// torn counts hardware rotations that read part of the frame before and part after the
// CPU wrote it. The TX read counter is (cycle - release) mod D; the word read in cycle t is
// new only if it was written in an earlier cycle (the RAM is read-first).
func (d *device) torn(ops []bus.Op, res []bus.Result) uint64 {
	depth := uint64(d.port.Depth)
	// written[k] is the cycle in which 32-bit word k of the buffer was written.
	const unwritten = ^uint64(0)
	var written []uint64
	set := func(k int, cyc uint64) {
		for len(written) <= k {
			written = append(written, unwritten)
		}
		written[k] = cyc
	}
	first, last := ^uint64(0), uint64(0)
	for i, op := range ops {
		n := len(op.Words)
		base := int(op.Addr-d.port.TXAddr(0)) / 4
		end := res[i].Local // the TX read counter counts the node's own cycles
		for k := 0; k < n; k++ {
			cyc := end - uint64(n-1-k)
			set(base+k, cyc)
			first, last = min(first, cyc), max(last, cyc)
		}
	}
	return tornRotations(written, first, last, depth, d.release)
}

// tornRotations counts the TX read counter's passes that read part of a frame before and
// part after the CPU wrote it: written[k] is the cycle 32-bit word k was written (^0: not
// written), first and last the earliest and latest of them. The TX read counter is
// (cycle - release) mod D; the word read in cycle t is new only if it was written in an
// earlier cycle (the RAM is read-first).
func tornRotations(written []uint64, first, last, depth, release uint64) uint64 {
	const unwritten = ^uint64(0)
	words64 := uint64((len(written) + 1) / 2)
	// A pass reads word 0 in a cycle t0 with (t0 - release) mod D == 0 and word i in t0+i.
	// Only passes that overlap the writes can mix old and new.
	phase := (first + depth - release%depth) % depth // counter value in cycle first
	t0 := first - phase                              // a pass start at or before first
	var tornPasses uint64
	for ; t0 <= last; t0 += depth {
		oldSeen, newSeen := false, false
		for i := uint64(0); i < words64; i++ {
			t := t0 + i
			for h := uint64(0); h < 2; h++ {
				k := 2*i + h
				if k >= uint64(len(written)) || written[k] == unwritten {
					continue
				}
				if t > written[k] {
					newSeen = true
				} else {
					oldSeen = true
				}
			}
		}
		if oldSeen && newSeen {
			tornPasses++
		}
	}
	return tornPasses
}

// counters merges the decoder's counters into the device's.
func (d *device) counters() DeviceStats {
	s := d.stats
	ds := d.dec.Stats()
	s.Accepted = ds.Accepted
	s.Repeats = ds.Repeats
	s.BadCRC = ds.BadCRC + ds.BadHeader
	s.BadLength = ds.BadLength
	s.Lost = ds.Lost
	return s
}

func equalWords(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func wordsToBytes(ws []uint32) []byte {
	b := make([]byte, 4*len(ws))
	for i, w := range ws {
		binary.LittleEndian.PutUint32(b[4*i:], w)
	}
	return b
}
