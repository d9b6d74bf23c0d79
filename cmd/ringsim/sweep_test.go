package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/job"
	"github.com/ringsim/ringsim/sim/simtest"
)

// refStart runs sweep points on the reference machine (no Verilator).
func refStart(ctx context.Context, _ *runCmd, cfg hw.Config) (job.Machine, error) {
	return simtest.New(ctx, cfg)
}

func TestSweepPlanErrors(t *testing.T) {
	tests := []struct {
		name  string
		axes  []string
		seeds string
		base  []string
		want  string
	}{
		{"no value", []string{"pacing"}, "1", nil, "want FLAG=V1,V2"},
		{"unknown flag", []string{"pacingg=1,2"}, "1", nil, "has no flag -pacingg"},
		{"seed as axis", []string{"seed=1,2"}, "1", nil, "give seeds with -seeds"},
		{"twice", []string{"ber=0", "ber=1e-6"}, "1", nil, "already an axis"},
		{"empty value", []string{"ber=0,,1"}, "1", nil, "an empty value"},
		{"repeated value", []string{"ber=0,0"}, "1", nil, "value 0 twice"},
		{"bad value", []string{"depth=64,3"}, "1", nil, "-axis depth=3"},
		{"bad type", []string{"pacing=fast"}, "1", nil, "-axis pacing=fast"},
		{"bad seeds", []string{"ber=0"}, "3..1", nil, "-seeds"},
		{"seed twice", []string{"ber=0"}, "1,1", nil, "seed 1 twice"},
		{"base json", []string{"ber=0"}, "1", []string{"-json", "x.json"}, "a sweep writes its own sweep.json"},
		{"base and axis", []string{"ber=0"}, "1", []string{"-ber", "1e-6"}, "run flag -ber is also an axis"},
		{"base sim", nil, "1", []string{"-sim", "localhost:1"}, "a sweep runs the embedded simulator"},
		{"base unknown", nil, "1", []string{"-nope"}, "run flags"},
		{"base argument", nil, "1", []string{"extra"}, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := planSweep(tt.axes, tt.seeds, tt.base, 0, false)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestSweepPoints(t *testing.T) {
	p, err := planSweep([]string{"pacing=0,64", "framing=crc,ip,crc-r"}, "5..6", []string{"-bytes", "4KiB"}, 0, false)
	if err == nil {
		t.Fatal("framing crc-r accepted")
	}
	p, err = planSweep([]string{"pacing=0,64", "framing=crc,ip"}, "5..6", []string{"-bytes", "4KiB"}, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if p.points() != 8 {
		t.Fatalf("%d points, want 8", p.points())
	}
	// The last axis varies fastest but for the seed.
	vals, seed := p.point(3)
	if !reflect.DeepEqual(vals, []string{"0", "ip"}) || seed != 6 {
		t.Fatalf("point 3: %v seed %d", vals, seed)
	}
	want := []string{"-bytes", "4KiB", "-pacing=0", "-framing=ip", "-seed=6", "-progress=none"}
	if got := p.args(3); !reflect.DeepEqual(got, want) {
		t.Fatalf("args %q, want %q", got, want)
	}
}

func TestShardOf(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	tests := []struct {
		name   string
		flag   string
		shards int
		env    func(string) string
		idx, n int
		err    string
	}{
		{"whole", "", 0, env(), 0, 1, ""},
		{"flag", "2/3", 0, env(), 2, 3, ""},
		{"flag out of range", "3/3", 0, env(), 0, 0, "want I/N"},
		{"flag malformed", "1-3", 0, env(), 0, 0, "want I/N"},
		{"flag and shards disagree", "1/3", 4, env(), 0, 0, "disagree"},
		{"kubernetes", "", 4, env("JOB_COMPLETION_INDEX", "3"), 3, 4, ""},
		{"slurm from 1", "", 4, env("SLURM_ARRAY_TASK_ID", "4", "SLURM_ARRAY_TASK_MIN", "1"), 3, 4, ""},
		{"ringsim", "", 2, env("RINGSIM_SHARD", "1", "JOB_COMPLETION_INDEX", "0"), 1, 2, ""},
		{"env without shards", "", 0, env("JOB_COMPLETION_INDEX", "3"), 0, 0, "give the shard count with -shards"},
		{"env out of range", "", 2, env("SLURM_ARRAY_TASK_ID", "2"), 0, 0, "outside -shards 2"},
		{"env not a number", "", 2, env("JOB_COMPLETION_INDEX", "x"), 0, 0, "not an index"},
		{"shards without index", "", 3, env(), 0, 0, "without a shard index"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idx, n, err := shardOf(tt.flag, tt.shards, tt.env)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error containing %q", err, tt.err)
				}
				return
			}
			if err != nil || idx != tt.idx || n != tt.n {
				t.Fatalf("got %d/%d, %v; want %d/%d", idx, n, err, tt.idx, tt.n)
			}
		})
	}
}

// TestSweepShardsMerge runs a small sweep whole and in three shards on the reference
// machine: the merged shards are the whole sweep, point for point, and the table and the
// plots are written.
func TestSweepShardsMerge(t *testing.T) {
	p, err := planSweep([]string{"pacing=0,300", "framing=crc,ip"}, "1..2", []string{"-link", "ideal", "-bytes", "2KiB", "-depth", "256"}, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	s := &sweeper{plan: p, out: &log, start: refStart}
	whole, err := s.run(context.Background(), 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(whole.Points) != 8 {
		t.Fatalf("%d points", len(whole.Points))
	}
	for _, pt := range whole.Points {
		if !pt.Passed || pt.Goodput <= 0 || pt.BytesReceived != 2*2048 {
			t.Fatalf("point %+v: want a pass that moved 4096 bytes", pt)
		}
	}
	var parts []*sweepResult
	dirs := []string{}
	for i := 0; i < 3; i++ {
		r, err := s.run(context.Background(), i, 3)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "shard")
		if err := writeSweep(dir, r); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, "sweep.csv")); !os.IsNotExist(err) {
			t.Fatalf("a shard wrote sweep.csv: %v", err)
		}
		back, err := readSweep(filepath.Join(dir, "sweep.json"))
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, back)
		dirs = append(dirs, dir)
	}
	merged, err := mergeSweeps(parts)
	if err != nil {
		t.Fatal(err)
	}
	strip := func(ps []sweepPoint) []sweepPoint {
		out := append([]sweepPoint(nil), ps...)
		for i := range out {
			out[i].WallSeconds = 0
		}
		return out
	}
	if !reflect.DeepEqual(strip(merged.Points), strip(whole.Points)) || merged.ID != whole.ID {
		t.Fatalf("merged shards differ from the whole sweep:\n%+v\n%+v", merged.Points, whole.Points)
	}
	// Incomplete, duplicated and foreign shards are refused.
	if _, err := mergeSweeps(parts[:2]); err == nil || !strings.Contains(err.Error(), "points missing") {
		t.Fatalf("two of three shards: %v", err)
	}
	if _, err := mergeSweeps([]*sweepResult{parts[0], parts[0]}); err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Fatalf("a shard twice: %v", err)
	}
	other := *parts[1]
	other.ID = "0000"
	if _, err := mergeSweeps([]*sweepResult{parts[0], &other}); err == nil || !strings.Contains(err.Error(), "mixed") {
		t.Fatalf("another sweep's shard: %v", err)
	}

	out := t.TempDir()
	if code := sweepMergeMain(append([]string{"-out", out}, dirs...)); code != 0 {
		t.Fatalf("merge exit %d", code)
	}
	csv, err := os.ReadFile(filepath.Join(out, "sweep.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(string(csv), "\n"); lines != 9 || !strings.HasPrefix(string(csv), "index,pacing,framing,seed,passed,") {
		t.Fatalf("sweep.csv:\n%s", csv)
	}
	for _, name := range []string{"goodput-vs-pacing.svg", "retransmissions-vs-pacing.svg", "goodput-vs-framing.svg"} {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		checkPlot(t, name, b, 2, 2)
	}
}

