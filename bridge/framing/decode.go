package framing

import (
	"fmt"
)

// Decoder turns the bytes read from one RX buffer into packets and drops the rest,
// with the rules of SPEC section 4:
//
//   - CRC: drop a frame whose CRC field equals the last accepted CRC (Repeat; an
//     all-zero header is always a Repeat, and the last accepted CRC starts at 0),
//     whose length is outside [MinPacketLen, MTU] (BadLength), or whose CRC does not
//     match (BadCRC), checked in that order.
//   - IP: drop a frame whose first 8 bytes are zero (Empty), whose version is neither
//     4 nor 6 (BadHeader), whose IP length is outside [MinPacketLen, MTU]
//     (BadLength), or whose packet is byte for byte the last accepted one (Repeat).
//
// A driver polls in two steps: read the first HeaderLen bytes and call FrameLen; if it
// returns no error, read that many bytes from byte 0 and call Decode. For CRC, FrameLen
// already recognises a repeat from the header, so a poll of an unchanged buffer costs
// one 64-bit read. Every poll is counted once in Stats: by FrameLen when it rejects the
// header, otherwise by Decode. Calling Decode alone, on the whole buffer, also works.
//
// Rejected frames do not change the decoder's state. A Decoder is not safe for
// concurrent use; use one per RX buffer.
//
// The IP framing cannot tell a packet sent twice in a row from a repeat: the second
// copy of two byte-identical packets (say, duplicate ACKs with the same TCP timestamp)
// is dropped as a Repeat. The CRC framing's sequence number does not have this flaw.
type Decoder struct {
	codec Codec
	mtu   int
	impl  decoding
	stats Stats
}

// NewDecoder returns a Decoder for framing c in an RX buffer of depth 64-bit words. It
// fails as MTU does.
func NewDecoder(c Codec, depth int) (*Decoder, error) {
	mtu, err := MTU(c, depth)
	if err != nil {
		return nil, fmt.Errorf("new decoder: %w", err)
	}
	return &Decoder{codec: c, mtu: mtu, impl: c.newDecoder()}, nil
}

// Codec returns the decoder's framing.
func (d *Decoder) Codec() Codec { return d.codec }

// MTU returns the largest packet the decoder accepts.
func (d *Decoder) MTU() int { return d.mtu }

// Stats returns the verdict counters so far.
func (d *Decoder) Stats() Stats { return d.stats }

// FrameLen inspects the first HeaderLen bytes of the buffer and returns how many
// bytes, from byte 0, hold the frame: HeaderLen plus the packet length for CRC, the
// packet length for IP. Reading that many bytes rounded up to the bus width is fine:
// Decode ignores bytes after the frame.
//
// When the header alone is enough to drop the frame, FrameLen counts the verdict and
// returns its sentinel error unwrapped, so that polling does not allocate: ErrRepeat
// or ErrBadLength (CRC), ErrEmpty, ErrBadHeader or ErrBadLength (IP). A header
// shorter than HeaderLen is ErrBadLength.
func (d *Decoder) FrameLen(header []byte) (int, error) {
	n, v := d.header(header)
	if v != Accepted {
		d.count(v)
		return 0, v.err()
	}
	return n, nil
}

// Decode checks one frame, which starts at byte 0 of frame and may be followed by
// other bytes, and returns the packet with Accepted, or nil with the reason it was
// dropped. The packet is a copy that the caller may keep and modify.
func (d *Decoder) Decode(frame []byte) ([]byte, Verdict) {
	pkt, v := d.decode(frame)
	d.count(v)
	return pkt, v
}

func (d *Decoder) decode(frame []byte) ([]byte, Verdict) {
	n, v := d.header(frame)
	if v != Accepted {
		return nil, v
	}
	if len(frame) < n {
		return nil, BadLength
	}
	return d.impl.accept(frame, n, &d.stats)
}

// header applies the checks that need only the first HeaderLen bytes and returns the
// frame length with Accepted, or the verdict that drops the frame.
func (d *Decoder) header(h []byte) (int, Verdict) {
	if len(h) < HeaderLen || d.impl == nil {
		return 0, BadLength
	}
	return d.impl.header(h, d.mtu)
}

func (d *Decoder) count(v Verdict) {
	switch v {
	case Accepted:
		d.stats.Accepted++
	case Repeat:
		d.stats.Repeats++
	case BadLength:
		d.stats.BadLength++
	case BadCRC:
		d.stats.BadCRC++
	case BadHeader:
		d.stats.BadHeader++
	case Empty:
		d.stats.Empty++
	}
}
