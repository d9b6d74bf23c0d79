package netstack

import (
	"sync"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// DefaultMTU is the MTU of the seed framing (SPEC section 4).
const DefaultMTU = 1500

// LinkStats counts the packets and bytes a LinkEndpoint moved.
type LinkStats struct {
	TxPackets uint64 // packets the stack wrote and Pop can return (or returned)
	TxBytes   uint64 // bytes of TxPackets
	TxDropped uint64 // outbound packets dropped: queue full or endpoint closed
	RxPackets uint64 // inbound packets handed to the stack by Deliver
	RxBytes   uint64 // bytes of RxPackets
	RxDropped uint64 // inbound packets dropped: not IPv4/IPv6, or not attached
}

// LinkEndpoint is an IP-only point-to-point link endpoint: no link header, no
// ARP, no offloads (checksums are computed and verified in software), no GSO.
// Outbound packets are copied into a FIFO queue that the caller drains with
// Pop; inbound packets are injected with Deliver.
//
// All methods are safe for concurrent use: the stack writes packets from its
// TCP processor goroutine during a Barrier and from the caller's goroutine
// (timers, Write).
type LinkEndpoint struct {
	mu         sync.Mutex
	dispatcher stack.NetworkDispatcher // protected by mu
	mtu        uint32                  // protected by mu
	linkAddr   tcpip.LinkAddress       // protected by mu
	queue      [][]byte                // protected by mu; outbound FIFO from head
	head       int                     // protected by mu; index of the oldest packet in queue
	limit      int                     // protected by mu; max queued packets, 0 = unlimited
	closed     bool                    // protected by mu
	onClose    func()                  // protected by mu
	onDeliver  func()                  // protected by mu; called after a packet was delivered
	stats      LinkStats               // protected by mu
}

var _ stack.LinkEndpoint = (*LinkEndpoint)(nil)

// NewLinkEndpoint returns a link endpoint with the given MTU (DefaultMTU if 0)
// and an outbound queue of at most queueLimit packets (0: unlimited). When the
// queue is full, further outbound packets are dropped and counted.
func NewLinkEndpoint(mtu uint32, queueLimit int) *LinkEndpoint {
	if mtu == 0 {
		mtu = DefaultMTU
	}
	if queueLimit < 0 {
		queueLimit = 0
	}
	return &LinkEndpoint{mtu: mtu, limit: queueLimit}
}

// Pending returns the number of outbound packets waiting in the queue.
func (e *LinkEndpoint) Pending() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.queue) - e.head
}

// Pop removes and returns the oldest outbound packet (a complete IP packet the
// caller owns), or nil if the queue is empty.
func (e *LinkEndpoint) Pop() []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.head == len(e.queue) {
		return nil
	}
	p := e.queue[e.head]
	e.queue[e.head] = nil
	e.head++
	if e.head == len(e.queue) {
		e.queue = e.queue[:0]
		e.head = 0
	}
	return p
}

// Deliver injects one inbound packet (a complete IPv4 or IPv6 packet, chosen by
// its version nibble) into the attached stack. pkt is copied; the caller keeps
// it. Anything that is not IPv4 or IPv6, or arrives while the endpoint is not
// attached to a stack, is dropped and counted; Deliver then returns false.
// Checksums and lengths are checked by the stack (and counted in its Stats).
//
// Call Deliver from the simulation goroutine; the resulting TCP processing runs
// in the next Stack.Barrier.
func (e *LinkEndpoint) Deliver(pkt []byte) bool {
	var proto tcpip.NetworkProtocolNumber
	if len(pkt) > 0 {
		switch header.IPVersion(pkt) {
		case header.IPv4Version:
			proto = header.IPv4ProtocolNumber
		case header.IPv6Version:
			proto = header.IPv6ProtocolNumber
		}
	}
	e.mu.Lock()
	d, notify := e.dispatcher, e.onDeliver
	if proto == 0 || d == nil || e.closed {
		e.stats.RxDropped++
		e.mu.Unlock()
		return false
	}
	e.stats.RxPackets++
	e.stats.RxBytes += uint64(len(pkt))
	e.mu.Unlock()

	pb := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(pkt)})
	d.DeliverNetworkPacket(proto, pb)
	pb.DecRef()
	if notify != nil {
		notify()
	}
	return true
}

