package netstack_test

import (
	"net/netip"
	"testing"

	"github.com/ringsim/ringsim/bridge/netstack"
)

// BenchmarkTransfer moves 1 MiB each way over a clean wire and reports
// packets per wall second and simulated nanoseconds per wall second.
func BenchmarkTransfer(b *testing.B) {
	var pkts int
	var sim int64
	for b.Loop() {
		res := transfer(b, pairConfig{Seeds: [2]uint64{1, 2}, WireSeed: 1, Addrs: derivedAddrs}, false, 1<<20)
		pkts += res.packets
		sim += int64(res.simTime)
	}
	b.ReportMetric(float64(pkts)/b.Elapsed().Seconds(), "packets/s")
	b.ReportMetric(float64(sim)/b.Elapsed().Seconds(), "sim-ns/s")
}

// BenchmarkBarrier measures one Barrier when nothing happened (skipped) and
// after a delivered packet (a real handoff to the TCP processor and back).
func BenchmarkBarrier(b *testing.B) {
	local, peer := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	pkt := ipv4Packet(peer, local)
	pkt[9] = 6 // TCP without a header: dropped by TCP as malformed
	tests := []struct {
		name    string
		deliver bool
	}{
		{name: "idle", deliver: false},
		{name: "after deliver", deliver: true},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			s, err := netstack.New(netstack.Options{Clock: netstack.NewClock()})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ep := netstack.NewLinkEndpoint(0, 0)
			if _, err := s.AddLink(ep, local, peer); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if tt.deliver {
					ep.Deliver(pkt)
				}
				s.Barrier()
			}
		})
	}
}
