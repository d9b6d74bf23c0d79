// Package modelbuild turns node RTL into a loadable simulation model: it runs Verilator,
// compiles the generated C++ with ringsim's harness at -O3, and caches the result by a hash
// of everything that goes into it.
package modelbuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/rtl"
	"github.com/ringsim/ringsim/sim/internal/harness"
)

// formatVersion changes whenever the build recipe changes in a way the hash cannot see.
const formatVersion = "ringsim-model-6"

// InstallHint tells a user how to get the tools a model build needs.
const InstallHint = "install them with `apt-get install -y verilator g++ zlib1g-dev` (Debian), or run scripts/setup.sh"

// Errors returned by Build.
var (
	ErrNoTool     = hw.ErrNoTool // the contract's, so the server maps it without knowing the builder
	ErrNoSources  = errors.New("no RTL sources")
	ErrVerilator  = errors.New("verilator failed")
	ErrCompile    = errors.New("c++ compilation failed")
	ErrBadSpec    = errors.New("bad model spec")
	ErrCacheSetup = errors.New("model cache unusable")
)

// Spec says which model to build.
type Spec struct {
	// RTLDir holds the node RTL (*.sv, *.v, *.vlt, non-recursive); empty means ringsim's own.
	RTLDir string
	Depth  int
	Ports  int
	// Trace compiles in FST waveform support (7-10 % slower even while off).
	Trace bool
	// Assert keeps the RTL's assertions active.
	Assert bool
	// RealLink builds the harness wrapper with the real link's registers (elastic buffer,
	// UGN capture); ideal-link models leave them out.
	RealLink bool
}

// Validate reports whether the spec can be built.
func (s Spec) Validate() error {
	if s.Depth < 2 || s.Depth > 1<<20 {
		return fmt.Errorf("%w: depth %d outside [2, 1048576]", ErrBadSpec, s.Depth)
	}
	if s.Ports < 1 || s.Ports > 64 {
		return fmt.Errorf("%w: ports %d outside [1, 64]", ErrBadSpec, s.Ports)
	}
	return nil
}

// Model is a built model.
type Model struct {
	Path     string // shared object
	Key      string // cache key (hex SHA-256)
	RTLHash  string // hex SHA-256 of the RTL sources alone
	Versions string // verilator and compiler versions
	Cached   bool   // found in the cache, not built now
	BuildLog string // Verilator's warnings, if it was built now
}

// Builder builds models into a cache directory. It is safe for concurrent use, also across
// processes (builds of the same key take a file lock).
type Builder struct {
	// CacheDir is the cache root; empty means $RINGSIM_CACHE or the user cache dir.
	CacheDir string
	// Logger is defaulted when nil.
	Logger hclog.Logger
	// OnEvent, if set, is told when a build starts, at each of its stages and when it ends,
	// so that a command can show what it is waiting for. It is not called for cache hits.
	OnEvent func(Event)
	// SharedDir caches what does not depend on the RTL (Verilator's runtime, the compiled
	// harness); empty means CacheDir. Tests that build into a fresh CacheDir share it.
	SharedDir string
}

func (b *Builder) sharedDir() string {
	if b.SharedDir != "" {
		return b.SharedDir
	}
	return b.cacheDir()
}

// Stage is a step of a model build.
type Stage string

// The stages of a build, in order; Done is the last event of every build, failed or not.
const (
	StageStart    Stage = "start"
	StageVerilate Stage = "verilating"
	StageRuntime  Stage = "compiling Verilator's runtime (once per tool version)"
	StageCompile  Stage = "compiling"
	StageLink     Stage = "linking"
	StageDone     Stage = "done"
)

// Event reports a build's progress to Builder.OnEvent.
type Event struct {
	Spec  Spec
	Stage Stage
	// Reason says why the model is built: "first build of this shape", "the RTL changed
	// since the cached build", "Verilator or the C++ compiler changed".
	Reason string
	// Detail adds to the stage ("12 files").
	Detail string
	// Elapsed is the time since the build started.
	Elapsed time.Duration
	// Err is the build's error (Done only).
	Err error
}

