package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ringsim/ringsim/bridge"
	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/job"
	"github.com/ringsim/ringsim/sim"
)

func init() {
	register(&command{name: "sweep", summary: "run a grid of ringsim run parameters x seeds, shardable; merge shards", run: sweepMain})
}

// sweepFormat names and versions the files a sweep writes.
const sweepFormat = "ringsim-sweep/1"

// sweepAxis is one parameter of the grid: a `ringsim run` flag and its values.
type sweepAxis struct {
	Flag   string   `json:"flag"`
	Values []string `json:"values"`
}

// sweepPlan is the grid: every combination of the axes' values (the last axis varies
// fastest) times every seed (fastest of all). Base are the `ringsim run` flags every point
// shares.
type sweepPlan struct {
	Base  []string    `json:"base"`
	Axes  []sweepAxis `json:"axes"`
	Seeds []uint64    `json:"seeds"`
	// SetupSeed, if not 0, splits each point's seed: every point runs with -seed SetupSeed
	// (start offsets, DNA, clocks, alignment) and -run-seed of its seed (faults, TCP, drops,
	// data). Fork then runs the set-up once per group of points that share it and forks
	// every point of the group from its aligned checkpoint: the same bytes as running each
	// point from reset.
	SetupSeed uint64 `json:"setup_seed,omitempty"`
	Fork      bool   `json:"fork,omitempty"`
}

// runOnlyFlags are the run flags that act only after the aligned boundary: points that
// differ only in them (and in the run seed) share their set-up, so a fork serves them all.
var runOnlyFlags = map[string]bool{"drop": true, "pacing": true, "bytes": true, "window": true,
	"min-rto": true, "guard": true, "deadline": true, "run-seed": true}

// points is the number of runs.
func (p sweepPlan) points() int {
	n := len(p.Seeds)
	for _, a := range p.Axes {
		n *= len(a.Values)
	}
	return n
}

// point returns point i's axis values (in axis order) and seed.
func (p sweepPlan) point(i int) ([]string, uint64) {
	seed := p.Seeds[i%len(p.Seeds)]
	i /= len(p.Seeds)
	vals := make([]string, len(p.Axes))
	for a := len(p.Axes) - 1; a >= 0; a-- {
		vals[a] = p.Axes[a].Values[i%len(p.Axes[a].Values)]
		i /= len(p.Axes[a].Values)
	}
	return vals, seed
}

// args returns the `ringsim run` flags of point i.
func (p sweepPlan) args(i int) []string {
	vals, seed := p.point(i)
	args := append([]string(nil), p.Base...)
	for a, v := range vals {
		args = append(args, "-"+p.Axes[a].Flag+"="+v)
	}
	if p.SetupSeed != 0 {
		return append(args, "-seed="+strconv.FormatUint(p.SetupSeed, 10), "-run-seed="+strconv.FormatUint(seed, 10), "-progress=none")
	}
	return append(args, "-seed="+strconv.FormatUint(seed, 10), "-progress=none")
}

// setupKey identifies point i's set-up: its flags less those that act only after the
// aligned boundary. Points with one key can fork from one checkpoint.
func (p sweepPlan) setupKey(i int) string {
	var key []string
	for _, a := range p.args(i) {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !runOnlyFlags[name] {
			key = append(key, a)
		}
	}
	return strings.Join(key, " ")
}

