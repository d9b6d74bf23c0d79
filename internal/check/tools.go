package check

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// ErrNoTool is wrapped by the error of a check whose tool is missing.
var ErrNoTool = errors.New("tool not found")

// installHint says how to get the gate's tools on Debian.
const installHint = "install it with `apt-get install -y verilator yosys g++ zlib1g-dev` or scripts/setup.sh"

// toolTimeout bounds one lint or synthesis run.
const toolTimeout = 5 * time.Minute

// runTool runs a tool in dir and returns its combined output and whether it exited 0. A
// missing tool is an error wrapping ErrNoTool.
func runTool(ctx context.Context, dir, tool string, args ...string) (string, bool, error) {
	path, err := exec.LookPath(tool)
	if err != nil {
		return "", false, fmt.Errorf("%w: %s is not on PATH; %s", ErrNoTool, tool, installHint)
	}
	ctx, cancel := context.WithTimeout(ctx, toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out.String(), true, nil
	case errors.As(err, &exit) && ctx.Err() == nil:
		return out.String(), false, nil
	}
	return out.String(), false, fmt.Errorf("run %s: %w", tool, err)
}

// packageRE matches a SystemVerilog package declaration at the start of a line.
var packageRE = regexp.MustCompile(`(?m)^[ \t]*package\s+[A-Za-z_][A-Za-z0-9_$]*\s*;`)

// sources lists the *.sv and *.v files in the order the tools must read them: packages
// (named *_pkg.sv, or declaring a package) before the modules that use them, each in name
// order. Verilator and Yosys both fail on a reference to a package they have not read yet.
func (s *rtlSource) sources() []string {
	var pkgs, rest []string
	for _, n := range s.list(".sv", ".v") {
		if strings.HasSuffix(n, "_pkg.sv") || packageRE.Match(s.files[n]) {
			pkgs = append(pkgs, n)
		} else {
			rest = append(rest, n)
		}
	}
	return append(pkgs, rest...)
}

// lintTask is `verilator --lint-only -Wall` at one geometry.
func lintTask(g Geometry) task {
	return task{check: Lint, name: g.String(), run: func(ctx context.Context, e *env, _ *evidence) outcome {
		args := []string{"--lint-only", "-Wall", "--top-module", "ringsim_node",
			fmt.Sprintf("-GDepth=%d", g.Depth), fmt.Sprintf("-GPorts=%d", g.Ports), "-y", ".", "+incdir+."}
		args = append(append(args, e.src.list(".vlt")...), e.src.sources()...)
		out, ok, err := runTool(ctx, e.toolDir, "verilator", args...)
		if err != nil {
			o := errorOutcome(err)
			if errors.Is(err, ErrNoTool) {
				o.block, o.blockWhat = "verilator", "verilator is missing"
			}
			return o
		}
		warnings, errs := verilatorMessages(out)
		details := map[string]any{"command": "verilator " + strings.Join(args, " "), "warnings": len(warnings)}
		switch {
		case len(errs) > 0:
			// Errors, not warnings: the RTL does not compile, so no check has a verdict, and
			// no later case can compile it: they are not run, and point here.
			if len(errs) > maxCompilerLines {
				errs = append(errs[:maxCompilerLines], fmt.Sprintf("... (%d more in tool.log)", len(errs)-maxCompilerLines))
			}
			return outcome{status: Error, reason: "RTL does not compile: " + strings.Join(errs, "\n"), details: details,
				log: out, block: "*", blockWhat: "the RTL does not compile"}
		case len(warnings) > 0:
			return outcome{status: Fail, reason: fmt.Sprintf("%d lint warning(s); first: %s", len(warnings), warnings[0]),
				details: details, log: out}
		case !ok:
			return outcome{status: Error, reason: "verilator failed without a message: " + lastLine(out), details: details, log: out}
		}
		return pass(details)
	}}
}

