package mutate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ringsim/ringsim/internal/check"
)

// Verdict is what the gate made of a mutant.
type Verdict string

// The verdicts.
const (
	// Killed: the gate failed (a check found the change).
	Killed Verdict = "killed"
	// Survived: the gate passed the mutant.
	Survived Verdict = "survived"
	// Equivalent: the gate passed a mutant the allowlist argues no test can tell apart.
	Equivalent Verdict = "equivalent"
	// Hung: the gate did not finish within the mutant's time limit.
	Hung Verdict = "hung"
	// Stillborn: the mutant does not compile; it is not RTL anyone could commit, and
	// counts in no score.
	Stillborn Verdict = "stillborn"
	// Broken: the gate could not run for another reason (a missing tool); the campaign
	// has no verdict on the mutant.
	Broken Verdict = "error"
)

// ErrHung is wrapped by a Gate's error when the gate ran out of time.
var ErrHung = errors.New("the gate did not finish in time")

// Gate runs `ringsim check` with the named profile ("quick", "full"), stopping at the
// first failure, on the RTL in rtlDir, and returns its report. An error wrapping ErrHung
// means it did not finish before ctx ended.
type Gate func(ctx context.Context, rtlDir, profile string) (*check.Report, error)

// Result is one mutant's outcome under one profile.
type Result struct {
	Mutant
	Profile string  `json:"profile"`
	Verdict Verdict `json:"verdict"`
	// By is the case that killed the mutant (the first that failed), with its first
	// failing cycle and reason; for other verdicts, Reason says why.
	By      string  `json:"by,omitempty"`
	Cycle   *uint64 `json:"cycle,omitempty"`
	Reason  string  `json:"reason,omitempty"`
	Seconds float64 `json:"seconds"`
	// Why is the allowlist's argument, for a mutant the allowlist names.
	Why string `json:"why,omitempty"`
}

// Score is the kill rate of one profile.
type Score struct {
	Profile    string  `json:"profile"`
	Mutants    int     `json:"mutants"`
	Killed     int     `json:"killed"`
	Survived   int     `json:"survived"`
	Equivalent int     `json:"equivalent"`
	Hung       int     `json:"hung"`
	Stillborn  int     `json:"stillborn"`
	Errors     int     `json:"errors"`
	KillRate   float64 `json:"kill_rate"` // killed / (mutants - stillborn - equivalent - errors)
	Seconds    float64 `json:"seconds"`
	// KilledBy counts the kills per check.
	KilledBy map[string]int `json:"killed_by"`
}

// Report is a campaign's outcome.
type Report struct {
	Tool     string    `json:"tool"`
	RTL      string    `json:"rtl"`
	Started  time.Time `json:"started"`
	Seconds  float64   `json:"seconds"`
	Scores   []Score   `json:"scores"`
	Results  []Result  `json:"results"`
	Sample   string    `json:"sample,omitempty"` // the sample's name, if the campaign ran one
	Operator []string  `json:"operators"`
}

// Campaign runs the gate on mutants of an RTL directory.
type Campaign struct {
	// Files is the original RTL (name -> contents); RTL names it in the report.
	Files map[string][]byte
	RTL   string
	// Mutants are the mutants to run (Generate, or a sample of it).
	Mutants []Mutant
	// Profiles are the gate profiles to run each mutant through.
	Profiles []string
	Gate     Gate
	// Timeout bounds one gate run on one mutant; a run that takes longer is Hung.
	Timeout time.Duration
	// Allow is the allowlist of equivalent mutants.
	Allow List
	// Jobs is how many mutants run at once (0: 1).
	Jobs int
	// Work is a directory for the mutants' RTL (removed mutant by mutant).
	Work string
	// Progress, if set, is told about each result as it comes (from one goroutine at a
	// time).
	Progress func(Result)
}

