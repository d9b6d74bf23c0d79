package check

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// WriteJSON writes the report as indented JSON to path.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := writeOut(path, append(b, '\n')); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// writeOut writes a report file, creating its directory.
func writeOut(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// ReadJSON reads a report written by WriteJSON.
func ReadJSON(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMerge, path, err)
	}
	if r.Tool != "ringsim check" || r.Format != reportFormat {
		return nil, fmt.Errorf("%w: %s is not a ringsim check report of format %d", ErrMerge, path, reportFormat)
	}
	return &r, nil
}

// JUnit XML, as CI systems read it (Jenkins, GitLab, GitHub test reporters), in the shape
// the strict schemas allow (testdata/junit.xsd accepts what both Jenkins' "JUnit 10"
// schema and Ant's accept): testsuites > testsuite (name, tests, failures, errors, skipped,
// time, timestamp, hostname) > properties, testcase*, system-out; a test case holds at
// most one failure, error or skipped element and no output of its own. One test suite per
// check, one test case per case.
type (
	junitSuites struct {
		XMLName  xml.Name     `xml:"testsuites"`
		Name     string       `xml:"name,attr"`
		Tests    int          `xml:"tests,attr"`
		Failures int          `xml:"failures,attr"`
		Errors   int          `xml:"errors,attr"`
		Time     string       `xml:"time,attr"`
		Suites   []junitSuite `xml:"testsuite"`
	}
	junitSuite struct {
		Name       string          `xml:"name,attr"`
		Tests      int             `xml:"tests,attr"`
		Failures   int             `xml:"failures,attr"`
		Errors     int             `xml:"errors,attr"`
		Skipped    int             `xml:"skipped,attr"`
		Time       string          `xml:"time,attr"`
		Timestamp  string          `xml:"timestamp,attr"`
		Hostname   string          `xml:"hostname,attr"`
		Properties []junitProperty `xml:"properties>property"`
		Cases      []junitCase     `xml:"testcase"`
		SystemOut  string          `xml:"system-out"`
	}
	junitProperty struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	}
	junitCase struct {
		Name      string    `xml:"name,attr"`
		Classname string    `xml:"classname,attr"`
		Time      string    `xml:"time,attr"`
		Failure   *junitMsg `xml:"failure,omitempty"`
		Error     *junitMsg `xml:"error,omitempty"`
		Skipped   *junitMsg `xml:"skipped,omitempty"`
	}
	junitMsg struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",chardata"`
	}
)

// junitTimestamp is the suite timestamp: ISO 8601 in UTC without a zone designator, the
// form Ant's schema requires and every reader accepts.
const junitTimestamp = "2006-01-02T15:04:05"

func secs(s float64) string { return fmt.Sprintf("%.3f", s) }

// WriteJUnit writes the report as JUnit XML to path.
func (r *Report) WriteJUnit(path string) error {
	top := junitSuites{Name: "ringsim check", Time: secs(r.Seconds)}
	host := r.Hostname
	if host == "" {
		host = "localhost"
	}
	for _, c := range r.Checks {
		s := junitSuite{Name: c.Name, Time: secs(c.Seconds), Timestamp: r.Started.UTC().Format(junitTimestamp),
			Hostname: host, Properties: []junitProperty{{"profile", r.Profile}, {"rtl", r.RTL}, {"rtl_hash", r.RTLHash},
				{"parameters", c.Parameters}, {"status", string(c.Status)}, {"reason", c.Reason}}}
		if r.Shard.Count > 0 {
			s.Properties = append(s.Properties, junitProperty{"shard", r.Shard.String()})
		}
		var out strings.Builder
		fmt.Fprintf(&out, "%s: %s\n", c.Name, c.Reason)
		for _, cs := range c.Cases {
			jc := junitCase{Name: strings.TrimPrefix(cs.ID, c.Name+"/"), Classname: "ringsim.check." + c.Name,
				Time: secs(cs.Seconds)}
			msg := &junitMsg{Message: firstLine(cs.Reason), Type: string(cs.Status), Text: caseText(cs)}
			if cs.Status != Pass {
				fmt.Fprintf(&out, "\n%s %s: %s\n%s", strings.ToUpper(string(cs.Status)), cs.ID, firstLine(cs.Reason), caseText(cs))
			}
			switch cs.Status {
			case Fail:
				jc.Failure = msg
				s.Failures++
			case Error:
				jc.Error = msg
				s.Errors++
			case Skip:
				jc.Skipped = msg
				s.Skipped++
			}
			s.Tests++
			s.Cases = append(s.Cases, jc)
		}
		s.SystemOut = out.String()
		top.Tests, top.Failures, top.Errors = top.Tests+s.Tests, top.Failures+s.Failures, top.Errors+s.Errors
		top.Suites = append(top.Suites, s)
	}
	b, err := xml.MarshalIndent(top, "", "  ")
	if err != nil {
		return fmt.Errorf("encode junit: %w", err)
	}
	if err := writeOut(path, append([]byte(xml.Header), append(b, '\n')...)); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	return nil
}

// caseText is a case's seed, first failing cycle, evidence, reproduce command and
// details, as text.
func caseText(cs CaseResult) string {
	var b strings.Builder
	if rest, ok := strings.CutPrefix(cs.Reason, firstLine(cs.Reason)+"\n"); ok {
		fmt.Fprintf(&b, "%s\n", rest)
	}
	if cs.Seed != 0 {
		fmt.Fprintf(&b, "seed: %d\n", cs.Seed)
	}
	if cs.Cycle != nil {
		fmt.Fprintf(&b, "first failing cycle: %d\n", *cs.Cycle)
	}
	if ev := cs.Evidence; ev != nil {
		fmt.Fprintf(&b, "evidence: %s (%s)\n", ev.Dir, strings.Join(ev.Files, ", "))
		if ev.WaveformFrom != nil {
			fmt.Fprintf(&b, "waveform from cycle: %d\n", *ev.WaveformFrom)
		}
		if ev.Note != "" {
			fmt.Fprintf(&b, "note: %s\n", ev.Note)
		}
	}
	if cs.Repro != "" {
		fmt.Fprintf(&b, "reproduce: %s\n", cs.Repro)
	}
	if len(cs.Details) > 0 {
		d, _ := json.Marshal(cs.Details)
		fmt.Fprintf(&b, "details: %s\n", d)
	}
	return b.String()
}

// maxListed is how many failing cases per check the summary lists.
const maxListed = 3

// Summary writes the human summary: one line per check, the failing cases with their
// first failing cycle, evidence and reproduce command, and the verdict.
func (r *Report) Summary(w io.Writer) {
	shard := ""
	if r.Shard.Count > 0 {
		shard = ", shard " + r.Shard.String()
	}
	if len(r.Merged) > 0 {
		var s []string
		for _, m := range r.Merged {
			s = append(s, m.String())
		}
		shard = ", merged from shards " + strings.Join(s, " ")
	}
	fmt.Fprintf(w, "ringsim check: profile %s, RTL %s (sha256 %.12s)%s\n", r.Profile, r.RTL, r.RTLHash, shard)
	for _, c := range r.Checks {
		n := map[Status]int{}
		for _, cs := range c.Cases {
			n[cs.Status]++
		}
		fmt.Fprintf(w, "%-5s %-12s %7.1fs  %d/%d cases passed", strings.ToUpper(string(c.Status)), c.Name, c.Seconds,
			n[Pass], len(c.Cases))
		if len(c.Cases) < c.Planned {
			fmt.Fprintf(w, " (%d planned in all shards)", c.Planned)
		}
		fmt.Fprintln(w)
		fmt.Fprintf(w, "      runs: %s\n", c.Parameters)
		// Cases that did not run say why once per reason; the others that failed or could
		// not run are listed (the first few), each with its cause, cycle and evidence.
		var listable int
		notRunCount := map[string]int{}
		var notRunOrder []string
		for _, cs := range c.Cases {
			switch {
			case strings.HasPrefix(cs.Reason, notRun):
				if notRunCount[cs.Reason] == 0 {
					notRunOrder = append(notRunOrder, cs.Reason)
				}
				notRunCount[cs.Reason]++
			case cs.Status == Fail || cs.Status == Error:
				listable++
			}
		}
		listed := 0
		for _, cs := range c.Cases {
			if cs.Status != Fail && cs.Status != Error || strings.HasPrefix(cs.Reason, notRun) {
				continue
			}
			if listed++; listed > maxListed {
				fmt.Fprintf(w, "      ... and %d more (see the JSON or JUnit report)\n", listable-maxListed)
				break
			}
			fmt.Fprintf(w, "      %s %s: %s\n", strings.ToUpper(string(cs.Status)), cs.ID, firstLine(cs.Reason))
			if rest, ok := strings.CutPrefix(cs.Reason, firstLine(cs.Reason)+"\n"); ok {
				for _, l := range strings.Split(rest, "\n") {
					fmt.Fprintf(w, "          %s\n", l)
				}
			}
			if cs.Cycle != nil {
				fmt.Fprintf(w, "        first failing cycle %d, seed %d\n", *cs.Cycle, cs.Seed)
			}
			if ev := cs.Evidence; ev != nil {
				fmt.Fprintf(w, "        evidence: %s: %s\n", ev.Dir, strings.Join(ev.Files, " "))
			}
			if cs.Repro != "" {
				fmt.Fprintf(w, "        reproduce: %s\n", cs.Repro)
			}
		}
		for _, reason := range notRunOrder {
			k := notRunCount[reason]
			fmt.Fprintf(w, "      %d case%s %s\n", k, map[bool]string{true: "", false: "s"}[k == 1], reason)
		}
	}
	var failed, errored int
	for _, c := range r.Checks {
		switch c.Status {
		case Fail:
			failed++
		case Error:
			errored++
		}
	}
	took := time.Duration(r.Seconds * float64(time.Second)).Round(100 * time.Millisecond)
	switch r.Status {
	case Pass, Skip:
		fmt.Fprintf(w, "PASS: all %d checks passed in %v\n", len(r.Checks), took)
	case Fail:
		fmt.Fprintf(w, "FAIL: %d of %d checks failed in %v\n", failed, len(r.Checks), took)
	default:
		fmt.Fprintf(w, "ERROR: the gate could not run everything (%d check(s) without a verdict, %d failed) in %v: %s\n",
			errored, failed, took, r.Message)
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Merge combines the reports of the shards of one sharded run into one report. The
// reports must come from the same profile, RTL and --only list, with distinct shard
// indices of the same count. Missing shards make the merged report's status Error (no
// verdict), with a message naming them.
func Merge(reports []*Report) (*Report, error) {
	if len(reports) == 0 {
		return nil, fmt.Errorf("%w: no reports", ErrMerge)
	}
	first := reports[0]
	out := &Report{Tool: first.Tool, Format: first.Format, Profile: first.Profile, RTL: first.RTL,
		RTLHash: first.RTLHash, Only: first.Only, Started: first.Started}
	count := first.Shard.Count
	seen := map[int]bool{}
	var hosts []string
	checks := map[string]*CheckResult{}
	for i, r := range reports {
		switch {
		case r.Profile != first.Profile || r.RTLHash != first.RTLHash:
			return nil, fmt.Errorf("%w: report %d is profile %s of RTL %.12s, report 1 profile %s of RTL %.12s",
				ErrMerge, i+1, r.Profile, r.RTLHash, first.Profile, first.RTLHash)
		case strings.Join(r.Only, ",") != strings.Join(first.Only, ","):
			return nil, fmt.Errorf("%w: report %d ran --only %v, report 1 --only %v", ErrMerge, i+1, r.Only, first.Only)
		case r.Shard.Count != count || (count == 0 && len(reports) > 1):
			return nil, fmt.Errorf("%w: report %d is shard %q, report 1 shard %q", ErrMerge, i+1, r.Shard, first.Shard)
		case seen[r.Shard.Index]:
			return nil, fmt.Errorf("%w: shard %s given twice", ErrMerge, r.Shard)
		}
		seen[r.Shard.Index] = true
		out.Merged = append(out.Merged, r.Shard)
		if r.Hostname != "" && !slices.Contains(hosts, r.Hostname) {
			hosts = append(hosts, r.Hostname)
		}
		out.Seconds += r.Seconds
		if r.Started.Before(out.Started) {
			out.Started = r.Started
		}
		for _, c := range r.Checks {
			m, ok := checks[c.Name]
			if !ok {
				m = &CheckResult{Name: c.Name, Parameters: c.Parameters, Planned: c.Planned}
				checks[c.Name] = m
			}
			m.Seconds += c.Seconds
			m.Cases = append(m.Cases, c.Cases...)
		}
	}
	sort.Slice(out.Merged, func(i, j int) bool { return out.Merged[i].Index < out.Merged[j].Index })
	sort.Strings(hosts)
	out.Hostname = strings.Join(hosts, " ")
	for _, name := range Names() {
		if m, ok := checks[name]; ok {
			sort.Slice(m.Cases, func(i, j int) bool { return m.Cases[i].Index < m.Cases[j].Index })
			m.summarize()
			out.Checks = append(out.Checks, *m)
		}
	}
	out.finish()
	var missing []string
	for i := 1; i <= count; i++ {
		if !seen[i] {
			missing = append(missing, fmt.Sprintf("%d/%d", i, count))
		}
	}
	if len(missing) > 0 {
		out.Status = Error
		out.Message = "missing shard(s) " + strings.Join(missing, ", ") + ": no verdict on their cases"
	}
	return out, nil
}
