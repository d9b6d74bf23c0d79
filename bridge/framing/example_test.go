package framing_test

import (
	"encoding/binary"
	"fmt"

	"github.com/ringsim/ringsim/bridge/framing"
)

// Example shows a CRC frame going from a sender's TX buffer to a receiver's RX buffer,
// as a driver would move it: 32-bit writes in the order the frame asks for, then a
// header read, then a read of the whole frame.
func Example() {
	const depth = 16
	enc, err := framing.NewEncoder(framing.CRC, depth)
	if err != nil {
		panic(err)
	}
	dec, err := framing.NewDecoder(framing.CRC, depth)
	if err != nil {
		panic(err)
	}

	pkt := make([]byte, 20) // a minimal IPv4 header
	pkt[0], pkt[3] = 0x45, 20
	f, err := enc.Encode(nil, pkt)
	if err != nil {
		panic(err)
	}
	buf := make([]byte, 8*depth) // the buffer, as the link delivers it
	var offsets []int
	for _, w := range f.Writes32(nil) {
		offsets = append(offsets, w.Offset)
		binary.LittleEndian.PutUint32(buf[w.Offset:], w.Value)
	}
	fmt.Println("write offsets:", offsets)

	for poll := range 2 {
		n, err := dec.FrameLen(buf[:framing.HeaderLen])
		if err != nil {
			fmt.Printf("poll %d: %v\n", poll, err)
			continue
		}
		got, v := dec.Decode(buf[:n])
		fmt.Printf("poll %d: %d-byte frame, %v, %d-byte packet\n", poll, n, v, len(got))
	}
	fmt.Printf("%+v\n", dec.Stats())
	// Output:
	// write offsets: [4 8 12 16 20 24 28 0]
	// poll 0: 28-byte frame, accepted, 20-byte packet
	// poll 1: repeated frame
	// {Accepted:1 Repeats:1 BadLength:0 BadCRC:0 BadHeader:0 Empty:0 Lost:0}
}

// ExampleMTU prints the MTU of both framings for the buffer depths upstream uses.
func ExampleMTU() {
	for _, depth := range []int{16, 128, 200, 4000} {
		crc, _ := framing.MTU(framing.CRC, depth)
		ip, err := framing.MTU(framing.IP, depth)
		if err != nil {
			fmt.Printf("D=%d: crc %d, ip: %v\n", depth, crc, err)
			continue
		}
		fmt.Printf("D=%d: crc %d, ip %d\n", depth, crc, ip)
	}
	// Output:
	// D=16: crc 120, ip: ip framing mtu: depth 16 < 188: buffer depth too small for framing
	// D=128: crc 1016, ip: ip framing mtu: depth 128 < 188: buffer depth too small for framing
	// D=200: crc 1492, ip 1500
	// D=4000: crc 1492, ip 1500
}
