package conformance

import (
	"context"
	"testing"
	"time"
)

// TestDifferential compares the Verilated RTL with the reference model cycle by cycle under
// random bus and link traffic: over a million cycles at a power-of-two depth with two
// ports, and a shorter run at a depth that is not a power of two.
func TestDifferential(t *testing.T) {
	tests := []struct {
		name string
		cfg  DiffConfig
	}{
		{"D16x2", DiffConfig{Depth: 16, Ports: 2, Cycles: 1_000_000, Seed: 1, Release: 37}},
		{"D13x1", DiffConfig{Depth: 13, Ports: 1, Cycles: 300_000, Seed: 2, Release: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			rep, err := Differential(ctx, tt.cfg)
			if err != nil {
				t.Fatalf("Differential: %v", err)
			}
			if rep.Cycles < tt.cfg.Cycles {
				t.Errorf("compared %d cycles, want %d", rep.Cycles, tt.cfg.Cycles)
			}
			if rep.Ops < 1000 {
				t.Errorf("only %d bus operations completed: traffic too thin", rep.Ops)
			}
			t.Logf("%d cycles, %d batches, %d ops, %d frames compared", rep.Cycles, rep.Batches, rep.Ops, rep.Frames)
		})
	}
}
