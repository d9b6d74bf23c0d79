package sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/sim/bus"
)

// driver runs random batches on every node (as threadsRun does) and records what happens.
type driver struct {
	rng   *rand.Rand
	trace []string
}

// run drives e until cycle end, stopping between batches.
func (d *driver) run(t *testing.T, e *Engine, end uint64) {
	t.Helper()
	m := bus.Map{Depth: e.Depth(), Ports: e.Ports()}
	for e.Cycle() < end {
		for n := 0; n < e.Nodes(); n++ {
			if !e.Busy(n) && d.rng.IntN(3) > 0 {
				if err := e.Submit(n, randomBatch(d.rng, m)); err != nil {
					t.Fatal(err)
				}
			}
		}
		done, err := e.Run(e.Cycle() + uint64(1+d.rng.IntN(3000)))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range done {
			res, err := e.Results(n)
			if err != nil {
				t.Fatal(err)
			}
			d.trace = append(d.trace, fmt.Sprintf("cycle %d node %d: %+v", e.Cycle(), n, res))
		}
	}
	// Drain: let every batch finish, so the engine can be saved.
	for busy := true; busy; {
		busy = false
		for n := 0; n < e.Nodes(); n++ {
			busy = busy || e.Busy(n)
		}
		if !busy {
			break
		}
		done, err := e.Run(e.Cycle() + 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range done {
			res, _ := e.Results(n)
			d.trace = append(d.trace, fmt.Sprintf("drain cycle %d node %d: %+v", e.Cycle(), n, res))
		}
	}
}

// final records the state a continuation must reproduce: fault counts and RX memories.
func final(t *testing.T, e *Engine) []string {
	var out []string
	for l := range e.Info().Config.Topology.Links {
		f, z, _ := e.FaultCounts(l)
		out = append(out, fmt.Sprintf("link %d faults %d %d", l, f, z))
	}
	for n := 0; n < e.Nodes(); n++ {
		for p := 0; p < e.Ports(); p++ {
			for i := 0; i < e.Depth(); i++ {
				v, _ := e.Peek(n, p, hw.RXMem, i)
				out = append(out, fmt.Sprintf("rx %d.%d[%d] %#x", n, p, i, v))
			}
		}
	}
	return append(out, fmt.Sprintf("cycle %d", e.Cycle()))
}

// TestCheckpointContinues saves a random co-simulation halfway (through a file), restores
// it on another thread count, and checks that the continuation is the uninterrupted run:
// every result, every fault and every RX word. The real link is checked the same way.
func TestCheckpointContinues(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     hw.Config
		threads [2]int
	}{
		{"ideal, faults, 1 then 3 threads", hw.Config{Topology: threadsTopology(), Depth: 16, Seed: 9}, [2]int{1, 3}},
		{"real link with clock control, flap", hw.Config{Topology: hw.Ring(3, 12), Depth: 16, Seed: 4, Link: hw.LinkReal,
			Real: hw.RealLink{Control: true, UpdateCycles: 1000, Flaps: []hw.Flap{{Link: 1, Down: 14_000, Up: 15_000}}}}, [2]int{1, 1}},
		// Without assertions the harness evaluates once per cycle (kOneEval in harness.cpp).
		{"no assertions, ideal, 3 then 1 threads", hw.Config{Topology: threadsTopology(), Depth: 16, Seed: 9, NoAssert: true}, [2]int{3, 1}},
		{"no assertions, real link, flap", hw.Config{Topology: hw.Ring(3, 12), Depth: 16, Seed: 4, Link: hw.LinkReal, NoAssert: true,
			Real: hw.RealLink{Control: true, UpdateCycles: 1000, Flaps: []hw.Flap{{Link: 1, Down: 14_000, Up: 15_000}}}}, [2]int{1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := func(threads int) *Engine {
				e, err := New(context.Background(), tc.cfg, Options{Threads: threads})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { e.Close() })
				return e
			}
			// The uninterrupted run, with the driver's random state at the halfway point kept.
			src := rand.NewPCG(3, 3)
			whole := &driver{rng: rand.New(src)}
			e := start(tc.threads[0])
			whole.run(t, e, 10_000)
			half := len(whole.trace)
			cp, err := e.Save()
			if err != nil {
				t.Fatal(err)
			}
			var file bytes.Buffer
			if _, err := cp.WriteTo(&file); err != nil {
				t.Fatal(err)
			}
			at, _ := src.MarshalBinary()
			whole.run(t, e, 20_000)
			want := append(whole.trace[half:], final(t, e)...)

			resumed := new(rand.PCG)
			if err := resumed.UnmarshalBinary(at); err != nil {
				t.Fatal(err)
			}
			replay := &driver{rng: rand.New(resumed)}
			back, err := ReadCheckpoint(&file)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Restore(context.Background(), back, Options{Threads: tc.threads[1]})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.Cycle() != cp.Cycle {
				t.Fatalf("restored at cycle %d, saved at %d", r.Cycle(), cp.Cycle)
			}
			replay.run(t, r, 20_000)
			got := append(replay.trace, final(t, r)...)
			if !reflect.DeepEqual(got, want) {
				for i := range min(len(got), len(want)) {
					if got[i] != want[i] {
						t.Fatalf("first difference at entry %d:\n got %s\nwant %s", i, got[i], want[i])
					}
				}
				t.Fatalf("%d entries, want %d", len(got), len(want))
			}
		})
	}
}