// id identifies the sweep: shards of one sweep carry the same id.
func (p sweepPlan) id() string {
	b, _ := json.Marshal(p)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// sweepPoint is one run's outcome.
type sweepPoint struct {
	Index  int               `json:"index"`
	Params map[string]string `json:"params"`
	Seed   uint64            `json:"seed"`
	// SetupSeed is the set-up's seed when the plan splits them (Seed is then the run
	// seed); Forked says the point ran from its group's aligned checkpoint.
	SetupSeed uint64 `json:"setup_seed,omitempty"`
	Forked    bool   `json:"forked,omitempty"`
	Passed    bool   `json:"passed"`
	Error     string `json:"error,omitempty"`
	// The run's figures (README, "Reading the report"): zero when it failed before them.
	Cycles             uint64  `json:"cycles"`
	TransferCycles     uint64  `json:"transfer_cycles"`
	BytesReceived      int64   `json:"bytes_received"`
	Goodput            float64 `json:"goodput_bytes_per_cycle"`
	GoodputShare       float64 `json:"goodput_share_of_bound"`
	TCPRetransmissions uint64  `json:"tcp_retransmissions"`
	CorruptedAccepted  uint64  `json:"corrupted_accepted"`
	WallSeconds        float64 `json:"wall_seconds"`
	// The real link: elastic buffer adjustments (all links), and what ringsim's firmware
	// did about them.
	Adjustments   int `json:"adjustments,omitempty"`
	Compensations int `json:"compensations,omitempty"`
	Realignments  int `json:"realignments,omitempty"`
}

// sweepResult is what a shard, or a merge of shards, writes as sweep.json.
type sweepResult struct {
	Format string       `json:"format"`
	ID     string       `json:"id"`
	Plan   sweepPlan    `json:"plan"`
	Shard  int          `json:"shard"`  // this shard's index; -1 after a merge of all
	Shards int          `json:"shards"` // how many shards the sweep was cut into
	Points []sweepPoint `json:"points"`
}

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// Sweep flags that must not vary or be set per point: they name per-run files.
var sweepForbidden = map[string]string{
	"seed": "give seeds with -seeds", "json": "a sweep writes its own sweep.json", "pcap": "a sweep writes no captures",
	"trace": "a sweep writes no waveforms", "progress": "a sweep shows its own progress",
}

func sweepMain(ctx context.Context, args []string) int {
	if len(args) > 0 && args[0] == "merge" {
		return sweepMergeMain(args[1:])
	}
	fs := flag.NewFlagSet("ringsim sweep", flag.ContinueOnError)
	var axes listFlag
	fs.Var(&axes, "axis", "a ringsim run flag and its values, FLAG=V1,V2,... (repeat for more axes)")
	seeds := fs.String("seeds", "1", "seeds: a list (1,2,5) or a range (1..8)")
	out := fs.String("out", "sweep", "directory for sweep.json, sweep.csv and the plots")
	shard := fs.String("shard", "", "run one shard, I/N (I from 0); default: the whole sweep, or the index "+
		"from JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID or RINGSIM_SHARD with -shards")
	shards := fs.Int("shards", 0, "the shard count when the index comes from the environment")
	setupSeed := fs.Uint64("setup-seed", 0, "split the seed: every point's set-up (start offsets, DNA, clocks, alignment) from this seed, "+
		"what follows the aligned boundary from the point's seed (run -seed N -run-seed S)")
	fork := fs.Bool("fork", false, "run each set-up once and fork its points from the aligned checkpoint "+
		"(needs -setup-seed, default 1; the same bytes as running every point from reset)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: ringsim sweep [sweep flags] [-- run flags]\n"+
			"       ringsim sweep merge -out DIR SHARD_DIR...\n\n"+
			"Runs `ringsim run` for every combination of the axes' values and every seed, and writes\n"+
			"sweep.json, sweep.csv and SVG plots (goodput and retransmissions against each axis).\n"+
			"Flags after -- are `ringsim run` flags every point shares. Example:\n\n"+
			"  ringsim sweep -axis pacing=0,64,128 -axis ber=0,1e-6 -seeds 1..4 -out out/sweep -- -bytes 64KiB\n\n"+
			"Points are dealt to shards round-robin; `ringsim sweep merge` joins the shards' directories.\n"+
			"docs/sweep.md has a Kubernetes Indexed Job and a Slurm array job.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *fork && *setupSeed == 0 {
		*setupSeed = 1
	}
	plan, err := planSweep(axes, *seeds, fs.Args(), *setupSeed, *fork)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ringsim sweep: %v\n", err)
		return 2
	}
	idx, n, err := shardOf(*shard, *shards, os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ringsim sweep: %v\n", err)
		return 2
	}
	s := &sweeper{plan: plan, out: os.Stdout, start: sweepStart}
	res, err := s.run(ctx, idx, n)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ringsim sweep: %v\n", err)
		return 2
	}
	if err := writeSweep(*out, res); err != nil {
		fmt.Fprintf(os.Stderr, "ringsim sweep: -out: %v\n", err)
		return 2
	}
	failed := 0
	for _, p := range res.Points {
		if !p.Passed {
			failed++
		}
	}
	fmt.Fprintf(s.out, "sweep %s: %d points, %d failed; wrote %s\n", res.ID, len(res.Points), failed, *out)
	if failed > 0 {
		return 1
	}
	return 0
}

