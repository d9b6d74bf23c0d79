package conformance

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ringsim/ringsim/rtl"
	"github.com/ringsim/ringsim/sim"
)

// TestDirected runs every directed test on ringsim's RTL at a power-of-two depth, a depth
// that is not one and the smallest depth the tests support, with one port, and with two
// ports (the tests then exercise port 1, and "ports" runs) at shapes other tests build.
func TestDirected(t *testing.T) {
	for _, g := range []struct{ depth, ports int }{{MinDirectedDepth, 1}, {13, 1}, {16, 1}, {13, 2}, {16, 2}} {
		for _, d := range DirectedTests() {
			if !d.Supports(g.ports) {
				continue
			}
			t.Run(fmt.Sprintf("%s/D%dx%d", d.Name, g.depth, g.ports), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
				defer cancel()
				if err := d.Run(ctx, DirectedConfig{Depth: g.depth, Ports: g.ports, Seed: uint64(g.depth)}); err != nil {
					t.Fatalf("got %v, want nil", err)
				}
			})
		}
	}
}

// TestDirectedErrors checks the errors that are not the RTL's fault.
func TestDirectedErrors(t *testing.T) {
	d, ok := LookupDirected("bus-timing")
	if !ok {
		t.Fatal("bus-timing not found")
	}
	if err := d.Run(context.Background(), DirectedConfig{Depth: 2}); !errors.Is(err, ErrBadDirected) {
		t.Errorf("depth 2: got %v, want ErrBadDirected", err)
	}
	ports, ok := LookupDirected("ports")
	if !ok {
		t.Fatal("ports not found")
	}
	if err := ports.Run(context.Background(), DirectedConfig{Depth: 16, Ports: 1}); !errors.Is(err, ErrBadDirected) {
		t.Errorf("ports with one port: got %v, want ErrBadDirected", err)
	}
	if _, ok := LookupDirected("no-such-test"); ok {
		t.Error("LookupDirected found a test that does not exist")
	}
}

// overlayRTL writes ringsim's RTL into a temporary directory with the files of a
// testdata/broken variant over it.
func overlayRTL(t *testing.T, variant string) string {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(rtl.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(rtl.FS, path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, path), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join("..", "..", "testdata", "broken", variant)
	files, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(src, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestDirectedStops checks that a stop of the simulation is a SPEC violation at the cycle
// the RTL first broke the SPEC, typed all the way: the bus of testdata/broken/bus-no-answer
// never answers a read of WINDOW_LOG2, which bus-timing presents in cycle 23 (release 4,
// then 15 accesses, four of them data reads that take two cycles) and the SPEC answers in
// the same cycle.
func TestDirectedStops(t *testing.T) {
	d, ok := LookupDirected("bus-timing")
	if !ok {
		t.Fatal("bus-timing not found")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	err := d.Run(ctx, DirectedConfig{Depth: 16, Seed: 16, RTLDir: overlayRTL(t, "bus-no-answer")})
	var div *Divergence
	var st *sim.StopError
	if !errors.Is(err, ErrSpec) || !errors.As(err, &div) || !errors.As(err, &st) || !errors.Is(err, sim.ErrStopped) {
		t.Fatalf("got %v, want ErrSpec wrapping a *Divergence and a *sim.StopError", err)
	}
	const presented = 23
	if st.Kind != sim.StopBusTimeout || st.Presented != presented || st.Deadline != presented || div.Cycle != presented {
		t.Errorf("stop %+v at divergence cycle %d; want a bus timeout of an access presented in cycle %d, diverging then",
			*st, div.Cycle, presented)
	}
	if c, ok := StoppedAt(err); !ok || c != presented {
		t.Errorf("StoppedAt = %d, %v; want %d, true", c, ok, presented)
	}
	want := fmt.Sprintf("bus-timing: node 0 node block WINDOW_LOG2 (0x14): bus timeout: read presented in cycle %d "+
		"got neither ACK nor ERR by cycle %d; the SPEC answers it in the cycle it is presented", presented, presented+sim.BusSlack)
	if err.Error() != want {
		t.Errorf("error:\n got %q\nwant %q", err.Error(), want)
	}
}
