// Package conformance checks node RTL against the SPEC: a differential test that drives the
// same random bus and link traffic into the Verilated RTL and into the Go reference model
// and compares every bus result and every transmitted frame, cycle by cycle.
package conformance

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/hashicorp/go-hclog"

	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/internal/refmodel"
	"github.com/ringsim/ringsim/sim"
	"github.com/ringsim/ringsim/sim/bus"
)

// DiffConfig configures a differential run.
type DiffConfig struct {
	Depth  int
	Ports  int
	Cycles uint64 // cycles to compare
	Seed   uint64
	// Release is the node's reset release cycle.
	Release uint64
	// RTLDir is the RTL under test; empty means ringsim's own.
	RTLDir   string
	CacheDir string
	Logger   hclog.Logger
	// OnModelBuild, if set, is told about model builds (sim.Config.OnModelBuild).
	OnModelBuild func(sim.BuildEvent)
	// Limits bound the simulation (cycle budget) and report how far it got.
	Limits Limits
	// Waveform, if set, dumps an FST of the RTL to this path from cycle WaveformFrom on
	// (the model is then built with waveform support).
	Waveform     string
	WaveformFrom uint64
}

// Divergence is the first cycle where RTL and reference model disagreed.
type Divergence struct {
	Cycle uint64 // global cycle
	What  string // what differed
	Want  string // the reference model's value
	Got   string // the RTL's value
}

// Error describes the divergence.
func (d *Divergence) Error() string {
	return fmt.Sprintf("cycle %d: %s: RTL %s, reference %s", d.Cycle, d.What, d.Got, d.Want)
}

// ErrDiverged is wrapped by the error Differential returns when RTL and model disagree.
var ErrDiverged = errors.New("RTL diverged from the reference model")

// DiffReport summarises a differential run.
type DiffReport struct {
	Cycles     uint64      // cycles compared
	Batches    int         // batches completed
	Ops        int         // bus operations completed
	Frames     uint64      // TX frames compared
	Divergence *Divergence // nil if none
}

// chunk is the number of cycles driven and recorded per engine call sequence.
const chunk = 1 << 14