// checkPlot parses an SVG plot and checks it has the series and points expected.
func checkPlot(t *testing.T, name string, b []byte, lines, pointsPerLine int) {
	t.Helper()
	var doc struct {
		XMLName xml.Name `xml:"svg"`
		Groups  []struct {
			Class    string `xml:"class,attr"`
			Label    string `xml:"data-label,attr"`
			Polyline []struct {
				Points string `xml:"points,attr"`
			} `xml:"polyline"`
			Circles []struct{} `xml:"circle"`
		} `xml:"g"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: not XML: %v", name, err)
	}
	var series int
	for _, g := range doc.Groups {
		if g.Class != "series" {
			continue
		}
		series++
		if len(g.Circles) != pointsPerLine || len(g.Polyline) != 1 || len(strings.Fields(g.Polyline[0].Points)) != pointsPerLine {
			t.Errorf("%s: series %q has %d marks and %d lines", name, g.Label, len(g.Circles), len(g.Polyline))
		}
	}
	if series != lines {
		t.Errorf("%s: %d series, want %d", name, series, lines)
	}
}

// TestSweepKubernetesManifest parses docs/sweep/k8s-indexed-job.yaml and checks that each
// pod's index reaches its shard: the arguments Kubernetes passes (with $(JOB_COMPLETION_INDEX)
// expanded) and the variable it sets select shard i of as many shards as completions.
func TestSweepKubernetesManifest(t *testing.T) {
	b, err := os.ReadFile("../../docs/sweep/k8s-indexed-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var job struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Spec       struct {
			CompletionMode string `yaml:"completionMode"`
			Completions    int    `yaml:"completions"`
			Template       struct {
				Spec struct {
					Containers []struct {
						Command []string `yaml:"command"`
						Args    []string `yaml:"args"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(b, &job); err != nil {
		t.Fatal(err)
	}
	if job.APIVersion != "batch/v1" || job.Kind != "Job" || job.Spec.CompletionMode != "Indexed" || job.Spec.Completions < 2 {
		t.Fatalf("manifest: %+v", job)
	}
	c := job.Spec.Template.Spec.Containers[0]
	if !reflect.DeepEqual(c.Command, []string{"ringsim"}) || c.Args[0] != "sweep" {
		t.Fatalf("container runs %q %q", c.Command, c.Args)
	}
	for i := 0; i < job.Spec.Completions; i++ {
		args := make([]string, len(c.Args)-1)
		for k, a := range c.Args[1:] {
			args[k] = strings.ReplaceAll(a, "$(JOB_COMPLETION_INDEX)", strconv.Itoa(i))
		}
		env := map[string]string{"JOB_COMPLETION_INDEX": strconv.Itoa(i)}
		checkShardArgs(t, args, env, i, job.Spec.Completions, "/results/shard-"+strconv.Itoa(i))
	}
}

// TestSweepSlurmScript runs docs/sweep/slurm-array.sh as Slurm would, for every task of
// its --array, with a stand-in ringsim that records its arguments, and checks that each
// task's index reaches its shard.
func TestSweepSlurmScript(t *testing.T) {
	script, err := filepath.Abs("../../docs/sweep/slurm-array.sh")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^#SBATCH --array=(\d+)-(\d+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no #SBATCH --array=A-B line")
	}
	lo, _ := strconv.Atoi(string(m[1]))
	hi, _ := strconv.Atoi(string(m[2]))
	bin := t.TempDir()
	fake := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > \"$ARGS_OUT\"\n"
	if err := os.WriteFile(filepath.Join(bin, "ringsim"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	for task := lo; task <= hi; task++ {
		out := filepath.Join(t.TempDir(), "args")
		cmd := exec.Command("bash", script)
		cmd.Dir = t.TempDir()
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "ARGS_OUT="+out,
			"SLURM_ARRAY_TASK_ID="+strconv.Itoa(task), "SLURM_ARRAY_TASK_MIN="+strconv.Itoa(lo))
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("task %d: %v\n%s", task, err, msg)
		}
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		args := strings.Split(strings.TrimSuffix(string(got), "\n"), "\n")
		if args[0] != "sweep" {
			t.Fatalf("task %d runs ringsim %q", task, args)
		}
		env := map[string]string{"SLURM_ARRAY_TASK_ID": strconv.Itoa(task), "SLURM_ARRAY_TASK_MIN": strconv.Itoa(lo)}
		checkShardArgs(t, args[1:], env, task-lo, hi-lo+1, "results/shard-"+strconv.Itoa(task))
	}
}

