package refmodel

import (
	"testing"

	"github.com/ringsim/ringsim/sim/bus"
)

// newSystem returns a system or fails the test.
func newSystem(t testing.TB, cfg Config) *System {
	t.Helper()
	s, err := NewSystem(cfg)
	if err != nil {
		t.Fatalf("NewSystem(%+v): %v", cfg, err)
	}
	return s
}

// runBatch submits ops and runs the system until the batch completes (at most limit
// cycles), with zero RX frames. It returns the results.
func runBatch(t testing.TB, s *System, limit uint64, ops ...bus.Op) []bus.Result {
	t.Helper()
	if err := s.Submit(ops); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	if _, done := s.Run(s.Cycle()+limit, nil, nil); !done {
		t.Fatalf("batch did not complete within %d cycles (cycle %d)", limit, s.Cycle())
	}
	res, err := s.Take()
	if err != nil {
		t.Fatalf("Take: %v", err)
	}
	return oneClock(t, res)
}

// oneClock checks that every result's local cycle is its cycle (the reference model has
// one clock) and clears it, so that tables of expected results need not repeat it.
func oneClock(t testing.TB, res []bus.Result) []bus.Result {
	t.Helper()
	for i := range res {
		if res[i].Local != res[i].Cycle {
			t.Fatalf("result %d: local cycle %d, cycle %d: want the same", i, res[i].Local, res[i].Cycle)
		}
		res[i].Local = 0
	}
	return res
}

// loopback is a latency-L link from a port's TX output back to its RX input.
type loopback struct {
	line []uint64 // L+1 slots, like the harness's delay line
	head int
}

func newLoopback(latency int) *loopback { return &loopback{line: make([]uint64, latency+1)} }

// push takes the TX frame of cycle c and returns the RX frame of cycle c (TX of c-L).
func (l *loopback) push(f uint64) uint64 {
	l.line[l.head] = f
	if l.head++; l.head == len(l.line) {
		l.head = 0
	}
	return l.line[l.head]
}

// stepLoop steps a one-port system with its port looped back, until its batch completes or
// limit cycles passed. It reports whether the batch completed.
func stepLoop(s *System, l *loopback, limit int) bool {
	rx := make([]uint64, 1)
	for range limit {
		rx[0] = l.push(s.Node.TX(0))
		if s.Step(rx, nil) {
			return true
		}
	}
	return false
}