// setOnDeliver sets the function Deliver calls after handing a packet to the
// stack.
func (e *LinkEndpoint) setOnDeliver(f func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.onDeliver = f
}

// Stats returns the endpoint's counters.
func (e *LinkEndpoint) Stats() LinkStats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

// WritePackets implements stack.LinkEndpoint.WritePackets. It copies each
// packet into the outbound queue; the stack keeps its references.
func (e *LinkEndpoint) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		e.stats.TxDropped += uint64(pkts.Len())
		return 0, &tcpip.ErrClosedForSend{}
	}
	n := 0
	for _, pkt := range pkts.AsSlice() {
		if e.limit > 0 && len(e.queue)-e.head >= e.limit {
			e.stats.TxDropped += uint64(pkts.Len() - n)
			if n == 0 {
				return 0, &tcpip.ErrNoBufferSpace{}
			}
			return n, nil
		}
		b := make([]byte, 0, pkt.Size())
		for _, s := range pkt.AsSlices() {
			b = append(b, s...)
		}
		e.queue = append(e.queue, b)
		e.stats.TxPackets++
		e.stats.TxBytes += uint64(len(b))
		n++
	}
	return n, nil
}

// MTU implements stack.LinkEndpoint.MTU.
func (e *LinkEndpoint) MTU() uint32 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.mtu
}

// SetMTU implements stack.LinkEndpoint.SetMTU.
func (e *LinkEndpoint) SetMTU(mtu uint32) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.mtu = mtu
}

// MaxHeaderLength implements stack.LinkEndpoint.MaxHeaderLength. There is no
// link header, so it is 0.
func (*LinkEndpoint) MaxHeaderLength() uint16 { return 0 }

// LinkAddress implements stack.LinkEndpoint.LinkAddress. It is empty unless
// set: the link has no hardware addresses.
func (e *LinkEndpoint) LinkAddress() tcpip.LinkAddress {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.linkAddr
}

// SetLinkAddress implements stack.LinkEndpoint.SetLinkAddress.
func (e *LinkEndpoint) SetLinkAddress(addr tcpip.LinkAddress) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.linkAddr = addr
}

// Capabilities implements stack.LinkEndpoint.Capabilities. It returns
// stack.CapabilityNone: no link address resolution, no checksum offload.
func (*LinkEndpoint) Capabilities() stack.LinkEndpointCapabilities {
	return stack.CapabilityNone
}

// Attach implements stack.LinkEndpoint.Attach.
func (e *LinkEndpoint) Attach(dispatcher stack.NetworkDispatcher) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.dispatcher = dispatcher
}

// IsAttached implements stack.LinkEndpoint.IsAttached.
func (e *LinkEndpoint) IsAttached() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.dispatcher != nil
}

// Wait implements stack.LinkEndpoint.Wait. The endpoint has no goroutines.
func (*LinkEndpoint) Wait() {}

// ARPHardwareType implements stack.LinkEndpoint.ARPHardwareType.
func (*LinkEndpoint) ARPHardwareType() header.ARPHardwareType {
	return header.ARPHardwareNone
}

// AddHeader implements stack.LinkEndpoint.AddHeader. There is no link header.
func (*LinkEndpoint) AddHeader(*stack.PacketBuffer) {}

// ParseHeader implements stack.LinkEndpoint.ParseHeader. There is no link
// header.
func (*LinkEndpoint) ParseHeader(*stack.PacketBuffer) bool { return true }

// Close implements stack.LinkEndpoint.Close. It runs the action set with
// SetOnCloseAction, discards queued packets and refuses further writes and
// deliveries. Safe to call twice.
func (e *LinkEndpoint) Close() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.closed = true
	f := e.onClose
	e.onClose = nil
	e.queue = nil
	e.head = 0
	e.mu.Unlock()
	if f != nil {
		f()
	}
}

// SetOnCloseAction implements stack.LinkEndpoint.SetOnCloseAction.
func (e *LinkEndpoint) SetOnCloseAction(f func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.onClose = f
}