// Describe is a short description of the model: "D=128, 7 ports, assertions on, no waveforms".
func (s Spec) Describe() string {
	a, w := "assertions on", "no waveforms"
	if !s.Assert {
		a = "assertions off"
	}
	if s.Trace {
		w = "waveforms"
	}
	d := fmt.Sprintf("D=%d, %d port(s), %s, %s", s.Depth, s.Ports, a, w)
	if s.RTLDir != "" {
		d += ", RTL from " + s.RTLDir
	}
	return d
}

func (b *Builder) event(start time.Time, ev Event) {
	if b.OnEvent != nil {
		ev.Elapsed = time.Since(start)
		b.OnEvent(ev)
	}
}

// reason says why spec has to be built although the cache may hold models of the same shape:
// it looks for one built from other RTL or with other tools.
func (b *Builder) reason(spec Spec, rtlHash, versions string) string {
	metas, _ := filepath.Glob(filepath.Join(b.cacheDir(), "models", "*", "meta.json"))
	why := "first build of this shape"
	for _, path := range metas {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		var m struct {
			RTLHash  string `json:"rtl_hash"`
			Versions string `json:"versions"`
			Spec     Spec   `json:"spec"`
		}
		if json.Unmarshal(data, &m) != nil || m.Spec != spec {
			continue
		}
		switch {
		case m.RTLHash != rtlHash:
			why = "the RTL changed since the cached build of this shape"
		case m.Versions != versions:
			return "Verilator or the C++ compiler changed since the cached build"
		default:
			return "ringsim's harness or build recipe changed since the cached build"
		}
	}
	return why
}

// DefaultCacheDir is where models are cached when Builder.CacheDir is empty.
func DefaultCacheDir() string {
	if d := os.Getenv("RINGSIM_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "ringsim")
	}
	return filepath.Join(os.TempDir(), "ringsim-cache")
}

func (b *Builder) cacheDir() string {
	if b.CacheDir != "" {
		return b.CacheDir
	}
	return DefaultCacheDir()
}

func (b *Builder) logger() hclog.Logger {
	if b.Logger == nil {
		return hclog.NewNullLogger()
	}
	return b.Logger
}

// Tools are the external programs a build needs.
type Tools struct {
	Verilator string
	CXX       string
	Include   string // Verilator's include directory
	Versions  string
}

var (
	toolsOnce sync.Once
	toolsVal  Tools
	toolsErr  error
)

// FindTools locates Verilator and the C++ compiler and reads their versions.
func FindTools() (Tools, error) {
	toolsOnce.Do(func() { toolsVal, toolsErr = findTools() })
	return toolsVal, toolsErr
}

func findTools() (Tools, error) {
	var t Tools
	var err error
	if t.Verilator, err = exec.LookPath("verilator"); err != nil {
		return t, fmt.Errorf("%w: verilator is not on PATH; %s", ErrNoTool, InstallHint)
	}
	cxx := os.Getenv("CXX")
	if cxx == "" {
		cxx = "g++"
	}
	if t.CXX, err = exec.LookPath(cxx); err != nil {
		return t, fmt.Errorf("%w: %s is not on PATH; %s", ErrNoTool, cxx, InstallHint)
	}
	vv, err := exec.Command(t.Verilator, "--version").Output()
	if err != nil {
		return t, fmt.Errorf("%w: %s --version: %v", ErrNoTool, t.Verilator, err)
	}
	cv, err := exec.Command(t.CXX, "--version").Output()
	if err != nil {
		return t, fmt.Errorf("%w: %s --version: %v", ErrNoTool, t.CXX, err)
	}
	t.Versions = strings.TrimSpace(string(vv)) + "; " + firstLine(string(cv))
	t.Include = verilatorInclude(t.Verilator)
	if _, err := os.Stat(filepath.Join(t.Include, "verilated.cpp")); err != nil {
		return t, fmt.Errorf("%w: verilator runtime sources not found in %s; %s", ErrNoTool, t.Include, InstallHint)
	}
	return t, nil
}

