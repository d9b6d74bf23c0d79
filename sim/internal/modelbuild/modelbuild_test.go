package modelbuild

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ringsim/ringsim/rtl"
)

func TestSpecValidate(t *testing.T) {
	tests := []struct {
		spec Spec
		ok   bool
	}{
		{Spec{Depth: 2, Ports: 1}, true},
		{Spec{Depth: 1 << 20, Ports: 64}, true},
		{Spec{Depth: 1, Ports: 1}, false},
		{Spec{Depth: 1<<20 + 1, Ports: 1}, false},
		{Spec{Depth: 16, Ports: 0}, false},
		{Spec{Depth: 16, Ports: 65}, false},
	}
	for _, tt := range tests {
		err := tt.spec.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("%+v: Validate() = %v, want ok %v", tt.spec, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrBadSpec) {
			t.Errorf("%+v: error %v does not wrap ErrBadSpec", tt.spec, err)
		}
	}
}

func TestSources(t *testing.T) {
	if _, err := Sources(t.TempDir()); !errors.Is(err, ErrNoSources) {
		t.Errorf("empty dir: got %v, want ErrNoSources", err)
	}
	f := filepath.Join(t.TempDir(), "x.sv")
	os.WriteFile(f, []byte("module x; endmodule\n"), 0o644)
	if _, err := Sources(f); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("a file: got %v, want a not-a-directory error", err)
	}
	if _, err := Sources("/nonexistent/rtl"); err == nil {
		t.Errorf("missing dir: got nil error")
	}
	srcs, err := Sources("")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range srcs {
		names = append(names, s.name)
	}
	if got := strings.Join(names, " "); got != "node_regs.sv ringsim.vlt ringsim_assert.svh ringsim_node.sv ringsim_regs_pkg.sv rx_ring_buffer.sv tx_ring_buffer.sv" {
		t.Errorf("embedded sources: got %q", got)
	}
}

// TestMissingTools checks the message a machine without Verilator gets.
func TestMissingTools(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := findTools()
	if !errors.Is(err, ErrNoTool) || !strings.Contains(err.Error(), "apt-get install -y verilator") {
		t.Errorf("got %v, want ErrNoTool naming the install command", err)
	}
}

// copyRTL copies ringsim's RTL into a new directory and returns it.
func copyRTL(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	entries, _ := rtl.FS.ReadDir(".")
	for _, e := range entries {
		b, _ := rtl.FS.ReadFile(e.Name())
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestBuildCache builds a user RTL directory twice (the second time from the cache), then
// after an edit (a new key), and checks that broken RTL fails with Verilator's message.
func TestBuildCache(t *testing.T) {
	ctx := context.Background()
	var events []Event
	// A fresh model cache; Verilator's runtime and the harness come from the shared one.
	b := &Builder{CacheDir: t.TempDir(), SharedDir: DefaultCacheDir(), OnEvent: func(ev Event) { events = append(events, ev) }}
	dir := copyRTL(t)
	spec := Spec{RTLDir: dir, Depth: 4, Ports: 1}
	m1, err := b.Build(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	// Every event names the shape and why it is built. The runtime is compiled (a stage
	// after verilating) only if the shared cache did not have it yet.
	var stages []string
	for i, ev := range events {
		if ev.Stage == StageRuntime {
			if i != 2 {
				t.Errorf("runtime stage at event %d, want it right after verilating", i)
			}
			continue
		}
		stages = append(stages, string(ev.Stage))
		if ev.Spec != spec || ev.Reason != "first build of this shape" {
			t.Errorf("event %+v: want spec %+v and reason %q", ev, spec, "first build of this shape")
		}
	}
	want := []string{"start", "verilating", "compiling", "linking", "done"}
	if diff := cmp.Diff(want, stages); diff != "" {
		t.Errorf("build stages (-want +got):\n%s", diff)
	}
	if last := events[len(events)-1]; last.Err != nil || last.Elapsed <= 0 {
		t.Errorf("done event: err %v, elapsed %v; want no error and the build's time", last.Err, last.Elapsed)
	}
	events = nil
	if m1.Cached {
		t.Errorf("first build reported as cached")
	}
	if _, err := os.Stat(m1.Path); err != nil {
		t.Fatalf("model not in the cache: %v", err)
	}
	m2, err := b.Build(ctx, spec)
	if err != nil || !m2.Cached || m2.Key != m1.Key {
		t.Errorf("second build: cached %v key %s err %v; want a cache hit with key %s", m2.Cached, m2.Key, err, m1.Key)
	}
	if len(events) != 0 {
		t.Errorf("a cache hit reported build events: %+v", events)
	}
	f := filepath.Join(dir, "node_regs.sv")
	src, _ := os.ReadFile(f)
	os.WriteFile(f, append(src, []byte("\n// an edit\n")...), 0o644)
	m3, err := b.Build(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if m3.Key == m1.Key || m3.RTLHash == m1.RTLHash || m3.Cached {
		t.Errorf("edited RTL: key %s (was %s), cached %v; want a new build", m3.Key, m1.Key, m3.Cached)
	}
	if len(events) == 0 || events[0].Reason != "the RTL changed since the cached build of this shape" {
		t.Errorf("edited RTL: events %+v; want the reason that the RTL changed", events)
	}
	events = nil
	os.WriteFile(f, []byte("module node_regs(; endmodule\n"), 0o644)
	_, err = b.Build(ctx, spec)
	if !errors.Is(err, ErrVerilator) || !strings.Contains(err.Error(), "node_regs.sv") {
		t.Errorf("broken RTL: got %v, want ErrVerilator naming node_regs.sv", err)
	}
	if len(events) == 0 || events[len(events)-1].Stage != StageDone || !errors.Is(events[len(events)-1].Err, ErrVerilator) {
		t.Errorf("broken RTL: events %+v; want a done event carrying the error", events)
	}
}