// planSweep builds and checks the grid: every axis names a `ringsim run` flag, and every
// point's flags make a valid run (so a typo fails now, not hours into the sweep).
func planSweep(axes []string, seeds string, base []string, setupSeed uint64, fork bool) (sweepPlan, error) {
	p := sweepPlan{Base: append([]string{}, base...), SetupSeed: setupSeed, Fork: fork}
	var err error
	if p.Seeds, err = parseSeeds(seeds); err != nil {
		return p, fmt.Errorf("-seeds: %w", err)
	}
	probe := flag.NewFlagSet("", flag.ContinueOnError)
	probe.SetOutput(io.Discard)
	var rf runFlags
	rf.register(probe)
	seen := map[string]bool{}
	for _, a := range axes {
		name, vals, ok := strings.Cut(a, "=")
		name = strings.TrimLeft(name, "-")
		if !ok || name == "" || vals == "" {
			return p, fmt.Errorf("-axis %q: want FLAG=V1,V2,...", a)
		}
		if probe.Lookup(name) == nil {
			return p, fmt.Errorf("-axis %q: `ringsim run` has no flag -%s", a, name)
		}
		if why, bad := sweepForbidden[name]; bad {
			return p, fmt.Errorf("-axis %q: -%s cannot vary in a sweep: %s", a, name, why)
		}
		if seen[name] {
			return p, fmt.Errorf("-axis %q: -%s is already an axis", a, name)
		}
		seen[name] = true
		ax := sweepAxis{Flag: name}
		for _, v := range strings.Split(vals, ",") {
			if v = strings.TrimSpace(v); v == "" {
				return p, fmt.Errorf("-axis %q: an empty value", a)
			}
			if slices.Contains(ax.Values, v) {
				return p, fmt.Errorf("-axis %q: value %s twice", a, v)
			}
			ax.Values = append(ax.Values, v)
		}
		p.Axes = append(p.Axes, ax)
	}
	if err := probe.Parse(base); err != nil {
		return p, fmt.Errorf("run flags: %w", err)
	}
	if probe.NArg() > 0 {
		return p, fmt.Errorf("run flags: unexpected argument %q", probe.Arg(0))
	}
	var bad error
	probe.Visit(func(f *flag.Flag) {
		if why, no := sweepForbidden[f.Name]; no && bad == nil {
			bad = fmt.Errorf("run flag -%s: %s", f.Name, why)
		}
		if seen[f.Name] && bad == nil {
			bad = fmt.Errorf("run flag -%s is also an axis", f.Name)
		}
		if f.Name == "run-seed" && setupSeed != 0 && bad == nil {
			bad = errors.New("run flag -run-seed: with -setup-seed the points' seeds are the run seeds")
		}
		if f.Name == "sim" && bad == nil {
			bad = errors.New("run flag -sim: a sweep runs the embedded simulator (shard across machines instead)")
		}
	})
	if bad != nil {
		return p, bad
	}
	if n := p.points(); n > 1_000_000 {
		return p, fmt.Errorf("%d points: more than 1,000,000", n)
	}
	// Every value must make a valid run: check each axis value once, with the others at
	// their first value.
	for a, ax := range p.Axes {
		for _, v := range ax.Values {
			args := append([]string(nil), p.Base...)
			for b, other := range p.Axes {
				val := other.Values[0]
				if b == a {
					val = v
				}
				args = append(args, "-"+other.Flag+"="+val)
			}
			if _, err := parseRun(args); err != nil {
				return p, fmt.Errorf("-axis %s=%s: %w", ax.Flag, v, err)
			}
		}
	}
	if _, err := parseRun(p.args(0)); err != nil {
		return p, err
	}
	return p, nil
}

