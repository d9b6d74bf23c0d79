package framing

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// fuzzDepths are the buffer depths the CRC fuzz target picks from: the smallest, the
// upstream ones (16, 128, 200, 4000) and the first where the 1500-byte cap applies.
var fuzzDepths = []int{CRCMinDepth, 16, 128, 187, 188, 200, 4000}

// verdictOf maps FrameLen's sentinel errors back to verdicts.
func verdictOf(t *testing.T, err error) Verdict {
	t.Helper()
	switch err {
	case nil:
		return Accepted
	case ErrRepeat:
		return Repeat
	case ErrBadLength:
		return BadLength
	case ErrBadHeader:
		return BadHeader
	case ErrEmpty:
		return Empty
	default:
		t.Fatalf("FrameLen returned %v, not one of its sentinels", err)
		return 0
	}
}

// checkDecode checks the invariants that hold for any input to a fresh decoder, and
// returns what Decode made of it.
func checkDecode(t *testing.T, k Codec, depth int, data []byte) ([]byte, Verdict) {
	t.Helper()
	mtu, err := MTU(k, depth)
	if err != nil {
		t.Fatalf("MTU(%s, %d): %v", k, depth, err)
	}

	// FrameLen, given only the header, agrees with Decode on a fresh decoder.
	n, err := mustDecoder(t, k, depth).FrameLen(data[:min(len(data), HeaderLen)])
	fromHeader := verdictOf(t, err)

	d := mustDecoder(t, k, depth)
	pkt, v := d.Decode(data)
	if fromHeader != Accepted && v != fromHeader {
		t.Fatalf("FrameLen says %v, Decode says %v", fromHeader, v)
	}
	if fromHeader == Accepted && (v == Empty || v == BadHeader || v == Repeat) {
		t.Fatalf("FrameLen accepts the header, Decode says %v", v)
	}
	if fromHeader == Accepted && v == BadLength && len(data) >= n {
		t.Fatalf("Decode says %v for %d bytes, FrameLen said %d are enough", v, len(data), n)
	}
	if v != Accepted {
		if pkt != nil {
			t.Fatalf("got %d packet bytes with %v, want none", len(pkt), v)
		}
		// A rejected frame leaves no trace: the same again gets the same verdict.
		if _, again := d.Decode(data); again != v {
			t.Fatalf("decoded twice: got %v, then %v", v, again)
		}
		return nil, v
	}

	if len(pkt) < MinPacketLen || len(pkt) > mtu {
		t.Fatalf("accepted a %d-byte packet, want [%d, %d]", len(pkt), MinPacketLen, mtu)
	}
	overhead, wantStats := 0, Stats{Accepted: 1, Repeats: 1}
	if k == CRC {
		overhead, wantStats.Repeats = HeaderLen, 2 // FrameLen below counts one more
	}
	if n != overhead+len(pkt) || n > len(data) {
		t.Fatalf("FrameLen %d for a %d-byte packet in %d bytes", n, len(pkt), len(data))
	}
	if _, again := d.Decode(data); again != Repeat {
		t.Fatalf("accepted frame decoded again: got %v, want %v", again, Repeat)
	}
	if _, err := d.FrameLen(data[:HeaderLen]); k == CRC && err != ErrRepeat {
		t.Fatalf("FrameLen of the accepted header: got error %v, want %v", err, ErrRepeat)
	}
	if got := d.Stats(); got != wantStats {
		t.Fatalf("Stats: got %+v, want %+v", got, wantStats)
	}
	return pkt, v
}

// checkRoundTrip checks that pkt, encoded with an encoder whose next sequence number
// is seq, decodes to itself, and returns the frame.
func checkRoundTrip(t *testing.T, k Codec, depth int, seq uint16, pkt []byte) Frame {
	t.Helper()
	e := mustEncoder(t, k, depth)
	setSeq(e, seq)
	f, err := e.Encode(nil, pkt)
	if err != nil {
		t.Fatalf("Encode(%d bytes): %v", len(pkt), err)
	}
	if len(f.Data)%8 != 0 || len(f.Data) > 8*depth {
		t.Fatalf("got %d frame bytes, want a multiple of 8 up to %d", len(f.Data), 8*depth)
	}
	got, v := mustDecoder(t, k, depth).Decode(f.Data)
	if v != Accepted || !bytes.Equal(got, pkt) {
		t.Fatalf("round trip of %d bytes: got %v with %d bytes, want %v with the same", len(pkt), v, len(got), Accepted)
	}
	return f
}

