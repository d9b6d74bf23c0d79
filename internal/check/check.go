// Package check is ringsim's pre-synthesis gate for ring buffer RTL: five named checks
// (lint, synth, conformance, alignment, soak), each made of cases that pass or fail with a
// reason, the first failing cycle and kept evidence, reported for people (Summary), for CI
// (JUnit XML) and for machines (JSON), sharded over machines and merged back.
package check

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ringsim/ringsim/internal/conformance"
	"github.com/ringsim/ringsim/sim"
)

// The checks, in the order they run.
const (
	Lint        = "lint"
	Synth       = "synth"
	Conformance = "conformance"
	Alignment   = "alignment"
	Soak        = "soak"
	Scenarios   = "scenarios"
)

// Names returns the check names in the order they run.
func Names() []string { return []string{Lint, Synth, Conformance, Alignment, Soak, Scenarios} }

// Status is the outcome of a case or a check.
type Status string

// The statuses. Error means the case could not run (a missing tool, RTL that does not
// compile, an interrupted run): the gate has no verdict on it.
const (
	Pass  Status = "pass"
	Fail  Status = "fail"
	Error Status = "error"
	Skip  Status = "skip"
)

// Errors returned by Run, ParseShard and Merge.
var (
	ErrBadOptions = errors.New("bad check options")
	ErrNoRTL      = errors.New("no RTL to check")
	ErrMerge      = errors.New("cannot merge shard reports")
)

// Shard selects a deterministic share of the plan: the cases whose plan index i satisfies
// i mod Count == Index-1. The zero value selects everything.
type Shard struct {
	Index int `json:"index"` // 1-based
	Count int `json:"count"`
}

