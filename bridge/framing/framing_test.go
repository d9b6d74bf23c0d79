package framing

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ipv4Packet returns an n-byte IPv4 packet (no options) whose payload bytes are
// derived from tag, so packets with different tags differ.
func ipv4Packet(n int, tag byte) []byte {
	p := make([]byte, n)
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:4], uint16(n))
	p[8] = 64 // TTL
	p[9] = 17 // UDP
	copy(p[12:16], []byte{10, 0, 0, 1})
	copy(p[16:20], []byte{10, 0, 0, 2})
	for i := 20; i < n; i++ {
		p[i] = tag + byte(i)
	}
	return p
}

// ipv6Packet returns an n-byte IPv6 packet (n >= 40) whose payload bytes are derived
// from tag.
func ipv6Packet(n int, tag byte) []byte {
	p := make([]byte, n)
	p[0] = 0x60
	binary.BigEndian.PutUint16(p[4:6], uint16(n-ipv6HeaderLen))
	p[6] = 17
	p[7] = 64
	for i := 8; i < n; i++ {
		p[i] = tag ^ byte(i)
	}
	return p
}

// crc32cBitwise is a reference CRC-32C, bit by bit from the SPEC's parameters
// (poly 0x1EDC6F41, reflected as 0x82F63B78, init and xorout 0xFFFFFFFF), to check
// the table-driven Checksum against.
func crc32cBitwise(b []byte) uint32 {
	crc := ^uint32(0)
	for _, x := range b {
		crc ^= uint32(x)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0x82F63B78
			} else {
				crc >>= 1
			}
		}
	}
	return ^crc
}

func mustEncoder(t testing.TB, k Codec, depth int) *Encoder {
	t.Helper()
	e, err := NewEncoder(k, depth)
	if err != nil {
		t.Fatalf("NewEncoder(%s, %d): %v", k, depth, err)
	}
	return e
}

func mustDecoder(t testing.TB, k Codec, depth int) *Decoder {
	t.Helper()
	d, err := NewDecoder(k, depth)
	if err != nil {
		t.Fatalf("NewDecoder(%s, %d): %v", k, depth, err)
	}
	return d
}

func mustEncode(t testing.TB, e *Encoder, pkt []byte) Frame {
	t.Helper()
	f, err := e.Encode(nil, pkt)
	if err != nil {
		t.Fatalf("Encode(%d bytes): %v", len(pkt), err)
	}
	return f
}

func TestLookup(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    Codec
		wantErr error
	}{
		{name: "ip", text: "ip", want: IP},
		{name: "crc", text: "crc", want: CRC},
		{name: "upper case", text: "CRC", wantErr: ErrKind},
		{name: "empty", text: "", wantErr: ErrKind},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Lookup(tt.text)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Lookup(%q): got error %v, want %v", tt.text, err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("Lookup(%q): got %v, want %v", tt.text, got, tt.want)
			}
			if err != nil {
				return
			}
			if s := got.Name(); s != tt.text || got.String() != tt.text {
				t.Errorf("Name, String: got %q, %q, want %q", s, got.String(), tt.text)
			}
		})
	}
	if got := strings.Join(Names(), ","); got != "crc,ip" {
		t.Errorf("Names() = %q, want crc,ip", got)
	}
}

// TestCodecFacts pins what the device and the pacing derive from each framing.
func TestCodecFacts(t *testing.T) {
	for _, tt := range []struct {
		c                  Codec
		overhead, pollWord int
		confirms           bool
	}{{CRC, 8, 1, false}, {IP, 0, 7, true}} {
		if tt.c.Overhead() != tt.overhead || tt.c.PollWords() != tt.pollWord || tt.c.Confirms() != tt.confirms {
			t.Errorf("%v: overhead %d, poll words %d, confirms %v; want %d, %d, %v", tt.c, tt.c.Overhead(),
				tt.c.PollWords(), tt.c.Confirms(), tt.overhead, tt.pollWord, tt.confirms)
		}
	}
}

