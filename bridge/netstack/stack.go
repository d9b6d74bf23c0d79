package netstack

import (
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// DefaultMinRTO is the TCP minimum retransmission timeout used when
// Options.MinRTO is 0 (gVisor's and Linux's default).
const DefaultMinRTO = 200 * time.Millisecond

// Options configures a Stack.
type Options struct {
	// Seed seeds every random choice of the stack (initial sequence numbers,
	// timestamp offsets, ephemeral ports, IP IDs). Give each node its own seed.
	Seed uint64
	// Clock is the simulated clock; required. Stacks of one simulation
	// normally share one Clock.
	Clock *Clock
	// MinRTO is the TCP minimum retransmission timeout (tcpip.TCPMinRTOOption,
	// set on the stack); 0 means DefaultMinRTO.
	MinRTO time.Duration
	// DisableSACK turns selective acknowledgements off (they are on by default).
	DisableSACK bool
	// DisableRACK turns RACK-TLP loss detection off (tcpip.TCPRecovery 0): losses are then
	// detected by duplicate acknowledgements and timeouts only. RACK judges loss by the
	// time a segment was handed to the link; when a link queues segments for a long time
	// before the wire takes them, that misreads queueing as loss.
	DisableRACK bool
	// ReceiveBuffer, if non-zero, fixes every connection's receive buffer (and so the
	// window it advertises) at this many bytes, with auto-tuning off. A link that carries
	// one packet at a time has a bandwidth-delay product of a few packets; gVisor's 1 MiB
	// default lets TCP queue hundreds of segments in front of it, and a retransmission
	// timeout then resends them all.
	ReceiveBuffer int
}

// Stack is one node's gVisor TCP/IP stack (IPv4, IPv6, TCP). Its TCP
// processor goroutine is kept paused and runs only inside Barrier.
//
// Methods other than Stats must be called from one goroutine (the simulation
// goroutine), never concurrently with each other.
type Stack struct {
	s      *stack.Stack
	clock  *Clock
	owner  *timerOwner
	closed bool
}

// gomaxprocsMu serializes the GOMAXPROCS change in New.
var gomaxprocsMu sync.Mutex

// New creates a stack. The stack is created while GOMAXPROCS is 1, so that TCP
// has exactly one processor goroutine (gVisor sizes its pool with
// runtime.GOMAXPROCS(0) at creation), and the previous value is set again
// afterwards; as with any runtime.GOMAXPROCS call, that turns off the
// runtime's automatic GOMAXPROCS updates. New is safe for concurrent use. The
// processor is paused before New returns; Close the stack to stop it.
func New(opts Options) (*Stack, error) {
	if opts.Clock == nil {
		return nil, fmt.Errorf("new stack: no clock: %w", ErrInvalidArgument)
	}
	minRTO := opts.MinRTO
	if minRTO == 0 {
		minRTO = DefaultMinRTO
	}
	if minRTO < 0 {
		return nil, fmt.Errorf("new stack: min rto %v: %w", minRTO, ErrInvalidArgument)
	}

	owner := &timerOwner{}
	so := stack.Options{
		NetworkProtocols: []stack.NetworkProtocolFactory{
			ipv4.NewProtocol,
			// Zero NDP and DAD settings: no router solicitations, no duplicate
			// address detection, so an idle link stays silent.
			ipv6.NewProtocolWithOptions(ipv6.Options{}),
		},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol},
		Clock:              ownedClock{Clock: opts.Clock, owner: owner},
		// HandleLocal false: a packet to one of our own addresses leaves on the
		// NIC instead of looping back, which mode B (same address at both ends)
		// needs, and inbound packets from our own address are accepted.
		HandleLocal: false,
		SecureRNG:   newSecureRNG(opts.Seed),
		RandSource:  newRandSource(opts.Seed),
	}

	gomaxprocsMu.Lock()
	prev := runtime.GOMAXPROCS(1)
	s := stack.New(so)
	runtime.GOMAXPROCS(prev)
	gomaxprocsMu.Unlock()
	s.Pause()

	st := &Stack{s: s, clock: opts.Clock, owner: owner}
	sack := tcpip.TCPSACKEnabled(!opts.DisableSACK)
	if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &sack); err != nil {
		st.Close()
		return nil, convertError("new stack: set sack", err)
	}
	rto := tcpip.TCPMinRTOOption(minRTO)
	if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &rto); err != nil {
		st.Close()
		return nil, convertError(fmt.Sprintf("new stack: set min rto %v", minRTO), err)
	}
	if opts.DisableRACK {
		rec := tcpip.TCPRecovery(0)
		if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &rec); err != nil {
			st.Close()
			return nil, convertError("new stack: disable rack", err)
		}
	}
	if opts.ReceiveBuffer > 0 {
		if opts.ReceiveBuffer < tcp.MinBufferSize {
			st.Close()
			return nil, fmt.Errorf("new stack: receive buffer %d below %d: %w", opts.ReceiveBuffer, tcp.MinBufferSize, ErrInvalidArgument)
		}
		moderate := tcpip.TCPModerateReceiveBufferOption(false)
		if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &moderate); err != nil {
			st.Close()
			return nil, convertError("new stack: receive buffer moderation", err)
		}
		rb := tcpip.TCPReceiveBufferSizeRangeOption{Min: tcp.MinBufferSize, Default: opts.ReceiveBuffer, Max: opts.ReceiveBuffer}
		if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &rb); err != nil {
			st.Close()
			return nil, convertError(fmt.Sprintf("new stack: receive buffer %d", opts.ReceiveBuffer), err)
		}
	}
	return st, nil
}