func FuzzDecodeCRC(f *testing.F) {
	e := mustEncoder(f, CRC, 200)
	for _, n := range []int{20, 21, 100, 1016, 1492} {
		fr := mustEncode(f, e, ipv4Packet(n, byte(n)))
		f.Add(uint8(5), fr.Data)
		f.Add(uint8(2), fr.Data)
		f.Add(uint8(0), fr.Data[:len(fr.Data)-8])
	}
	f.Add(uint8(0), make([]byte, 8*16))
	f.Add(uint8(1), []byte{})
	f.Add(uint8(1), []byte{1, 2, 3, 4, 0, 0, 20, 0})
	f.Add(uint8(0x81), append([]byte{0, 0, 0, 0, 7, 0, 20, 0}, make([]byte, 20)...))
	// At the MTU of D=187 (fuzzDepths[3]) and one past it, with the CRC fixed up.
	for _, n := range []int{1488, 1489} {
		b := make([]byte, HeaderLen+n)
		binary.LittleEndian.PutUint16(b[6:8], uint16(n))
		f.Add(uint8(0x80|3), b)
	}

	f.Fuzz(func(t *testing.T, sel uint8, data []byte) {
		depth := fuzzDepths[int(sel&0x7F)%len(fuzzDepths)]
		mtu, _ := MTU(CRC, depth)
		// With the top bit of sel set, put the right CRC in the frame first, so that
		// the fuzzer also explores frames past the CRC check.
		if sel&0x80 != 0 && len(data) >= HeaderLen {
			if end := HeaderLen + int(binary.LittleEndian.Uint16(data[6:8])); end <= len(data) {
				data = bytes.Clone(data)
				binary.LittleEndian.PutUint32(data[0:4], Checksum(data[4:end]))
			}
		}

		if pkt, v := checkDecode(t, CRC, depth, data); v == Accepted {
			n := HeaderLen + len(pkt)
			if got, want := int(binary.LittleEndian.Uint16(data[6:8])), len(pkt); got != want {
				t.Fatalf("len field %d, packet %d bytes", got, want)
			}
			if got, want := binary.LittleEndian.Uint32(data[0:4]), crc32cBitwise(data[4:n]); got != want {
				t.Fatalf("accepted crc field %#08x, crc-32c %#08x", got, want)
			}
			// Encoding the packet again with the same sequence number gives the
			// frame back, byte for byte.
			fr := checkRoundTrip(t, CRC, depth, binary.LittleEndian.Uint16(data[4:6]), pkt)
			if !bytes.Equal(fr.Data[:n], data[:n]) {
				t.Fatalf("re-encoded frame differs from the accepted one")
			}
		}

		// Any bytes of a valid length are a packet the CRC framing carries.
		if len(data) >= MinPacketLen && len(data) <= mtu {
			checkRoundTrip(t, CRC, depth, uint16(len(data)), data)
		}
	})
}

func FuzzDecodeIP(f *testing.F) {
	const depth = IPMinDepth
	e := mustEncoder(f, IP, depth)
	for _, n := range []int{20, 21, 40, 576, 1500} {
		f.Add(mustEncode(f, e, ipv4Packet(n, byte(n))).Data)
		if n >= ipv6HeaderLen {
			f.Add(mustEncode(f, e, ipv6Packet(n, byte(n))).Data)
		}
	}
	f.Add(make([]byte, 8*depth))
	f.Add([]byte{})
	f.Add([]byte{0x45, 0, 0, 20, 0, 0, 0, 0})
	f.Add([]byte{0x60, 0, 0, 0, 0, 0, 0, 0})

	f.Fuzz(func(t *testing.T, data []byte) {
		if pkt, v := checkDecode(t, IP, depth, data); v == Accepted {
			if !bytes.Equal(pkt, data[:len(pkt)]) {
				t.Fatalf("accepted packet is not the start of the frame")
			}
			if ver := pkt[0] >> 4; ver != 4 && ver != 6 {
				t.Fatalf("accepted ip version %d", ver)
			}
			fr := checkRoundTrip(t, IP, depth, 0, pkt)
			if !bytes.Equal(fr.Data[:len(pkt)], pkt) {
				t.Fatalf("re-encoded frame differs from the accepted one")
			}
		}

		// Encode takes exactly the packets that decode: a consistent IP header of a
		// valid length.
		if _, err := mustEncoder(t, IP, depth).Encode(nil, data); err == nil {
			checkRoundTrip(t, IP, depth, 0, data)
		} else if len(data) >= HeaderLen {
			if n, ok := ipLen(data); ok && n == len(data) && n >= MinPacketLen && n <= MaxFrameLen {
				t.Fatalf("Encode refused a valid %d-byte packet: %v", n, err)
			}
		}
	})
}
