package netstack_test

import (
	"net/netip"
	"testing"

	"github.com/ringsim/ringsim/bridge/netstack"
)

func TestPortIDAddr(t *testing.T) {
	// Golden values, checked against an independent implementation of the
	// documented formula (Python hashlib).
	tests := []struct {
		name string
		id   netstack.PortID
		want string
	}{
		{name: "zero", id: netstack.PortID{}, want: "10.192.112.223"},
		{name: "node 0 port 0", id: netstack.PortID{DNA: dnas[0], Port: 0}, want: "10.163.69.88"},
		{name: "node 0 port 1", id: netstack.PortID{DNA: dnas[0], Port: 1}, want: "10.238.249.223"},
		{name: "node 1 port 0", id: netstack.PortID{DNA: dnas[1], Port: 0}, want: "10.89.188.66"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.id.Addr(); got != netip.MustParseAddr(tt.want) {
				t.Errorf("Addr() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPortIDAddrRange(t *testing.T) {
	net10 := netip.MustParsePrefix("10.0.0.0/8")
	seen := map[netip.Addr]netstack.PortID{}
	for node := range 64 {
		for port := range 16 {
			id := netstack.PortID{DNA: [12]byte{byte(node), 0xdd, 0x1a}, Port: uint32(port)}
			a := id.Addr()
			if !net10.Contains(a) || a == netip.MustParseAddr("10.0.0.0") || a == netip.MustParseAddr("10.255.255.255") {
				t.Errorf("%+v: Addr() = %v, want a host address in %v", id, a, net10)
			}
			if other, ok := seen[a]; ok {
				t.Errorf("%+v and %+v both derive %v", id, other, a)
			}
			seen[a] = id
		}
	}
}

func TestPortIDCompare(t *testing.T) {
	// DNA is a little-endian number: byte 11 is the most significant.
	hi := netstack.PortID{DNA: [12]byte{11: 1}}
	lo := netstack.PortID{DNA: [12]byte{0: 0xff, 10: 0xff}}
	tests := []struct {
		name string
		a, b netstack.PortID
		want int
	}{
		{name: "equal", a: hi, b: hi, want: 0},
		{name: "most significant DNA byte decides", a: lo, b: hi, want: -1},
		{name: "reversed", a: hi, b: lo, want: 1},
		{name: "same DNA, port decides", a: netstack.PortID{DNA: dnas[0], Port: 2}, b: netstack.PortID{DNA: dnas[0], Port: 3}, want: -1},
		{name: "DNA before port", a: netstack.PortID{DNA: hi.DNA, Port: 0}, b: netstack.PortID{DNA: lo.DNA, Port: 9}, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Compare(tt.b); got != tt.want {
				t.Errorf("Compare = %d, want %d", got, tt.want)
			}
			if got, want := netstack.Connects(tt.a, tt.b), tt.want < 0; got != want {
				t.Errorf("Connects(a, b) = %v, want %v", got, want)
			}
			if tt.want != 0 && netstack.Connects(tt.a, tt.b) == netstack.Connects(tt.b, tt.a) {
				t.Errorf("Connects is not antisymmetric: both ends would connect = %v", netstack.Connects(tt.a, tt.b))
			}
		})
	}
}