// Barrier runs all pending TCP processing (segments queued by Deliver, work
// queued by timers or by connection calls) to completion on the stack's
// processor goroutine and returns when it is idle and paused again. Outbound
// packets produced are in the link queues when Barrier returns. The processing
// runs on gVisor's processor goroutine while the caller waits, so it never
// overlaps the caller's own calls.
//
// Barrier returns at once if nothing that can queue TCP work (Deliver on one
// of the stack's links, one of its timers firing, a Listener or Conn call)
// happened since the last Barrier. Timers that processing schedules with a
// zero delay fire in the next Clock.Advance (which may be to the current time).
func (s *Stack) Barrier() {
	if s.closed || !s.owner.work.Swap(false) {
		return
	}
	s.s.Resume()
	s.s.Pause()
}

// markWork records that the TCP processor may have work for the next Barrier.
func (s *Stack) markWork() {
	s.owner.work.Store(true)
}

// Close aborts all connections, resumes and stops the TCP processor, removes
// the NICs (closing their link endpoints) and cancels the stack's pending
// timers on the Clock. Safe to call twice.
func (s *Stack) Close() {
	if s.closed {
		return
	}
	s.closed = true
	s.s.Resume()
	s.s.Close()
	s.s.Wait()
	s.clock.stopOwned(s.owner)
}

// AddLink adds a NIC for the point-to-point link ep, with the local address
// local (a /32 or /128) and a host route to peer through this NIC. local and
// peer must be of the same family. peer may equal local (addressing mode B:
// both ends use the same address): packets to the address still leave on the
// link, because the stack never delivers its own addresses locally
// (stack.Options.HandleLocal is false). The same local address may be used on
// several NICs; then pass the NIC to Dial, Listen and OpenSymmetric so that
// routing and demultiplexing are per NIC (SO_BINDTODEVICE). AddLink returns
// the new NIC's ID.
func (s *Stack) AddLink(ep *LinkEndpoint, local, peer netip.Addr) (NIC, error) {
	if s.closed {
		return 0, fmt.Errorf("add link: %w", ErrClosed)
	}
	local, peer = local.Unmap(), peer.Unmap()
	if !local.IsValid() || !peer.IsValid() || local.Is4() != peer.Is4() || local.IsUnspecified() || peer.IsUnspecified() {
		return 0, fmt.Errorf("add link %v -> %v: %w", local, peer, ErrInvalidArgument)
	}
	ep.setOnDeliver(s.markWork)
	id := s.s.NextNICID()
	if err := s.s.CreateNICWithOptions(id, ep, stack.NICOptions{Name: fmt.Sprintf("p2p%d", id)}); err != nil {
		return 0, convertError(fmt.Sprintf("add link %v -> %v: create nic %d", local, peer, id), err)
	}
	proto := netProto(local)
	addr := tcpip.AddrFromSlice(local.AsSlice())
	pa := tcpip.ProtocolAddress{
		Protocol:          proto,
		AddressWithPrefix: tcpip.AddressWithPrefix{Address: addr, PrefixLen: local.BitLen()},
	}
	if err := s.s.AddProtocolAddress(id, pa, stack.AddressProperties{}); err != nil {
		_ = s.s.RemoveNIC(id)
		return 0, convertError(fmt.Sprintf("add link %v -> %v: add address", local, peer), err)
	}
	dest, err := tcpip.NewSubnet(tcpip.AddrFromSlice(peer.AsSlice()), tcpip.MaskFromBytes(allOnes(peer.BitLen()/8)))
	if err != nil {
		_ = s.s.RemoveNIC(id)
		return 0, fmt.Errorf("add link %v -> %v: route: %v: %w", local, peer, err, ErrInvalidArgument)
	}
	s.s.AddRoute(tcpip.Route{Destination: dest, NIC: id})
	return NIC(id), nil
}

