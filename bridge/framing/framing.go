// Package framing encodes and decodes the two ways one IP packet is laid out at the
// start of a bittide ring buffer (SPEC section 4), as pure codecs over byte slices.
//
// The ring buffer data region is D 64-bit little-endian words, so 8*D bytes; byte k of
// the frame is byte lane k%8 of word k/8. Moving those bytes over the bus is the
// driver's job: an Encoder turns a packet into a Frame (and the bus writes that put it
// in the TX buffer, in the order that keeps a reader from seeing a half-written frame
// as new), and a Decoder turns what the driver read from the RX buffer back into a
// packet, or into the reason it was dropped.
//
// The two framings, each a Codec value in a file of its own (crc.go, ip.go):
//
//   - IP, the seed framing: the bare IP packet from byte 0, its length taken from the
//     IP header, no link checksum; repeats are filtered by content.
//   - CRC, the upstream framing: an 8-byte header (CRC-32C u32 LE over bytes 4 to the
//     end of the frame, sequence number u16 LE, length u16 LE), then the IP packet;
//     repeats are filtered by CRC.
package framing

import (
	"errors"
	"fmt"
	"hash/crc32"
	"sort"
	"strings"
)

// Codec is one packet framing: how an IP packet is laid out in a ring buffer, how a
// receiver tells a new frame from the last one, and what it takes to read one. The
// framings are values (CRC, IP); a new framing is one file of this package that
// implements Codec and adds itself to Codecs.
type Codec interface {
	// Name is the framing's name on the command line and in reports ("crc", "ip").
	Name() string
	// String returns Name.
	String() string
	// MTU returns the largest IP packet, in bytes, a buffer of depth 64-bit words carries,
	// or ErrDepth when the buffer cannot hold a frame.
	MTU(depth int) (int, error)
	// Overhead is the number of bytes a frame adds to its packet.
	Overhead() int
	// PollWords is how many 64-bit words, from word 0, a receiver polls to tell a new
	// frame from the one it took last.
	PollWords() int
	// Confirms reports whether the framing has no link checksum, so that a receiver
	// takes a packet only when two reads a rotation apart agree byte for byte.
	Confirms() bool

	newEncoder() encoding
	newDecoder() decoding
}

// encoding is a codec's per-buffer sender state (the CRC sequence number).
type encoding interface {
	// encode lays out pkt, whose length is already within [MinPacketLen, MTU].
	encode(buf, pkt []byte) (Frame, error)
	// seq is the sequence number the next frame carries (0 for framings without one).
	seq() uint16
}

// decoding is a codec's per-buffer receiver state.
type decoding interface {
	// header applies the checks that need only the first HeaderLen bytes (h holds at
	// least that many) and returns the frame length with Accepted, or the verdict.
	header(h []byte, mtu int) (int, Verdict)
	// accept checks a whole frame of n bytes (frame holds at least n) and returns the
	// packet with Accepted, updating the receiver state and st.Lost.
	accept(frame []byte, n int, st *Stats) ([]byte, Verdict)
}

// Codecs are the framings, by name.
var Codecs = map[string]Codec{CRC.Name(): CRC, IP.Name(): IP}

// Lookup returns the framing named name ("crc" or "ip").
func Lookup(name string) (Codec, error) {
	if c, ok := Codecs[name]; ok {
		return c, nil
	}
	return nil, fmt.Errorf("framing %q: want %s: %w", name, strings.Join(Names(), " or "), ErrKind)
}