func verilatorInclude(bin string) string {
	if root := os.Getenv("VERILATOR_ROOT"); root != "" {
		return filepath.Join(root, "include")
	}
	if out, err := exec.Command(bin, "--getenv", "VERILATOR_ROOT").Output(); err == nil {
		if root := strings.TrimSpace(string(out)); root != "" {
			if _, err := os.Stat(filepath.Join(root, "include", "verilated.cpp")); err == nil {
				return filepath.Join(root, "include")
			}
		}
	}
	return "/usr/share/verilator/include"
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

type source struct {
	name string
	data []byte
}

// Sources reads the RTL sources of dir (embedded RTL when dir is empty), sorted by name.
func Sources(dir string) ([]source, error) {
	var fsys fs.FS = rtl.FS
	if dir != "" {
		st, err := os.Stat(dir)
		if err != nil {
			return nil, fmt.Errorf("read rtl dir: %w", err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("read rtl dir: %s is not a directory", dir)
		}
		fsys = os.DirFS(dir)
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read rtl dir: %w", err)
	}
	var out []source
	for _, e := range entries {
		if e.IsDir() || !isRTL(e.Name()) {
			continue
		}
		data, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read rtl: %w", err)
		}
		out = append(out, source{name: e.Name(), data: data})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w in %q (want *.sv, *.v or *.vlt files)", ErrNoSources, dir)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// packageRE matches a SystemVerilog package declaration at the start of a line.
var packageRE = regexp.MustCompile(`(?m)^[ \t]*package\s+[A-Za-z_][A-Za-z0-9_$]*\s*;`)

// IsPackage reports whether an RTL source is a SystemVerilog package (named *_pkg.sv, or
// declaring a package), which tools must read before the modules that import it.
func IsPackage(name string, data []byte) bool {
	return strings.HasSuffix(name, "_pkg.sv") || packageRE.Match(data)
}

func isRTL(name string) bool {
	for _, ext := range []string{".sv", ".v", ".svh", ".vh", ".vlt"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// RTLHash is the hex SHA-256 of the sources' names and contents.
func RTLHash(srcs []source) string {
	h := sha256.New()
	for _, s := range srcs {
		fmt.Fprintf(h, "%s\x00%d\x00", s.name, len(s.data))
		h.Write(s.data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// harnessFiles reads the harness's C++ sources (csrc).
func harnessFiles() ([]source, error) { return harnessDir("csrc") }

// harnessRTL reads the harness's SystemVerilog (rtl: the wrapper that is the model's top).
func harnessRTL() ([]source, error) { return harnessDir("rtl") }

func harnessDir(dir string) ([]source, error) {
	var out []source
	err := fs.WalkDir(harness.FS, dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(harness.FS, path)
		if err != nil {
			return err
		}
		out = append(out, source{name: filepath.Base(path), data: data})
		return nil
	})
	return out, err
}

// cxxFlags are the flags every translation unit of a model gets.
func cxxFlags(t Tools, trace, pic bool) []string {
	f := []string{
		"-std=gnu++17", "-O3", "-fno-plt",
		"-faligned-new", "-fcf-protection=none",
		"-Wno-bool-operation", "-Wno-sign-compare", "-Wno-uninitialized",
		"-Wno-unused-but-set-variable", "-Wno-unused-parameter", "-Wno-unused-variable",
		"-Wno-shadow",
		"-I" + t.Include, "-I" + filepath.Join(t.Include, "vltstd"),
		"-DVM_COVERAGE=0", "-DVM_SC=0", "-DVM_TRACE_VCD=0",
		"-DVL_USER_FATAL", "-DVL_PRINTF=rs_vl_printf",
	}
	if trace {
		f = append(f, "-DVM_TRACE=1", "-DVM_TRACE_FST=1")
	} else {
		f = append(f, "-DVM_TRACE=0", "-DVM_TRACE_FST=0")
	}
	if pic {
		f = append(f, "-fPIC", "-fvisibility=hidden", "-fno-semantic-interposition")
	} else {
		f = append(f, "-fno-PIC")
	}
	return f
}

// Build returns the model for spec, building it if it is not cached.
func (b *Builder) Build(ctx context.Context, spec Spec) (*Model, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	t, err := FindTools()
	if err != nil {
		return nil, err
	}
	srcs, err := Sources(spec.RTLDir)
	if err != nil {
		return nil, err
	}
	hfiles, err := harnessFiles()
	if err != nil {
		return nil, fmt.Errorf("read harness: %w", err)
	}
	rtlHash := RTLHash(srcs)
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%d\x00%d\x00%v\x00%v\x00%v\x00%s\x00", formatVersion, t.Versions,
		harness.Top, spec.Depth, spec.Ports, spec.Trace, spec.Assert, spec.RealLink, rtlHash)
	hrtl, err := harnessRTL()
	if err != nil {
		return nil, fmt.Errorf("read harness: %w", err)
	}
	pkg, err := fs.ReadFile(rtl.FS, regsPkg) // the wrapper uses it when the RTL has none
	if err != nil {
		return nil, fmt.Errorf("read harness: %w", err)
	}
	for _, f := range append(append(hfiles, hrtl...), source{name: regsPkg, data: pkg}) {
		fmt.Fprintf(h, "%s\x00%d\x00", f.name, len(f.data))
		h.Write(f.data)
	}
	fmt.Fprintf(h, "%q", cxxFlags(t, spec.Trace, true))
	key := hex.EncodeToString(h.Sum(nil))

	root := filepath.Join(b.cacheDir(), "models")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCacheSetup, err)
	}
	final := filepath.Join(root, key[:24])
	m := &Model{Path: filepath.Join(final, "model.so"), Key: key, RTLHash: rtlHash, Versions: t.Versions}
	if _, err := os.Stat(m.Path); err == nil {
		m.Cached = true
		return m, nil
	}
	unlock, err := lockFile(ctx, filepath.Join(root, key[:24]+".lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	if _, err := os.Stat(m.Path); err == nil { // built by someone else while we waited
		m.Cached = true
		return m, nil
	}
	log := b.logger().With("depth", spec.Depth, "ports", spec.Ports, "trace", spec.Trace)
	log.Info("building model", "key", key[:12])
	start := time.Now()
	why := b.reason(spec, rtlHash, t.Versions)
	b.event(start, Event{Spec: spec, Stage: StageStart, Reason: why})
	m, err = b.build(ctx, t, spec, srcs, m, root, final, key, start, why)
	b.event(start, Event{Spec: spec, Stage: StageDone, Reason: why, Err: err})
	if err != nil {
		return nil, err
	}
	log.Info("model built", "seconds", time.Since(start).Round(time.Millisecond).Seconds())
	return m, nil
}

// build does Build's work once the lock is held and the model is known to be missing.
func (b *Builder) build(ctx context.Context, t Tools, spec Spec, srcs []source, m *Model,
	root, final, key string, start time.Time, why string) (*Model, error) {
	stage := func(s Stage, detail string) {
		b.event(start, Event{Spec: spec, Stage: s, Reason: why, Detail: detail})
	}
	tmp, err := os.MkdirTemp(root, "build-")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCacheSetup, err)
	}
	defer os.RemoveAll(tmp)
	stage(StageVerilate, "")
	vlog, err := verilate(ctx, t, spec, srcs, tmp)
	if err != nil {
		return nil, err
	}
	m.BuildLog = vlog
	rt, err := b.runtime(ctx, t, spec.Trace, true, func() { stage(StageRuntime, "") })
	if err != nil {
		return nil, err
	}
	so := filepath.Join(tmp, "model.so")
	if err := b.compileModel(ctx, t, spec, tmp, rt, so, true, stage); err != nil {
		return nil, err
	}
	meta, _ := json.MarshalIndent(map[string]any{
		"key": key, "rtl_hash": m.RTLHash, "versions": t.Versions, "spec": spec,
		"built": time.Now().UTC().Format(time.RFC3339),
	}, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, "meta.json"), meta, 0o644); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCacheSetup, err)
	}
	os.RemoveAll(filepath.Join(tmp, "obj"))
	os.RemoveAll(filepath.Join(tmp, "rtl"))
	os.RemoveAll(filepath.Join(tmp, "csrc"))
	os.Chmod(tmp, 0o755) // MkdirTemp made it private; the cache may be shared
	if err := os.Rename(tmp, final); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCacheSetup, err)
	}
	return m, nil
}

