package refmodel

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ringsim/ringsim/sim/bus"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

func TestRandomOpsDeterministic(t *testing.T) {
	a := RandomOps(newRand(1), 16, 2, 500)
	b := RandomOps(newRand(1), 16, 2, 500)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("same seed, different ops (-first +second):\n%s", diff)
	}
}

// TestRandomOps checks that the generated ops are valid, reach every address class the
// differential test needs, and that every op completes within its documented bound.
func TestRandomOps(t *testing.T) {
	for _, tc := range []struct{ d, ports int }{{2, 1}, {16, 1}, {16, 2}, {200, 3}, {256, 2}} {
		t.Run(fmt.Sprintf("D=%d/ports=%d", tc.d, tc.ports), func(t *testing.T) {
			d, ports := tc.d, tc.ports
			m := bus.Map{Depth: d, Ports: ports}
			win := uint32(1) << m.WindowLog2()
			ops := RandomOps(newRand(uint64(d*10+ports)), d, ports, 20000)
			seen := map[string]int{}
			for i, op := range ops {
				if err := op.Validate(); err != nil {
					t.Fatalf("op %d %+v: %v", i, op, err)
				}
				seen[op.Kind.String()]++
				dev, off := op.Addr/win, op.Addr%win
				write := op.Kind == bus.KindWrite || op.Kind == bus.KindWriteBlock
				switch {
				case op.Kind == bus.KindIdle:
				case dev == 0:
					seen["node block"]++
				case dev >= uint32(1+2*ports):
					seen["unmapped window"]++
				case dev%2 == 1 && off == uint32(8*(d-1)+4):
					seen["tx last word"]++
				case dev%2 == 1 && off < uint32(8*d) && write:
					seen["tx data write"]++
				case dev%2 == 0 && off < uint32(8*d) && !write:
					seen["rx data read"]++
				case dev%2 == 0 && off < uint32(8*d):
					seen["rx data write"]++
				case off == uint32(8*d) && write:
					seen["enable write"]++
				case dev%2 == 0 && off == uint32(8*d+8) && op.Kind == bus.KindWrite:
					switch {
					case op.Mask != 0xF:
						seen["clear partial"]++
					case op.Value >= uint32(d):
						seen["clear out of range"]++
					default:
						seen["clear"]++
					}
				case dev%2 == 0 && off == uint32(8*d+8):
					seen["clear read"]++
				case off > uint32(8*d):
					seen["past the registers"]++
				}
				if op.Kind == bus.KindWrite && op.Mask != 0xF && off < uint32(8*d) {
					seen["masked data write"]++
				}
			}
			for _, k := range []string{"read", "write", "read-block", "write-block", "idle", "poll",
				"node block", "unmapped window", "tx last word", "tx data write", "rx data read",
				"rx data write", "enable write", "clear", "clear partial", "clear out of range",
				"clear read", "past the registers", "masked data write"} {
				if seen[k] == 0 {
					t.Errorf("no op of class %q in %d ops", k, len(ops))
				}
			}

			// Run them in chunks; no op may hold the node longer than its bound.
			s := newSystem(t, Config{Depth: d, Ports: ports, Release: 3})
			bound := uint64(2*d + 8*(2+3) + 2)
			s.Run(3, nil, nil) // out of reset
			var errs, acks int
			for i := 0; i < len(ops); i += 100 {
				start := s.Cycle()
				res := runBatch(t, s, 100*bound, ops[i:min(i+100, len(ops))]...)
				prev := start - 1
				for j, r := range res {
					if r.Cycle <= prev || r.Cycle-prev > bound {
						t.Fatalf("op %d %+v: completed in cycle %d, previous in %d (bound %d)", i+j, ops[i+j], r.Cycle, prev, bound)
					}
					prev = r.Cycle
					if r.Err {
						errs++
					} else {
						acks++
					}
				}
			}
			if errs < len(ops)/20 || acks < len(ops)/2 {
				t.Errorf("got %d ERR and %d ACK results of %d ops, want a mix", errs, acks, len(ops))
			}
		})
	}
}