// TestCheckpointErrors checks that Save refuses what it cannot save and that damaged or
// foreign checkpoint files are refused with a reason.
func TestCheckpointErrors(t *testing.T) {
	cfg := hw.Config{Topology: hw.Pair(4), Depth: 16, Seed: 1}
	e := newEngine(t, cfg)
	if err := e.Submit(0, []bus.Op{bus.Idle(100)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Save(); !errors.Is(err, ErrBusy) {
		t.Fatalf("save with a batch in flight: %v, want ErrBusy", err)
	}
	if _, err := e.Execute(context.Background(), 1, []bus.Op{bus.Idle(1)}); err != nil {
		t.Fatal(err)
	}
	for e.Busy(0) {
		if _, err := e.Run(e.Cycle() + 1000); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Results(0); err != nil {
		t.Fatal(err)
	}
	cp, err := e.Save()
	if err != nil {
		t.Fatal(err)
	}
	var file bytes.Buffer
	cp.WriteTo(&file)
	good := file.Bytes()
	corrupt := append([]byte(nil), good...)
	corrupt[len(corrupt)-100] ^= 1
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not a ringsim checkpoint"},
		{"other file", []byte("PK\x03\x04 a zip file"), "not a ringsim checkpoint"},
		{"newer format", []byte("ringsim checkpoint 9\n{}\n"), `format "ringsim checkpoint 9"`},
		{"bad header", []byte(checkpointMagic + "{\"cycle\": \"x\"}\n"), "header"},
		{"truncated", good[:len(good)-10], "truncated"},
		{"trailing bytes", append(append([]byte(nil), good...), 0), "bytes after the state"},
		{"corrupt", corrupt, "does not match its SHA-256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadCheckpoint(bytes.NewReader(tc.data))
			if !errors.Is(err, ErrBadCheckpoint) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrBadCheckpoint containing %q", err, tc.want)
			}
		})
	}
	// A checkpoint of another shape, or state that is not a checkpoint, does not restore.
	other := *cp
	other.State = append([]byte(nil), cp.State...)
	other.State[40] ^= 0xff // inside the shape record
	if _, err := Restore(context.Background(), &other, Options{}); !errors.Is(err, ErrBadCheckpoint) {
		t.Fatalf("damaged state: %v, want ErrBadCheckpoint", err)
	}
	other.Model = "0123"
	if _, err := Restore(context.Background(), &other, Options{}); !errors.Is(err, ErrBadCheckpoint) ||
		!strings.Contains(err.Error(), "made by model 0123") {
		t.Fatalf("other model: %v", err)
	}
}
