package bridge

import (
	"encoding/binary"
	"math/rand/v2"

	"github.com/ringsim/ringsim/bridge/netstack"
)

// nic is what a packet device talks to: the TCP/IP stack's link endpoint, wrapped by small
// endpoints that each add one thing (packet capture, injected drops, frame accounting), the
// way gVisor composes its sniffer and qdisc endpoints around a nested one.
type nic interface {
	// Deliver hands a packet the device accepted, read in cycle, towards the stack.
	Deliver(pkt []byte, cycle uint64)
	// Pending is the number of packets waiting to be sent; Pop takes the next one.
	Pending() int
	Pop() []byte
	// Sent reports a packet the device wrote to TX; its last bus write completed in cycle.
	Sent(pkt []byte, cycle uint64)
}

// stackNIC is the innermost nic: the netstack link endpoint.
type stackNIC struct{ *netstack.LinkEndpoint }

var _ nic = stackNIC{}

// Deliver implements nic.Deliver.
func (s stackNIC) Deliver(pkt []byte, _ uint64) { s.LinkEndpoint.Deliver(pkt) }

// Sent implements nic.Sent: the stack does not need to know.
func (stackNIC) Sent([]byte, uint64) {}

// nested forwards everything to the nic it wraps; the wrappers embed it and override what
// they add to.
type nested struct{ nic }

// sniffer writes every packet sent and accepted to a pcap, stamped with the simulated time
// of the bus access that moved it.
type sniffer struct {
	nested
	w   PacketWriter
	ns  float64 // nanoseconds per cycle
	err error   // the first write that failed: the run reports it (Runtime.closeCaptures)
}

func (s *sniffer) write(cycle uint64, pkt []byte) {
	if err := s.w.WritePacket(int64(float64(cycle)*s.ns+0.5), pkt); err != nil && s.err == nil {
		s.err = err
	}
}

// Deliver implements nic.Deliver.
func (s *sniffer) Deliver(pkt []byte, cycle uint64) {
	s.write(cycle, pkt)
	s.nic.Deliver(pkt, cycle)
}

// Sent implements nic.Sent.
func (s *sniffer) Sent(pkt []byte, cycle uint64) {
	s.write(cycle, pkt)
	s.nic.Sent(pkt, cycle)
}

// dropper throws away accepted packets with a seeded probability: injected frame loss on
// top of what the hardware does by itself (Config.DropRate). Dropped packets are neither
// captured nor counted as received.
type dropper struct {
	nested
	rate    float64
	rng     *rand.Rand
	dropped uint64
}

// Deliver implements nic.Deliver.
func (d *dropper) Deliver(pkt []byte, cycle uint64) {
	if d.rng.Float64() < d.rate {
		d.dropped++
		return
	}
	d.nic.Deliver(pkt, cycle)
}

// tally counts accepted packets that the other end of the link never sent: corrupted frames
// the framing let through. Both ends of a link share the knowledge through peer.
type tally struct {
	nested
	sent      map[uint64]struct{} // FNV-1a of every packet this end sent
	peer      *tally
	corrupted uint64
}

func newTally() *tally { return &tally{sent: map[uint64]struct{}{}} }

// Deliver implements nic.Deliver.
func (t *tally) Deliver(pkt []byte, cycle uint64) {
	if _, ok := t.peer.sent[fnv64(pkt)]; !ok {
		t.corrupted++
	}
	t.nic.Deliver(pkt, cycle)
}

// Sent implements nic.Sent.
func (t *tally) Sent(pkt []byte, cycle uint64) {
	t.sent[fnv64(pkt)] = struct{}{}
	t.nic.Sent(pkt, cycle)
}