// parseRun parses `ringsim run` flags into a validated run.
func parseRun(args []string) (*runCmd, error) {
	fs := flag.NewFlagSet("ringsim run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var f runFlags
	f.register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	f.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	return f.plan()
}

// parseSeeds parses "1,2,5" or "1..8".
func parseSeeds(s string) ([]uint64, error) {
	if lo, hi, ok := strings.Cut(s, ".."); ok {
		a, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 64)
		b, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 64)
		if err1 != nil || err2 != nil || b < a {
			return nil, fmt.Errorf("%q: want A..B with A <= B", s)
		}
		if b-a >= 100_000 {
			return nil, fmt.Errorf("%q: more than 100,000 seeds", s)
		}
		var out []uint64
		for v := a; v <= b; v++ {
			out = append(out, v)
		}
		return out, nil
	}
	var out []uint64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q: %q is not a seed", s, f)
		}
		if slices.Contains(out, v) {
			return nil, fmt.Errorf("%q: seed %d twice", s, v)
		}
		out = append(out, v)
	}
	return out, nil
}

// shardEnv are the environment variables batch runners set to a task's index, with the
// variable holding the index of the first task, if the runner has one.
var shardEnv = []struct{ index, base string }{
	{"RINGSIM_SHARD", ""},
	{"JOB_COMPLETION_INDEX", ""},                    // Kubernetes Indexed Job
	{"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN"}, // Slurm job array
}

// shardOf returns the shard to run: -shard I/N, or an index from the environment with
// -shards N, or (0, 1): the whole sweep.
func shardOf(flagVal string, shards int, env func(string) string) (int, int, error) {
	if flagVal != "" {
		i, n, ok := strings.Cut(flagVal, "/")
		idx, err1 := strconv.Atoi(i)
		cnt, err2 := strconv.Atoi(n)
		if !ok || err1 != nil || err2 != nil || cnt < 1 || idx < 0 || idx >= cnt {
			return 0, 0, fmt.Errorf("-shard %q: want I/N with 0 <= I < N", flagVal)
		}
		if shards != 0 && shards != cnt {
			return 0, 0, fmt.Errorf("-shard %s and -shards %d disagree", flagVal, shards)
		}
		return idx, cnt, nil
	}
	if shards < 0 {
		return 0, 0, fmt.Errorf("-shards %d: want at least 1", shards)
	}
	for _, e := range shardEnv {
		v := env(e.index)
		if v == "" {
			continue
		}
		if shards == 0 {
			return 0, 0, fmt.Errorf("%s=%s is set: give the shard count with -shards", e.index, v)
		}
		idx, err := strconv.Atoi(v)
		if err != nil {
			return 0, 0, fmt.Errorf("%s=%q: not an index", e.index, v)
		}
		if e.base != "" && env(e.base) != "" {
			b, err := strconv.Atoi(env(e.base))
			if err != nil {
				return 0, 0, fmt.Errorf("%s=%q: not an index", e.base, env(e.base))
			}
			idx -= b
		}
		if idx < 0 || idx >= shards {
			return 0, 0, fmt.Errorf("%s gives shard %d, outside -shards %d", e.index, idx, shards)
		}
		return idx, shards, nil
	}
	if shards > 1 {
		return 0, 0, fmt.Errorf("-shards %d without a shard index: give -shard I/%d, or run under a batch runner that sets one", shards, shards)
	}
	return 0, 1, nil
}

// sweeper runs a sweep's points. start makes each point's machine (tests use the
// reference machine).
type sweeper struct {
	plan  sweepPlan
	out   io.Writer
	start func(ctx context.Context, r *runCmd, cfg hw.Config) (job.Machine, error)
	// forks are the aligned checkpoints by set-up (plan.Fork).
	forks map[string]*sweepFork
}

// sweepFork is a set-up's aligned boundary: the machine's checkpoint and the firmware's
// snapshot.
type sweepFork struct {
	cp   *sim.Checkpoint
	snap bridge.Snapshot
}

// sweepStart runs a point on the embedded engine, announcing model builds.
func sweepStart(ctx context.Context, r *runCmd, cfg hw.Config) (job.Machine, error) {
	return sim.New(ctx, cfg, sim.Options{Logger: r.log, OnModelBuild: newBuildLine().event})
}