// verilate runs Verilator on the sources into dir/obj and returns its warnings.
func verilate(ctx context.Context, t Tools, spec Spec, srcs []source, dir string) (string, error) {
	rtlDir := spec.RTLDir
	if rtlDir == "" {
		rtlDir = filepath.Join(dir, "rtl")
		if err := os.MkdirAll(rtlDir, 0o755); err != nil {
			return "", fmt.Errorf("%w: %v", ErrCacheSetup, err)
		}
		for _, s := range srcs {
			if err := os.WriteFile(filepath.Join(rtlDir, s.name), s.data, 0o644); err != nil {
				return "", fmt.Errorf("%w: %v", ErrCacheSetup, err)
			}
		}
	}
	// The harness's wrapper is the top; it needs ringsim's register package, which a user's
	// RTL need not have.
	hdir := filepath.Join(dir, "harness-rtl")
	if err := os.MkdirAll(hdir, 0o755); err != nil {
		return "", fmt.Errorf("%w: %v", ErrCacheSetup, err)
	}
	hsrcs, err := harnessRTL()
	if err != nil {
		return "", fmt.Errorf("read harness: %w", err)
	}
	var extra []string // packages first
	if !hasSource(srcs, regsPkg) {
		data, err := fs.ReadFile(rtl.FS, regsPkg)
		if err != nil {
			return "", fmt.Errorf("read harness: %w", err)
		}
		hsrcs = append([]source{{name: regsPkg, data: data}}, hsrcs...)
	}
	for _, s := range hsrcs {
		p := filepath.Join(hdir, s.name)
		if err := os.WriteFile(p, s.data, 0o644); err != nil {
			return "", fmt.Errorf("%w: %v", ErrCacheSetup, err)
		}
		extra = append(extra, p)
	}
	args := []string{
		"--cc", "--prefix", "Vnode", "--top-module", harness.Top,
		fmt.Sprintf("-GDepth=%d", spec.Depth), fmt.Sprintf("-GPorts=%d", spec.Ports),
		fmt.Sprintf("-GRealLink=%d", b2i(spec.RealLink)),
		"-Wno-fatal", "--Mdir", filepath.Join(dir, "obj"), "-y", rtlDir, "+incdir+" + rtlDir,
		// Checkpoints (Engine.Save) serialize every model's state; it costs no speed.
		"--savable",
	}
	if spec.Trace {
		args = append(args, "--trace-fst")
	}
	if spec.Assert {
		args = append(args, "--assert")
	}
	// Configuration files first: they must be read before the sources they apply to.
	for _, s := range srcs {
		if strings.HasSuffix(s.name, ".vlt") {
			args = append(args, filepath.Join(rtlDir, s.name))
		}
	}
	// Then packages, which Verilator must read before the modules that use them, then the
	// rest, each in name order.
	for _, pkgs := range []bool{true, false} {
		if !pkgs && len(extra) > 0 && extra[0] == filepath.Join(hdir, regsPkg) {
			args = append(args, extra[0]) // ringsim's package, for the wrapper
			extra = extra[1:]
		}
		for _, s := range srcs {
			if (strings.HasSuffix(s.name, ".sv") || strings.HasSuffix(s.name, ".v")) && IsPackage(s.name, s.data) == pkgs {
				args = append(args, filepath.Join(rtlDir, s.name))
			}
		}
	}
	args = append(args, extra...)
	cmd := exec.CommandContext(ctx, t.Verilator, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%w on %s: %v\n%s", ErrVerilator, rtlDir, err, tail(out.String(), 40))
	}
	return out.String(), nil
}

