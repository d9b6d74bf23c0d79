// Package mutate measures what ringsim's pre-synthesis gate catches: it makes single-change
// variants (mutants) of an RTL directory with mutation operators, runs the gate on each
// and reports the share it kills, the mutants that survive it, and the ones no test can
// tell from the original (an allowlist, each entry argued).
package mutate

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Operator is a mutation operator: a kind of single change made to one line of RTL.
type Operator struct {
	// Name is the operator's name in mutant IDs ("invert-condition").
	Name string
	// Summary says what it changes.
	Summary string
	// sites returns the changes the operator can make to a line of code (comments
	// removed); decl says whether the line declares something.
	sites func(code string, decl bool) []edit
}

// edit replaces code[start:end] with repl.
type edit struct {
	start, end int
	repl       string
}

// Operators returns the mutation operators, in the order IDs number their sites.
func Operators() []Operator {
	return []Operator{
		{Name: "cmp-off-by-one", Summary: "a comparison off by one: < and <=, > and >= swapped", sites: cmpOffByOne},
		{Name: "const-off-by-one", Summary: "a constant off by one: x - 1 becomes x - 2 or x", sites: constOffByOne},
		{Name: "swap-slice", Summary: "the other half of a word, the mirrored byte lane, the neighbouring address bit", sites: swapSlice},
		{Name: "invert-condition", Summary: "an enable or condition inverted: if (x) becomes if (!x), ~x becomes x", sites: invertCondition},
		{Name: "reset-value", Summary: "a register's reset value flipped: '0 and '1, 1'b0 and 1'b1", sites: resetValue},
		{Name: "drop-ack-err", Summary: "a term dropped from an ACK or ERR expression, or the whole answer tied to 0", sites: dropAckErr},
		{Name: "counter-wrap", Summary: "a counter wrapping one early, sticking instead of wrapping, or stepping by 2", sites: counterWrap},
	}
}

func find(re *regexp.Regexp, code string, repl func(m []string) []string) []edit {
	var out []edit
	for _, loc := range re.FindAllStringSubmatchIndex(code, -1) {
		m := make([]string, len(loc)/2)
		for i := range m {
			if loc[2*i] >= 0 {
				m[i] = code[loc[2*i]:loc[2*i+1]]
			}
		}
		for _, r := range repl(m) {
			out = append(out, edit{start: loc[0], end: loc[1], repl: r})
		}
	}
	return out
}

