package pcap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ipv4UDP returns an IPv4 UDP packet from src to dst with a valid header checksum.
func ipv4UDP(src, dst [4]byte, payload string) []byte {
	p := make([]byte, 28+len(payload))
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:4], uint16(len(p)))
	p[8] = 64 // TTL
	p[9] = 17 // UDP
	copy(p[12:16], src[:])
	copy(p[16:20], dst[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(p[i:]))
	}
	for sum > 0xFFFF {
		sum = sum&0xFFFF + sum>>16
	}
	binary.BigEndian.PutUint16(p[10:12], ^uint16(sum))
	binary.BigEndian.PutUint16(p[20:22], 7777)
	binary.BigEndian.PutUint16(p[22:24], 7777)
	binary.BigEndian.PutUint16(p[24:26], uint16(8+len(payload))) // UDP checksum 0: none
	copy(p[28:], payload)
	return p
}

// fileHeader is the parsed pcap file header.
type fileHeader struct {
	Magic, SnapLen, LinkType uint32
	Major, Minor             uint16
	Zone, SigFigs            uint32
}

// record is one parsed pcap record.
type record struct {
	Sec, Nsec, OrigLen uint32
	Data               []byte
}

// parse reads a pcap file written in little-endian order, as Writer writes it.
func parse(t *testing.T, b []byte) (fileHeader, []record) {
	t.Helper()
	le := binary.LittleEndian
	if len(b) < FileHeaderLen {
		t.Fatalf("file of %d bytes, want at least %d", len(b), FileHeaderLen)
	}
	h := fileHeader{
		Magic: le.Uint32(b[0:4]), Major: le.Uint16(b[4:6]), Minor: le.Uint16(b[6:8]),
		Zone: le.Uint32(b[8:12]), SigFigs: le.Uint32(b[12:16]),
		SnapLen: le.Uint32(b[16:20]), LinkType: le.Uint32(b[20:24]),
	}
	var recs []record
	for b = b[FileHeaderLen:]; len(b) > 0; {
		if len(b) < RecordHeaderLen {
			t.Fatalf("record header cut short: %d bytes left", len(b))
		}
		incl := int(le.Uint32(b[8:12]))
		if len(b) < RecordHeaderLen+incl {
			t.Fatalf("record of %d bytes cut short: %d bytes left", incl, len(b)-RecordHeaderLen)
		}
		recs = append(recs, record{
			Sec: le.Uint32(b[0:4]), Nsec: le.Uint32(b[4:8]), OrigLen: le.Uint32(b[12:16]),
			Data: b[RecordHeaderLen : RecordHeaderLen+incl],
		})
		b = b[RecordHeaderLen+incl:]
	}
	return h, recs
}

func TestFileBytes(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf)
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	if err := w.WritePacket(3_000_000_007, []byte{0x45, 0xAB}); err != nil {
		t.Fatalf("WritePacket: %v", err)
	}
	want := []byte{
		0x4d, 0x3c, 0xb2, 0xa1, // magic, nanosecond timestamps
		2, 0, 4, 0, // version 2.4
		0, 0, 0, 0, 0, 0, 0, 0, // time zone, accuracy
		0xff, 0xff, 0, 0, // snaplen 65535
		101, 0, 0, 0, // LINKTYPE_RAW
		3, 0, 0, 0, // 3 s
		7, 0, 0, 0, // 7 ns
		2, 0, 0, 0, // 2 bytes stored
		2, 0, 0, 0, // of 2
		0x45, 0xAB,
	}
	if diff := cmp.Diff(want, buf.Bytes()); diff != "" {
		t.Errorf("file (-want +got):\n%s", diff)
	}
}

