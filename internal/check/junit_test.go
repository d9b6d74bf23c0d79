package check

import (
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// junitSchema is the strict JUnit schema CI servers validate against (see its header).
const junitSchema = "testdata/junit.xsd"

// validateJUnit checks a JUnit file against junitSchema with xmllint (Debian's
// libxml2-utils, which scripts/setup.sh installs).
func validateJUnit(t *testing.T, path string) {
	t.Helper()
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Skip("xmllint is not on PATH: install libxml2-utils (scripts/setup.sh does)")
	}
	out, err := exec.Command(xmllint, "--noout", "--schema", junitSchema, path).CombinedOutput()
	if err != nil {
		b, _ := os.ReadFile(path)
		t.Fatalf("%s does not validate against %s: %v\n%s\n%s", path, junitSchema, err, out, b)
	}
}

// TestJUnitValidates writes the JUnit XML of a report with every status (and text that
// needs escaping, a multi-line reason, a control character) and of a real failing run, and
// validates both against the strict schema: hostname and timestamp on every suite, output
// at suite level only.
func TestJUnitValidates(t *testing.T) {
	cycle := uint64(7)
	rep := &Report{Tool: "ringsim check", Format: reportFormat, Profile: "quick", RTL: "/x/<rtl> & \"co\"",
		RTLHash: "abc", Started: time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC), Hostname: "ci-7", Seconds: 2.25,
		Checks: []CheckResult{
			{Name: Lint, Planned: 1, Cases: []CaseResult{{ID: "lint/d16x1", Status: Pass, Seconds: 0.25}}},
			{Name: Conformance, Planned: 3, Cases: []CaseResult{
				{ID: "conformance/d16-enables", Status: Fail, Seed: 16, Cycle: &cycle, Seconds: 0.5,
					Reason: "read of node 0 port 0 TX enable (address 0x180, offset 0x80): RTL 0xffffffff, SPEC 0x00000001 <&>",
					Repro:  "ringsim check --quick --only conformance/d16-enables", Details: map[string]any{"test": "enables \x1b"}},
				{ID: "conformance/d16-collisions", Status: Error, Reason: "the model did not build: %Error: x.sv:1:1: syntax\n%Error: x.sv:2:1: more"},
				{ID: "conformance/d16-ring-buffer", Status: Skip, Reason: "not run: --fail-fast stopped the gate after conformance/d16-enables"},
			}},
		}}
	for i := range rep.Checks {
		rep.Checks[i].summarize()
	}
	rep.finish()
	path := filepath.Join(t.TempDir(), "junit.xml")
	if err := rep.WriteJUnit(path); err != nil {
		t.Fatal(err)
	}
	validateJUnit(t, path)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got junitSuites
	if err := xml.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	s := got.Suites[1]
	if s.Hostname != "ci-7" || s.Timestamp != "2026-11-26T14:00:00" || s.Tests != 3 || s.Failures != 1 || s.Errors != 1 || s.Skipped != 1 {
		t.Errorf("suite %+v: want hostname ci-7, timestamp 2026-11-26T14:00:00, 3 tests, 1 failure, 1 error, 1 skipped", s)
	}
	for _, want := range []string{"FAIL conformance/d16-enables", "first failing cycle: 7", "%Error: x.sv:2:1: more"} {
		if !strings.Contains(s.SystemOut, want) {
			t.Errorf("suite system-out lacks %q:\n%s", want, s.SystemOut)
		}
	}
	if e := s.Cases[1].Error; e == nil || e.Message != "the model did not build: %Error: x.sv:1:1: syntax" ||
		!strings.Contains(e.Text, "%Error: x.sv:2:1: more") {
		t.Errorf("error element %+v: want the headline as message and the compiler's lines in the text", e)
	}

	// A real run, failing.
	out := t.TempDir()
	p := small()
	p.Lint = p.Lint[:1]
	real := run(t, Options{Profile: p, RTLDir: variantDir(t, "lint-unused"), Only: []string{Lint}, OutDir: out})
	path = filepath.Join(out, "junit.xml")
	if err := real.WriteJUnit(path); err != nil {
		t.Fatal(err)
	}
	validateJUnit(t, path)
}