// checkShardArgs parses a sweep's arguments as `ringsim sweep` does and checks that with
// env they select shard idx of n and write to out.
func checkShardArgs(t *testing.T, args []string, env map[string]string, idx, n int, out string) {
	t.Helper()
	var axes listFlag
	var seeds, outDir, shard string
	var shards int
	rest := args
	for len(rest) > 0 && rest[0] != "--" {
		if len(rest) < 2 {
			t.Fatalf("arguments %q: a flag without a value", args)
		}
		switch rest[0] {
		case "-axis":
			axes.Set(rest[1])
		case "-seeds":
			seeds = rest[1]
		case "-out":
			outDir = rest[1]
		case "-shard":
			shard = rest[1]
		case "-shards":
			shards, _ = strconv.Atoi(rest[1])
		default:
			t.Fatalf("arguments %q: unexpected %s", args, rest[0])
		}
		rest = rest[2:]
	}
	if len(rest) > 0 {
		rest = rest[1:]
	}
	p, err := planSweep(axes, seeds, rest, 0, false)
	if err != nil {
		t.Fatalf("arguments %q: %v", args, err)
	}
	gi, gn, err := shardOf(shard, shards, func(k string) string { return env[k] })
	if err != nil || gi != idx || gn != n {
		t.Fatalf("arguments %q with %v: shard %d/%d, %v; want %d/%d", args, env, gi, gn, err, idx, n)
	}
	if outDir != out {
		t.Fatalf("-out %q, want %q (one directory per shard)", outDir, out)
	}
	if p.points() < n {
		t.Fatalf("%d points for %d shards: some shards would be empty", p.points(), n)
	}
}

