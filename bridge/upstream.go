package bridge

import (
	"encoding/binary"
	"fmt"

	"github.com/ringsim/ringsim/bridge/framing"
	"github.com/ringsim/ringsim/sim/bus"
)

// upstreamPackets is the async-comms demo's packet phase (its main.rs:181-207 and the
// polling loops after it, branch lucas/ringbuffer-smoltcp 811196ed): right after alignment,
// with no guard, a LinkInterface per port in port order (whose RingBufferDevice::new enables
// RX, firmware-support/bittide-sys/src/smoltcp/ring_buffer.rs:90, and whose connect starts
// the simultaneous open), then a loop that polls every link in port order. Each poll is
// smoltcp's Interface::poll: receive until the device has nothing new, then transmit every
// packet the stack queued, each at once (no pacing).
type upstreamPackets struct{}

// upstreamMaxReceive bounds the receive calls of one poll (a broken invariant otherwise:
// an accepted frame's CRC becomes the last CRC, so the next call returns nothing).
const upstreamMaxReceive = 16

// run implements packetPhase.run.
func (upstreamPackets) run(rt *Runtime, n *nodeState, c *cpu, b Boot, _ Alignment) error {
	if n.cost.Setup > 0 {
		// What the firmware does between aligning and its first poll besides the protocol:
		// its UART lines (main.rs:174-179, 182, 201) and the interfaces' set-up.
		c.exec(bus.Idle(n.cost.Setup))
	}
	devs := make([]*upstreamDevice, len(n.links))
	for i, l := range n.links {
		d, err := newUpstreamDevice(l.port, n.cost, b.Release)
		if err != nil {
			return err
		}
		l.dev, devs[i] = d, d
		if rt.cfg.RealLink {
			// main.rs reads every port's UGN capture for its edges.
			if err := rt.readUGN(n, c, l); err != nil {
				return err
			}
		}
		if err := rt.attach(n, l); err != nil {
			return err
		}
		if err := checkOK(n.id, "device rx enable", c.exec(l.port.SetRXEnable(true))); err != nil {
			return err
		}
	}
	n.up = true
	// carry are operations due before the next batch's own (an RX enable after a receive
	// call that found nothing, the loop's own work): they join it, as the CPU runs them
	// back to back without waiting for anything.
	var carry []bus.Op
	for !rt.stop {
		did := false
		start := rt.now()
		for i, d := range devs {
			rejects := d.stats.BadCRC + d.stats.BadLength
			for k := 0; ; k++ {
				if k == upstreamMaxReceive {
					panic(fmt.Sprintf("bridge: node %d port %d: %d frames accepted in one poll", n.id, d.port.Index, k))
				}
				ok, post, err := d.receive(c, carry)
				if err != nil {
					return err
				}
				carry = post
				if !ok {
					break
				}
				did = true
			}
			for d.nic.Pending() > 0 {
				if err := d.transmit(rt, c, carry); err != nil {
					return err
				}
				carry = nil
				did = true
			}
			// A frame that changed under the read is news too: the next rotation completes it.
			did = did || d.stats.BadCRC+d.stats.BadLength != rejects
			// The loop's own work between two links' polls.
			carry = idle(carry, max(n.cost.Poll, 1))
			if i == len(devs)-1 {
				n.idlePass = 0
				if !did {
					n.idlePass = max(start, 1)
				}
			}
			if i == len(devs)-1 && !did {
				if err := checkOK(n.id, "idle iteration", c.idleIteration(carry...)); err != nil {
					return err
				}
				carry = nil
			}
		}
	}
	return nil
}