func TestRoundTrip(t *testing.T) {
	long := bytes.Repeat([]byte{0x60, 1, 2, 3}, SnapLen/4+10)
	tests := []struct {
		name    string
		tsNanos int64
		pkt     []byte
		want    record
	}{
		{name: "time zero", tsNanos: 0, pkt: []byte{0x45},
			want: record{OrigLen: 1, Data: []byte{0x45}}},
		{name: "empty packet", tsNanos: 8, pkt: nil,
			want: record{Nsec: 8, Data: []byte{}}},
		{name: "one cycle at 125 MHz after 2 s", tsNanos: 2_000_000_008, pkt: []byte{1, 2, 3},
			want: record{Sec: 2, Nsec: 8, OrigLen: 3, Data: []byte{1, 2, 3}}},
		{name: "longer than the snaplen", tsNanos: 5_999_999_999, pkt: long,
			want: record{Sec: 5, Nsec: 999_999_999, OrigLen: uint32(len(long)), Data: long[:SnapLen]}},
		{name: "last representable", tsNanos: (1<<32-1)*1_000_000_000 + 999_999_999, pkt: []byte{9},
			want: record{Sec: 1<<32 - 1, Nsec: 999_999_999, OrigLen: 1, Data: []byte{9}}},
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf)
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	var want []record
	for _, tt := range tests {
		if err := w.WritePacket(tt.tsNanos, tt.pkt); err != nil {
			t.Fatalf("%s: WritePacket: %v", tt.name, err)
		}
		want = append(want, tt.want)
	}
	h, got := parse(t, buf.Bytes())
	wantHeader := fileHeader{Magic: Magic, Major: 2, Minor: 4, SnapLen: SnapLen, LinkType: LinkTypeRaw}
	if diff := cmp.Diff(wantHeader, h); diff != "" {
		t.Errorf("file header (-want +got):\n%s", diff)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(want[i], got[i]); diff != "" {
				t.Errorf("record (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTimestampRange(t *testing.T) {
	tests := []struct {
		name    string
		tsNanos int64
		wantErr error
	}{
		{name: "negative", tsNanos: -1, wantErr: ErrTimestamp},
		{name: "2^32 s", tsNanos: 1 << 32 * 1_000_000_000, wantErr: ErrTimestamp},
		{name: "just below 2^32 s", tsNanos: 1<<32*1_000_000_000 - 1},
		{name: "zero", tsNanos: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w, err := NewWriter(&buf)
			if err != nil {
				t.Fatalf("NewWriter: %v", err)
			}
			err = w.WritePacket(tt.tsNanos, []byte{0x45})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			wantLen := FileHeaderLen // nothing written for a refused packet
			if err == nil {
				wantLen += RecordHeaderLen + 1
			}
			if buf.Len() != wantLen {
				t.Errorf("got %d bytes written, want %d", buf.Len(), wantLen)
			}
		})
	}
}

// failWriter fails every write after the first ok ones.
type failWriter struct {
	ok  int
	err error
}

func (f *failWriter) Write(p []byte) (int, error) {
	if f.ok == 0 {
		return 0, f.err
	}
	f.ok--
	return len(p), nil
}

func TestWriteErrors(t *testing.T) {
	errDisk := errors.New("disk full")
	if _, err := NewWriter(&failWriter{err: errDisk}); !errors.Is(err, errDisk) {
		t.Errorf("NewWriter: got error %v, want %v", err, errDisk)
	}
	w, err := NewWriter(&failWriter{ok: 1, err: errDisk})
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	if err := w.WritePacket(0, []byte{0x45}); !errors.Is(err, errDisk) {
		t.Errorf("WritePacket: got error %v, want %v", err, errDisk)
	}
}

// TestTshark checks that tshark reads a written file: the addresses of the packets and
// their simulated timestamps to the nanosecond.
func TestTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skipf("tshark not installed (%v): cannot check that Wireshark reads the file", err)
	}
	packets := []struct {
		tsNanos  int64
		src, dst [4]byte
	}{
		{tsNanos: 1_000, src: [4]byte{10, 0, 0, 1}, dst: [4]byte{10, 0, 0, 2}},
		{tsNanos: 1_234_567_891, src: [4]byte{192, 168, 7, 42}, dst: [4]byte{10, 0, 0, 1}},
	}
	path := filepath.Join(t.TempDir(), "ring.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(f)
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	var want []string
	for i, p := range packets {
		if err := w.WritePacket(p.tsNanos, ipv4UDP(p.src, p.dst, fmt.Sprint("packet ", i))); err != nil {
			t.Fatalf("WritePacket: %v", err)
		}
		want = append(want, fmt.Sprintf("%d.%d.%d.%d\t%d.%09d",
			p.src[0], p.src[1], p.src[2], p.src[3], p.tsNanos/1e9, p.tsNanos%1e9))
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(tshark, "-r", path, "-T", "fields", "-e", "ip.src", "-e", "frame.time_epoch")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // no user profile
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, stderr.Bytes())
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tshark fields (-want +got):\n%s\nstderr:\n%s", diff, stderr.Bytes())
	}
}
