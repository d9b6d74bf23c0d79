package mutate

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ringsim/ringsim/internal/check"
)

// ours reads ringsim's RTL.
func ours(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := ReadRTL("")
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestOperators is a table of lines and the mutants each operator makes of them.
func TestOperators(t *testing.T) {
	tests := []struct {
		op, line string
		want     []string
	}{
		{"cmp-off-by-one", "is_data = wb_adr_i < DATA_END;", []string{"is_data = wb_adr_i <= DATA_END;"}},
		{"cmp-off-by-one", "x = (Depth > 1) ? a : b;", []string{"x = (Depth >= 1) ? a : b;"}},
		{"cmp-off-by-one", "count_q <= count_d;", nil},
		{"const-off-by-one", "LAST = AddrW'(Depth - 1);", []string{"LAST = AddrW'(Depth - 2);", "LAST = AddrW'(Depth);"}},
		{"swap-slice", "wb_dat_o = rd_half_q ? q[63:32] : q[31:0];",
			[]string{"wb_dat_o = rd_half_q ? q[31:0] : q[31:0];", "wb_dat_o = rd_half_q ? q[63:32] : q[63:32];"}},
		{"swap-slice", "logic [63:0] mem [Depth];", nil},
		{"swap-slice", "mem[w][32 + 8*k +: 8] <= d[8*k +: 8];",
			[]string{"mem[w][8*k +: 8] <= d[8*k +: 8];", "mem[w][32 + 8*k +: 8] <= d[8*(3-k) +: 8];"}},
		{"swap-slice", "rd_half_d = wb_adr_i[2];", []string{"rd_half_d = wb_adr_i[3];"}},
		{"invert-condition", "if (wb_we_i && wb_sel_i[0]) en_d = x;",
			[]string{"if (!wb_we_i && wb_sel_i[0]) en_d = x;", "if (wb_we_i && !wb_sel_i[0]) en_d = x;"}},
		{"invert-condition", "if (!rst_ni) begin", []string{"if (rst_ni) begin"}},
		{"invert-condition", "end else if (c && v < 32'(Depth)) begin", []string{"end else if (!c && v < 32'(Depth)) begin"}},
		{"invert-condition", "assign f = sent_q ? d : '0;", []string{"assign f = !sent_q ? d : '0;"}},
		{"invert-condition", "data_rd = ~wb_we_i & ~p_q;", []string{"data_rd = wb_we_i & ~p_q;", "data_rd = ~wb_we_i & p_q;"}},
		{"reset-value", "count_q <= '0;", []string{"count_q <= '1;"}},
		{"reset-value", "en_q <= 1'b0;", []string{"en_q <= 1'b1;"}},
		{"drop-ack-err", "assign wb_ack_o = req & hit & ~wb_we_i;", []string{"assign wb_ack_o = hit & ~wb_we_i;",
			"assign wb_ack_o = req & ~wb_we_i;", "assign wb_ack_o = req & hit;", "assign wb_ack_o = 1'b0;"}},
		{"drop-ack-err", "wb_err_o = (|dev_err) | ~(|dev_stb);",
			[]string{"wb_err_o = ~(|dev_stb);", "wb_err_o = (|dev_err);", "wb_err_o = 1'b0;"}},
		{"drop-ack-err", "wb_ack_o = 1'b0;", nil},
		{"counter-wrap", "count_d = (count_q == LAST) ? '0 : count_q + 1'b1;", []string{
			"count_d = (count_q == LAST - 1'b1) ? '0 : count_q + 1'b1;",
			"count_d = (count_q == LAST) ? count_q : count_q + 1'b1;",
			"count_d = (count_q == LAST) ? '0 : count_q + 2'd2;"}},
	}
	ops := map[string]Operator{}
	for _, op := range Operators() {
		ops[op.Name] = op
	}
	for _, tt := range tests {
		t.Run(tt.op+"/"+tt.line, func(t *testing.T) {
			var got []string
			for _, e := range ops[tt.op].sites(tt.line, isDecl(tt.line)) {
				got = append(got, tt.line[:e.start]+e.repl+tt.line[e.end:])
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestGenerate checks the mutants of ringsim's RTL: stable unique IDs, every operator used,
// each mutant one changed line of a module, none in comments, assertions or packages.
func TestGenerate(t *testing.T) {
	files := ours(t)
	ms := Generate(files)
	if diff := cmp.Diff(ms, Generate(files)); diff != "" {
		t.Fatalf("Generate is not deterministic:\n%s", diff)
	}
	seen := map[string]bool{}
	byOp := map[string]int{}
	for _, m := range ms {
		if seen[m.ID] {
			t.Errorf("ID %s twice", m.ID)
		}
		seen[m.ID] = true
		byOp[m.Operator]++
		if strings.HasSuffix(m.File, "_pkg.sv") || !strings.HasSuffix(m.File, ".sv") {
			t.Errorf("%s mutates %s", m.ID, m.File)
		}
		mut, err := m.Apply(files)
		if err != nil {
			t.Fatal(err)
		}
		a, b := strings.Split(string(files[m.File]), "\n"), strings.Split(string(mut[m.File]), "\n")
		changed := 0
		for i := range a {
			if a[i] != b[i] {
				changed++
				if strings.HasPrefix(strings.TrimSpace(a[i]), "//") || strings.Contains(a[i], "$past") || strings.Contains(a[i], "RS_ASSERT") {
					t.Errorf("%s mutates a comment or an assertion: %s", m.ID, a[i])
				}
			}
		}
		if changed != 1 || len(a) != len(b) {
			t.Errorf("%s changes %d lines", m.ID, changed)
		}
	}
	for _, op := range Operators() {
		if byOp[op.Name] == 0 {
			t.Errorf("operator %s makes no mutant of ringsim's RTL", op.Name)
		}
	}
	t.Logf("%d mutants: %v", len(ms), byOp)
	if _, err := (Mutant{ID: "x", File: "node_regs.sv", Line: 1, Before: "nope"}).Apply(files); err == nil {
		t.Error("Apply of a stale mutant succeeded")
	}
}

// TestListsTrackRTL keeps the allowlist and the CI sample honest: every entry names a
// mutant of rtl/ as it is, every allowlist entry is argued, the sample covers every
// operator and every RTL file and holds no equivalent mutant. When rtl/ changes, this fails
// until the lists are reviewed again.
func TestListsTrackRTL(t *testing.T) {
	ms := Generate(ours(t))
	allow, sample := RingsimAllowlist(), RingsimCISample()
	if _, err := allow.Match(ms); err != nil {
		t.Errorf("allowlist: %v", err)
	}
	got, err := sample.Match(ms)
	if err != nil {
		t.Errorf("CI sample: %v", err)
	}
	ops, files := map[string]bool{}, map[string]bool{}
	for _, m := range got {
		ops[m.Operator], files[m.File] = true, true
		if _, eq := allow[m.ID]; eq {
			t.Errorf("the CI sample has %s, which the allowlist says no test can kill", m.ID)
		}
	}
	for _, op := range Operators() {
		if !ops[op.Name] {
			t.Errorf("the CI sample has no %s mutant", op.Name)
		}
	}
	for _, m := range ms {
		if !files[m.File] {
			t.Errorf("the CI sample has no mutant of %s", m.File)
			files[m.File] = true
		}
	}
}

// TestParseList checks the list format and its errors.
func TestParseList(t *testing.T) {
	good := "# c\n[a.sv:x:1]\nafter = y <= 1;\nwhy = one\nwhy = two\n\n[b.sv:x:2]\nafter = z;\nwhy = w\n"
	l, err := ParseList("l", good, true)
	if err != nil {
		t.Fatal(err)
	}
	if l["a.sv:x:1"].Why != "one two" || l["a.sv:x:1"].After != "y <= 1;" || len(l) != 2 {
		t.Errorf("got %+v", l)
	}
	for _, bad := range []string{"after = x\n", "[a]\nwhy = w\n", "[a]\nafter = x\n", "[a]\nafter = x\nwhy = y\n[a]\nafter = x\nwhy = y\n",
		"[a]\nnope = x\n", "[a]\njunk\n"} {
		if _, err := ParseList("l", bad, true); !errors.Is(err, ErrList) {
			t.Errorf("ParseList(%q) = %v, want ErrList", bad, err)
		}
	}
	ms := []Mutant{{ID: "a.sv:x:1", After: "y  <=  1;"}}
	if _, err := (List{"a.sv:x:1": {ID: "a.sv:x:1", After: "y <= 1;"}}).Match(ms); err != nil {
		t.Errorf("Match ignoring whitespace: %v", err)
	}
	if _, err := (List{"a.sv:x:1": {ID: "a.sv:x:1", After: "y <= 2;"}}).Match(ms); !errors.Is(err, ErrList) {
		t.Errorf("Match of a changed mutant: %v, want ErrList", err)
	}
}

// fakeGate answers from a table: the report status (and the first case's reason) per
// mutant ID in the RTL directory's name, or hangs until the campaign's time is up.
func fakeGate(answers map[string]string) Gate {
	return func(ctx context.Context, rtlDir, profile string) (*check.Report, error) {
		ans := "pass"
		for id, a := range answers {
			if strings.Contains(rtlDir, strings.NewReplacer(":", "-").Replace(id)) {
				ans = a
			}
		}
		st, reason, _ := strings.Cut(ans, ":")
		if st == "hang" {
			<-ctx.Done()
			return &check.Report{Status: check.Error}, nil
		}
		cycle := uint64(9)
		cs := check.CaseResult{ID: "conformance/d16-enables", Status: check.Status(st), Reason: reason, Cycle: &cycle}
		return &check.Report{Status: check.Status(st), Checks: []check.CheckResult{{Name: check.Conformance, Cases: []check.CaseResult{cs}}}}, nil
	}
}

// TestCampaignVerdicts runs a campaign with a stand-in gate through every verdict.
func TestCampaignVerdicts(t *testing.T) {
	files := ours(t)
	ms := Generate(files)[:5]
	c := &Campaign{Files: files, RTL: "ours", Mutants: ms, Profiles: []string{"quick"}, Work: t.TempDir(),
		Timeout: 200 * time.Millisecond, Allow: List{ms[2].ID: {ID: ms[2].ID, After: ms[2].After, Why: "argued"}},
		Gate: fakeGate(map[string]string{ms[0].ID: "fail:read of X", ms[1].ID: "pass", ms[3].ID: "hang",
			ms[4].ID: "error:RTL does not compile: %Error: x"})}
	rep, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []Verdict
	for _, r := range rep.Results {
		got = append(got, r.Verdict)
	}
	if diff := cmp.Diff([]Verdict{Killed, Survived, Equivalent, Hung, Stillborn}, got); diff != "" {
		t.Errorf("verdicts (-want +got):\n%s", diff)
	}
	s := rep.Scores[0]
	if s.Killed != 1 || s.Survived != 1 || s.Equivalent != 1 || s.Hung != 1 || s.Stillborn != 1 || s.KillRate != 1.0/3 ||
		!rep.Failed() || s.KilledBy[check.Conformance] != 1 || rep.Results[0].By != "conformance/d16-enables" {
		t.Errorf("score %+v, failed %v", s, rep.Failed())
	}
	// A gate that fails the original RTL makes no score.
	c.Gate = fakeGate(map[string]string{"original": "fail:x"})
	if _, err := c.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "does not pass the original RTL") {
		t.Errorf("campaign on a gate that fails the original: %v", err)
	}
}

// TestCampaignOnTheGate runs the real gate (in process, a small profile) on three mutants
// of ringsim's RTL: one lint finds, one a directed test finds at its cycle, and one the
// allowlist argues equivalent.
func TestCampaignOnTheGate(t *testing.T) {
	files := ours(t)
	want := map[string]struct {
		v  Verdict
		by string
	}{
		"node_regs.sv:swap-slice:1":        {Killed, "lint/d16x1"}, // DNA0 reads DNA1: dna_i[31:0] unused
		"rx_ring_buffer.sv:counter-wrap:1": {Killed, "conformance/d16-bus-timing"},
		"tx_ring_buffer.sv:reset-value:5":  {Equivalent, ""},
		"ringsim_node.sv:cmp-off-by-one:1": {Equivalent, ""},
	}
	var ms []Mutant
	for _, m := range Generate(files) {
		if _, ok := want[m.ID]; ok {
			ms = append(ms, m)
		}
	}
	small := check.Profile{Name: "small", Lint: []check.Geometry{{Depth: 16, Ports: 1}}, Directed: []int{16}}
	c := &Campaign{Files: files, RTL: "ours", Mutants: ms, Profiles: []string{"small"}, Work: t.TempDir(),
		Timeout: 5 * time.Minute, Allow: RingsimAllowlist(),
		Gate: InProcess(map[string]check.Profile{"small": small}, "", time.Minute)}
	rep, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		w := want[r.ID]
		if r.Verdict != w.v || r.By != w.by {
			t.Errorf("%s: %s by %q (%s), want %s by %q", r.ID, r.Verdict, r.By, r.Reason, w.v, w.by)
		}
	}
	if len(rep.Results) != len(want) || rep.Failed() {
		t.Errorf("%d results, failed %v", len(rep.Results), rep.Failed())
	}
}
