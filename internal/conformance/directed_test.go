package conformance

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestDirected runs every directed test on ringsim's RTL at a power-of-two depth, a depth
// that is not one, and the smallest depth the tests support.
func TestDirected(t *testing.T) {
	for _, depth := range []int{MinDirectedDepth, 13, 16} {
		for _, d := range DirectedTests() {
			t.Run(fmt.Sprintf("%s/D%d", d.Name, depth), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
				defer cancel()
				if err := d.Run(ctx, DirectedConfig{Depth: depth, Seed: uint64(depth)}); err != nil {
					t.Fatalf("got %v, want nil", err)
				}
			})
		}
	}
}

// TestDirectedErrors checks the errors that are not the RTL's fault.
func TestDirectedErrors(t *testing.T) {
	d, ok := LookupDirected("bus-timing")
	if !ok {
		t.Fatal("bus-timing not found")
	}
	if err := d.Run(context.Background(), DirectedConfig{Depth: 2}); !errors.Is(err, ErrBadDirected) {
		t.Errorf("depth 2: got %v, want ErrBadDirected", err)
	}
	if _, ok := LookupDirected("no-such-test"); ok {
		t.Error("LookupDirected found a test that does not exist")
	}
}