// upstreamDevice is the async-comms demo's smoltcp device, RingBufferDevice in
// firmware-support/bittide-sys/src/smoltcp/ring_buffer.rs (branch lucas/ringbuffer-smoltcp
// 811196ed), as bus operations. Its frame is the CRC framing's layout (SPEC section 4), but:
//
//   - transmit enables TX on every call (l.215-216), writes seq and len as two 16-bit writes
//     (l.303-304) and the packet straight into the TX buffer (l.308-313), computes the CRC
//     by reading bytes 4 .. 8+len of the TX buffer back (l.319-320) and writes it last
//     (l.323); there is no pacing, each packet overwrites the last at once, and the buffer
//     is never cleared;
//   - receive checks that RX is enabled (l.134-136), disables it at once, without waiting
//     for the RX write counter (l.139), reads CRC, seq and len (l.151-154), and drops a
//     frame whose CRC equals the last accepted CRC (l.160-164, only the CRC: the sequence
//     number is not checked), whose len is outside [20, MTU] (l.167-174) or whose CRC does
//     not match bytes 4 .. 8+len read from the RX buffer (l.183-195), re-enabling RX; an
//     accepted frame is read a second time by the stack (l.244-250) before RX is
//     re-enabled (l.257-258).
type upstreamDevice struct {
	port    Port
	cost    Cost
	release uint64
	mtu     int
	nic     nic
	stats   DeviceStats
	lastCRC uint32
	seq     uint16 // next sequence number sent
	// lastSeq and hasSeq count sequence gaps for the report (DeviceStats.Lost); upstream's
	// device does not look at them.
	lastSeq uint16
	hasSeq  bool
	first   uint64
	written []uint64
}

var _ packetDevice = (*upstreamDevice)(nil)

func newUpstreamDevice(p Port, cost Cost, release uint64) (*upstreamDevice, error) {
	// mtu = min(D*8, 1500) - 8 (l.85), the CRC framing's.
	mtu, err := framing.CRC.MTU(p.Depth)
	if err != nil {
		return nil, err
	}
	return &upstreamDevice{port: p, cost: cost, release: release, mtu: mtu}, nil
}

// MTU implements packetDevice.MTU.
func (d *upstreamDevice) MTU() int { return d.mtu }

// counters implements packetDevice.counters.
func (d *upstreamDevice) counters() DeviceStats { return d.stats }

// attach implements packetDevice.attach.
func (d *upstreamDevice) attach(n nic) { d.nic = n }

// sendingSince implements packetDevice.sendingSince.
func (d *upstreamDevice) sendingSince() uint64 { return d.first }

// receive is one call of the device's receive, after the operations pre: it reports
// whether it handed a packet to the stack, and returns the operations still due when it
// found nothing (the RX enable), which the caller runs before its next ones.
func (d *upstreamDevice) receive(c *cpu, pre []bus.Op) (bool, []bus.Op, error) {
	p := d.port
	res := c.exec(append(pre, p.RXEnable(), p.SetRXEnable(false),
		bus.Read(p.RXAddr(0)), bus.Read(p.RXAddr(0)+4), bus.Read(p.RXAddr(0)+4))...)
	if err := checkOK(c.node, "packet header read", res); err != nil {
		return false, nil, err
	}
	res = res[len(pre):]
	if res[0].Value&1 == 0 {
		// Upstream panics: "RX buffer is disabled at start of receive - this should not happen."
		return false, nil, fmt.Errorf("node %d port %d: RX buffer is disabled at start of receive (cycle %d)", c.node, p.Index, res[0].Cycle)
	}
	d.stats.Polls++
	crc := res[2].Value
	n := int(res[4].Value >> 16)
	reject := func() (bool, []bus.Op, error) {
		return false, []bus.Op{p.SetRXEnable(true)}, nil
	}
	switch {
	case crc == d.lastCRC:
		d.stats.Repeats++
		return reject()
	case n < framing.MinPacketLen || n > d.mtu:
		d.stats.BadLength++
		return reject()
	}
	total := framing.HeaderLen + n
	// The CRC pass: bytes 4 .. total from the RX buffer, and the CPU's CRC over them.
	r := c.exec(idle([]bus.Op{p.ReadRXBytes(4, (total-4+3)/4)}, d.cost.bytes(total-4))...)
	if err := checkOK(c.node, "packet crc read", r); err != nil {
		return false, nil, err
	}
	if framing.Checksum(wordsToBytes(r[0].Words)[:total-4]) != crc {
		d.stats.BadCRC++
		return reject()
	}
	d.lastCRC = crc
	if seq := uint16(res[3].Value); d.hasSeq {
		if gap := seq - d.lastSeq - 1; gap < 1<<15 {
			d.stats.Lost += uint64(gap)
		}
		d.lastSeq = seq
	} else {
		d.lastSeq, d.hasSeq = seq, true
	}
	// The stack's copy: the packet read again, then RX enabled.
	ops := idle([]bus.Op{p.ReadRXBytes(framing.HeaderLen, (n+3)/4)}, d.cost.PerPacket+d.cost.bytes(n))
	r = c.exec(append(ops, p.SetRXEnable(true))...)
	if err := checkOK(c.node, "packet read", r); err != nil {
		return false, nil, err
	}
	d.stats.Accepted++
	d.nic.Deliver(wordsToBytes(r[0].Words)[:n], r[0].Cycle)
	return true, nil, nil
}

