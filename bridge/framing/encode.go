package framing

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// Encoder turns IP packets into frames for one TX buffer. For the CRC framing it keeps
// the sequence number, which starts at 0 and goes up by one per encoded packet,
// wrapping at 65535. An Encoder is not safe for concurrent use; use one per TX buffer.
type Encoder struct {
	codec Codec
	mtu   int
	impl  encoding
}

// NewEncoder returns an Encoder for framing c in a TX buffer of depth 64-bit words. It
// fails as MTU does.
func NewEncoder(c Codec, depth int) (*Encoder, error) {
	mtu, err := MTU(c, depth)
	if err != nil {
		return nil, fmt.Errorf("new encoder: %w", err)
	}
	return &Encoder{codec: c, mtu: mtu, impl: c.newEncoder()}, nil
}

// Codec returns the encoder's framing.
func (e *Encoder) Codec() Codec { return e.codec }

// MTU returns the largest packet Encode accepts.
func (e *Encoder) MTU() int { return e.mtu }

// Seq returns the sequence number the next CRC frame will carry.
func (e *Encoder) Seq() uint16 { return e.impl.seq() }

// Frame is one encoded frame, laid out as it must sit in the TX data region from byte
// 0, and the order in which the sender must write it.
//
// Write rule: write Data[Commit:] first, then Data[:Commit], so that the bytes a
// receiver uses to tell a new frame from the previous one change last. For CRC,
// Commit is 4: sequence number, length and packet first, the CRC last (one 32-bit bus
// write). For IP, Commit is 8: the packet from byte 8 first, its first 8 bytes last.
// Writes32 lists the bus writes in that order. On a 32-bit bus the IP framing's 8
// commit bytes take two writes, so a reader can still catch a header that is half new;
// such a frame is left for the IP and TCP checksums to reject.
type Frame struct {
	// Data is the frame zero-padded to a whole number of 64-bit words (a multiple of
	// 8 bytes); it never exceeds the buffer.
	Data []byte
	// Commit is the number of leading bytes of Data to write last.
	Commit int
}

// Write32 is one 32-bit bus write into a TX data region.
type Write32 struct {
	// Offset is the byte offset from the start of the data region, a multiple of 4.
	Offset int
	// Value is the little-endian word for bytes Offset .. Offset+3.
	Value uint32
}

// Encode frames pkt and returns the frame; for CRC it advances the sequence number.
// The frame's Data uses buf's storage when it is large enough (buf may be nil), so
// it is overwritten by the next Encode that is given the same buf; pkt is not kept.
//
// It fails with ErrBadLength when len(pkt) is outside [MinPacketLen, MTU] or, for IP,
// when the IP header's length disagrees with len(pkt), and with ErrBadHeader when an
// IP packet's version is neither 4 nor 6. A failed Encode leaves the sequence number
// unchanged.
func (e *Encoder) Encode(buf, pkt []byte) (Frame, error) {
	if len(pkt) < MinPacketLen || len(pkt) > e.mtu {
		return Frame{}, fmt.Errorf("encode %s frame: packet length %d outside [%d, %d]: %w",
			e.codec, len(pkt), MinPacketLen, e.mtu, ErrBadLength)
	}
	return e.impl.encode(buf, pkt)
}

// resize returns a slice of n rounded up to a multiple of 8 bytes, using buf's storage
// when it is large enough, with the padding after n zeroed.
func resize(buf []byte, n int) []byte {
	size := (n + 7) &^ 7
	var b []byte
	if cap(buf) >= size {
		b = buf[:size]
	} else {
		b = make([]byte, size)
	}
	clear(b[n:])
	return b
}

// Words32 returns Data as little-endian 32-bit words in address order: word i is bus
// offset 4*i. Even words are the low halves of the 64-bit buffer words.
func (f Frame) Words32() []uint32 {
	w := make([]uint32, len(f.Data)/4)
	for i := range w {
		w[i] = binary.LittleEndian.Uint32(f.Data[4*i:])
	}
	return w
}

// Writes32 appends to dst the 32-bit bus writes that put the frame in the TX data
// region, in the order the sender must issue them (see Frame): the words from offset
// Commit upwards, then the Commit words downwards, so the last write is offset 0.
func (f Frame) Writes32(dst []Write32) []Write32 {
	n := len(f.Data) / 4
	dst = slices.Grow(dst, n)
	w := dst[len(dst) : len(dst)+n]
	i := 0
	for off := f.Commit; off+4 <= len(f.Data); off += 4 {
		w[i] = Write32{Offset: off, Value: binary.LittleEndian.Uint32(f.Data[off:])}
		i++
	}
	for off := f.Commit - 4; off >= 0; off -= 4 {
		w[i] = Write32{Offset: off, Value: binary.LittleEndian.Uint32(f.Data[off:])}
		i++
	}
	return dst[:len(dst)+n]
}

// Words64 returns Data as little-endian 64-bit buffer words in address order. A sender
// that writes whole 64-bit words must write words 1 .. len-1 first and word 0 last
// (Commit never exceeds 8 bytes).
func (f Frame) Words64() []uint64 {
	w := make([]uint64, len(f.Data)/8)
	for i := range w {
		w[i] = binary.LittleEndian.Uint64(f.Data[8*i:])
	}
	return w
}