// regsPkg is ringsim's generated register package (internal/regmap), which the harness's
// wrapper uses.
const regsPkg = "ringsim_regs_pkg.sv"

func hasSource(srcs []source, name string) bool {
	for _, s := range srcs {
		if s.name == name {
			return true
		}
	}
	return false
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// classes lists the generated C++ files and the runtime files a model needs, from
// Verilator's Vnode_classes.mk.
type classes struct {
	model   []string // generated .cpp base names
	runtime []string // Verilator runtime .cpp base names (verilated, verilated_threads, ...)
}

func readClasses(objDir string) (classes, error) {
	var c classes
	data, err := os.ReadFile(filepath.Join(objDir, "Vnode_classes.mk"))
	if err != nil {
		return c, fmt.Errorf("%w: %v", ErrVerilator, err)
	}
	var cur *[]string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "VM_CLASSES_"), strings.HasPrefix(line, "VM_SUPPORT_"):
			cur = &c.model
			continue
		case strings.HasPrefix(line, "VM_GLOBAL_"):
			cur = &c.runtime
			continue
		case line == "" || strings.HasPrefix(line, "#") || strings.Contains(line, "="):
			cur = nil
			continue
		}
		if cur != nil {
			name := strings.TrimSpace(strings.TrimSuffix(line, "\\"))
			if name != "" {
				*cur = append(*cur, name)
			}
		}
	}
	if len(c.model) == 0 {
		return c, fmt.Errorf("%w: no model classes in Vnode_classes.mk", ErrVerilator)
	}
	// verilated_threads is needed even by single-threaded models.
	for _, want := range []string{"verilated", "verilated_threads"} {
		if !contains(c.runtime, want) {
			c.runtime = append(c.runtime, want)
		}
	}
	sort.Strings(c.runtime)
	return c, nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// runtimeObjs are Verilator's runtime objects, compiled once per tool version and flags.