// String returns "i/n", or "" for no sharding.
func (s Shard) String() string {
	if s.Count == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// ParseShard parses "i/n" with 1 <= i <= n.
func ParseShard(s string) (Shard, error) {
	is, ns, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 1 || i > n {
		return Shard{}, fmt.Errorf("%w: shard %q: want i/n with 1 <= i <= n, such as 2/4", ErrBadOptions, s)
	}
	return Shard{Index: i, Count: n}, nil
}

func (s Shard) has(index int) bool { return s.Count == 0 || index%s.Count == s.Index-1 }

// Options configures a gate run.
type Options struct {
	// Profile says what each check runs (Quick or Full).
	Profile Profile
	// RTLDir is the RTL under test (the node port contract); empty means ringsim's own.
	RTLDir string
	// Only restricts the run to these checks ("soak") or cases ("soak/crc-d256-clean-s1").
	Only []string
	// Shard runs a share of the plan.
	Shard Shard
	// OutDir keeps the evidence of failures; empty keeps none (and reruns nothing).
	OutDir string
	// CacheDir is the model cache; empty means the default.
	CacheDir string
	// OnModelBuild, if set, is told about model builds (sim.Config.OnModelBuild).
	OnModelBuild func(sim.BuildEvent)
	// Program is how the reproduce commands invoke ringsim; empty means "ringsim".
	Program string
	// CaseTimeout bounds each case in wall-clock time; 0 means DefaultCaseTimeout. A case
	// that runs out fails at the cycle it reached, with evidence.
	CaseTimeout time.Duration
	// CaseCycles bounds each case's simulation in cycles; 0 means DefaultCaseCycles.
	CaseCycles uint64
	// FailFast stops the gate at the first case that fails or cannot run: the cases after
	// it are skipped ("not run"), and the report's status is that case's. For bisecting
	// and for mutation runs (internal/mutate), which only need to know whether the gate
	// fails.
	FailFast bool
	// Progress, if set, is called after each check finishes.
	Progress func(CheckResult)
	// Logger is defaulted when nil.
	Logger hclog.Logger
}

// Per-case limits: every case of the profiles finishes far inside both on this project's
// 2-core machine (the longest, the full profile's 2 M-cycle differential, takes seconds);
// they are there so that RTL that makes a case run away ends the case, not the gate.
const (
	DefaultCaseTimeout = 5 * time.Minute
	DefaultCaseCycles  = 1 << 31
)

// Report is the result of a gate run, or of merged shard runs.
type Report struct {
	Tool    string    `json:"tool"`
	Format  int       `json:"format"`
	Profile string    `json:"profile"`
	RTL     string    `json:"rtl"`
	RTLHash string    `json:"rtl_hash"`
	Only    []string  `json:"only,omitempty"`
	Shard   Shard     `json:"shard"`
	Merged  []Shard   `json:"merged_shards,omitempty"`
	Started time.Time `json:"started"`
	// Hostname is the machine that ran the gate (the shards' machines, space-separated,
	// for a merged report).
	Hostname string  `json:"hostname,omitempty"`
	Seconds  float64 `json:"seconds"`
	Status   Status  `json:"status"`
	// Message says why the run has no verdict (Status error), if it has none.
	Message string        `json:"message,omitempty"`
	Checks  []CheckResult `json:"checks"`
}

// reportFormat is Report.Format; Merge refuses other formats.
const reportFormat = 1

// CheckResult is one check's outcome.
type CheckResult struct {
	Name    string  `json:"name"`
	Status  Status  `json:"status"`
	Reason  string  `json:"reason"`
	Seconds float64 `json:"seconds"`
	// Parameters describes what the check ran in this profile.
	Parameters string `json:"parameters"`
	// Planned is the number of the check's cases in the whole plan (all shards).
	Planned int          `json:"planned_cases"`
	Cases   []CaseResult `json:"cases"`
}

// CaseResult is one case's outcome.
type CaseResult struct {
	// ID is "check/case", accepted by Options.Only.
	ID string `json:"id"`
	// Index is the case's position in the whole plan (what sharding splits).
	Index   int     `json:"index"`
	Status  Status  `json:"status"`
	Reason  string  `json:"reason,omitempty"`
	Seconds float64 `json:"seconds"`
	Seed    uint64  `json:"seed,omitempty"`
	// Cycle is the first cycle where the RTL's behaviour diverged, when a failure has one.
	Cycle    *uint64        `json:"cycle,omitempty"`
	Details  map[string]any `json:"details,omitempty"`
	Repro    string         `json:"repro,omitempty"`
	Evidence *Evidence      `json:"evidence,omitempty"`
}

// Evidence is what a failing case left in the output directory.
type Evidence struct {
	Dir   string   `json:"dir"`
	Files []string `json:"files"`
	// WaveformFrom is the first cycle of the FST, if there is one.
	WaveformFrom *uint64 `json:"waveform_from,omitempty"`
	// Note says what could not be kept, if anything.
	Note string `json:"note,omitempty"`
}

// ExitCode is the gate's process exit code for r: 0 every check passed (or was skipped),
// 1 a check failed, 2 the gate could not run some of it.
func (r *Report) ExitCode() int {
	switch r.Status {
	case Pass, Skip:
		return 0
	case Fail:
		return 1
	}
	return 2
}

// combine is the status of a set of outcomes: error over fail over pass over skip.
func combine(st []Status) Status {
	out := Skip
	for _, s := range st {
		switch {
		case s == Error:
			return Error
		case s == Fail:
			out = Fail
		case s == Pass && out == Skip:
			out = Pass
		}
	}
	return out
}

// Run runs the gate. It returns an error only when it cannot start (bad options, no RTL);
// everything else, missing tools included, is in the report.
func Run(ctx context.Context, opt Options) (*Report, error) {
	if opt.Logger == nil {
		opt.Logger = hclog.NewNullLogger()
	}
	if opt.Program == "" {
		opt.Program = "ringsim"
	}
	if opt.CaseTimeout == 0 {
		opt.CaseTimeout = DefaultCaseTimeout
	}
	if opt.CaseCycles == 0 {
		opt.CaseCycles = DefaultCaseCycles
	}
	if opt.Shard.Count != 0 && (opt.Shard.Index < 1 || opt.Shard.Index > opt.Shard.Count) {
		return nil, fmt.Errorf("%w: shard %d/%d", ErrBadOptions, opt.Shard.Index, opt.Shard.Count)
	}
	tasks, err := selected(opt)
	if err != nil {
		return nil, err
	}
	src, err := loadRTL(opt.RTLDir)
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "ringsim-check-")
	if err != nil {
		return nil, fmt.Errorf("work dir: %w", err)
	}
	defer os.RemoveAll(work)
	if err := src.materialize(filepath.Join(work, "rtl")); err != nil {
		return nil, err
	}
	env := &env{opt: opt, src: src, toolDir: filepath.Join(work, "rtl"), work: work,
		log: opt.Logger.Named("check"), blocked: map[string]*blocker{}}
	host, _ := os.Hostname()
	rep := &Report{Tool: "ringsim check", Format: reportFormat, Profile: opt.Profile.Name, RTL: src.name,
		RTLHash: src.hash, Only: opt.Only, Shard: opt.Shard, Started: time.Now().UTC(), Hostname: host}
	for _, name := range Names() {
		var mine []task
		planned := 0
		for _, t := range tasks {
			if t.check == name {
				planned++
				if opt.Shard.has(t.index) {
					mine = append(mine, t)
				}
			}
		}
		if planned == 0 {
			continue
		}
		cr := env.runCheck(ctx, name, mine)
		cr.Planned = planned
		cr.Parameters = opt.Profile.describe(name)
		rep.Checks = append(rep.Checks, cr)
		if opt.Progress != nil {
			opt.Progress(cr)
		}
	}
	rep.Seconds = time.Since(rep.Started).Seconds()
	rep.finish()
	return rep, nil
}

