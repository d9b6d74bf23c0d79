package framing

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// CRC is the upstream framing: an 8-byte header (CRC-32C u32 LE over bytes 4 to the end of
// the frame, sequence number u16 LE, length u16 LE) followed by the IP packet. Repeats are
// filtered by CRC; a receiver needs to poll only the header word.
var CRC Codec = crcCodec{}

// CRCMinDepth is the smallest buffer depth, in 64-bit words, that holds a CRC frame with
// a MinPacketLen packet.
const CRCMinDepth = (HeaderLen + MinPacketLen + 7) / 8

type crcCodec struct{}

func (crcCodec) Name() string   { return "crc" }
func (crcCodec) String() string { return "crc" }
func (crcCodec) Overhead() int  { return HeaderLen }
func (crcCodec) PollWords() int { return 1 }
func (crcCodec) Confirms() bool { return false }

// MTU is min(8*depth, 1500) - 8: depth 16: 120, 128: 1016, 188 and more: 1492.
func (crcCodec) MTU(depth int) (int, error) {
	if depth < CRCMinDepth {
		return 0, fmt.Errorf("crc framing mtu: depth %d < %d: %w", depth, CRCMinDepth, ErrDepth)
	}
	return min(8*depth, MaxFrameLen) - HeaderLen, nil
}

func (crcCodec) newEncoder() encoding { return &crcEncoder{} }
func (crcCodec) newDecoder() decoding { return &crcDecoder{} }

type crcEncoder struct {
	next uint16 // next sequence number
}

func (e *crcEncoder) seq() uint16 { return e.next }

// encode writes seq, len and the packet, then the CRC over them; Commit 4 makes the CRC
// the last bus write.
func (e *crcEncoder) encode(buf, pkt []byte) (Frame, error) {
	n := HeaderLen + len(pkt)
	data := resize(buf, n)
	binary.LittleEndian.PutUint16(data[4:6], e.next)
	binary.LittleEndian.PutUint16(data[6:8], uint16(len(pkt)))
	copy(data[HeaderLen:], pkt)
	binary.LittleEndian.PutUint32(data[0:4], Checksum(data[4:n]))
	e.next++
	return Frame{Data: data, Commit: 4}, nil
}

type crcDecoder struct {
	lastCRC uint32 // CRC of the last accepted frame, 0 before the first
	lastSeq uint16 // sequence number of the last accepted frame
	hasSeq  bool   // whether lastSeq is set
}

// header: an all-zero header or the last accepted CRC is a Repeat; a length outside
// [MinPacketLen, MTU] is BadLength.
func (d *crcDecoder) header(h []byte, mtu int) (int, Verdict) {
	if binary.LittleEndian.Uint64(h) == 0 || binary.LittleEndian.Uint32(h[0:4]) == d.lastCRC {
		return 0, Repeat
	}
	n := int(binary.LittleEndian.Uint16(h[6:8]))
	if n < MinPacketLen || n > mtu {
		return 0, BadLength
	}
	return HeaderLen + n, Accepted
}

// accept checks the CRC and counts sequence numbers skipped since the last frame as lost
// (a jump backwards by up to 32768, a sender that restarted, is not counted).
func (d *crcDecoder) accept(frame []byte, n int, st *Stats) ([]byte, Verdict) {
	crc := binary.LittleEndian.Uint32(frame[0:4])
	if Checksum(frame[4:n]) != crc {
		return nil, BadCRC
	}
	seq := binary.LittleEndian.Uint16(frame[4:6])
	if gap := seq - d.lastSeq - 1; d.hasSeq && gap < 1<<15 {
		st.Lost += uint64(gap)
	}
	d.lastCRC, d.lastSeq, d.hasSeq = crc, seq, true
	return bytes.Clone(frame[HeaderLen:n]), Accepted
}
