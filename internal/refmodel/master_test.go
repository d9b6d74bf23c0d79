package refmodel

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ringsim/ringsim/sim/bus"
)

// TestMasterTiming checks the cycle in which each operation completes, with the node at
// depth 8 and out of reset from cycle 4 (so the first operation starts in cycle 4).
func TestMasterTiming(t *testing.T) {
	const d, release = 8, 4
	m := bus.Map{Depth: d, Ports: 1}
	tests := []struct {
		name string
		ops  []bus.Op
		want []bus.Result
	}{
		{
			name: "idle 1",
			ops:  []bus.Op{bus.Idle(1)},
			want: []bus.Result{{Cycle: 4}},
		},
		{
			name: "idle, write, idle, register read",
			ops:  []bus.Op{bus.Idle(5), bus.Write(m.TX(0), 1), bus.Idle(3), bus.Read(bus.RegCycleLo)},
			want: []bus.Result{{Cycle: 8}, {Cycle: 9}, {Cycle: 12}, {Cycle: 13, Value: 13 - release}},
		},
		{
			name: "read block of data: two cycles a word",
			ops:  []bus.Op{bus.ReadBlock(m.TX(0)+m.Data(d-1), 2)},
			want: []bus.Result{{Cycle: 7, N: 2, Words: []uint32{0x7770, 0x7771}}},
		},
		{
			name: "read block of registers: one cycle a word",
			ops:  []bus.Op{bus.ReadBlock(bus.RegMagic, 4)},
			want: []bus.Result{{Cycle: 7, N: 4, Words: []uint32{bus.Magic, bus.MapVersion, 0, d}}},
		},
		{
			name: "write block: one cycle a word",
			ops:  []bus.Op{bus.WriteBlock(m.TX(0), []uint32{1, 2, 3, 4})},
			want: []bus.Result{{Cycle: 7, N: 4}},
		},
		{
			name: "back to back reads",
			ops:  []bus.Op{bus.Read(m.RX(0)), bus.Read(m.RX(0) + 4), bus.Read(m.RX(0) + m.Enable())},
			want: []bus.Result{{Cycle: 5}, {Cycle: 7}, {Cycle: 8}},
		},
		{
			// Reads in 4, 7, 10 (interval 2); CYCLE_LO is 0, 3, 6 then.
			name: "poll until equal on the third read",
			ops:  []bus.Op{bus.Poll(bus.RegCycleLo, bus.UntilEqual, 0xFF, 6, 2, 10)},
			want: []bus.Result{{Cycle: 10, N: 3, Value: 6}},
		},
		{
			name: "poll until not equal, first read",
			ops:  []bus.Op{bus.Poll(bus.RegMagic, bus.UntilNotEqual, 0xFFFF, 0, 7, 10)},
			want: []bus.Result{{Cycle: 4, N: 1, Value: bus.Magic}},
		},
		{
			// Reads in 4, 6, 8, 10.
			name: "poll runs out of reads",
			ops:  []bus.Op{bus.Poll(bus.RegCycleLo, bus.UntilEqual, 0, 1, 1, 4)},
			want: []bus.Result{{Cycle: 10, N: 4, Value: 6}},
		},
		{
			// Data reads ACK in 5, 7, 9 (interval 0: the next request follows the ACK cycle).
			name: "poll of data, latency one",
			ops:  []bus.Op{bus.Poll(m.TX(0)+m.Data(d-1), bus.UntilNotEqual, 0xFFFF, 0x7770, 0, 3)},
			want: []bus.Result{{Cycle: 9, N: 3, Value: 0x7770}},
		},
		{
			name: "errors do not stop the batch",
			ops:  []bus.Op{bus.Read(0x24), bus.Read(bus.RegDepth), bus.Write(m.RX(0), 1), bus.Idle(2)},
			want: []bus.Result{{Cycle: 4, Err: true}, {Cycle: 5, Value: d}, {Cycle: 6, Err: true}, {Cycle: 8}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSystem(t, Config{Depth: d, Ports: 1, Release: release})
			s.Node.SetTXWord(0, d-1, 0x7771_00007770)
			got := runBatch(t, s, 1000, tt.ops...)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("results (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBatchBoundaries checks that Run stops at the end of the cycle in which the batch
// completed and that the next batch starts in the following cycle, or later if it is
// submitted later.
func TestBatchBoundaries(t *testing.T) {
	s := newSystem(t, Config{Depth: 4, Ports: 1, Release: 2})
	if err := s.Submit([]bus.Op{bus.Idle(3)}); err != nil {
		t.Fatal(err)
	}
	n, done := s.Run(100, nil, nil)
	if !done || n != 5 || s.Cycle() != 5 {
		t.Fatalf("Run: got %d cycles, done %v, now cycle %d; want 5, true, 5", n, done, s.Cycle())
	}
	if _, done := s.Run(100, nil, nil); done {
		t.Fatalf("Run with a completed batch not taken: got done, want not done")
	}
	if s.Cycle() != 100 {
		t.Fatalf("Run without a batch: got cycle %d, want 100", s.Cycle())
	}
	if _, err := s.Take(); err != nil {
		t.Fatal(err)
	}
	got := runBatch(t, s, 10, bus.Read(bus.RegCycleLo))
	if want := []bus.Result{{Cycle: 100, Value: 98}}; !cmp.Equal(want, got) {
		t.Errorf("next batch: got %+v, want %+v", got, want)
	}
	// Stop at until before the batch completes, then go on.
	if err := s.Submit([]bus.Op{bus.Idle(10)}); err != nil {
		t.Fatal(err)
	}
	if n, done := s.Run(105, nil, nil); done || n != 4 {
		t.Fatalf("Run to 105: got %d cycles done %v, want 4 false", n, done)
	}
	if n, done := s.Run(200, nil, nil); !done || n != 6 {
		t.Fatalf("Run on: got %d cycles done %v, want 6 true", n, done)
	}
}

func TestSubmitErrors(t *testing.T) {
	tests := []struct {
		name string
		ops  []bus.Op
		want error
	}{
		{"empty batch", nil, ErrEmptyBatch},
		{"read block of zero words", []bus.Op{bus.ReadBlock(0, 0)}, bus.ErrEmptyBlock},
		{"write block of zero words", []bus.Op{bus.WriteBlock(0, nil)}, bus.ErrEmptyBlock},
		{"block past the address space", []bus.Op{bus.ReadBlock(0xFFFFFFF8, 3)}, bus.ErrAddrWrap},
		{"idle 0", []bus.Op{bus.Write(0, 0), bus.Idle(0)}, bus.ErrZeroIdle},
		{"poll of zero reads", []bus.Op{bus.Poll(0, bus.UntilEqual, 0, 0, 0, 0)}, bus.ErrZeroPoll},
		{"poll condition 0", []bus.Op{{Kind: bus.KindPoll, Count: 1}}, bus.ErrBadCond},
		{"kind 0", []bus.Op{{}}, bus.ErrBadKind},
		{"kind 9", []bus.Op{{Kind: 9}}, bus.ErrBadKind},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMaster()
			if err := m.Submit(tt.ops); !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
			if m.Busy() {
				t.Errorf("got busy after a rejected batch, want idle")
			}
		})
	}
}

func TestSubmitBusyAndTake(t *testing.T) {
	s := newSystem(t, Config{Depth: 4, Ports: 1})
	if _, err := s.Take(); !errors.Is(err, ErrNoResults) {
		t.Errorf("Take without a batch: got %v, want %v", err, ErrNoResults)
	}
	ops := []bus.Op{bus.Idle(2)}
	if err := s.Submit(ops); err != nil {
		t.Fatal(err)
	}
	if err := s.Submit(ops); !errors.Is(err, ErrBusy) {
		t.Errorf("Submit while in flight: got %v, want %v", err, ErrBusy)
	}
	if _, err := s.Take(); !errors.Is(err, ErrNoResults) {
		t.Errorf("Take while in flight: got %v, want %v", err, ErrNoResults)
	}
	s.Run(10, nil, nil)
	if err := s.Submit(ops); !errors.Is(err, ErrBusy) {
		t.Errorf("Submit before Take: got %v, want %v", err, ErrBusy)
	}
	if _, err := s.Take(); err != nil {
		t.Errorf("Take: %v", err)
	}
	if _, err := s.Take(); !errors.Is(err, ErrNoResults) {
		t.Errorf("second Take: got %v, want %v", err, ErrNoResults)
	}
	if err := s.Submit(ops); err != nil {
		t.Errorf("Submit after Take: %v", err)
	}
}

// TestSubmitCopies checks that the caller may change ops and their words after Submit.
func TestSubmitCopies(t *testing.T) {
	m := bus.Map{Depth: 4, Ports: 1}
	s := newSystem(t, Config{Depth: 4, Ports: 1})
	words := []uint32{1, 2}
	ops := []bus.Op{bus.WriteBlock(m.TX(0), words)}
	if err := s.Submit(ops); err != nil {
		t.Fatal(err)
	}
	words[0], words[1] = 9, 9
	ops[0].Addr = m.RX(0)
	if _, done := s.Run(10, nil, nil); !done {
		t.Fatal("batch did not complete")
	}
	if got := s.Node.TXWord(0, 0); got != 0x2_00000001 {
		t.Errorf("TX word 0: got %#x, want %#x", got, 0x2_00000001)
	}
}

// TestMasterMaskBits checks that only bits 3..0 of Mask reach wb_sel_i, as in the harness.
func TestMasterMaskBits(t *testing.T) {
	m := bus.Map{Depth: 4, Ports: 1}
	s := newSystem(t, Config{Depth: 4, Ports: 1})
	runBatch(t, s, 10, bus.WriteMasked(m.TX(0), 0xAABBCCDD, 0xF1))
	if got := s.Node.TXWord(0, 0); got != 0xDD {
		t.Errorf("TX word 0: got %#x, want 0xdd", got)
	}
}

func TestSimulate(t *testing.T) {
	const d = 4
	m := bus.Map{Depth: d, Ports: 2}
	rx := [][]uint64{nil, {7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7}}
	batches := [][]bus.Op{
		{bus.Write(m.TX(0)+m.Data(1), 0x11), bus.Write(m.TX(0)+m.Enable(), 1), bus.Write(m.RX(1)+m.Enable(), 1)},
		{bus.Idle(4)},
		{bus.Read(m.RX(1) + m.Data(2))},
		{bus.Idle(100)}, // does not complete
	}
	tr, err := Simulate(Config{Depth: d, Ports: 2, Release: 1}, rx, batches, 20)
	if err != nil {
		t.Fatal(err)
	}
	wantRes := [][]bus.Result{
		{{Cycle: 1}, {Cycle: 2}, {Cycle: 3}},
		{{Cycle: 7}},
		{{Cycle: 9, Value: 7}},
	}
	for _, rs := range tr.Results {
		oneClock(t, rs)
	}
	if diff := cmp.Diff(wantRes, tr.Results); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	// The TX 0 enable write is acknowledged in cycle 2, so enable(t) = 1 from t = 3 on and
	// word 1 goes out in cycles c >= 4 with count(c-1) = (c-2) mod D = 1.
	wantTX := make([]uint64, 20)
	for c := 4; c < 20; c++ {
		if (c-1-1)%d == 1 {
			wantTX[c] = 0x11
		}
	}
	if diff := cmp.Diff(wantTX, tr.TX[0]); diff != "" {
		t.Errorf("TX port 0 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(make([]uint64, 20), tr.TX[1]); diff != "" {
		t.Errorf("TX port 1 (-want +got):\n%s", diff)
	}
}