// fnv64 is FNV-1a, 64 bits.
func fnv64(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// bufferLimits emulates small TCP socket buffers around gVisor, whose buffers cannot go
// below 4096 bytes (TCPSettings): it clamps the window field of every TCP segment the node
// sends to window bytes, and follows the peer's acknowledgements so that Conn.Write keeps
// at most sendLimit application bytes unacknowledged. One TCP connection per link.
type bufferLimits struct {
	nested
	window    int
	sendLimit int
	// written counts the application bytes Conn.Write handed to the stack.
	written uint64
	// isn is the initial sequence number of the last SYN this end sent; acked is how many
	// bytes after it the peer acknowledged (the SYN and a FIN count one each).
	isn     uint32
	haveISN bool
	acked   uint32
	// shift is the window scale this end announced in its SYN (-1: none); peerScales says
	// the peer's SYN carried the option too, so that windows after the SYN are scaled.
	shift      int
	peerScales bool
	clamped    uint64 // segments whose window was lowered
}

// room is how many more bytes Conn.Write may hand to the stack.
func (b *bufferLimits) room() int {
	acked := uint64(b.acked)
	if acked > 0 {
		acked-- // the SYN's sequence number
	}
	acked = min(acked, b.written)
	return b.sendLimit - int(b.written-acked)
}

// tcpHeader returns the offset of the TCP header in an IPv4 or IPv6 packet, or -1.
func tcpHeader(pkt []byte) int {
	switch {
	case len(pkt) >= 20 && pkt[0]>>4 == 4 && pkt[9] == 6:
		off := int(pkt[0]&0xF) * 4
		if len(pkt) >= off+20 {
			return off
		}
	case len(pkt) >= 60 && pkt[0]>>4 == 6 && pkt[6] == 6:
		return 40
	}
	return -1
}

// windowScale returns the window scale option of a SYN's TCP header, or -1.
func windowScale(tcp []byte) int {
	end := min(int(tcp[12]>>4)*4, len(tcp))
	for i := 20; i < end; {
		switch tcp[i] {
		case 0: // end of options
			return -1
		case 1: // no-op
			i++
			continue
		}
		if i+1 >= end || tcp[i+1] < 2 {
			return -1
		}
		if tcp[i] == 3 && tcp[i+1] == 3 && i+2 < end {
			return int(tcp[i+2])
		}
		i += int(tcp[i+1])
	}
	return -1
}

// Pop implements nic.Pop: the next packet, its TCP window clamped.
func (b *bufferLimits) Pop() []byte {
	pkt := b.nic.Pop()
	off := tcpHeader(pkt)
	if off < 0 {
		return pkt
	}
	tcp := pkt[off:]
	syn := tcp[13]&0x02 != 0
	if syn {
		b.isn = binary.BigEndian.Uint32(tcp[4:])
		b.haveISN = true
		b.shift = windowScale(tcp)
	}
	if b.window <= 0 {
		return pkt
	}
	limit := b.window
	if !syn && b.shift > 0 && b.peerScales {
		limit = max(b.window>>b.shift, 1)
	}
	old := binary.BigEndian.Uint16(tcp[14:])
	if int(old) <= limit {
		return pkt
	}
	binary.BigEndian.PutUint16(tcp[14:], uint16(limit))
	// RFC 1624: HC' = ~(~HC + ~m + m'), in one's complement arithmetic.
	sum := uint32(^binary.BigEndian.Uint16(tcp[16:])) + uint32(^old) + uint32(limit)
	for sum > 0xFFFF {
		sum = sum&0xFFFF + sum>>16
	}
	binary.BigEndian.PutUint16(tcp[16:], ^uint16(sum))
	b.clamped++
	return pkt
}

// Deliver implements nic.Deliver: it notes the peer's window scale and acknowledgements.
func (b *bufferLimits) Deliver(pkt []byte, cycle uint64) {
	if off := tcpHeader(pkt); off >= 0 {
		tcp := pkt[off:]
		if tcp[13]&0x02 != 0 {
			b.peerScales = windowScale(tcp) >= 0
		}
		if tcp[13]&0x10 != 0 && b.haveISN {
			if rel := binary.BigEndian.Uint32(tcp[8:]) - b.isn; rel < 1<<31 && rel > b.acked {
				b.acked = rel
			}
		}
	}
	b.nic.Deliver(pkt, cycle)
}