// finish computes the report's status from its checks.
func (r *Report) finish() {
	var st []Status
	for _, c := range r.Checks {
		st = append(st, c.Status)
	}
	r.Status = combine(st)
	if r.Status == Error && r.Message == "" {
		for _, c := range r.Checks {
			if c.Status == Error {
				r.Message = fmt.Sprintf("check %s could not run: %s", c.Name, c.Reason)
				break
			}
		}
	}
}

// env is the state shared by a run's cases.
type env struct {
	opt     Options
	src     *rtlSource
	toolDir string // the RTL as files, for Verilator and Yosys
	work    string // scratch space, removed at the end
	log     hclog.Logger
	// limits bound the simulations of the case being run and record the cycle reached
	// and the bus accesses, to name them in failures.
	limits conformance.Limits
	// blocked are the tools ("verilator", "yosys"; "*" for every case) that later cases
	// need but that cannot work on this RTL, with the case that found out: a build
	// failure is reported once, and the cases after it are not run.
	blocked map[string]*blocker
	// stopped is set, under FailFast, by the first case that failed or could not run.
	stopped string
	// rtlKept is set once the RTL under test has been copied into the evidence folder.
	rtlKept bool
}

// blocker is why later cases cannot run: what went wrong, in which case.
type blocker struct {
	caseID string
	what   string // "the RTL does not compile", "the model did not build", ...
}

// simRTL is the RTL directory for the simulator ("" for ringsim's embedded RTL, which the
// model cache knows by content).
func (e *env) simRTL() string { return e.src.dir }

// task is one case of the plan.
type task struct {
	check string
	name  string // the case part of the ID
	index int
	seed  uint64
	run   func(ctx context.Context, e *env, ev *evidence) outcome
}

// tool is what a case needs to compile the RTL: Yosys for synth, Verilator for the rest.
func (t task) tool() string {
	if t.check == Synth {
		return "yosys"
	}
	return "verilator"
}

func (t task) id() string { return t.check + "/" + t.name }

// outcome is what a case's run returns.
type outcome struct {
	status  Status
	reason  string
	cycle   *uint64
	details map[string]any
	// log is tool output worth keeping as evidence, in a file called logName (default
	// tool.log, or panic.log for a simulation).
	log     string
	logName string
	// block, if set, is the tool ("*": every tool) that later cases cannot use on this
	// RTL, for blockWhat ("the RTL does not compile"): they are not run.
	block, blockWhat string
	// ranOut marks a case that ran out of its wall-clock or cycle limit: its evidence rerun
	// stops at the cycle it reached.
	ranOut bool
	// interrupted marks a case the run's context ended (SIGINT): it keeps its evidence as
	// it is, without a rerun.
	interrupted bool
}

