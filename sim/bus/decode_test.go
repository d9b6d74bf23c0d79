package bus

import "testing"

func TestDecode(t *testing.T) {
	m := Map{Depth: 16, Ports: 2} // 256-byte windows
	tests := []struct {
		name      string
		addr      uint32
		str       string
		rlat      int // Latency(false)
		wlat      int // Latency(true)
		port, wrd int
	}{
		{"magic", RegMagic, "node block MAGIC (0x0)", 0, 0, -1, -1},
		{"cycle hi", RegCycleHi, "node block CYCLE_HI (0x2c)", 0, 0, -1, -1},
		{"node gap", 0x24, "node block unmapped offset (0x24)", 0, 0, -1, -1},
		{"tx data", m.TX(0) + m.Data(3) + 4, "port 0 TX data word 7 (0x11c)", 1, 0, 0, 7},
		{"tx enable", m.TX(1) + m.Enable(), "port 1 TX enable (0x380)", 0, 0, 1, -1},
		{"rx data is read only", m.RX(0) + m.Data(15), "port 0 RX data word 30 (0x278)", 1, 0, 0, 30},
		{"clear_at_count", m.RX(0) + m.ClearAtCount(), "port 0 RX clear_at_count (0x288)", 0, 15, 0, -1},
		{"rx high half of enable", m.RX(1) + m.Enable() + 4, "port 1 RX unmapped offset (0x484)", 0, 0, 1, -1},
		{"link status (real link)", m.Link(1) + LinkStatus, "port 1 link status (0x638)", 0, 0, 1, -1},
		{"past the last window", 7 << 8, "unmapped address 0x700", 0, 0, -1, -1},
		{"top of the address space", 0xFFFF_FFFC, "unmapped address 0xfffffffc", 0, 0, -1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := m.Decode(tt.addr)
			if got := r.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
			if got := m.Name(tt.addr); got != tt.str {
				t.Errorf("Name() = %q, want %q", got, tt.str)
			}
			if r.Latency(false) != tt.rlat || r.Latency(true) != tt.wlat {
				t.Errorf("latency read %d, write %d; want %d, %d", r.Latency(false), r.Latency(true), tt.rlat, tt.wlat)
			}
			if r.Port != tt.port || r.Word != tt.wrd {
				t.Errorf("port %d, word %d; want %d, %d", r.Port, r.Word, tt.port, tt.wrd)
			}
		})
	}
}
