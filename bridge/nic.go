package bridge

import (
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
	w  PacketWriter
	ns float64 // nanoseconds per cycle
}

func (s *sniffer) write(cycle uint64, pkt []byte) {
	_ = s.w.WritePacket(int64(float64(cycle)*s.ns+0.5), pkt)
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