// NIC identifies a link endpoint attached to a Stack (AddLink). It keeps gVisor's types
// inside this package.
type NIC tcpip.NICID

// Stats are counters of one stack, read from gVisor's stack statistics.
type Stats struct {
	IPPacketsReceived   uint64 // IP packets delivered to the network layer
	IPPacketsSent       uint64 // IP packets sent
	IPMalformed         uint64 // IP packets dropped as malformed (bad header checksum, length)
	IPInvalidAddress    uint64 // IP packets dropped for a bad source or destination address
	TCPSegmentsSent     uint64 // TCP segments sent, including retransmissions
	TCPSegmentsReceived uint64 // valid TCP segments received
	TCPRetransmits      uint64 // TCP segments retransmitted
	TCPTimeouts         uint64 // retransmission timer expirations
	TCPFastRetransmits  uint64 // fast retransmissions
	TCPChecksumErrors   uint64 // TCP segments dropped for a bad checksum
	TCPInvalidSegments  uint64 // malformed TCP segments
	TCPResetsSent       uint64 // RSTs sent
	TCPResetsReceived   uint64 // RSTs received
	TCPActiveOpens      uint64 // connections opened by Dial
	TCPPassiveOpens     uint64 // connections accepted by a listener
	TCPFailedConnects   uint64 // failed connection attempts
	TCPEstablished      uint64 // connections currently ESTABLISHED
	TCPSlowStartRetrans uint64 // segments retransmitted in slow start (after a timeout)
	TCPSACKRecovery     uint64 // recoveries using SACK
	TCPTLPRecovery      uint64 // tail loss probe recoveries
	TCPSpuriousRecovery uint64 // recoveries found spurious (nothing was lost)
	TCPDSACKAcked       uint64 // segments acknowledged with a DSACK (duplicates received)
}

// Stats returns the stack's counters. Safe to call concurrently.
func (s *Stack) Stats() Stats {
	st := s.s.Stats()
	return Stats{
		IPPacketsReceived:   st.IP.PacketsReceived.Value(),
		IPPacketsSent:       st.IP.PacketsSent.Value(),
		IPMalformed:         st.IP.MalformedPacketsReceived.Value(),
		IPInvalidAddress:    st.IP.InvalidSourceAddressesReceived.Value() + st.IP.InvalidDestinationAddressesReceived.Value(),
		TCPSegmentsSent:     st.TCP.SegmentsSent.Value(),
		TCPSegmentsReceived: st.TCP.ValidSegmentsReceived.Value(),
		TCPRetransmits:      st.TCP.Retransmits.Value(),
		TCPSlowStartRetrans: st.TCP.SlowStartRetransmits.Value(),
		TCPSACKRecovery:     st.TCP.SACKRecovery.Value(),
		TCPTLPRecovery:      st.TCP.TLPRecovery.Value(),
		TCPSpuriousRecovery: st.TCP.SpuriousRecovery.Value() + st.TCP.SpuriousRTORecovery.Value(),
		TCPDSACKAcked:       st.TCP.SegmentsAckedWithDSACK.Value(),
		TCPTimeouts:         st.TCP.Timeouts.Value(),
		TCPFastRetransmits:  st.TCP.FastRetransmit.Value(),
		TCPChecksumErrors:   st.TCP.ChecksumErrors.Value(),
		TCPInvalidSegments:  st.TCP.InvalidSegmentsReceived.Value(),
		TCPResetsSent:       st.TCP.ResetsSent.Value(),
		TCPResetsReceived:   st.TCP.ResetsReceived.Value(),
		TCPActiveOpens:      st.TCP.ActiveConnectionOpenings.Value(),
		TCPPassiveOpens:     st.TCP.PassiveConnectionOpenings.Value(),
		TCPFailedConnects:   st.TCP.FailedConnectionAttempts.Value(),
		TCPEstablished:      st.TCP.CurrentEstablished.Value(),
	}
}

// netProto returns the network protocol number of a.
func netProto(a netip.Addr) tcpip.NetworkProtocolNumber {
	if a.Is4() {
		return header.IPv4ProtocolNumber
	}
	return header.IPv6ProtocolNumber
}

// allOnes returns n bytes of 0xff.
func allOnes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 0xff
	}
	return b
}