// run runs shard idx of n: points idx, idx+n, idx+2n, ...
func (s *sweeper) run(ctx context.Context, idx, n int) (*sweepResult, error) {
	p := s.plan
	res := &sweepResult{Format: sweepFormat, ID: p.id(), Plan: p, Shard: idx, Shards: n}
	if n == 1 {
		res.Shard = -1
	}
	total := (p.points() - idx + n - 1) / n
	k := 0
	// The last point of this shard that uses each set-up: its checkpoint goes after it.
	lastUse := map[string]int{}
	if p.Fork {
		for i := idx; i < p.points(); i += n {
			lastUse[p.setupKey(i)] = i
		}
	}
	for i := idx; i < p.points(); i += n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		k++
		vals, seed := p.point(i)
		pt := sweepPoint{Index: i, Params: map[string]string{}, Seed: seed}
		var desc []string
		for a, v := range vals {
			pt.Params[p.Axes[a].Flag] = v
			desc = append(desc, p.Axes[a].Flag+"="+v)
		}
		desc = append(desc, fmt.Sprintf("seed=%d", seed))
		r, err := parseRun(p.args(i))
		if err != nil {
			return nil, fmt.Errorf("point %d (%s): %w", i, strings.Join(desc, " "), err)
		}
		pt.SetupSeed = p.SetupSeed
		opt := job.Options{Logger: r.log,
			Start: func(ctx context.Context, cfg hw.Config) (job.Machine, error) { return s.start(ctx, r, cfg) }}
		if p.Fork {
			key := p.setupKey(i)
			if fk, ok := s.forks[key]; ok {
				snap := fk.snap
				r.spec.Resume, pt.Forked = &snap, true
				opt.Start = func(ctx context.Context, _ hw.Config) (job.Machine, error) {
					return sim.Restore(ctx, fk.cp, sim.Options{Logger: r.log})
				}
			} else {
				opt.SaveAtAligned = func(m job.Machine, snap bridge.Snapshot) error {
					e, ok := m.(*sim.Engine)
					if !ok {
						return errors.New("-fork needs the embedded simulator")
					}
					cp, err := e.Save()
					if err != nil {
						return err
					}
					if s.forks == nil {
						s.forks = map[string]*sweepFork{}
					}
					s.forks[key] = &sweepFork{cp: cp, snap: snap}
					return nil
				}
			}
		}
		start := time.Now()
		out, err := job.Run(ctx, r.spec, opt)
		if p.Fork && lastUse[p.setupKey(i)] == i {
			delete(s.forks, p.setupKey(i))
		}
		pt.WallSeconds = time.Since(start).Seconds()
		switch {
		case err != nil:
			pt.Error = err.Error()
		default:
			pt.Passed = out.Passed()
			if out.Err != nil {
				pt.Error = out.Err.Error()
			}
			if rep := out.Report; rep != nil {
				pt.Cycles, pt.TransferCycles, pt.BytesReceived = rep.Cycles, rep.TransferCycles, rep.BytesReceived
				pt.Goodput, pt.GoodputShare = rep.GoodputBytesPerCycle, rep.GoodputShare
				pt.TCPRetransmissions, pt.CorruptedAccepted = rep.TCPRetransmissions, rep.CorruptedAccepted
				for _, l := range rep.Links {
					comp, re := l.RecoveryCounts()
					pt.Compensations += comp
					pt.Realignments += re
				}
			}
			if rl := out.RealLink; rl != nil {
				for _, l := range rl.Links {
					pt.Adjustments += len(l.Adjustments)
				}
			}
		}
		verdict := "pass"
		if !pt.Passed {
			verdict = "FAIL: " + pt.Error
		}
		forked := ""
		if pt.Forked {
			forked = " (forked)"
		}
		fmt.Fprintf(s.out, "[%d/%d] point %d %s: goodput %.3f B/cycle, %d retransmissions, %.1f s%s: %s\n",
			k, total, i, strings.Join(desc, " "), pt.Goodput, pt.TCPRetransmissions, pt.WallSeconds, forked, verdict)
		res.Points = append(res.Points, pt)
	}
	return res, nil
}