func TestMTU(t *testing.T) {
	tests := []struct {
		name    string
		kind    Codec
		depth   int
		want    int
		wantErr error
	}{
		{name: "crc D=16", kind: CRC, depth: 16, want: 120},
		{name: "crc D=128", kind: CRC, depth: 128, want: 1016},
		{name: "crc D=187", kind: CRC, depth: 187, want: 1488},
		{name: "crc D=188", kind: CRC, depth: 188, want: 1492},
		{name: "crc D=200", kind: CRC, depth: 200, want: 1492},
		{name: "crc D=4000", kind: CRC, depth: 4000, want: 1492},
		{name: "crc smallest", kind: CRC, depth: 4, want: 24},
		{name: "crc too small", kind: CRC, depth: 3, wantErr: ErrDepth},
		{name: "crc zero", kind: CRC, depth: 0, wantErr: ErrDepth},
		{name: "crc negative", kind: CRC, depth: -1, wantErr: ErrDepth},
		{name: "ip D=188", kind: IP, depth: 188, want: 1500},
		{name: "ip D=4000", kind: IP, depth: 4000, want: 1500},
		{name: "ip D=187", kind: IP, depth: 187, wantErr: ErrDepth},
		{name: "ip D=128", kind: IP, depth: 128, wantErr: ErrDepth},
		{name: "no framing", kind: nil, depth: 200, wantErr: ErrKind},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MTU(tt.kind, tt.depth)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
			if err != nil {
				return
			}
			// The largest frame fits in the buffer, padding included.
			e := mustEncoder(t, tt.kind, tt.depth)
			var pkt []byte
			if tt.kind == IP {
				pkt = ipv4Packet(got, 1)
			} else {
				pkt = make([]byte, got)
			}
			f := mustEncode(t, e, pkt)
			if len(f.Data) > 8*tt.depth {
				t.Errorf("frame of %d bytes in a %d-byte buffer", len(f.Data), 8*tt.depth)
			}
			if _, err := e.Encode(nil, append(pkt, 0)); !errors.Is(err, ErrBadLength) {
				t.Errorf("Encode(MTU+1 bytes): got error %v, want %v", err, ErrBadLength)
			}
		})
	}
}

func TestChecksum(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want uint32
	}{
		{name: "check value", in: []byte("123456789"), want: 0xE3069283},
		{name: "empty", in: nil, want: 0},
		// RFC 3720 (iSCSI) B.4 test vectors.
		{name: "32 zeroes", in: make([]byte, 32), want: 0x8A9136AA},
		{name: "32 ones", in: bytes.Repeat([]byte{0xFF}, 32), want: 0x62A8AB43},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Checksum(tt.in); got != tt.want {
				t.Errorf("Checksum: got %#08x, want %#08x", got, tt.want)
			}
			if got := crc32cBitwise(tt.in); got != tt.want {
				t.Errorf("reference: got %#08x, want %#08x", got, tt.want)
			}
		})
	}
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 1500 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if got, want := Checksum(b), crc32cBitwise(b); got != want {
			t.Fatalf("%d bytes: got %#08x, want %#08x", n, got, want)
		}
	}
}

func TestEncodeCRC(t *testing.T) {
	e := mustEncoder(t, CRC, 16)
	for i := range 3 {
		pkt := ipv4Packet(21+i, byte(i))
		f := mustEncode(t, e, pkt)
		n := HeaderLen + len(pkt)
		if got, want := len(f.Data), (n+7)/8*8; got != want {
			t.Fatalf("packet %d: got %d frame bytes, want %d", i, got, want)
		}
		if got, want := f.Commit, 4; got != want {
			t.Errorf("packet %d: got Commit %d, want %d", i, got, want)
		}
		if got, want := binary.LittleEndian.Uint32(f.Data[0:4]), crc32cBitwise(f.Data[4:n]); got != want {
			t.Errorf("packet %d: got crc %#08x, want %#08x", i, got, want)
		}
		if got, want := binary.LittleEndian.Uint16(f.Data[4:6]), uint16(i); got != want {
			t.Errorf("packet %d: got seq %d, want %d", i, got, want)
		}
		if got, want := binary.LittleEndian.Uint16(f.Data[6:8]), uint16(len(pkt)); got != want {
			t.Errorf("packet %d: got len %d, want %d", i, got, want)
		}
		if diff := cmp.Diff(pkt, f.Data[HeaderLen:n]); diff != "" {
			t.Errorf("packet %d: payload (-want +got):\n%s", i, diff)
		}
		if pad := f.Data[n:]; !bytes.Equal(pad, make([]byte, len(pad))) {
			t.Errorf("packet %d: got padding %x, want zeroes", i, pad)
		}
	}
	if got, want := e.Seq(), uint16(3); got != want {
		t.Errorf("Seq: got %d, want %d", got, want)
	}

	// The sequence number wraps, and a failed Encode does not use one.
	setSeq(e, 0xFFFF)
	if _, err := e.Encode(nil, make([]byte, 19)); err == nil {
		t.Fatalf("Encode(19 bytes): got nil error, want one")
	}
	for _, want := range []uint16{0xFFFF, 0} {
		f := mustEncode(t, e, ipv4Packet(20, 0))
		if got := binary.LittleEndian.Uint16(f.Data[4:6]); got != want {
			t.Errorf("got seq %#x, want %#x", got, want)
		}
	}
}

