package mutate

import (
	"bufio"
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ringsim/ringsim/rtl"
)

// Entry is a mutant named in a reviewed list: the allowlist of equivalent mutants (with the
// argument that no test can tell the mutant from the original) or the CI sample.
type Entry struct {
	ID string
	// After is the mutated line, as Mutant.After has it: an entry whose mutant no longer
	// makes this change is stale (the RTL moved on) and must be reviewed again.
	After string
	// Why argues the entry (required in the allowlist).
	Why string
}

// List is a reviewed list of mutants, by ID.
type List map[string]Entry

// ErrList is wrapped by the errors of lists that do not parse or do not match the RTL.
var ErrList = errors.New("bad mutant list")

// The lists for ringsim's own RTL (rtl/), reviewed with it.
var (
	//go:embed equivalent.txt
	equivalentText string
	//go:embed ci-sample.txt
	ciSampleText string
)

// RingsimAllowlist returns the allowlist of ringsim's own RTL: its mutants that no test
// can tell from the original, each with its argument.
func RingsimAllowlist() List { return mustParse("equivalent.txt", equivalentText) }

// RingsimCISample returns the fixed, reviewed sample of ringsim's mutants that CI runs
// through the quick gate.
func RingsimCISample() List { return mustParse("ci-sample.txt", ciSampleText) }

func mustParse(name, text string) List {
	l, err := ParseList(name, text, strings.HasPrefix(name, "equivalent"))
	if err != nil {
		panic(err) // the embedded lists are tested
	}
	return l
}

// ParseList reads a list:
//
//	# a comment
//	[rx_ring_buffer.sv:reset-value:4]
//	after = rd_half_q    <= 1'b1;
//	why   = the argument, on as many "why" lines as it takes
//
// needWhy makes the argument required (the allowlist).
func ParseList(name, text string, needWhy bool) (List, error) {
	l := List{}
	var cur *Entry
	done := func() error {
		if cur == nil {
			return nil
		}
		switch {
		case cur.After == "":
			return fmt.Errorf("%w: %s: [%s] has no after line", ErrList, name, cur.ID)
		case needWhy && cur.Why == "":
			return fmt.Errorf("%w: %s: [%s] says nothing on why it is equivalent", ErrList, name, cur.ID)
		}
		if _, dup := l[cur.ID]; dup {
			return fmt.Errorf("%w: %s: [%s] twice", ErrList, name, cur.ID)
		}
		l[cur.ID] = *cur
		return nil
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			if err := done(); err != nil {
				return nil, err
			}
			cur = &Entry{ID: line[1 : len(line)-1]}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || cur == nil {
				return nil, fmt.Errorf("%w: %s:%d: want [ID], after = LINE or why = TEXT", ErrList, name, n)
			}
			switch k, v = strings.TrimSpace(k), strings.TrimSpace(v); k {
			case "after":
				cur.After = v
			case "why":
				cur.Why = strings.TrimSpace(cur.Why + " " + v)
			default:
				return nil, fmt.Errorf("%w: %s:%d: unknown key %q", ErrList, name, n, k)
			}
		}
	}
	if err := done(); err != nil {
		return nil, err
	}
	return l, nil
}

// Match checks the list against the mutants of the RTL: every entry must name a mutant
// that makes the change it records (whitespace aside). It returns the entries' mutants.
func (l List) Match(mutants []Mutant) ([]Mutant, error) {
	byID := map[string]Mutant{}
	for _, m := range mutants {
		byID[m.ID] = m
	}
	var out []Mutant
	var stale []string
	for _, id := range l.IDs() {
		m, ok := byID[id]
		switch {
		case !ok:
			stale = append(stale, fmt.Sprintf("%s: no such mutant", id))
		case strings.Join(strings.Fields(m.After), " ") != strings.Join(strings.Fields(l[id].After), " "):
			stale = append(stale, fmt.Sprintf("%s: the mutant now makes %q, the list has %q", id, m.After, l[id].After))
		default:
			out = append(out, m)
		}
	}
	if len(stale) > 0 {
		return out, fmt.Errorf("%w: %d entr%s no longer match the RTL (it changed: review them): %s", ErrList, len(stale),
			map[bool]string{true: "y", false: "ies"}[len(stale) == 1], strings.Join(stale, "; "))
	}
	return out, nil
}

// IDs returns the list's IDs in order.
func (l List) IDs() []string {
	var ids []string
	for id := range l {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// ReadRTL reads the RTL of a directory as the gate does (*.sv, *.v, *.svh, *.vh, *.vlt,
// not recursively); dir "" is ringsim's own (rtl/).
func ReadRTL(dir string) (map[string][]byte, error) {
	var fsys fs.FS = rtl.FS
	if dir != "" {
		fsys = os.DirFS(dir)
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read rtl: %w", err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || (ext != ".sv" && ext != ".v" && ext != ".svh" && ext != ".vh" && ext != ".vlt") {
			continue
		}
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read rtl: %w", err)
		}
		files[e.Name()] = b
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("read rtl: no RTL files in %s", dir)
	}
	return files, nil
}
