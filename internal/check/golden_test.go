package check

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// golden compares got with testdata/golden/name, or rewrites the file with -update. The
// golden files are the regression oracle for refactoring: a change meant to alter them
// regenerates them in the same commit and says why.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (create it with -update): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs from the golden file (-want +got):\n%s", path, diff)
	}
}

// verdicts lists every case of a report, one per line: ID, status and first failing cycle.
func verdicts(rep *Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "status %s\n", rep.Status)
	for _, c := range rep.Checks {
		fmt.Fprintf(&b, "check %s %s\n", c.Name, c.Status)
		for _, cs := range c.Cases {
			cycle := "-"
			if cs.Cycle != nil {
				cycle = fmt.Sprint(*cs.Cycle)
			}
			fmt.Fprintf(&b, "  %s %s %s\n", cs.ID, cs.Status, cycle)
		}
	}
	return b.String()
}

// TestGoldenPlans keeps the cases of the quick and full profiles: a change to them is a
// change to what the gate checks and must be deliberate.
func TestGoldenPlans(t *testing.T) {
	for _, p := range []Profile{Quick(), Full()} {
		ids, err := Plan(Options{Profile: p})
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "plan-"+p.Name+".txt", strings.Join(ids, "\n")+"\n")
	}
}