func TestEncodeBuffer(t *testing.T) {
	e := mustEncoder(t, CRC, 200)
	pkt := ipv4Packet(21, 0)
	buf := bytes.Repeat([]byte{0xAA}, 64)
	f, err := e.Encode(buf, pkt)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if &f.Data[0] != &buf[0] {
		t.Errorf("Encode did not reuse a large enough buf")
	}
	if got, want := len(f.Data), 32; got != want {
		t.Errorf("got %d frame bytes, want %d", got, want)
	}
	if pad := f.Data[29:]; !bytes.Equal(pad, make([]byte, 3)) {
		t.Errorf("got padding %x, want zeroes", pad)
	}
	setSeq(e, 0)
	small := make([]byte, 8)
	g, err := e.Encode(small, pkt)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if diff := cmp.Diff(f.Data, g.Data); diff != "" {
		t.Errorf("frame with a small buf (-want +got):\n%s", diff)
	}
}

func TestEncodeErrors(t *testing.T) {
	v4 := ipv4Packet(100, 0)
	longHeader := bytes.Clone(v4)
	binary.BigEndian.PutUint16(longHeader[2:4], 101)
	shortHeader := bytes.Clone(v4)
	binary.BigEndian.PutUint16(shortHeader[2:4], 99)
	v5 := bytes.Clone(v4)
	v5[0] = 0x55
	tests := []struct {
		name    string
		kind    Codec
		pkt     []byte
		wantErr error
	}{
		{name: "crc too short", kind: CRC, pkt: make([]byte, 19), wantErr: ErrBadLength},
		{name: "crc too long", kind: CRC, pkt: make([]byte, 1493), wantErr: ErrBadLength},
		{name: "crc nil", kind: CRC, pkt: nil, wantErr: ErrBadLength},
		{name: "crc any bytes", kind: CRC, pkt: make([]byte, 20)},
		{name: "ip too short", kind: IP, pkt: append([]byte{0x45, 0, 0, 19}, make([]byte, 15)...), wantErr: ErrBadLength},
		{name: "ip too long", kind: IP, pkt: ipv4Packet(1501, 0), wantErr: ErrBadLength},
		{name: "ip header longer than packet", kind: IP, pkt: longHeader, wantErr: ErrBadLength},
		{name: "ip header shorter than packet", kind: IP, pkt: shortHeader, wantErr: ErrBadLength},
		{name: "ip version 5", kind: IP, pkt: v5, wantErr: ErrBadHeader},
		{name: "ip all zero", kind: IP, pkt: make([]byte, 40), wantErr: ErrBadHeader},
		{name: "ipv4", kind: IP, pkt: v4},
		{name: "ipv6", kind: IP, pkt: ipv6Packet(1500, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustEncoder(t, tt.kind, 200)
			f, err := e.Encode(nil, tt.pkt)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if f.Data != nil {
					t.Errorf("got %d frame bytes with an error, want none", len(f.Data))
				}
				if e.Seq() != 0 {
					t.Errorf("got seq %d after an error, want 0", e.Seq())
				}
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := NewEncoder(IP, 128); !errors.Is(err, ErrDepth) {
		t.Errorf("NewEncoder(IP, 128): got error %v, want %v", err, ErrDepth)
	}
	if _, err := NewDecoder(nil, 128); !errors.Is(err, ErrKind) {
		t.Errorf("NewDecoder(nil, 128): got error %v, want %v", err, ErrKind)
	}
	var e Encoder
	if _, err := e.Encode(nil, make([]byte, 40)); !errors.Is(err, ErrBadLength) {
		t.Errorf("zero Encoder: got error %v, want %v", err, ErrBadLength)
	}
	var d Decoder
	if _, v := d.Decode(make([]byte, 40)); v != BadLength {
		t.Errorf("zero Decoder: got %v, want %v", v, BadLength)
	}
}

// apply performs writes on buf as a 32-bit bus would.
func apply(buf []byte, writes ...Write32) {
	for _, w := range writes {
		binary.LittleEndian.PutUint32(buf[w.Offset:], w.Value)
	}
}

func TestFrameWrites(t *testing.T) {
	tests := []struct {
		name        string
		kind        Codec
		pkt         []byte
		wantOffsets []int
	}{
		{
			name:        "crc",
			kind:        CRC,
			pkt:         ipv4Packet(24, 0),
			wantOffsets: []int{4, 8, 12, 16, 20, 24, 28, 0},
		},
		{
			name:        "crc padded",
			kind:        CRC,
			pkt:         ipv4Packet(25, 0),
			wantOffsets: []int{4, 8, 12, 16, 20, 24, 28, 32, 36, 0},
		},
		{
			name:        "ip",
			kind:        IP,
			pkt:         ipv4Packet(20, 0),
			wantOffsets: []int{8, 12, 16, 20, 4, 0},
		},
		{
			name:        "ip padded",
			kind:        IP,
			pkt:         ipv4Packet(27, 0),
			wantOffsets: []int{8, 12, 16, 20, 24, 28, 4, 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustEncode(t, mustEncoder(t, tt.kind, 200), tt.pkt)
			writes := f.Writes32(nil)
			var offsets []int
			for _, w := range writes {
				offsets = append(offsets, w.Offset)
			}
			if diff := cmp.Diff(tt.wantOffsets, offsets); diff != "" {
				t.Errorf("write offsets (-want +got):\n%s", diff)
			}
			buf := make([]byte, len(f.Data))
			apply(buf, writes...)
			if diff := cmp.Diff(f.Data, buf); diff != "" {
				t.Errorf("bytes after the writes (-want +got):\n%s", diff)
			}
			w32 := f.Words32()
			w64 := f.Words64()
			if got, want := len(w32), 2*len(w64); got != want {
				t.Fatalf("got %d 32-bit words, want %d", got, want)
			}
			for i, w := range w64 {
				if got, want := uint64(w32[2*i])|uint64(w32[2*i+1])<<32, w; got != want {
					t.Errorf("word %d: got halves %#016x, want %#016x", i, got, want)
				}
				if got, want := w, binary.LittleEndian.Uint64(f.Data[8*i:]); got != want {
					t.Errorf("word %d: got %#016x, want %#016x", i, got, want)
				}
			}
		})
	}
}

// TestTornWrites checks what a receiver sees while the sender is part way through
// writing a new frame over the previous one in the order Writes32 gives, and when the
// hardware sends a mix of old and new words (a torn TX frame).
func TestTornWrites(t *testing.T) {
	const depth = 200
	r := rand.New(rand.NewPCG(3, 4))

	t.Run("crc", func(t *testing.T) {
		e := mustEncoder(t, CRC, depth)
		d := mustDecoder(t, CRC, depth)
		old := mustEncode(t, e, ipv4Packet(300, 1))
		buf := make([]byte, 8*depth)
		copy(buf, old.Data)
		if _, v := d.Decode(buf); v != Accepted {
			t.Fatalf("old frame: got %v, want %v", v, Accepted)
		}
		pkt := ipv4Packet(200, 2)
		next := mustEncode(t, e, pkt)
		writes := next.Writes32(nil)
		for i, w := range writes {
			apply(buf, w)
			got, v := d.Decode(buf)
			want := Repeat
			if i == len(writes)-1 {
				want = Accepted
			}
			if v != want {
				t.Fatalf("after write %d of %d: got %v, want %v", i+1, len(writes), v, want)
			}
			if v == Accepted && !bytes.Equal(got, pkt) {
				t.Fatalf("after the last write: got a packet other than the one sent")
			}
		}

		// Mixes of old and new 32-bit words: with the old CRC word it is a repeat,
		// with the new one a CRC mismatch unless every word is new.
		oldData := mustEncode(t, e, ipv4Packet(300, 3)).Data
		newData := mustEncode(t, e, ipv4Packet(300, 4)).Data
		for trial := range 200 {
			d := mustDecoder(t, CRC, depth)
			if _, v := d.Decode(oldData); v != Accepted {
				t.Fatalf("old frame: got %v, want %v", v, Accepted)
			}
			mix := bytes.Clone(oldData)
			allNew := true
			for off := 4; off < len(mix); off += 4 {
				if r.IntN(2) == 0 {
					copy(mix[off:off+4], newData[off:])
				} else if !bytes.Equal(oldData[off:off+4], newData[off:off+4]) {
					allNew = false
				}
			}
			newCRC := trial%2 == 1
			if newCRC {
				copy(mix[0:4], newData[0:4])
			}
			want := Repeat
			switch {
			case newCRC && allNew:
				want = Accepted
			case newCRC:
				want = BadCRC
			}
			if _, v := d.Decode(mix); v != want {
				t.Fatalf("trial %d: got %v, want %v", trial, v, want)
			}
		}
	})

	t.Run("ip into a zeroed buffer", func(t *testing.T) {
		e := mustEncoder(t, IP, depth)
		d := mustDecoder(t, IP, depth)
		pkt := ipv6Packet(300, 5)
		writes := mustEncode(t, e, pkt).Writes32(nil)
		buf := make([]byte, 8*depth)
		for i, w := range writes {
			apply(buf, w)
			got, v := d.Decode(buf)
			if i == len(writes)-1 {
				if v != Accepted || !bytes.Equal(got, pkt) {
					t.Fatalf("after the last write: got %v, want %v with the packet sent", v, Accepted)
				}
				break
			}
			if v != Empty && v != BadHeader {
				t.Fatalf("after write %d of %d: got %v, want %v or %v", i+1, len(writes), v, Empty, BadHeader)
			}
		}
	})
}

// step is one frame given to a decoder and what it must make of it.
type step struct {
	name  string
	frame []byte
	want  Verdict
	pkt   []byte // the packet expected with Accepted
}

func runSteps(t *testing.T, d *Decoder, steps []step) {
	t.Helper()
	for _, s := range steps {
		pkt, v := d.Decode(s.frame)
		if v != s.want {
			t.Errorf("%s: got %v, want %v", s.name, v, s.want)
			continue
		}
		if diff := cmp.Diff(s.pkt, pkt); diff != "" {
			t.Errorf("%s: packet (-want +got):\n%s", s.name, diff)
		}
	}
}

func TestDecodeCRC(t *testing.T) {
	const depth = 16 // MTU 120
	e := mustEncoder(t, CRC, depth)
	p1, p2, p3 := ipv4Packet(60, 1), ipv4Packet(120, 2), ipv4Packet(20, 3)
	f1, f2 := mustEncode(t, e, p1).Data, mustEncode(t, e, p2).Data
	setSeq(e, e.Seq()+3) // three packets lost
	f3 := mustEncode(t, e, p3).Data

	withLen := func(f []byte, n int) []byte {
		f = bytes.Clone(f)
		binary.LittleEndian.PutUint16(f[6:8], uint16(n))
		binary.LittleEndian.PutUint32(f[0:4], Checksum(f[4:min(len(f), HeaderLen+n)]))
		return f
	}
	flip := func(f []byte, i int) []byte {
		f = bytes.Clone(f)
		f[i] ^= 0x10
		return f
	}
	zeroCRC := bytes.Clone(f2)
	clear(zeroCRC[0:4])
	steps := []step{
		{name: "all-zero buffer before any packet", frame: make([]byte, 8*depth), want: Repeat},
		{name: "all-zero header", frame: make([]byte, HeaderLen), want: Repeat},
		{name: "zero crc field, last crc 0", frame: zeroCRC, want: Repeat},
		{name: "short header", frame: f1[:7], want: BadLength},
		{name: "truncated frame", frame: f1[:HeaderLen+59], want: BadLength},
		{name: "first packet", frame: f1, want: Accepted, pkt: p1},
		{name: "same frame again", frame: f1, want: Repeat},
		{name: "same frame padded to the buffer", frame: append(bytes.Clone(f1), make([]byte, 40)...), want: Repeat},
		{name: "len 19", frame: withLen(f2, 19), want: BadLength},
		{name: "len 0", frame: withLen(f2, 0), want: BadLength},
		{name: "len MTU+1", frame: withLen(append(bytes.Clone(f2), 0), 121), want: BadLength},
		{name: "corrupt payload", frame: flip(f2, 50), want: BadCRC},
		{name: "corrupt crc", frame: flip(f2, 1), want: BadCRC},
		{name: "corrupt seq", frame: flip(f2, 4), want: BadCRC},
		{name: "corrupt len within range", frame: flip(f2, 6), want: BadCRC},
		{name: "zero crc field, last crc not 0", frame: zeroCRC, want: BadCRC},
		{name: "second packet, at the MTU", frame: f2, want: Accepted, pkt: p2},
		{name: "second packet again", frame: f2, want: Repeat},
		{name: "all-zero buffer after a packet", frame: make([]byte, 8*depth), want: Repeat},
		{name: "third packet after a gap", frame: f3, want: Accepted, pkt: p3},
		{name: "first packet again: not the last accepted", frame: f1, want: Accepted, pkt: p1},
	}
	d := mustDecoder(t, CRC, depth)
	runSteps(t, d, steps)
	// Going back from seq 5 to seq 0 is not a loss of 65530 packets.
	want := Stats{Accepted: 4, Repeats: 7, BadLength: 5, BadCRC: 5, Lost: 3}
	if diff := cmp.Diff(want, d.Stats()); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
}

func TestDecodeIP(t *testing.T) {
	e := mustEncoder(t, IP, 200)
	p1, p2, p3 := ipv4Packet(1500, 1), ipv6Packet(60, 2), ipv4Packet(20, 3)
	f1, f2, f3 := mustEncode(t, e, p1).Data, mustEncode(t, e, p2).Data, mustEncode(t, e, p3).Data
	v4Len := func(n int) []byte {
		p := ipv4Packet(max(n, 20), 9)
		binary.BigEndian.PutUint16(p[2:4], uint16(n))
		return p
	}
	withByte := func(f []byte, i int, b byte) []byte {
		f = bytes.Clone(f)
		f[i] = b
		return f
	}
	laterZero := make([]byte, 100)
	laterZero[8] = 1
	steps := []step{
		{name: "all-zero buffer", frame: make([]byte, 1600), want: Empty},
		{name: "zero header, data after it", frame: laterZero, want: Empty},
		{name: "short header", frame: f1[:7], want: BadLength},
		{name: "version 0", frame: withByte(f1, 0, 0x05), want: BadHeader},
		{name: "version 5", frame: withByte(f1, 0, 0x55), want: BadHeader},
		{name: "version 15", frame: withByte(f1, 0, 0xF0), want: BadHeader},
		{name: "ipv4 length 19", frame: v4Len(19), want: BadLength},
		{name: "ipv4 length 0", frame: v4Len(0), want: BadLength},
		{name: "ipv4 length 1501", frame: v4Len(1501), want: BadLength},
		{name: "ipv6 length 1501", frame: ipv6Packet(1501, 0), want: BadLength},
		{name: "truncated", frame: f1[:1499], want: BadLength},
		{name: "first packet", frame: f1, want: Accepted, pkt: p1},
		{name: "first packet again", frame: f1, want: Repeat},
		{name: "first packet with stale bytes after it", frame: append(bytes.Clone(f1), 1, 2, 3), want: Repeat},
		{name: "one payload byte differs", frame: withByte(f1, 1000, 0), want: Accepted, pkt: withByte(p1, 1000, 0)},
		{name: "ipv6 packet", frame: f2, want: Accepted, pkt: p2},
		{name: "ipv6 packet again", frame: f2, want: Repeat},
		{name: "all-zero buffer after a packet", frame: make([]byte, 1600), want: Empty},
		{name: "shortest packet", frame: f3, want: Accepted, pkt: p3},
	}
	d := mustDecoder(t, IP, 200)
	runSteps(t, d, steps)
	want := Stats{Accepted: 4, Repeats: 3, BadLength: 6, BadHeader: 3, Empty: 3}
	if diff := cmp.Diff(want, d.Stats()); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
}

func TestFrameLen(t *testing.T) {
	crcFrame := mustEncode(t, mustEncoder(t, CRC, 16), ipv4Packet(100, 0)).Data
	crcLong := bytes.Clone(crcFrame)
	binary.LittleEndian.PutUint16(crcLong[6:8], 121)
	v6 := ipv6Packet(1500, 0)
	tests := []struct {
		name    string
		kind    Codec
		header  []byte
		want    int
		wantErr error
		stats   Stats
	}{
		{name: "crc", kind: CRC, header: crcFrame[:8], want: 108},
		{name: "crc whole frame", kind: CRC, header: crcFrame, want: 108},
		{name: "crc all zero", kind: CRC, header: make([]byte, 8), wantErr: ErrRepeat, stats: Stats{Repeats: 1}},
		{name: "crc len above MTU", kind: CRC, header: crcLong[:8], wantErr: ErrBadLength, stats: Stats{BadLength: 1}},
		{name: "crc short", kind: CRC, header: crcFrame[:4], wantErr: ErrBadLength, stats: Stats{BadLength: 1}},
		{name: "ipv4", kind: IP, header: ipv4Packet(576, 0)[:8], want: 576},
		{name: "ipv6", kind: IP, header: v6[:8], want: 1500},
		{name: "ip all zero", kind: IP, header: make([]byte, 8), wantErr: ErrEmpty, stats: Stats{Empty: 1}},
		{name: "ip version 7", kind: IP, header: []byte{0x70, 0, 0, 100, 0, 0, 0, 0}, wantErr: ErrBadHeader, stats: Stats{BadHeader: 1}},
		{name: "ipv4 length 1501", kind: IP, header: []byte{0x45, 0, 0x05, 0xDD, 0, 0, 0, 0}, wantErr: ErrBadLength, stats: Stats{BadLength: 1}},
		{name: "ip nil", kind: IP, header: nil, wantErr: ErrBadLength, stats: Stats{BadLength: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			depth := map[Codec]int{CRC: 16, IP: 200}[tt.kind]
			d := mustDecoder(t, tt.kind, depth)
			got, err := d.FrameLen(tt.header)
			if err != tt.wantErr { // unwrapped on purpose, see FrameLen
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
			if diff := cmp.Diff(tt.stats, d.Stats()); diff != "" {
				t.Errorf("Stats (-want +got):\n%s", diff)
			}
			if testing.AllocsPerRun(10, func() { _, _ = d.FrameLen(tt.header) }) != 0 {
				t.Errorf("FrameLen allocates")
			}
		})
	}

	// After an accepted frame, its header alone is enough to tell a repeat.
	d := mustDecoder(t, CRC, 16)
	if _, v := d.Decode(crcFrame); v != Accepted {
		t.Fatalf("Decode: got %v, want %v", v, Accepted)
	}
	if _, err := d.FrameLen(crcFrame[:8]); err != ErrRepeat {
		t.Errorf("FrameLen after Decode: got error %v, want %v", err, ErrRepeat)
	}
}

func TestDecodeReturnsCopy(t *testing.T) {
	for _, k := range []Codec{CRC, IP} {
		t.Run(k.String(), func(t *testing.T) {
			pkt := ipv4Packet(100, 0)
			f := mustEncode(t, mustEncoder(t, k, 200), pkt)
			d := mustDecoder(t, k, 200)
			frame := bytes.Clone(f.Data)
			got, v := d.Decode(frame)
			if v != Accepted {
				t.Fatalf("got %v, want %v", v, Accepted)
			}
			clear(frame) // the driver reuses its read buffer
			if diff := cmp.Diff(pkt, got); diff != "" {
				t.Errorf("packet after the frame changed (-want +got):\n%s", diff)
			}
			copy(frame, f.Data)
			clear(got) // the caller changes the packet it was given
			if _, v := d.Decode(frame); v != Repeat {
				t.Errorf("after the returned packet changed: got %v, want %v", v, Repeat)
			}
		})
	}
}

func TestVerdictString(t *testing.T) {
	tests := []struct {
		v    Verdict
		want string
	}{
		{Accepted, "accepted"},
		{Repeat, "repeat"},
		{BadLength, "bad length"},
		{BadCRC, "bad crc"},
		{BadHeader, "bad header"},
		{Empty, "empty"},
		{0, "Verdict(0)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.v.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// setSeq sets the sequence number a CRC encoder gives its next frame.
func setSeq(e *Encoder, seq uint16) {
	if c, ok := e.impl.(*crcEncoder); ok {
		c.next = seq
	}
}