// Run runs the campaign: first the gate on the original RTL under every profile, which
// must pass (otherwise every mutant would count as killed), then every mutant under every
// profile.
func (c *Campaign) Run(ctx context.Context) (*Report, error) {
	rep := &Report{Tool: "ringsim mutate", RTL: c.RTL, Started: time.Now().UTC()}
	for _, op := range Operators() {
		rep.Operator = append(rep.Operator, op.Name)
	}
	for _, p := range c.Profiles {
		dir, err := c.write("original", c.Files)
		if err != nil {
			return nil, err
		}
		r, err := c.run(ctx, dir, p)
		os.RemoveAll(dir)
		if err != nil {
			return nil, fmt.Errorf("the gate (%s) on the original RTL: %w", p, err)
		}
		if r.Status != check.Pass {
			return nil, fmt.Errorf("the gate (%s) does not pass the original RTL (%s: %s); mutation scores need a gate that passes it",
				p, r.Status, firstReason(r))
		}
	}
	type job struct {
		m Mutant
		p string
	}
	jobs := make(chan job)
	var mu sync.Mutex // protects rep.Results and Progress
	var wg sync.WaitGroup
	for w := 0; w < max(1, c.Jobs); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				res := c.one(ctx, j.m, j.p)
				mu.Lock()
				rep.Results = append(rep.Results, res)
				if c.Progress != nil {
					c.Progress(res)
				}
				mu.Unlock()
			}
		}()
	}
	for _, p := range c.Profiles {
		for _, m := range c.Mutants {
			select {
			case jobs <- job{m, p}:
			case <-ctx.Done():
			}
		}
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("mutation campaign interrupted: %w", err)
	}
	order := map[string]int{}
	for i, m := range c.Mutants {
		order[m.ID] = i
	}
	prof := map[string]int{}
	for i, p := range c.Profiles {
		prof[p] = i
	}
	sort.Slice(rep.Results, func(i, j int) bool {
		a, b := rep.Results[i], rep.Results[j]
		if a.Profile != b.Profile {
			return prof[a.Profile] < prof[b.Profile]
		}
		return order[a.ID] < order[b.ID]
	})
	for _, p := range c.Profiles {
		rep.Scores = append(rep.Scores, score(p, rep.Results))
	}
	rep.Seconds = time.Since(rep.Started).Seconds()
	return rep, nil
}

// one runs the gate on one mutant under one profile.
func (c *Campaign) one(ctx context.Context, m Mutant, profile string) (res Result) {
	res = Result{Mutant: m, Profile: profile}
	if e, ok := c.Allow[m.ID]; ok {
		res.Why = e.Why
	}
	start := time.Now()
	defer func() { res.Seconds = time.Since(start).Seconds() }()
	files, err := m.Apply(c.Files)
	if err != nil {
		res.Verdict, res.Reason = Broken, err.Error()
		return res
	}
	dir, err := c.write(strings.NewReplacer(":", "-", "/", "-").Replace(m.ID)+"-"+profile, files)
	if err != nil {
		res.Verdict, res.Reason = Broken, err.Error()
		return res
	}
	defer os.RemoveAll(dir)
	r, err := c.run(ctx, dir, profile)
	switch {
	case errors.Is(err, ErrHung):
		res.Verdict, res.Reason = Hung, err.Error()
	case err != nil:
		res.Verdict, res.Reason = Broken, err.Error()
	case r.Status == check.Fail:
		res.Verdict = Killed
		if cs := firstCase(r, check.Fail); cs != nil {
			res.By, res.Cycle, res.Reason = cs.ID, cs.Cycle, firstLine(cs.Reason)
		}
	case r.Status == check.Pass || r.Status == check.Skip:
		res.Verdict = Survived
		if res.Why != "" {
			res.Verdict = Equivalent
		}
	default: // the gate could not run everything
		cs := firstCase(r, check.Error)
		res.Verdict, res.Reason = Broken, r.Message
		if cs != nil {
			res.By, res.Reason = cs.ID, firstLine(cs.Reason)
			if strings.HasPrefix(cs.Reason, "RTL does not compile") || strings.HasPrefix(cs.Reason, "the model did not build") {
				res.Verdict = Stillborn
			}
		}
	}
	return res
}

// run runs the gate within the campaign's time limit.
func (c *Campaign) run(ctx context.Context, dir, profile string) (*check.Report, error) {
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	r, err := c.Gate(ctx, dir, profile)
	if err == nil && ctx.Err() != nil && r.Status == check.Error {
		err = fmt.Errorf("%w (%v)", ErrHung, c.Timeout)
	}
	return r, err
}

// write materialises an RTL directory for one run.
func (c *Campaign) write(name string, files map[string][]byte) (string, error) {
	dir := filepath.Join(c.Work, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("mutant rtl: %w", err)
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			return "", fmt.Errorf("mutant rtl: %w", err)
		}
	}
	return dir, nil
}

func firstCase(r *check.Report, st check.Status) *check.CaseResult {
	for i := range r.Checks {
		for j := range r.Checks[i].Cases {
			if cs := &r.Checks[i].Cases[j]; cs.Status == st {
				return cs
			}
		}
	}
	return nil
}