// Differential runs cfg.Cycles cycles of random traffic through the RTL and the reference
// model. It returns a report and, on the first disagreement, an error wrapping ErrDiverged
// (the report's Divergence says where). An RTL assertion failure is returned as the
// engine's error (sim.ErrStopped).
func Differential(ctx context.Context, cfg DiffConfig) (DiffReport, error) {
	var rep DiffReport
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x646966660a)) // "diff"
	dna := [3]uint32{rng.Uint32(), rng.Uint32(), rng.Uint32()}
	e, err := sim.New(ctx, hw.Config{
		Topology: hw.Topology{Name: "single", Nodes: 1, Ports: cfg.Ports},
		Depth:    cfg.Depth, Seed: cfg.Seed, Release: []uint64{cfg.Release},
		DNA: [][3]uint32{dna}, RTLDir: cfg.RTLDir, Waveforms: cfg.Waveform != "",
	}, sim.Options{CacheDir: cfg.CacheDir, Logger: cfg.Logger, OnModelBuild: cfg.OnModelBuild})
	if err != nil {
		return rep, err
	}
	defer e.Close()
	ref, err := refmodel.NewSystem(refmodel.Config{Depth: cfg.Depth, Ports: cfg.Ports, DNA: dna,
		Release: cfg.Release})
	if err != nil {
		return rep, err
	}
	d := &differ{e: &Traced{Engine: e, Path: cfg.Waveform, From: cfg.WaveformFrom, Limits: cfg.Limits}, ref: ref,
		rng: rng, cfg: cfg, rep: &rep}
	for e.Cycle() < cfg.Cycles {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		if err := d.chunk(min(chunk, cfg.Cycles-e.Cycle())); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

type differ struct {
	e     *Traced
	ref   *refmodel.System
	rng   *rand.Rand
	cfg   DiffConfig
	rep   *DiffReport
	ops   []bus.Op // batch in flight
	start uint64   // first cycle of the chunk
	rx    [][]uint64
	tx    [][]uint64 // the model's TX frames of the chunk
}

func (d *differ) chunk(n uint64) error {
	d.start = d.e.Cycle()
	d.rx = make([][]uint64, d.cfg.Ports)
	d.tx = make([][]uint64, d.cfg.Ports)
	for p := range d.rx {
		d.rx[p] = make([]uint64, n)
		d.tx[p] = make([]uint64, n)
		for i := range d.rx[p] {
			// Mostly random frames, some zero frames and some all-ones.
			switch d.rng.IntN(16) {
			case 0:
				d.rx[p][i] = 0
			case 1:
				d.rx[p][i] = ^uint64(0)
			default:
				d.rx[p][i] = d.rng.Uint64()
			}
		}
		if err := d.e.Drive(0, p, d.rx[p]); err != nil {
			return err
		}
		if err := d.e.Record(0, p, int(n)); err != nil {
			return err
		}
	}
	end := d.start + n
	for d.e.Cycle() < end {
		if d.ops == nil {
			d.ops = refmodel.RandomOps(d.rng, d.cfg.Depth, d.cfg.Ports, 1+d.rng.IntN(24))
			if err := d.e.Submit(0, d.ops); err != nil {
				return err
			}
			if err := d.ref.Submit(d.ops); err != nil {
				return fmt.Errorf("reference model refused a batch: %w", err)
			}
		}
		done, runErr := d.e.Run(end)
		off := d.ref.Cycle() - d.start
		rx := make([][]uint64, d.cfg.Ports)
		tx := make([][]uint64, d.cfg.Ports)
		for p := range rx {
			rx[p], tx[p] = d.rx[p][off:], d.tx[p][off:]
		}
		_, refDone := d.ref.Run(d.e.Cycle(), rx, tx)
		if runErr != nil {
			// The RTL stopped; still report a frame divergence if one came first. Frames
			// after the stop's failing cycle are what the stop caused (a bus that did not
			// answer leaves the reference model's batch ahead), not a separate finding.
			if div := d.compareFrames(d.e.Cycle() - d.start); div != nil {
				if c, ok := StoppedAt(runErr); !ok || div.Cycle < c {
					return d.diverged(div)
				}
			}
			return runErr
		}
		if (len(done) > 0) != refDone {
			div := d.compareFrames(d.e.Cycle() - d.start)
			if div == nil {
				div = &Divergence{Cycle: d.e.Cycle() - 1, What: d.batchDesc(),
					Got: doneStr(len(done) > 0), Want: doneStr(refDone)}
			}
			return d.diverged(div)
		}
		if refDone {
			got, err := d.e.Results(0)
			if err != nil {
				return err
			}
			want, err := d.ref.Take()
			if err != nil {
				return err
			}
			if div := compareResults(d.ops, want, got); div != nil {
				if f := d.compareFrames(d.e.Cycle() - d.start); f != nil && f.Cycle <= div.Cycle {
					div = f
				}
				return d.diverged(div)
			}
			d.rep.Batches++
			d.rep.Ops += len(d.ops)
			d.ops = nil
		}
	}
	if div := d.compareFrames(n); div != nil {
		return d.diverged(div)
	}
	d.rep.Frames += n * uint64(d.cfg.Ports)
	d.rep.Cycles = d.e.Cycle()
	return nil
}

func (d *differ) diverged(div *Divergence) error {
	d.rep.Divergence = div
	d.rep.Cycles = div.Cycle
	return fmt.Errorf("%w: %v", ErrDiverged, div)
}

func doneStr(b bool) string {
	if b {
		return "completed"
	}
	return "not completed"
}

func (d *differ) batchDesc() string {
	return fmt.Sprintf("completion of a batch of %d ops starting with %s", len(d.ops), opDesc(d.ops[0]))
}

// compareFrames compares the TX frames of the first n cycles of the chunk.
func (d *differ) compareFrames(n uint64) *Divergence {
	var first *Divergence
	for p := 0; p < d.cfg.Ports; p++ {
		got, err := d.e.Recorded(0, p, int(n))
		if err != nil {
			return &Divergence{Cycle: d.start, What: "recording TX frames", Got: err.Error()}
		}
		for i := range got {
			if got[i] != d.tx[p][i] {
				c := d.start + uint64(i)
				if first == nil || c < first.Cycle {
					first = &Divergence{Cycle: c, What: fmt.Sprintf("TX frame of port %d", p),
						Got: fmt.Sprintf("%#016x", got[i]), Want: fmt.Sprintf("%#016x", d.tx[p][i])}
				}
				break
			}
		}
	}
	return first
}

func opDesc(op bus.Op) string {
	switch op.Kind {
	case bus.KindWrite:
		return fmt.Sprintf("write %#08x mask %04b at %#x", op.Value, op.Mask, op.Addr)
	case bus.KindIdle:
		return fmt.Sprintf("idle %d", op.Count)
	case bus.KindWriteBlock:
		return fmt.Sprintf("write-block of %d at %#x", len(op.Words), op.Addr)
	case bus.KindPoll:
		return fmt.Sprintf("poll at %#x", op.Addr)
	}
	if op.Kind == bus.KindReadBlock {
		return fmt.Sprintf("read-block of %d at %#x", op.Count, op.Addr)
	}
	return fmt.Sprintf("%v at %#x", op.Kind, op.Addr)
}

// compareResults returns the earliest disagreement between two batches' results.
func compareResults(ops []bus.Op, want, got []bus.Result) *Divergence {
	for i := range ops {
		w, g := want[i], got[i]
		what := fmt.Sprintf("op %d (%s)", i, opDesc(ops[i]))
		switch {
		case w.Cycle != g.Cycle:
			c := min(w.Cycle, g.Cycle)
			return &Divergence{Cycle: c, What: what + " completion cycle",
				Got: fmt.Sprint(g.Cycle), Want: fmt.Sprint(w.Cycle)}
		case w.Err != g.Err:
			return &Divergence{Cycle: w.Cycle, What: what + " bus error",
				Got: errStr(g.Err), Want: errStr(w.Err)}
		case w.Value != g.Value:
			return &Divergence{Cycle: w.Cycle, What: what + " read data",
				Got: fmt.Sprintf("%#08x", g.Value), Want: fmt.Sprintf("%#08x", w.Value)}
		case w.N != g.N:
			return &Divergence{Cycle: w.Cycle, What: what + " words transferred",
				Got: fmt.Sprint(g.N), Want: fmt.Sprint(w.N)}
		}
		for k := range w.Words {
			if k >= len(g.Words) || w.Words[k] != g.Words[k] {
				gv := "missing"
				if k < len(g.Words) {
					gv = fmt.Sprintf("%#08x", g.Words[k])
				}
				return &Divergence{Cycle: w.Cycle, What: fmt.Sprintf("%s word %d", what, k),
					Got: gv, Want: fmt.Sprintf("%#08x", w.Words[k])}
			}
		}
	}
	return nil
}

func errStr(b bool) string {
	if b {
		return "ERR"
	}
	return "ACK"
}
