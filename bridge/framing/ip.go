package framing

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// IP is the seed framing (the design note): the bare IP packet from byte 0, its length
// taken from the IP header, no link checksum. Repeats are filtered by content, so a
// receiver polls the IPv4 and TCP headers with the timestamp option (56 bytes: a shorter
// prefix misses window updates and duplicate acknowledgements, which share ports,
// sequence and acknowledgement numbers), and, with no checksum, takes a packet only when
// two reads a rotation apart agree.
var IP Codec = ipCodec{}

// IPMinDepth is the smallest buffer depth, in 64-bit words, that holds a 1500-byte packet
// and so supports the IP framing.
const IPMinDepth = (MaxFrameLen + 7) / 8

type ipCodec struct{}

func (ipCodec) Name() string   { return "ip" }
func (ipCodec) String() string { return "ip" }
func (ipCodec) Overhead() int  { return 0 }
func (ipCodec) PollWords() int { return 7 }
func (ipCodec) Confirms() bool { return true }

// MTU is 1500, in a buffer of at least IPMinDepth words.
func (ipCodec) MTU(depth int) (int, error) {
	if depth < IPMinDepth {
		return 0, fmt.Errorf("ip framing mtu: depth %d < %d: %w", depth, IPMinDepth, ErrDepth)
	}
	return MaxFrameLen, nil
}

func (ipCodec) newEncoder() encoding { return ipEncoder{} }
func (ipCodec) newDecoder() decoding { return &ipDecoder{} }

type ipEncoder struct{}

func (ipEncoder) seq() uint16 { return 0 }

// encode checks the packet's IP header and commits its first 8 bytes last.
func (ipEncoder) encode(buf, pkt []byte) (Frame, error) {
	n, ok := ipLen(pkt)
	if !ok {
		return Frame{}, fmt.Errorf("encode ip frame: ip version %d: %w", pkt[0]>>4, ErrBadHeader)
	}
	if n != len(pkt) {
		return Frame{}, fmt.Errorf("encode ip frame: ip header length %d, packet length %d: %w",
			n, len(pkt), ErrBadLength)
	}
	data := resize(buf, len(pkt))
	copy(data, pkt)
	return Frame{Data: data, Commit: HeaderLen}, nil
}

type ipDecoder struct {
	last []byte // the last accepted packet, empty before the first
}

// header: an all-zero header is Empty, a version other than 4 or 6 BadHeader, an IP length
// outside [MinPacketLen, MTU] BadLength.
func (d *ipDecoder) header(h []byte, mtu int) (int, Verdict) {
	if binary.LittleEndian.Uint64(h) == 0 {
		return 0, Empty
	}
	n, ok := ipLen(h)
	if !ok {
		return 0, BadHeader
	}
	if n < MinPacketLen || n > mtu {
		return 0, BadLength
	}
	return n, Accepted
}

// accept drops the packet accepted last (a Repeat) and takes any other.
func (d *ipDecoder) accept(frame []byte, n int, _ *Stats) ([]byte, Verdict) {
	pkt := frame[:n]
	if bytes.Equal(pkt, d.last) {
		return nil, Repeat
	}
	d.last = append(d.last[:0], pkt...)
	return bytes.Clone(pkt), Accepted
}

// ipLen returns the packet length that the IP header at the start of b announces, and
// false when the version is neither 4 nor 6. b must hold at least HeaderLen bytes.
func ipLen(b []byte) (int, bool) {
	switch b[0] >> 4 {
	case 4:
		return int(binary.BigEndian.Uint16(b[2:4])), true
	case 6:
		return ipv6HeaderLen + int(binary.BigEndian.Uint16(b[4:6])), true
	default:
		return 0, false
	}
}
