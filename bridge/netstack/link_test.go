package netstack_test

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"github.com/ringsim/ringsim/bridge/netstack"
)

var _ stack.LinkEndpoint = (*netstack.LinkEndpoint)(nil)

// ipv4Packet returns a valid IPv4 header (with an empty payload) from src to dst.
func ipv4Packet(src, dst netip.Addr) []byte {
	b := make([]byte, header.IPv4MinimumSize)
	ip := header.IPv4(b)
	ip.Encode(&header.IPv4Fields{
		TotalLength: header.IPv4MinimumSize,
		TTL:         64,
		Protocol:    uint8(header.UDPProtocolNumber),
		SrcAddr:     tcpip.AddrFrom4(src.As4()),
		DstAddr:     tcpip.AddrFrom4(dst.As4()),
	})
	ip.SetChecksum(^ip.CalculateChecksum())
	return b
}

func TestLinkDeliver(t *testing.T) {
	local, peer := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	v6 := make([]byte, header.IPv6MinimumSize)
	v6[0] = 0x60
	tests := []struct {
		name   string
		pkt    []byte
		attach bool
		want   bool
		stats  netstack.LinkStats
	}{
		{name: "empty", pkt: nil, attach: true, want: false, stats: netstack.LinkStats{RxDropped: 1}},
		{name: "version 0 (all-zero ring buffer)", pkt: make([]byte, 64), attach: true, want: false, stats: netstack.LinkStats{RxDropped: 1}},
		{name: "version 5", pkt: []byte{0x50, 1, 2, 3}, attach: true, want: false, stats: netstack.LinkStats{RxDropped: 1}},
		// No UDP in the stack: it answers with an ICMP protocol unreachable.
		{name: "ipv4 udp", pkt: ipv4Packet(peer, local), attach: true, want: true,
			stats: netstack.LinkStats{RxPackets: 1, RxBytes: 20, TxPackets: 1, TxBytes: 48}},
		{name: "truncated ipv4 goes to the stack", pkt: []byte{0x45, 0}, attach: true, want: true, stats: netstack.LinkStats{RxPackets: 1, RxBytes: 2}},
		{name: "ipv6", pkt: v6, attach: true, want: true, stats: netstack.LinkStats{RxPackets: 1, RxBytes: 40}},
		{name: "not attached", pkt: ipv4Packet(peer, local), attach: false, want: false, stats: netstack.LinkStats{RxDropped: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := netstack.NewLinkEndpoint(0, 0)
			if tt.attach {
				s, err := netstack.New(netstack.Options{Clock: netstack.NewClock()})
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				if _, err := s.AddLink(ep, local, peer); err != nil {
					t.Fatal(err)
				}
				defer s.Barrier()
			}
			if got := ep.Deliver(tt.pkt); got != tt.want {
				t.Errorf("Deliver(% x) = %v, want %v", tt.pkt, got, tt.want)
			}
			if diff := cmp.Diff(tt.stats, ep.Stats()); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
		})
	}
}

// writePackets writes packets with the given payloads to ep as one list.
func writePackets(ep *netstack.LinkEndpoint, payloads ...[]byte) ([]*stack.PacketBuffer, int, tcpip.Error) {
	var list stack.PacketBufferList
	var pkts []*stack.PacketBuffer
	for _, p := range payloads {
		pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(p)})
		list.PushBack(pkt)
		pkts = append(pkts, pkt)
	}
	n, err := ep.WritePackets(list)
	return pkts, n, err
}

