package netstack_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestTraceGolden checks that a lossy bidirectional transfer produces the same
// packet trace in every process, on every machine: the hash of all packets
// with their simulated send times is compared with testdata/trace.golden.
// Refresh with `go test -run TestTraceGolden -update` after a deliberate change
// (a new gVisor version changes it).
func TestTraceGolden(t *testing.T) {
	im := impairment{Loss: 0.02, Dup: 0.02, Reorder: 0.05, Jitter: 50_000, Corrupt: 0.01}
	res := transfer(t, pairConfig{Seeds: [2]uint64{1, 2}, WireSeed: 7, Im: im, Addrs: derivedAddrs}, false, 128<<10)
	got := fmt.Sprintf("packets %d\nsimulated %d ns\nsha256 %x\n", res.packets, int64(res.simTime), res.trace)
	path := filepath.Join("testdata", "trace.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (create it with -update): %v", err)
	}
	if got != string(want) {
		t.Errorf("trace differs from %s:\ngot:\n%swant:\n%s", path, got, strings.TrimSpace(string(want))+"\n")
	}
}
