package bridge

import (
	"encoding/binary"
	"testing"
)

// fakeNIC is the innermost nic of a unit test: a queue of packets to pop and the packets
// delivered.
type fakeNIC struct {
	out       [][]byte
	delivered [][]byte
}

func (f *fakeNIC) Deliver(pkt []byte, _ uint64) { f.delivered = append(f.delivered, pkt) }
func (f *fakeNIC) Pending() int                 { return len(f.out) }
func (f *fakeNIC) Sent([]byte, uint64)          {}
func (f *fakeNIC) Pop() []byte {
	p := f.out[0]
	f.out = f.out[1:]
	return p
}

// tcpPacket builds an IPv4 TCP segment with the given flags, sequence and acknowledgement
// numbers, window and options, its checksum correct.
func tcpPacket(src, dst [4]byte, flags byte, seq, ack uint32, window uint16, opts []byte) []byte {
	tcpLen := 20 + len(opts)
	pkt := make([]byte, 20+tcpLen)
	pkt[0] = 0x45
	binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
	pkt[8], pkt[9] = 64, 6
	copy(pkt[12:], src[:])
	copy(pkt[16:], dst[:])
	tcp := pkt[20:]
	binary.BigEndian.PutUint16(tcp[0:], 8080)
	binary.BigEndian.PutUint16(tcp[2:], 8080)
	binary.BigEndian.PutUint32(tcp[4:], seq)
	binary.BigEndian.PutUint32(tcp[8:], ack)
	tcp[12] = byte(tcpLen/4) << 4
	tcp[13] = flags
	binary.BigEndian.PutUint16(tcp[14:], window)
	copy(tcp[20:], opts)
	binary.BigEndian.PutUint16(tcp[16:], ^tcpSum(pkt))
	return pkt
}

// tcpSum is the one's complement sum of an IPv4 TCP segment and its pseudo-header: 0xFFFF
// when the checksum field is right.
func tcpSum(pkt []byte) uint16 {
	tcp := pkt[20:]
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(b[i:]))
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	add(pkt[12:20])
	sum += 6 + uint32(len(tcp))
	add(tcp)
	for sum > 0xFFFF {
		sum = sum&0xFFFF + sum>>16
	}
	return uint16(sum)
}

func TestBufferLimits(t *testing.T) {
	a, b := [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}
	wscale := func(s byte) []byte { return []byte{1, 3, 3, s} }
	tests := []struct {
		name       string
		ourScale   []byte // options of our SYN
		peerScale  []byte // options of the peer's SYN
		window     uint16 // of our data segment
		wantWindow uint16
	}{
		{"no scaling", nil, nil, 4000, 256},
		{"small window kept", nil, nil, 100, 100},
		{"both scale by 2", wscale(2), wscale(0), 4000, 64},
		{"only we offer scaling", wscale(2), nil, 4000, 256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeNIC{out: [][]byte{
				tcpPacket(a, b, 0x02, 1000, 0, 4000, tt.ourScale),
				tcpPacket(a, b, 0x18, 1001, 5001, tt.window, nil),
			}}
			bl := &bufferLimits{nested: nested{f}, window: 256, sendLimit: 256}
			syn := bl.Pop()
			if w := binary.BigEndian.Uint16(syn[20+14:]); w != 256 {
				t.Errorf("SYN window %d, want 256 (never scaled)", w)
			}
			bl.Deliver(tcpPacket(b, a, 0x12, 5000, 1001, 60000, tt.peerScale), 0)
			data := bl.Pop()
			if w := binary.BigEndian.Uint16(data[20+14:]); w != tt.wantWindow {
				t.Errorf("data segment window %d, want %d", w, tt.wantWindow)
			}
			for _, p := range [][]byte{syn, data} {
				if s := tcpSum(p); s != 0xFFFF {
					t.Errorf("checksum wrong after the clamp: sum %#x", s)
				}
			}
			// The SYN-ACK acknowledged our SYN: 256 bytes of room.
			if r := bl.room(); r != 256 {
				t.Errorf("room after the handshake %d, want 256", r)
			}
			bl.written = 200
			if r := bl.room(); r != 56 {
				t.Errorf("room after 200 bytes written %d, want 56", r)
			}
			bl.Deliver(tcpPacket(b, a, 0x10, 5001, 1101, 60000, nil), 0) // 100 acknowledged
			if r := bl.room(); r != 156 {
				t.Errorf("room after 100 of 200 bytes acknowledged %d, want 156", r)
			}
			bl.Deliver(tcpPacket(b, a, 0x10, 5001, 1050, 60000, nil), 0) // an old ACK
			if r := bl.room(); r != 156 {
				t.Errorf("room after an old ACK %d, want 156", r)
			}
			if len(f.delivered) != 3 {
				t.Errorf("%d packets delivered, want 3", len(f.delivered))
			}
		})
	}
}