func pass(details map[string]any) outcome { return outcome{status: Pass, details: details} }

func failAt(cycle uint64, reason string, details map[string]any) outcome {
	return outcome{status: Fail, reason: reason, cycle: &cycle, details: details}
}

func errorOutcome(err error) outcome { return outcome{status: Error, reason: err.Error()} }

// notRun is the reason prefix of a case that did not run (interrupted, blocked by an
// earlier build failure, stopped by FailFast).
const notRun = "not run: "

// runCheck runs a check's cases in plan order. The first failing case of the check is run
// again to keep its evidence (waveforms, pcap), the others only get a reproduce command.
// Cases that could not run keep what they have (the tool's output, the cycle an interrupt
// reached); cases after a build failure are not run and point at it.
func (e *env) runCheck(ctx context.Context, name string, tasks []task) CheckResult {
	start := time.Now()
	cr := CheckResult{Name: name}
	log := e.log.With("check", name)
	evidenced := false
	for _, t := range tasks {
		cs := CaseResult{ID: t.id(), Index: t.index, Seed: t.seed}
		if err := ctx.Err(); err != nil {
			cs.Status, cs.Reason = Error, fmt.Sprintf("%s%v", notRun, err)
			cr.Cases = append(cr.Cases, cs)
			continue
		}
		if e.stopped != "" {
			cs.Status, cs.Reason = Skip, fmt.Sprintf("%s--fail-fast stopped the gate after %s", notRun, e.stopped)
			cr.Cases = append(cr.Cases, cs)
			continue
		}
		if b := e.blockerOf(t); b != nil {
			cs.Status, cs.Reason = Error, fmt.Sprintf("%s%s (see case %s)", notRun, b.what, b.caseID)
			cr.Cases = append(cr.Cases, cs)
			continue
		}
		t0 := time.Now()
		o := e.runCase(ctx, t, nil, 0)
		cs.Seconds = time.Since(t0).Seconds()
		cs.Status, cs.Reason, cs.Cycle, cs.Details = o.status, o.reason, o.cycle, o.details
		if o.block != "" && e.blocked[o.block] == nil {
			e.blocked[o.block] = &blocker{caseID: t.id(), what: o.blockWhat}
		}
		switch o.status {
		case Fail:
			log.Warn("case failed", "case", t.id(), "reason", firstLine(o.reason))
		case Error:
			log.Error("case could not run", "case", t.id(), "error", firstLine(o.reason))
		}
		if o.status == Fail || o.status == Error {
			cs.Repro = e.repro(t)
			if e.opt.OutDir != "" {
				rerun := o.status == Fail && !evidenced
				ev, err := e.keep(ctx, t, &cs, o, rerun)
				if err != nil {
					log.Error("keeping evidence failed", "case", t.id(), "error", err)
				}
				cs.Evidence = ev
				evidenced = evidenced || rerun
			}
			if e.opt.FailFast {
				e.stopped = t.id()
			}
		}
		cr.Cases = append(cr.Cases, cs)
	}
	cr.Seconds = time.Since(start).Seconds()
	cr.summarize()
	return cr
}

// blockerOf returns why t cannot run on this RTL, if an earlier case found out.
func (e *env) blockerOf(t task) *blocker {
	if b := e.blocked["*"]; b != nil {
		return b
	}
	return e.blocked[t.tool()]
}