// writeSweep writes sweep.json and, for a whole sweep, sweep.csv and the plots.
func writeSweep(dir string, res *sweepResult) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "sweep.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	if res.Shard >= 0 {
		return nil // a shard: `ringsim sweep merge` writes the table and the plots
	}
	if err := os.WriteFile(filepath.Join(dir, "sweep.csv"), []byte(sweepCSV(res)), 0o644); err != nil {
		return err
	}
	for name, svg := range sweepPlots(res) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(svg), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// readSweep reads a shard's (or a merged) sweep.json.
func readSweep(path string) (*sweepResult, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r sweepResult
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if r.Format != sweepFormat {
		return nil, fmt.Errorf("%s: format %q, want %q", path, r.Format, sweepFormat)
	}
	if r.ID != r.Plan.id() {
		return nil, fmt.Errorf("%s: the plan does not match its id %s (edited?)", path, r.ID)
	}
	return &r, nil
}

// mergeSweeps joins shards of one sweep; every point must be there exactly once.
func mergeSweeps(parts []*sweepResult) (*sweepResult, error) {
	if len(parts) == 0 {
		return nil, errors.New("no shards")
	}
	first := parts[0]
	out := &sweepResult{Format: sweepFormat, ID: first.ID, Plan: first.Plan, Shard: -1, Shards: first.Shards}
	byIndex := map[int]sweepPoint{}
	shards := map[int]bool{}
	for _, p := range parts {
		if p.ID != first.ID {
			return nil, fmt.Errorf("shard of sweep %s mixed with sweep %s", p.ID, first.ID)
		}
		if p.Shards != first.Shards {
			return nil, fmt.Errorf("sweep %s cut into %d and into %d shards", p.ID, first.Shards, p.Shards)
		}
		if shards[p.Shard] {
			return nil, fmt.Errorf("shard %d given twice", p.Shard)
		}
		shards[p.Shard] = true
		for _, pt := range p.Points {
			if _, dup := byIndex[pt.Index]; dup {
				return nil, fmt.Errorf("point %d in two shards", pt.Index)
			}
			if pt.Index < 0 || pt.Index >= first.Plan.points() || (p.Shard >= 0 && pt.Index%p.Shards != p.Shard) {
				return nil, fmt.Errorf("point %d does not belong to shard %d/%d", pt.Index, p.Shard, p.Shards)
			}
			byIndex[pt.Index] = pt
		}
	}
	var missing []string
	for i := 0; i < first.Plan.points(); i++ {
		pt, ok := byIndex[i]
		if !ok {
			missing = append(missing, strconv.Itoa(i))
			continue
		}
		out.Points = append(out.Points, pt)
	}
	if len(missing) > 0 {
		var have []int
		for s := range shards {
			have = append(have, s)
		}
		sort.Ints(have)
		return nil, fmt.Errorf("%d points missing (%s...): have shards %v of %d", len(missing),
			strings.Join(missing[:min(5, len(missing))], ", "), have, first.Shards)
	}
	return out, nil
}

func sweepMergeMain(args []string) int {
	fs := flag.NewFlagSet("ringsim sweep merge", flag.ContinueOnError)
	out := fs.String("out", "sweep", "directory for the merged sweep.json, sweep.csv and plots")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: ringsim sweep merge -out DIR SHARD_DIR...\n\n"+
			"Joins the shards of one sweep (each SHARD_DIR holds a sweep.json) and writes the table\n"+
			"and plots. Every point must be in exactly one shard.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "ringsim sweep merge: give the shards' directories")
		return 2
	}
	var parts []*sweepResult
	for _, d := range fs.Args() {
		r, err := readSweep(filepath.Join(d, "sweep.json"))
		if err != nil {
			fmt.Fprintf(os.Stderr, "ringsim sweep merge: %v\n", err)
			return 2
		}
		parts = append(parts, r)
	}
	merged, err := mergeSweeps(parts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ringsim sweep merge: %v\n", err)
		return 2
	}
	if err := writeSweep(*out, merged); err != nil {
		fmt.Fprintf(os.Stderr, "ringsim sweep merge: -out: %v\n", err)
		return 2
	}
	fmt.Printf("sweep %s: merged %d shards, %d points; wrote %s\n", merged.ID, len(parts), len(merged.Points), *out)
	return 0
}