var (
	// A comparison between spaces (the RTL's style): not <=, not an arrow or a shift.
	cmpRE = regexp.MustCompile(` (<|>|>=) `)
	// "x - 1" as a whole term.
	minusOneRE = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*|\)) - 1\b`)
)

func cmpOffByOne(code string, _ bool) []edit {
	if strings.Contains(code, "<=") && !strings.Contains(code, " < ") && !strings.Contains(code, " > ") {
		return nil // a nonblocking assignment, not a comparison
	}
	return find(cmpRE, code, func(m []string) []string {
		return []string{map[string]string{"<": " <= ", ">": " >= ", ">=": " > "}[m[1]]}
	})
}

func constOffByOne(code string, _ bool) []edit {
	return find(minusOneRE, code, func(m []string) []string { return []string{m[1] + " - 2", m[1]} })
}

var (
	halfRE   = regexp.MustCompile(`\[(63:32|31:0|95:64)\]`)
	laneRE   = regexp.MustCompile(`32 \+ 8\*k|8\*k`)
	adrBitRE = regexp.MustCompile(`wb_adr_i\[(2|AddrW\+2:3)\]`)
)

func swapSlice(code string, decl bool) []edit {
	if decl {
		return nil // a declaration's range is a type, not a slice
	}
	out := find(halfRE, code, func(m []string) []string {
		return []string{"[" + map[string]string{"63:32": "31:0", "31:0": "63:32", "95:64": "63:32"}[m[1]] + "]"}
	})
	out = append(out, find(laneRE, code, func(m []string) []string {
		if m[0] == "8*k" {
			return []string{"8*(3-k)"}
		}
		return []string{"8*k"} // the high half's lanes written into the low half
	})...)
	out = append(out, find(adrBitRE, code, func(m []string) []string {
		return []string{map[string]string{"2": "wb_adr_i[3]", "AddrW+2:3": "wb_adr_i[AddrW+1:2]"}[m[1]]}
	})...)
	return out
}

var (
	// A term of an if's condition: a signal (or a bit of one), possibly negated, after
	// "(", "&& " or "|| ", and before " &&", " ||" or ")" (checked by the caller).
	condTermRE = regexp.MustCompile(`(\(|&& |\|\| )(!?)([A-Za-z_][A-Za-z0-9_]*(?:\[[^\]]+\])?)`)
	notRE      = regexp.MustCompile(`~([A-Za-z_][A-Za-z0-9_]*(?:\[[^\]]+\])?)`)
	ternRE     = regexp.MustCompile(`= ([A-Za-z_][A-Za-z0-9_]*) \?`)
)

func invertCondition(code string, decl bool) []edit {
	if decl {
		return nil
	}
	var out []edit
	if strings.Contains(code, "if (") {
		for _, e := range find(condTermRE, code, func(m []string) []string {
			if m[2] == "!" {
				return []string{m[1] + m[3]}
			}
			return []string{m[1] + "!" + m[3]}
		}) {
			rest := code[e.end:]
			if e.start > 0 && strings.ContainsAny(code[e.start-1:e.start], "'$_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") {
				continue // a cast or a call, not a condition
			}
			if strings.HasPrefix(rest, " &&") || strings.HasPrefix(rest, " ||") || strings.HasPrefix(rest, ")") {
				out = append(out, e)
			}
		}
	}
	out = append(out, find(notRE, code, func(m []string) []string { return []string{m[1]} })...)
	out = append(out, find(ternRE, code, func(m []string) []string { return []string{"= !" + m[1] + " ?"} })...)
	return out
}

var resetRE = regexp.MustCompile(`^(\s*[A-Za-z_][A-Za-z0-9_]*\s*<=\s*)('0|'1|1'b0|1'b1)(\s*;)`)

func resetValue(code string, _ bool) []edit {
	return find(resetRE, code, func(m []string) []string {
		return []string{m[1] + map[string]string{"'0": "'1", "'1": "'0", "1'b0": "1'b1", "1'b1": "1'b0"}[m[2]] + m[3]}
	})
}

// ackErrRE is an assignment to an ACK or ERR signal.
var ackErrRE = regexp.MustCompile(`^(\s*(?:assign\s+)?[A-Za-z_][A-Za-z0-9_]*(?:ack|err)[A-Za-z0-9_]*\s*=\s*)(.+?)(\s*;)`)

func dropAckErr(code string, decl bool) []edit {
	if decl {
		return nil
	}
	m := ackErrRE.FindStringSubmatchIndex(code)
	if m == nil {
		return nil
	}
	lhs, rhs, end := code[:m[3]], code[m[4]:m[5]], code[m[6]:m[7]]
	terms, ops := splitTop(rhs)
	var out []edit
	if len(terms) > 1 {
		// Dropping term i drops the operator before it (after it, for the first term).
		for i := range terms {
			var b strings.Builder
			for j, t := range terms {
				if j == i {
					continue
				}
				if b.Len() > 0 {
					b.WriteString(" " + ops[j-1] + " ")
				}
				b.WriteString(strings.TrimSpace(t))
			}
			out = append(out, edit{start: 0, end: len(lhs) + len(rhs) + len(end), repl: lhs + b.String() + end})
		}
	}
	if strings.TrimSpace(rhs) != "1'b0" && strings.TrimSpace(rhs) != "'0" {
		out = append(out, edit{start: 0, end: len(lhs) + len(rhs) + len(end), repl: lhs + "1'b0" + end})
	}
	return out
}

// splitTop splits an expression at its top-level & and | (and && and ||), outside
// parentheses, braces and brackets.
func splitTop(s string) (terms, ops []string) {
	depth, last := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '(', '{', '[':
			depth++
		case ')', '}', ']':
			depth--
		case '&', '|':
			if depth != 0 || i == 0 {
				continue
			}
			prev := s[i-1]
			if prev == '(' || prev == '~' || prev == ' ' && i+1 < len(s) && s[i+1] == '(' && strings.TrimSpace(s[last:i]) == "" {
				continue // a reduction operator, not a binary one
			}
			op := string(c)
			if i+1 < len(s) && s[i+1] == c {
				op += string(c)
			}
			if strings.TrimSpace(s[last:i]) == "" {
				continue
			}
			terms = append(terms, s[last:i])
			ops = append(ops, op)
			i += len(op) - 1
			last = i + 1
		}
	}
	terms = append(terms, s[last:])
	return terms, ops
}

var (
	wrapCmpRE  = regexp.MustCompile(`== LAST\b`)
	wrapToRE   = regexp.MustCompile(`\? '0 : ([A-Za-z_][A-Za-z0-9_]*) \+ 1'b1`)
	incrementR = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*_q) \+ 1'b1`)
)

func counterWrap(code string, decl bool) []edit {
	if decl {
		return nil
	}
	out := find(wrapCmpRE, code, func([]string) []string { return []string{"== LAST - 1'b1"} })
	out = append(out, find(wrapToRE, code, func(m []string) []string { return []string{"? " + m[1] + " : " + m[1] + " + 1'b1"} })...)
	out = append(out, find(incrementR, code, func(m []string) []string { return []string{m[1] + " + 2'd2"} })...)
	return out
}

// Mutant is one single-line change of an RTL directory.
type Mutant struct {
	// ID names the mutant stably: file, operator and the operator's site in the file,
	// counted from 1 in source order ("rx_ring_buffer.sv:invert-condition:3"). Edits
	// elsewhere in the file do not renumber it; a change to a line the operator applies
	// to can, which the After text in allowlists and samples detects.
	ID       string `json:"id"`
	File     string `json:"file"`
	Line     int    `json:"line"`
	Operator string `json:"operator"`
	// Before and After are the line without and with the change, trimmed.
	Before string `json:"before"`
	After  string `json:"after"`
}

