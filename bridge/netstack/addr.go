package netstack

import (
	"crypto/sha256"
	"encoding/binary"
	"net/netip"
)

// PortID names one end of a link: a node's 96-bit device DNA and the port
// (link) number on that node. It is the input of addressing mode A (SPEC
// section 5, "derived").
type PortID struct {
	DNA  [12]byte // device DNA, little endian as the link protocol sends it
	Port uint32   // port number on the node
}

// addrDomain separates the address hash from any other use of SHA-256.
const addrDomain = "ringsim/netstack/addr/v1"

// Addr returns the IPv4 address derived from the port's DNA and number:
//
//	h = SHA-256("ringsim/netstack/addr/v1" || DNA[0:12] || uint32le(Port))
//	v = uint32be(h[0:4]) mod (2^24 - 2)
//	addr = 10.0.0.0 + 1 + v
//
// so it lies in 10.0.0.1 .. 10.255.255.254 (never the /8 network or broadcast
// address). Two ends may collide (probability about 6e-8 per pair); a link
// whose two ends collide still works, like mode B, because stacks never
// deliver their own addresses locally and connections are bound to the NIC.
func (p PortID) Addr() netip.Addr {
	h := sha256.New()
	h.Write([]byte(addrDomain))
	h.Write(p.DNA[:])
	var port [4]byte
	binary.LittleEndian.PutUint32(port[:], p.Port)
	h.Write(port[:])
	sum := h.Sum(nil)
	v := binary.BigEndian.Uint32(sum[0:4])%(1<<24-2) + 1
	return netip.AddrFrom4([4]byte{10, byte(v >> 16), byte(v >> 8), byte(v)})
}

// Compare orders ports by DNA, read as a little-endian 96-bit unsigned number,
// then by port number. It returns -1, 0 or +1.
func (p PortID) Compare(q PortID) int {
	for i := len(p.DNA) - 1; i >= 0; i-- {
		switch {
		case p.DNA[i] < q.DNA[i]:
			return -1
		case p.DNA[i] > q.DNA[i]:
			return 1
		}
	}
	switch {
	case p.Port < q.Port:
		return -1
	case p.Port > q.Port:
		return 1
	}
	return 0
}

// Connects reports whether, in addressing mode A, the end local opens the TCP
// connection (Dial) to peer; the other end listens. The end with the smaller
// PortID connects.
func Connects(local, peer PortID) bool {
	return local.Compare(peer) < 0
}