// Names returns the framings' names, sorted.
func Names() []string {
	var n []string
	for k := range Codecs {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

const (
	// HeaderLen is the number of leading frame bytes (one 64-bit word) that
	// Decoder.FrameLen needs to tell how long the frame is. It is also the size of
	// the CRC framing's header.
	HeaderLen = 8
	// MinPacketLen is the shortest IP packet either framing accepts: a minimal IPv4
	// header.
	MinPacketLen = 20
	// MaxFrameLen is the longest frame, header included, either framing uses: the
	// link's 1500-byte IP MTU.
	MaxFrameLen = 1500
)

// ipv6HeaderLen is the fixed IPv6 header that the IPv6 payload length leaves out.
const ipv6HeaderLen = 40

var (
	// ErrKind reports a framing name that is neither "ip" nor "crc".
	ErrKind = errors.New("unknown framing")
	// ErrDepth reports a buffer too small for the framing.
	ErrDepth = errors.New("buffer depth too small for framing")
	// ErrBadLength reports a packet or frame length outside [MinPacketLen, MTU], a
	// length that disagrees with the IP header, or input too short to hold the
	// frame. Decoder.FrameLen returns it for the BadLength verdict.
	ErrBadLength = errors.New("length out of range")
	// ErrBadHeader reports an IP version nibble other than 4 or 6 (IP framing).
	// Decoder.FrameLen returns it for the BadHeader verdict.
	ErrBadHeader = errors.New("not an IPv4 or IPv6 header")
	// ErrRepeat is what Decoder.FrameLen returns for the Repeat verdict: the CRC
	// field equals the last accepted CRC, or the header is all zero (CRC framing).
	ErrRepeat = errors.New("repeated frame")
	// ErrEmpty is what Decoder.FrameLen returns for the Empty verdict: the header is
	// all zero (IP framing).
	ErrEmpty = errors.New("empty buffer")
)

// castagnoli is the CRC-32C table (poly 0x1EDC6F41, reflected, init and xorout
// 0xFFFFFFFF); crc32.Checksum uses the CPU's CRC32 instruction where there is one.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum returns the CRC-32C of b, as the CRC framing uses it.
func Checksum(b []byte) uint32 {
	return crc32.Checksum(b, castagnoli)
}

// MTU returns the largest IP packet, in bytes, that framing c carries in a buffer of
// depth 64-bit words (Codec.MTU; ErrKind for a nil codec).
func MTU(c Codec, depth int) (int, error) {
	if c == nil {
		return 0, fmt.Errorf("mtu: %w: none", ErrKind)
	}
	return c.MTU(depth)
}

// Verdict is what a Decoder made of one frame. The zero value is not a verdict.
type Verdict uint8

const (
	// Accepted means the frame holds a new packet, returned by Decode.
	Accepted Verdict = iota + 1
	// Repeat means the frame is the one accepted last (the sender has not written a
	// new one since). For CRC its CRC field equals the last accepted CRC, or its
	// header is all zero; for IP its bytes equal the last accepted packet.
	Repeat
	// BadLength means the length field is outside [MinPacketLen, MTU] or the input is
	// shorter than the frame it announces.
	BadLength
	// BadCRC means the CRC field does not match the frame (CRC framing): a torn or
	// corrupted frame.
	BadCRC
	// BadHeader means the IP version nibble is neither 4 nor 6 (IP framing).
	BadHeader
	// Empty means the header is all zero (IP framing): nothing was sent yet, or the
	// link is idle.
	Empty
)

// String returns the verdict in lower case, such as "accepted" or "bad crc".
func (v Verdict) String() string {
	switch v {
	case Accepted:
		return "accepted"
	case Repeat:
		return "repeat"
	case BadLength:
		return "bad length"
	case BadCRC:
		return "bad crc"
	case BadHeader:
		return "bad header"
	case Empty:
		return "empty"
	default:
		return fmt.Sprintf("Verdict(%d)", uint8(v))
	}
}

// err returns the sentinel error that Decoder.FrameLen reports for v, nil for Accepted.
func (v Verdict) err() error {
	switch v {
	case Repeat:
		return ErrRepeat
	case BadLength:
		return ErrBadLength
	case BadHeader:
		return ErrBadHeader
	case Empty:
		return ErrEmpty
	default:
		return nil
	}
}

// Stats counts a Decoder's verdicts, one per frame polled.
type Stats struct {
	// Accepted counts new packets returned.
	Accepted uint64
	// Repeats counts frames seen again (and, for CRC, all-zero buffers).
	Repeats uint64
	// BadLength counts frames with a length out of range or cut short.
	BadLength uint64
	// BadCRC counts CRC frames whose checksum did not match.
	BadCRC uint64
	// BadHeader counts IP frames with a version other than 4 or 6.
	BadHeader uint64
	// Empty counts IP frames with an all-zero header.
	Empty uint64
	// Lost counts CRC sequence numbers skipped between two accepted frames: packets
	// the sender wrote over before this side read them. A jump backwards by up to
	// 32768 (a sender that restarted) is not counted.
	Lost uint64
}