// TestRTLSweepFork runs a sweep whose points differ only after the aligned boundary (the
// drop rate and the run seed) twice on the embedded RTL: every point from reset, and with
// -fork, where the set-up runs once and every other point is forked from its aligned
// checkpoint. Every point's figures must be the same both ways (the seed split keeps "same
// seeds, same bytes"), and all points but the first must have been forked. A set-up flag
// (the bit-error rate) as an axis makes a group per value.
func TestRTLSweepFork(t *testing.T) {
	run := func(fork bool, axes ...string) *sweepResult {
		t.Helper()
		p, err := planSweep(axes, "1..3", []string{"-bytes", "32KiB"}, 3, fork)
		if err != nil {
			t.Fatal(err)
		}
		var log bytes.Buffer
		s := &sweeper{plan: p, out: &log, start: sweepStart}
		res, err := s.run(context.Background(), 0, 1)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	scratch, forked := run(false, "drop=0,0.02"), run(true, "drop=0,0.02")
	n := 0
	for i, a := range scratch.Points {
		b := forked.Points[i]
		if b.Forked {
			n++
		}
		a.WallSeconds, b.WallSeconds, b.Forked = 0, 0, false
		if !reflect.DeepEqual(a, b) || !a.Passed || a.SetupSeed != 3 {
			t.Errorf("point %d from reset %+v, forked %+v: want the same pass", i, a, b)
		}
	}
	if n != len(forked.Points)-1 {
		t.Errorf("%d of %d points forked, want all but the first", n, len(forked.Points))
	}
	groups := 0
	for _, pt := range run(true, "ber=0,1e-6").Points {
		if !pt.Forked {
			groups++
		}
	}
	if groups != 2 {
		t.Errorf("%d set-ups run for two bit-error rates, want 2", groups)
	}
}

// TestSweepForkRefused checks that a split or forked sweep whose points have no aligned
// boundary to fork at fails before its first point, naming why.
func TestSweepForkRefused(t *testing.T) {
	for _, base := range [][]string{{"-app", "align"}, {"-firmware", "upstream-async"}} {
		if _, err := planSweep(nil, "1..2", base, 1, true); err == nil || !strings.Contains(err.Error(), "aligned boundary") {
			t.Errorf("-fork with %v: error %v, want one about the aligned boundary", base, err)
		}
	}
}