func TestLinkWritePackets(t *testing.T) {
	a, b, c := []byte("first packet"), []byte("second"), []byte("third")
	tests := []struct {
		name      string
		limit     int
		close     bool
		payloads  [][]byte
		wantN     int
		wantErr   tcpip.Error
		wantQueue [][]byte
		stats     netstack.LinkStats
	}{
		{name: "unlimited", payloads: [][]byte{a, b, c}, wantN: 3, wantQueue: [][]byte{a, b, c},
			stats: netstack.LinkStats{TxPackets: 3, TxBytes: 23}},
		{name: "limit 2 drops the third", limit: 2, payloads: [][]byte{a, b, c}, wantN: 2, wantQueue: [][]byte{a, b},
			stats: netstack.LinkStats{TxPackets: 2, TxBytes: 18, TxDropped: 1}},
		{name: "closed", close: true, payloads: [][]byte{a, b}, wantN: 0, wantErr: &tcpip.ErrClosedForSend{},
			stats: netstack.LinkStats{TxDropped: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := netstack.NewLinkEndpoint(1500, tt.limit)
			closed := 0
			ep.SetOnCloseAction(func() { closed++ })
			if tt.close {
				ep.Close()
				ep.Close()
				if closed != 1 {
					t.Errorf("close action ran %d times after two Close calls, want 1", closed)
				}
			}
			pkts, n, err := writePackets(ep, tt.payloads...)
			if n != tt.wantN || err != tt.wantErr && (err == nil || tt.wantErr == nil || err.String() != tt.wantErr.String()) {
				t.Errorf("WritePackets = %d, %v; want %d, %v", n, err, tt.wantN, tt.wantErr)
			}
			// The endpoint must have copied: scribbling over the stack's
			// buffers must not change the queued packets.
			for _, pkt := range pkts {
				for _, s := range pkt.AsSlices() {
					for i := range s {
						s[i] = 0xee
					}
				}
				pkt.DecRef()
			}
			if got := ep.Pending(); got != len(tt.wantQueue) {
				t.Errorf("Pending() = %d, want %d", got, len(tt.wantQueue))
			}
			var got [][]byte
			for p := ep.Pop(); p != nil; p = ep.Pop() {
				got = append(got, p)
			}
			if diff := cmp.Diff(tt.wantQueue, got); diff != "" {
				t.Errorf("popped packets (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.stats, ep.Stats()); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLinkProperties(t *testing.T) {
	ep := netstack.NewLinkEndpoint(0, 0)
	if got := ep.MTU(); got != netstack.DefaultMTU {
		t.Errorf("MTU() = %d, want %d", got, netstack.DefaultMTU)
	}
	ep.SetMTU(1016)
	if got := ep.MTU(); got != 1016 {
		t.Errorf("MTU() after SetMTU(1016) = %d, want 1016", got)
	}
	if got := ep.Capabilities(); got != stack.CapabilityNone {
		t.Errorf("Capabilities() = %v, want CapabilityNone", got)
	}
	if got := ep.ARPHardwareType(); got != header.ARPHardwareNone {
		t.Errorf("ARPHardwareType() = %v, want ARPHardwareNone", got)
	}
	if got := ep.MaxHeaderLength(); got != 0 {
		t.Errorf("MaxHeaderLength() = %d, want 0", got)
	}
	if ep.IsAttached() {
		t.Errorf("IsAttached() of a new endpoint = true, want false")
	}
}

// TestLinkMTU checks that the stack honours a small link MTU (CRC framing with
// D = 16 gives 120 bytes): no packet is longer.
func TestLinkMTU(t *testing.T) {
	const mtu = 120
	p := newPair(t, pairConfig{Seeds: [2]uint64{1, 2}, Addrs: derivedAddrs, MTU: mtu})
	conns := connectDerived(p, 0)
	data := bytes.Repeat([]byte("0123456789"), 100)
	if n, err := conns[0].Write(data); n != len(data) || err != nil {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(data))
	}
	var got []byte
	buf := make([]byte, 4096)
	p.runUntil(p.time()+10*time.Second, "small MTU transfer", func() bool {
		n, _ := conns[1].Read(buf)
		got = append(got, buf[:n]...)
		return len(got) == len(data)
	})
	if !bytes.Equal(got, data) {
		t.Errorf("received %d bytes, want the %d sent", len(got), len(data))
	}
	// gVisor reserves 40 bytes of TCP options (timestamps and SACK blocks) in
	// every segment: 40 payload bytes per segment here, in 92-byte packets.
	if p.longest > mtu || p.longest == 0 {
		t.Errorf("longest packet on the wire %d bytes, want 1..%d", p.longest, mtu)
	}
}