// runCase runs one case within its limits: CaseTimeout of wall-clock time and CaseCycles of
// simulation. A case that runs out of either fails at the cycle it reached. With budget
// not 0 (the evidence rerun of a case that ran out) the case runs to that cycle instead,
// with no wall-clock limit: the simulation advances every step, so it gets there.
func (e *env) runCase(ctx context.Context, t task, ev *evidence, budget uint64) outcome {
	cctx, cancel := context.WithTimeout(ctx, e.opt.CaseTimeout)
	if budget != 0 {
		cctx, cancel = context.WithCancel(ctx)
	}
	defer cancel()
	var reached uint64
	e.limits = conformance.Limits{Budget: e.opt.CaseCycles, Reached: &reached, Bus: &conformance.BusLog{}}
	if budget != 0 {
		e.limits.Budget = budget
	}
	o := t.run(cctx, e, ev)
	if o.status == Pass {
		return o
	}
	limit := ""
	switch {
	case ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded):
		limit = fmt.Sprintf("the case ran out of its wall-clock limit of %v (--case-timeout)", e.opt.CaseTimeout)
	case strings.Contains(o.reason, conformance.ErrCycleBudget.Error()) && budget == 0:
		limit = fmt.Sprintf("the case ran out of its budget of %d cycles (--case-cycles)", e.opt.CaseCycles)
	case ctx.Err() != nil:
		o.status = Error
		o.reason = fmt.Sprintf("interrupted at cycle %d: %v", reached, ctx.Err())
		o.cycle = &reached
		o.interrupted = true
		return o
	default:
		return o
	}
	o.status, o.cycle = Fail, &reached
	o.reason = fmt.Sprintf("%s at cycle %d; the simulation was still running (%s)", limit, reached, firstLine(o.reason))
	o.ranOut = true
	return o
}

// summarize sets a check's status and reason from its cases.
func (cr *CheckResult) summarize() {
	var st []Status
	n := map[Status]int{}
	for _, c := range cr.Cases {
		st = append(st, c.Status)
		n[c.Status]++
	}
	cr.Status = combine(st)
	first := func(s Status) *CaseResult {
		for i := range cr.Cases {
			if cr.Cases[i].Status == s {
				return &cr.Cases[i]
			}
		}
		return nil
	}
	switch cr.Status {
	case Skip:
		cr.Reason = "no cases in this shard"
		if c := first(Skip); c != nil && c.Reason != "" {
			cr.Reason = c.Reason
		}
	case Pass:
		cr.Reason = fmt.Sprintf("%d of %d cases passed", n[Pass], len(cr.Cases))
	case Fail:
		c := first(Fail)
		cr.Reason = fmt.Sprintf("%d of %d cases failed; first %s: %s", n[Fail], len(cr.Cases), c.ID, firstLine(c.Reason))
	case Error:
		c := first(Error)
		cr.Reason = fmt.Sprintf("%d of %d cases could not run; first %s: %s", n[Error], len(cr.Cases), c.ID, firstLine(c.Reason))
	}
}

// only keeps the tasks named by checks or case IDs.
func only(tasks []task, names []string) ([]task, error) {
	if len(names) == 0 {
		return tasks, nil
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = false
	}
	var out []task
	for _, t := range tasks {
		hit := false
		for _, k := range []string{t.check, t.id()} {
			if _, ok := want[k]; ok {
				want[k] = true
				hit = true
			}
		}
		if hit {
			out = append(out, t)
		}
	}
	var missing []string
	for n, seen := range want {
		if !seen {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("%w: --only %s: no such check or case in this profile (checks: %s)",
			ErrBadOptions, strings.Join(missing, ", "), strings.Join(Names(), ", "))
	}
	return out, nil
}

// selected returns the cases of opt's profile that --only keeps, in order.
func selected(opt Options) ([]task, error) {
	if err := opt.Profile.validate(); err != nil {
		return nil, err
	}
	tasks, err := plan(opt.Profile)
	if err != nil {
		return nil, err
	}
	return only(tasks, opt.Only)
}

// Plan returns the IDs of the cases Run would run with opt, in order.
func Plan(opt Options) ([]string, error) {
	tasks, err := selected(opt)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, t := range tasks {
		if opt.Shard.has(t.index) {
			ids = append(ids, t.id())
		}
	}
	return ids, nil
}