// Generate returns every mutant of the RTL files (name -> contents), in a fixed order:
// files by name, then operators, then sites in source order. Packages, headers and
// configuration files are left alone (they declare constants, macros and waivers), and so
// are comments and code under `ifndef SYNTHESIS` (assertions and simulation set-up).
func Generate(files map[string][]byte) []Mutant {
	var names []string
	for n := range files {
		if mutable(n, files[n]) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var out []Mutant
	for _, n := range names {
		lines := strings.Split(string(files[n]), "\n")
		codes := codeLines(lines)
		for _, op := range Operators() {
			k := 0
			for i, code := range codes {
				if code == "" {
					continue
				}
				for _, e := range op.sites(code, isDecl(code)) {
					k++
					after := lines[i][:e.start] + e.repl + lines[i][e.end:]
					if after == lines[i] {
						continue
					}
					out = append(out, Mutant{ID: fmt.Sprintf("%s:%s:%d", n, op.Name, k), File: n, Line: i + 1,
						Operator: op.Name, Before: strings.TrimSpace(lines[i]), After: strings.TrimSpace(after)})
				}
			}
		}
	}
	return out
}

// Apply returns a copy of files with the mutant's change made; the change must still
// apply (the line is as Generate saw it).
func (m Mutant) Apply(files map[string][]byte) (map[string][]byte, error) {
	src, ok := files[m.File]
	if !ok {
		return nil, fmt.Errorf("mutant %s: no file %s", m.ID, m.File)
	}
	lines := strings.Split(string(src), "\n")
	if m.Line < 1 || m.Line > len(lines) || strings.TrimSpace(lines[m.Line-1]) != m.Before {
		return nil, fmt.Errorf("mutant %s: line %d of %s is no longer %q", m.ID, m.Line, m.File, m.Before)
	}
	indent := lines[m.Line-1][:len(lines[m.Line-1])-len(strings.TrimLeft(lines[m.Line-1], " \t"))]
	lines[m.Line-1] = indent + m.After + " // MUTANT " + m.ID
	out := make(map[string][]byte, len(files))
	for n, b := range files {
		out[n] = b
	}
	out[m.File] = []byte(strings.Join(lines, "\n"))
	return out, nil
}

// packageRE matches a SystemVerilog package declaration.
var packageRE = regexp.MustCompile(`(?m)^[ \t]*package\s+[A-Za-z_]`)

// mutable reports whether a file's code is mutated: modules, not packages, headers or
// tool configuration.
func mutable(name string, data []byte) bool {
	if !strings.HasSuffix(name, ".sv") && !strings.HasSuffix(name, ".v") {
		return false
	}
	return !strings.HasSuffix(name, "_pkg.sv") && !packageRE.Match(data)
}

// declRE matches a line that declares signals, ports or parameters.
var declRE = regexp.MustCompile(`^\s*(input|output|inout|logic|wire|reg|bit|int|integer|parameter|localparam|typedef|module|genvar)\b`)

func isDecl(code string) bool { return declRE.MatchString(code) }

// codeLines returns each line's code: comments removed, and empty for lines under
// `ifndef SYNTHESIS (and other conditional blocks that exclude synthesis), preprocessor
// lines and lines in block comments.
func codeLines(lines []string) []string {
	out := make([]string, len(lines))
	// Per open `ifdef/`ifndef: whether it tests SYNTHESIS, and whether the branch we are in
	// is left out of synthesis.
	type cond struct{ synth, excluded bool }
	var conds []cond
	inBlock := false
	excluded := func() bool {
		for _, c := range conds {
			if c.excluded {
				return true
			}
		}
		return false
	}
	for i, l := range lines {
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, "`ifndef"), strings.HasPrefix(t, "`ifdef"):
			synth := strings.Contains(t, "SYNTHESIS")
			conds = append(conds, cond{synth: synth, excluded: synth && strings.HasPrefix(t, "`ifndef")})
			continue
		case strings.HasPrefix(t, "`else"):
			if n := len(conds); n > 0 && conds[n-1].synth {
				conds[n-1].excluded = !conds[n-1].excluded
			}
			continue
		case strings.HasPrefix(t, "`endif"):
			if n := len(conds); n > 0 {
				conds = conds[:n-1]
			}
			continue
		case strings.HasPrefix(t, "`"):
			continue
		}
		code := l
		if inBlock {
			end := strings.Index(code, "*/")
			if end < 0 {
				continue
			}
			code, inBlock = strings.Repeat(" ", end+2)+code[end+2:], false
		}
		if j := strings.Index(code, "/*"); j >= 0 {
			if end := strings.Index(code[j:], "*/"); end >= 0 {
				code = code[:j] + strings.Repeat(" ", end+2) + code[j+end+2:]
			} else {
				code, inBlock = code[:j], true
			}
		}
		if j := strings.Index(code, "//"); j >= 0 {
			code = code[:j]
		}
		if excluded() || strings.TrimSpace(code) == "" {
			continue
		}
		out[i] = code
	}
	return out
}