func firstReason(r *check.Report) string {
	if cs := firstCase(r, check.Fail); cs != nil {
		return cs.ID + ": " + firstLine(cs.Reason)
	}
	if cs := firstCase(r, check.Error); cs != nil {
		return cs.ID + ": " + firstLine(cs.Reason)
	}
	return r.Message
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// score counts one profile's results.
func score(profile string, results []Result) Score {
	s := Score{Profile: profile, KilledBy: map[string]int{}}
	for _, r := range results {
		if r.Profile != profile {
			continue
		}
		s.Mutants++
		s.Seconds += r.Seconds
		switch r.Verdict {
		case Killed:
			s.Killed++
			chk, _, _ := strings.Cut(r.By, "/")
			s.KilledBy[chk]++
		case Survived:
			s.Survived++
		case Equivalent:
			s.Equivalent++
		case Hung:
			s.Hung++
		case Stillborn:
			s.Stillborn++
		default:
			s.Errors++
		}
	}
	if n := s.Mutants - s.Stillborn - s.Equivalent - s.Errors; n > 0 {
		s.KillRate = float64(s.Killed) / float64(n)
	}
	return s
}

// Failed reports whether the campaign found a gap: a mutant survived (and is not on the
// allowlist), hung the gate, or had no verdict.
func (r *Report) Failed() bool {
	for _, s := range r.Scores {
		if s.Survived > 0 || s.Hung > 0 || s.Errors > 0 {
			return true
		}
	}
	return false
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode mutation report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write mutation report: %w", err)
	}
	return nil
}

// Summary writes the scores, the survivors and the mutants that hung or had no verdict.
func (r *Report) Summary(w io.Writer) {
	n := 0
	if len(r.Scores) > 0 {
		n = r.Scores[0].Mutants
	}
	what := fmt.Sprintf("%d mutants", n)
	if r.Sample != "" {
		what = fmt.Sprintf("%d mutants (sample %s)", n, r.Sample)
	}
	fmt.Fprintf(w, "ringsim mutate: %s of %s, operators %s\n", what, r.RTL, strings.Join(r.Operator, ", "))
	for _, s := range r.Scores {
		var by []string
		for _, chk := range check.Names() {
			if k := s.KilledBy[chk]; k > 0 {
				by = append(by, fmt.Sprintf("%s %d", chk, k))
			}
		}
		fmt.Fprintf(w, "%-5s kill rate %.1f%% (%d of %d): %d killed (%s), %d survived, %d hung, %d equivalent (allowlisted), "+
			"%d stillborn (do not compile), %d without a verdict; %s\n",
			s.Profile, 100*s.KillRate, s.Killed, s.Mutants-s.Stillborn-s.Equivalent-s.Errors, s.Killed, strings.Join(by, ", "),
			s.Survived, s.Hung, s.Equivalent, s.Stillborn, s.Errors, time.Duration(s.Seconds*float64(time.Second)).Round(time.Second))
	}
	for _, v := range []Verdict{Survived, Hung, Broken, Stillborn} {
		for _, res := range r.Results {
			if res.Verdict != v {
				continue
			}
			fmt.Fprintf(w, "  %-9s %-5s %s (%s:%d)\n            %s\n         => %s\n", strings.ToUpper(string(v)), res.Profile,
				res.ID, res.File, res.Line, res.Before, res.After)
			if res.Reason != "" {
				fmt.Fprintf(w, "            %s\n", res.Reason)
			}
		}
	}
	for _, res := range r.Results {
		if res.Why != "" && res.Verdict == Killed {
			fmt.Fprintf(w, "  NOTE      %-5s %s is on the allowlist but %s killed it: take it off\n", res.Profile, res.ID, res.By)
		}
	}
	if r.Failed() {
		fmt.Fprintf(w, "FAIL: mutants survived the gate or hung it\n")
	} else {
		fmt.Fprintf(w, "PASS: the gate killed every mutant that is not argued equivalent\n")
	}
}

// InProcess returns a Gate that runs check.Run in this process with the named profiles,
// stopping at the first failure, each case within caseTimeout (0: the gate's default).
// It cannot end a simulation stuck inside a model call; the command runs each gate in a
// process of its own, which it can kill.
func InProcess(profiles map[string]check.Profile, cacheDir string, caseTimeout time.Duration) Gate {
	return func(ctx context.Context, rtlDir, profile string) (*check.Report, error) {
		p, ok := profiles[profile]
		if !ok {
			return nil, fmt.Errorf("no profile %q", profile)
		}
		return check.Run(ctx, check.Options{Profile: p, RTLDir: rtlDir, FailFast: true, CacheDir: cacheDir,
			CaseTimeout: caseTimeout})
	}
}
