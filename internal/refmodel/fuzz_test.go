package refmodel

import (
	"testing"

	"github.com/ringsim/ringsim/sim/bus"
)

// fuzzRequest turns 4 bytes into a raw bus request (not necessarily held until answered,
// which the Wishbone master never does but the node must survive).
func fuzzRequest(b []byte, m bus.Map, prev Request) Request {
	p := int(b[1]) % m.Ports
	word := int(b[2]) % m.Depth
	half := uint32(b[1]>>4) & 1
	req := Request{Stb: true, We: b[0]>>3&1 == 1, Sel: b[3] & 0xF, Data: uint32(b[3] >> 4)}
	switch b[0] % 8 {
	case 0:
		return Request{}
	case 1:
		req.Addr = m.TX(p) + m.Data(word) + 4*half
		req.Data = uint32(b[3]) * 0x01010101
	case 2:
		req.Addr = m.RX(p) + m.Data(word) + 4*half
	case 3:
		req.Addr = m.TX(p) + m.Enable()
		if half == 1 {
			req.Addr = m.RX(p) + m.Enable()
		}
	case 4:
		req.Addr = m.RX(p) + m.ClearAtCount()
		req.Data = uint32(b[2]) % uint32(m.Depth+2)
		if b[3]&0x10 == 0 {
			req.Sel = 0xF
		}
	case 5:
		req.Addr = 4 * (uint32(b[2]) % 16)
	case 6:
		req.Addr = uint32(b[2])<<24 | uint32(b[3])<<2
	case 7:
		return prev
	}
	if b[0]>>4 == 0xF {
		req.Addr |= uint32(b[1]&3) | 1
	}
	return req
}

// FuzzNode drives raw bus traffic and random RX frames into a node and checks SPEC
// invariants every cycle: never ACK and ERR together; data reads answered exactly one cycle
// after they start; clear_at_count answered only when the counter equals the value; the TX
// formula frame(t+1) = enable(t) ? mem[count(t)] : 0; RX words written while enabled; the
// counters' rule.
func FuzzNode(f *testing.F) {
	f.Add(uint8(8), uint8(1), []byte{0x09, 0, 0, 0x1F, 0x0B, 1, 0, 0x1F, 4, 0, 5, 0xF0, 4, 0, 5, 0xF0, 2, 0, 3, 0, 7, 0, 0, 0})
	f.Add(uint8(2), uint8(2), []byte{0x13, 0x11, 1, 0xFF, 0x01, 0x10, 1, 0x3C, 0xFE, 0, 0, 0, 0x0E, 1, 1, 1})
	f.Fuzz(func(t *testing.T, depth, ports uint8, data []byte) {
		d := 2 + int(depth)%30
		np := 1 + int(ports)%3
		n, err := NewNode(Config{Depth: d, Ports: np})
		if err != nil {
			t.Fatal(err)
		}
		m := n.Map()
		win := uint32(1) << m.WindowLog2()
		in := make([]uint64, np)
		var prev Request
		var started uint32 = noDev // device whose data read started in the previous cycle
		for i := 0; i+4 <= len(data); i += 4 {
			c := n.Cycle()
			req := fuzzRequest(data[i:i+4], m, prev)
			prev = req
			type portState struct {
				frame, word  uint64
				txEn, rxEn   bool
				txCnt, rxCnt int
			}
			st := make([]portState, np)
			for p := range np {
				st[p] = portState{frame: n.TX(p), word: n.TXWord(p, n.TXCount(p)), txEn: n.TXEnable(p),
					rxEn: n.RXEnable(p), txCnt: n.TXCount(p), rxCnt: n.RXCount(p)}
				in[p] = (c + 1) * 0x9E3779B97F4A7C15 * uint64(p+1)
			}
			resp := n.Step(req, in)
			if resp.Ack && resp.Err {
				t.Fatalf("cycle %d %+v: ACK and ERR together", c, req)
			}
			dev, off := req.Addr/win, req.Addr%win
			dataRead := req.Stb && !req.We && req.Addr&3 == 0 && dev > 0 && dev < uint32(1+2*np) && off < uint32(8*d)
			if dataRead && resp.Ack != (started == dev) {
				t.Fatalf("cycle %d %+v: data read ACK %v, read started in the previous cycle on device %d", c, req, resp.Ack, int32(started))
			}
			started = noDev
			if dataRead && !resp.Ack {
				started = dev
			}
			clearPort := -1
			if req.Stb && req.Addr&3 == 0 && dev > 0 && dev < uint32(1+2*np) && dev%2 == 0 && off == uint32(8*d+8) {
				p := int(dev-2) / 2
				ok := req.We && req.Sel == 0xF && req.Data < uint32(d)
				if resp.Err == ok || resp.Ack != (ok && uint32(st[p].rxCnt) == req.Data) {
					t.Fatalf("cycle %d %+v: clear_at_count answered %+v at count %d", c, req, resp, st[p].rxCnt)
				}
				if resp.Ack {
					clearPort = p
				}
			}
			for p := range np {
				want := uint64(0)
				if st[p].txEn {
					want = st[p].word
				}
				if got := n.TX(p); got != want {
					t.Fatalf("cycle %d port %d: got next frame %#x, want %#x", c, p, got, want)
				}
				if got := n.TXCount(p); got != int((c+1)%uint64(d)) {
					t.Fatalf("cycle %d port %d: got TX count %d, want %d", c, p, got, (c+1)%uint64(d))
				}
				if st[p].rxEn && n.RXWord(p, st[p].rxCnt) != in[p] {
					t.Fatalf("cycle %d port %d: RX word %d not written", c, p, st[p].rxCnt)
				}
				wantCnt := (st[p].rxCnt + 1) % d
				if p == clearPort {
					wantCnt = 1
				}
				if got := n.RXCount(p); got != wantCnt {
					t.Fatalf("cycle %d port %d: got RX count %d, want %d", c, p, got, wantCnt)
				}
			}
		}
	})
}