type runtimeObjs struct {
	dir string
}

// runtime returns the compiled runtime, compiling it first if needed (then it calls
// building, if not nil).
func (b *Builder) runtime(ctx context.Context, t Tools, trace, pic bool, building func()) (runtimeObjs, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%q", formatVersion, t.Versions, cxxFlags(t, trace, pic))
	for _, f := range []string{"rs_printf.h"} {
		data, _ := fs.ReadFile(harness.FS, "csrc/"+f)
		h.Write(data)
	}
	key := hex.EncodeToString(h.Sum(nil))[:24]
	root := filepath.Join(b.sharedDir(), "runtime")
	dir := filepath.Join(root, key)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return runtimeObjs{}, fmt.Errorf("%w: %v", ErrCacheSetup, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "done")); err == nil {
		return runtimeObjs{dir: dir}, nil
	}
	unlock, err := lockFile(ctx, dir+".lock")
	if err != nil {
		return runtimeObjs{}, err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(dir, "done")); err == nil {
		return runtimeObjs{dir: dir}, nil
	}
	if building != nil {
		building()
	}
	tmp, err := os.MkdirTemp(root, "build-")
	if err != nil {
		return runtimeObjs{}, fmt.Errorf("%w: %v", ErrCacheSetup, err)
	}
	defer os.RemoveAll(tmp)
	inc, err := writeHarness(tmp)
	if err != nil {
		return runtimeObjs{}, err
	}
	var jobs []compileJob
	for _, name := range allRuntime(trace) {
		jobs = append(jobs, compileJob{
			src: filepath.Join(t.Include, name+".cpp"),
			obj: filepath.Join(tmp, name+".o"),
		})
	}
	flags := append(cxxFlags(t, trace, pic), "-I"+inc, "-include", filepath.Join(inc, "rs_printf.h"))
	if err := compileAll(ctx, t, flags, jobs); err != nil {
		return runtimeObjs{}, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "done"), nil, 0o644); err != nil {
		return runtimeObjs{}, fmt.Errorf("%w: %v", ErrCacheSetup, err)
	}
	os.RemoveAll(filepath.Join(tmp, "csrc"))
	os.Chmod(tmp, 0o755)
	if err := os.Rename(tmp, dir); err != nil {
		return runtimeObjs{}, fmt.Errorf("%w: %v", ErrCacheSetup, err)
	}
	return runtimeObjs{dir: dir}, nil
}

// allRuntime is every runtime file a model of ours can ask for.
func allRuntime(trace bool) []string {
	r := []string{"verilated", "verilated_dpi", "verilated_save", "verilated_threads"}
	if trace {
		r = append(r, "verilated_fst_c")
	}
	return r
}

func (r runtimeObjs) objs(names []string) ([]string, error) {
	var out []string
	for _, n := range names {
		p := filepath.Join(r.dir, n+".o")
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%w: the model needs runtime file %s.cpp, which ringsim does not build", ErrCompile, n)
		}
		out = append(out, p)
	}
	return out, nil
}

// writeHarness unpacks the embedded harness sources into dir/csrc and returns that path.
func writeHarness(dir string) (string, error) {
	inc := filepath.Join(dir, "csrc")
	if err := os.MkdirAll(inc, 0o755); err != nil {
		return "", fmt.Errorf("%w: %v", ErrCacheSetup, err)
	}
	files, err := harnessFiles()
	if err != nil {
		return "", fmt.Errorf("read harness: %w", err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(inc, f.name), f.data, 0o644); err != nil {
			return "", fmt.Errorf("%w: %v", ErrCacheSetup, err)
		}
	}
	return inc, nil
}

