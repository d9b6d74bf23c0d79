package netstack_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/ringsim/ringsim/bridge/netstack"
)

// FuzzDeliver feeds arbitrary bytes to a link of a stack with a listener and
// checks that the endpoint accounts for every packet, accepts exactly the
// IPv4/IPv6 ones, and that the stack only ever sends well-formed IP packets no
// longer than the MTU.
func FuzzDeliver(f *testing.F) {
	local, peer := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	f.Add([]byte{})
	f.Add(make([]byte, 64))
	f.Add(ipv4Packet(peer, local))
	f.Add([]byte{0x60, 0, 0, 0, 0, 0, 6, 64})
	// A SYN to the listener, as a stack sends it.
	f.Add(capturedSYN(f, peer, local))
	f.Fuzz(func(t *testing.T, pkt []byte) {
		clock := netstack.NewClock()
		s, err := netstack.New(netstack.Options{Clock: clock, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ep := netstack.NewLinkEndpoint(0, 0)
		nic, err := s.AddLink(ep, local, peer)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := s.Listen(nic, netip.AddrPortFrom(local, testPort))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		got := ep.Deliver(pkt)
		s.Barrier()
		clock.Advance(int64(3 * time.Second))
		s.Barrier()
		want := len(pkt) > 0 && (pkt[0]>>4 == 4 || pkt[0]>>4 == 6)
		if got != want {
			t.Errorf("Deliver(% x) = %v, want %v", pkt, got, want)
		}
		if st := ep.Stats(); st.RxPackets+st.RxDropped != 1 {
			t.Errorf("RxPackets + RxDropped = %d + %d, want 1", st.RxPackets, st.RxDropped)
		}
		for out := ep.Pop(); out != nil; out = ep.Pop() {
			if len(out) > netstack.DefaultMTU || len(out) < 20 || (out[0]>>4 != 4 && out[0]>>4 != 6) {
				t.Errorf("stack sent a %d-byte packet starting % x", len(out), out[:min(len(out), 4)])
			}
		}
	})
}

// capturedSYN returns the SYN a stack at src sends to dst:testPort.
func capturedSYN(tb testing.TB, src, dst netip.Addr) []byte {
	s, err := netstack.New(netstack.Options{Clock: netstack.NewClock(), Seed: 2})
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close()
	ep := netstack.NewLinkEndpoint(0, 0)
	nic, err := s.AddLink(ep, src, dst)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := s.Dial(nic, netip.AddrPort{}, netip.AddrPortFrom(dst, testPort))
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Abort()
	return ep.Pop()
}
