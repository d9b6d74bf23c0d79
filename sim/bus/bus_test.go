package bus

import (
	"errors"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		op   Op
		want error
	}{
		{"read", Read(8), nil},
		{"write", Write(8, 1), nil},
		{"masked write", WriteMasked(8, 1, 0x5), nil},
		// Single accesses reach the bus misaligned: the RTL answers them with ERR.
		{"misaligned read", Read(6), nil},
		{"misaligned write", WriteMasked(0xFFFF_FFFF, 1, 0x1), nil},
		{"misaligned read block", ReadBlock(2, 4), ErrMisaligned},
		{"misaligned write block", WriteBlock(1, []uint32{1}), ErrMisaligned},
		{"mask above 0xF", WriteMasked(8, 1, 0x10), ErrBadMask},
		{"empty read block", ReadBlock(8, 0), ErrEmptyBlock},
		{"empty write block", WriteBlock(8, nil), ErrEmptyBlock},
		{"block wraps", ReadBlock(0xFFFF_FFFC, 2), ErrAddrWrap},
		{"block ends at the top", ReadBlock(0xFFFF_FFF8, 2), nil},
		{"idle 0", Idle(0), ErrZeroIdle},
		{"idle 1", Idle(1), nil},
		{"poll", Poll(8, UntilEqual, 1, 1, 0, 1), nil},
		{"poll of zero reads", Poll(8, UntilEqual, 1, 1, 0, 0), ErrZeroPoll},
		{"poll bad condition", Poll(8, Cond(9), 1, 1, 0, 1), ErrBadCond},
		{"poll misaligned", Poll(9, UntilEqual, 1, 1, 0, 1), nil},
		{"unknown kind", Op{Kind: 99}, ErrBadKind},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.op.Validate(); !errors.Is(err, tt.want) {
				t.Errorf("Validate() = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestValidateBatch(t *testing.T) {
	if _, err := ValidateBatch(nil); !errors.Is(err, ErrEmptyBatch) {
		t.Errorf("empty batch: got %v, want ErrEmptyBatch", err)
	}
	if _, err := ValidateBatch(make([]Op, MaxBatchOps+1)); !errors.Is(err, ErrBatchTooLong) {
		t.Errorf("too many ops: got %v, want ErrBatchTooLong", err)
	}
	big := []Op{ReadBlock(0, MaxBatchWords), Read(0)}
	if _, err := ValidateBatch(big); err != nil {
		t.Errorf("%d block words: got %v, want nil", MaxBatchWords, err)
	}
	if _, err := ValidateBatch(append(big, ReadBlock(0, 1))); !errors.Is(err, ErrBatchTooLong) {
		t.Errorf("too many words: got %v, want ErrBatchTooLong", err)
	}
	n, err := ValidateBatch([]Op{WriteBlock(0, []uint32{1, 2, 3}), ReadBlock(0, 4), Idle(3)})
	if err != nil || n != 7 {
		t.Errorf("got %d words, %v; want 7, nil", n, err)
	}
	if _, err := ValidateBatch([]Op{Read(0), Idle(0)}); !errors.Is(err, ErrZeroIdle) {
		t.Errorf("bad op: got %v, want ErrZeroIdle", err)
	}
}

// TestMap checks the address map against the RTL's layout (ringsim_node.sv).
func TestMap(t *testing.T) {
	tests := []struct {
		depth, ports int
		log2         uint
		tx1, rx1     uint32
	}{
		{2, 1, 8, 3 << 8, 4 << 8},       // 8*2+16 = 32 bytes: the 256-byte minimum
		{16, 2, 8, 3 << 8, 4 << 8},      // 144 bytes
		{128, 7, 11, 3 << 11, 4 << 11},  // 1040 bytes
		{4000, 1, 15, 3 << 15, 4 << 15}, // 32016 bytes
		{4096, 1, 16, 3 << 16, 4 << 16}, // 32784 bytes
	}
	for _, tt := range tests {
		m := Map{Depth: tt.depth, Ports: tt.ports}
		if got := m.WindowLog2(); got != tt.log2 {
			t.Errorf("D=%d: WindowLog2 = %d, want %d", tt.depth, got, tt.log2)
		}
		if got := m.TX(1); got != tt.tx1 {
			t.Errorf("D=%d: TX(1) = %#x, want %#x", tt.depth, got, tt.tx1)
		}
		if got := m.RX(1); got != tt.rx1 {
			t.Errorf("D=%d: RX(1) = %#x, want %#x", tt.depth, got, tt.rx1)
		}
		if m.Enable() != uint32(8*tt.depth) || m.ClearAtCount() != uint32(8*tt.depth+8) {
			t.Errorf("D=%d: enable %#x, clear_at_count %#x", tt.depth, m.Enable(), m.ClearAtCount())
		}
	}
}