// compileModel compiles the generated model and the harness (or, for the standalone
// benchmark, main) and links them with the runtime into out.
// stage, if not nil, is told when compiling and linking start.
//
// The harness (a shared model's main file) depends on the RTL only through the generated
// model class header, Vnode.h, which the port contract fixes: it is compiled once per
// (Vnode.h, flags, harness) and kept in the cache, so RTL variants of one shape (the gate's,
// a user's edits) skip its compilation.
func (b *Builder) compileModel(ctx context.Context, t Tools, spec Spec, dir string, rt runtimeObjs, out string, shared bool,
	stage func(Stage, string)) error {
	if stage == nil {
		stage = func(Stage, string) {}
	}
	obj := filepath.Join(dir, "obj")
	cls, err := readClasses(obj)
	if err != nil {
		return err
	}
	inc, err := writeHarness(dir)
	if err != nil {
		return err
	}
	flags := append(cxxFlags(t, spec.Trace, shared), "-I"+obj, "-I"+inc,
		"-include", filepath.Join(inc, "rs_printf.h"),
		fmt.Sprintf("-DRS_DEPTH=%d", spec.Depth), fmt.Sprintf("-DRS_PORTS=%d", spec.Ports),
		fmt.Sprintf("-DRS_REAL_LINK=%d", b2i(spec.RealLink)), fmt.Sprintf("-DRS_ASSERTS=%d", b2i(spec.Assert)))
	jobs, err := unityJobs(obj, cls.model, runtime.NumCPU())
	if err != nil {
		return err
	}
	main := "harness.cpp"
	if !shared {
		main = "standalone.cpp"
	}
	mainJob := compileJob{src: filepath.Join(inc, main), obj: filepath.Join(obj, "rs_main.o")}
	var objs []string
	if shared {
		h, err := b.harnessObject(obj, inc, main, flags)
		if err != nil {
			return err
		}
		if _, err := os.Stat(h); err == nil {
			objs = append(objs, h) // compiled for an earlier variant of this shape
		} else {
			jobs = append(jobs, mainJob)
			defer keepHarness(mainJob.obj, h)
		}
	} else {
		jobs = append(jobs, mainJob)
	}
	stage(StageCompile, fmt.Sprintf("%d files", len(jobs)))
	if err := compileAll(ctx, t, flags, jobs); err != nil {
		return err
	}
	rtObjs, err := rt.objs(cls.runtime)
	if err != nil {
		return err
	}
	stage(StageLink, "")
	args := []string{"-o", out}
	if shared {
		args = append(args, "-shared", "-Wl,--no-undefined")
	} else {
		args = append(args, "-no-pie")
	}
	for _, j := range jobs {
		args = append(args, j.obj)
	}
	args = append(args, objs...)
	args = append(args, rtObjs...)
	args = append(args, "-lz", "-pthread", "-lpthread", "-latomic")
	cmd := exec.CommandContext(ctx, t.CXX, args...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w: link %s: %v\n%s", ErrCompile, filepath.Base(out), err, tail(string(b), 30))
	}
	return nil
}

type compileJob struct{ src, obj string }

// unityTarget is about how much generated C++ one unity translation unit takes before the
// files are split over several: most of a small file's compile time is parsing Verilator's
// headers, so one unit is the fastest up to a few hundred kilobytes of generated code.
const unityTarget = 512 << 10

// unityJobs groups the generated model files into unity translation units (one file that
// includes the others), so that Verilator's headers are parsed once per unit instead of
// once per file: a D = 16 model compiles in 0.7 s of CPU instead of 5 s, a D = 128 x 7 one
// in 2 s instead of 7. Models larger than unityTarget are split over up to cpus units of
// about equal size, compiled in parallel. Verilator's generated names are unique per model,
// so the files can share a unit.
func unityJobs(obj string, classes []string, cpus int) ([]compileJob, error) {
	type file struct {
		name string
		size int64
	}
	var files []file
	var total int64
	for _, c := range classes {
		st, err := os.Stat(filepath.Join(obj, c+".cpp"))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrVerilator, err)
		}
		files = append(files, file{c + ".cpp", st.Size()})
		total += st.Size()
	}
	n := int(min(int64(max(cpus, 1)), (total+unityTarget-1)/unityTarget))
	n = max(n, 1)
	// Largest first, each to the lightest unit.
	sort.SliceStable(files, func(i, j int) bool { return files[i].size > files[j].size })
	units := make([][]string, n)
	sizes := make([]int64, n)
	for _, f := range files {
		k := 0
		for i := range sizes {
			if sizes[i] < sizes[k] {
				k = i
			}
		}
		units[k] = append(units[k], f.name)
		sizes[k] += f.size
	}
	var jobs []compileJob
	for k, u := range units {
		sort.Strings(u)
		var b strings.Builder
		b.WriteString("// Generated by ringsim's model build: a unity translation unit.\n")
		for _, name := range u {
			fmt.Fprintf(&b, "#include \"%s\"\n", name)
		}
		src := filepath.Join(obj, fmt.Sprintf("rs_unity_%d.cpp", k))
		if err := os.WriteFile(src, []byte(b.String()), 0o644); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCacheSetup, err)
		}
		jobs = append(jobs, compileJob{src: src, obj: filepath.Join(obj, fmt.Sprintf("rs_unity_%d.o", k))})
	}
	return jobs, nil
}