// transmit writes the next queued packet, after the operations pre.
func (d *upstreamDevice) transmit(rt *Runtime, c *cpu, pre []bus.Op) error {
	pkt := d.nic.Pop()
	n := len(pkt)
	if n > d.mtu {
		// Upstream asserts (panics): "Packet length {} exceeds MTU {}" (l.282-287).
		return &tooLarge{node: c.node, port: d.port.Index, size: n, mtu: d.mtu, depth: d.port.Depth}
	}
	p := d.port
	base := p.TXAddr(0)
	k0 := len(pre)
	ops := append(pre, p.SetTXEnable(true),
		bus.WriteMasked(base+4, uint32(d.seq), 0x3),
		bus.WriteMasked(base+4, uint32(n)<<16, 0xC))
	// The packet from byte 8: whole words, then the last partial word's bytes only.
	var words []uint32
	for i := 0; i+4 <= n; i += 4 {
		words = append(words, binary.LittleEndian.Uint32(pkt[i:]))
	}
	if len(words) > 0 {
		ops = append(ops, bus.WriteBlock(base+8, words))
	}
	if r := n % 4; r != 0 {
		var tail [4]byte
		copy(tail[:], pkt[n-r:])
		ops = append(ops, bus.WriteMasked(base+8+uint32(n-r), binary.LittleEndian.Uint32(tail[:]), uint8(1<<r-1)))
	}
	nw := len(ops)
	ops = idle(ops, d.cost.PerPacket+d.cost.bytes(n))
	rb := len(ops)
	total := framing.HeaderLen + n
	ops = append(ops, p.ReadTX(4, (total-4+3)/4))
	res := c.exec(ops...)
	if err := checkOK(c.node, "packet write", res); err != nil {
		return err
	}
	crc := framing.Checksum(wordsToBytes(res[rb].Words)[:total-4])
	r := c.exec(idle([]bus.Op{bus.Write(base, crc)}, d.cost.bytes(total-4))...)
	if err := checkOK(c.node, "packet crc write", r); err != nil {
		return err
	}
	end := r[0].Cycle
	rt.sent(end)
	d.seq++
	d.stats.Sent++
	if d.first == 0 {
		d.first = end
	}
	d.nic.Sent(pkt, end)
	// Torn rotations: word 0 (the CRC), word 1 (seq and len, its second write), the packet.
	const unwritten = ^uint64(0)
	d.written = d.written[:0]
	for k := 0; k < (total+3)/4; k++ {
		d.written = append(d.written, unwritten)
	}
	// In the node's own cycles, as its TX read counter counts (global cycles on the ideal
	// link).
	endLocal := r[0].Local
	d.written[0], d.written[1] = endLocal, res[k0+2].Local
	first := res[k0+1].Local
	k := 2
	for _, i := range []int{k0 + 3, k0 + 4} {
		if i >= nw {
			break
		}
		op := ops[i]
		cnt := max(len(op.Words), 1)
		for j := 0; j < cnt; j++ {
			d.written[k] = res[i].Local - uint64(cnt-1-j)
			k++
		}
	}
	d.stats.TornTX += tornRotations(d.written, first, endLocal, uint64(p.Depth), d.release)
	return nil
}