// verilatorMessages splits Verilator's output into warnings and errors (first lines only).
func verilatorMessages(out string) (warnings, errs []string) {
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "%Warning"):
			warnings = append(warnings, strings.TrimSpace(line))
		case strings.HasPrefix(line, "%Error") && !strings.Contains(line, "Exiting due to"):
			errs = append(errs, strings.TrimSpace(line))
		}
	}
	return warnings, errs
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// synthSteps are the Yosys steps of the synthesizability pre-check, each announced in the
// log so that a failure names its step.
var synthSteps = []struct{ name, cmd string }{
	{"read", "read_verilog -sv %s"},
	// (hierarchy -chparam trips an internal assertion in Yosys 0.23; chparam does not.)
	{"elaborate", "chparam -set Depth %d -set Ports %d ringsim_node; hierarchy -check -top ringsim_node"},
	{"processes", "proc"},
	// Power-up values from initial blocks outside `ifndef SYNTHESIS: ASIC flows and most
	// RAM macros have none.
	{"no initial values", "select -assert-none a:init"},
	{"no memory initialisation", "select -assert-none t:$meminit t:$meminit_v2"},
	{"structural check", "check -assert"},
	{"optimise", "opt"},
	{"memory inference", "memory -nomap"},
	{"optimise", "opt_clean"},
	{"statistics", "stat"},
}

var (
	yosysStepRE = regexp.MustCompile(`ringsim-step: (.*)`)
	// yosysFatalRE are warnings about constructs synthesis drops: the netlist would not
	// do what the simulation did.
	yosysFatalRE = regexp.MustCompile(`(?i)warning: .*(unsupported|not supported)`)
	yosysMemRE   = regexp.MustCompile(`\$mem_v2\s+(\d+)`)
)

// synthTask is the Yosys pre-check at one geometry.
func synthTask(g Geometry) task {
	return task{check: Synth, name: g.String(), run: func(ctx context.Context, e *env, _ *evidence) outcome {
		var script []string
		for _, s := range synthSteps {
			cmd := s.cmd
			switch s.name {
			case "read":
				cmd = fmt.Sprintf(cmd, strings.Join(e.src.sources(), " "))
			case "elaborate":
				cmd = fmt.Sprintf(cmd, g.Depth, g.Ports)
			}
			script = append(script, "log ringsim-step: "+s.name, cmd)
		}
		scriptPath := filepath.Join(e.work, "synth-"+g.String()+".ys")
		if err := writeFile(scriptPath, strings.Join(script, "\n")+"\n"); err != nil {
			return errorOutcome(err)
		}
		// Yosys's own log file, not its stdout: a failing command exits without flushing
		// stdout, so the log is the only place that shows the step that failed.
		logPath := filepath.Join(e.work, "synth-"+g.String()+".log")
		console, ok, err := runTool(ctx, e.toolDir, "yosys", "-l", logPath, "-s", scriptPath)
		if err != nil {
			o := errorOutcome(err)
			if errors.Is(err, ErrNoTool) {
				o.block, o.blockWhat = "yosys", "yosys is missing"
			}
			return o
		}
		logged, _ := os.ReadFile(logPath)
		out := string(logged) + "\n--- console ---\n" + console
		details := map[string]any{"script": strings.Join(script, "; ")}
		step := ""
		var errLine string
		for _, line := range strings.Split(out, "\n") {
			if m := yosysStepRE.FindStringSubmatch(line); m != nil && errLine == "" {
				step = m[1]
			}
			if strings.HasPrefix(line, "ERROR:") && errLine == "" {
				errLine = strings.TrimSpace(line)
			}
			if yosysFatalRE.MatchString(line) {
				return outcome{status: Fail, reason: fmt.Sprintf("synthesis would drop a construct: %s",
					strings.TrimSpace(line)), details: details, log: out}
			}
		}
		if !ok {
			if errLine == "" {
				errLine = lastLine(out)
			}
			return outcome{status: Fail, reason: fmt.Sprintf("step %q: %s", step, errLine), details: details, log: out}
		}
		mems := 0
		if ms := yosysMemRE.FindAllStringSubmatch(out, -1); len(ms) > 0 {
			fmt.Sscan(ms[len(ms)-1][1], &mems) // the design hierarchy's total comes last
		}
		details["memories_inferred"] = mems
		return pass(details)
	}}
}