// harnessObject returns where the compiled harness for this model class header, harness
// source and flags is cached. The key hashes Vnode.h, every harness file and the flags
// (which name the model's shape); the cache root and the build directory are left out, so
// that builds in other directories find it.
func (b *Builder) harnessObject(obj, inc, main string, flags []string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", formatVersion, main)
	for _, f := range flags {
		if strings.HasPrefix(f, "-I"+obj) || strings.HasPrefix(f, "-I"+inc) || strings.HasPrefix(f, inc) {
			continue // build directories
		}
		fmt.Fprintf(h, "%s\x00", f)
	}
	hdr, err := os.ReadFile(filepath.Join(obj, "Vnode.h"))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrVerilator, err)
	}
	h.Write(hdr)
	files, err := harnessFiles()
	if err != nil {
		return "", fmt.Errorf("read harness: %w", err)
	}
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00%d\x00", f.name, len(f.data))
		h.Write(f.data)
	}
	dir := filepath.Join(b.sharedDir(), "harness")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("%w: %v", ErrCacheSetup, err)
	}
	return filepath.Join(dir, hex.EncodeToString(h.Sum(nil))[:24]+".o"), nil
}

// keepHarness moves a freshly compiled harness object into the cache (atomically: a rename
// of a copy), so that the next variant of the shape links it instead of compiling it.
func keepHarness(built, cached string) {
	data, err := os.ReadFile(built)
	if err != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(cached), "harness-*.tmp")
	if err != nil {
		return
	}
	_, werr := tmp.Write(data)
	if cerr := tmp.Close(); werr != nil || cerr != nil {
		os.Remove(tmp.Name())
		return
	}
	if err := os.Rename(tmp.Name(), cached); err != nil {
		os.Remove(tmp.Name())
	}
}

// compileAll compiles jobs in parallel, one compiler per CPU.
func compileAll(ctx context.Context, t Tools, flags []string, jobs []compileJob) error {
	sem := make(chan struct{}, runtime.NumCPU())
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func(i int, j compileJob) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			args := append(append([]string{}, flags...), "-c", j.src, "-o", j.obj)
			cmd := exec.CommandContext(ctx, t.CXX, args...)
			if b, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("%w: %s: %v\n%s", ErrCompile, filepath.Base(j.src), err, tail(string(b), 30))
			}
		}(i, j)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// lockFile takes an exclusive lock on path, waiting until ctx is done.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCacheSetup, err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("%w: lock %s: %v", ErrCacheSetup, path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for model build lock: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// BuildStandalone builds the standalone benchmark loop (csrc/standalone.cpp) over the same
// model as spec, without PIC, into dir, and returns the executable's path. It is not
// cached: benchmarks call it once per run.
func (b *Builder) BuildStandalone(ctx context.Context, spec Spec, dir string) (string, error) {
	if err := spec.Validate(); err != nil {
		return "", err
	}
	t, err := FindTools()
	if err != nil {
		return "", err
	}
	srcs, err := Sources(spec.RTLDir)
	if err != nil {
		return "", err
	}
	if _, err := verilate(ctx, t, spec, srcs, dir); err != nil {
		return "", err
	}
	rt, err := b.runtime(ctx, t, spec.Trace, false, nil)
	if err != nil {
		return "", err
	}
	exe := filepath.Join(dir, "standalone")
	if err := b.compileModel(ctx, t, spec, dir, rt, exe, false, nil); err != nil {
		return "", err
	}
	return exe, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
