package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ringsim/ringsim/bridge/pcap"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// golden compares got with testdata/golden/name, or rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (create it with -update): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs from the golden file (-want +got):\n%s", path, diff)
	}
}

// TestGoldenDefaultJob runs the main job on the ideal link (the default before the real
// link) with its other defaults and seed 7 and compares its
// pcaps (by SHA-256, as ../shared/baselines does) and its JSON report without the
// wall-clock fields with the golden files: the regression oracle for every refactoring.
// A change meant to alter them regenerates them (go test -run TestGoldenDefaultJob
// -update ./cmd/ringsim) in the same commit and says why.
func TestGoldenDefaultJob(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--link", "ideal", "--seed", "7", "--progress", "none",
		"--json", filepath.Join(dir, "run.json"), "--pcap", filepath.Join(dir, "pcap")}
	if code := runMain(context.Background(), args); code != 0 {
		t.Fatalf("ringsim run %s: exit %d, want 0", strings.Join(args, " "), code)
	}
	rep := stableReport(t, filepath.Join(dir, "run.json"))
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "run-seed7.json", append(b, '\n'))
	pcaps := readDir(t, filepath.Join(dir, "pcap"))
	var names []string
	for n := range pcaps {
		names = append(names, n)
	}
	sort.Strings(names)
	var sums strings.Builder
	for _, n := range names {
		fmt.Fprintf(&sums, "%x  ./%s\n", sha256.Sum256(pcaps[n]), n)
	}
	golden(t, "run-seed7-pcaps.sha256", []byte(sums.String()))

	// The packets themselves against the project's regression baseline
	// (../shared/baselines/seed7-default-pcaps.sha256, taken before the captures became
	// pcapng): every packet and timestamp rewritten as the classic pcap of then must give
	// the same bytes. This file is a copy of that baseline.
	var classic strings.Builder
	for _, n := range names {
		pkts, err := pcap.ReadNg(bytes.NewReader(pcaps[n]))
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		var buf bytes.Buffer
		w, err := pcap.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkts {
			if err := w.WritePacket(p.TsNanos, p.Data); err != nil {
				t.Fatal(err)
			}
		}
		fmt.Fprintf(&classic, "%x  ./%s\n", sha256.Sum256(buf.Bytes()), strings.TrimSuffix(n, "ng"))
	}
	golden(t, "run-seed7-pcaps-as-classic.sha256", []byte(classic.String()))
}
