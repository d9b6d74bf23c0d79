package regmap

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringsim/ringsim/sim/bus"
)

// root is the repository root, seen from this package's directory.
const root = "../.."

func readRoot(path string) ([]byte, error) {
	return os.ReadFile(filepath.Join(root, filepath.FromSlash(path)))
}

// TestGenerated regenerates every file from regmap.json in memory and fails, naming the
// file and the command that refreshes it, if the committed one differs: CI runs it with
// `go test ./...`, so a stale generated file cannot be merged.
func TestGenerated(t *testing.T) {
	m, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	files, err := Generate(m, readRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		got, err := readRoot(f.Path)
		if err != nil {
			t.Errorf("%s is missing (%v): run `%s`", f.Path, err, Command)
			continue
		}
		if !bytes.Equal(got, f.Data) {
			t.Errorf("%s is stale: it differs from what internal/regmap/regmap.json generates; run `%s` and commit the result",
				f.Path, Command)
		}
	}
}

func TestParseExpr(t *testing.T) {
	tests := []struct {
		in   string
		want Expr
		str  string
	}{
		{"0", Expr{}, "0"},
		{"0x2C", Expr{Const: 44}, "44"},
		{"8*Depth", Expr{Depth: 8}, "8*D"},
		{"8*Depth+8", Expr{Depth: 8, Const: 8}, "8*D+8"},
		{" 8 * Depth + 0x10 ", Expr{Depth: 8, Const: 16}, "8*D+16"},
		{"Depth-1", Expr{Depth: 1, Const: -1}, "D-1"},
		{"-1+Depth", Expr{Depth: 1, Const: -1}, "D-1"},
		{"8*Ports+4*Depth", Expr{Depth: 4, Ports: 8}, "4*D+8*P"},
		{"1_000", Expr{Const: 1000}, "1000"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseExpr(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("ParseExpr(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			if s := got.String(); s != tt.str {
				t.Errorf("String() = %q, want %q", s, tt.str)
			}
		})
	}
	for _, bad := range []string{"", "Depth*8", "8*Width", "8**Depth", "8+", "x"} {
		if _, err := ParseExpr(bad); !errors.Is(err, ErrBadDescription) {
			t.Errorf("ParseExpr(%q): got %v, want ErrBadDescription", bad, err)
		}
	}
}

// TestLoadErrors checks that Load refuses broken descriptions with a message that says why.
func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, from, to, want string
	}{
		{"overlap", `"offset": "8*Depth+8"`, `"offset": "8*Depth"`, "overlap"},
		{"unaligned", `"offset": "0x2C"`, `"offset": "0x2D"`, "aligned"},
		{"bad access", `"access": "wo"`, `"access": "w"`, "access"},
		{"latency of an illegal access", `"write_latency": "Depth-1"`, `"read_latency": "Depth-1"`, "latency"},
		{"unknown field", `"reset": "-"`, `"rest": "-"`, "unknown field"},
		{"device not placed", `{"per_port": true, "devices": ["tx", "rx"]}`, `{"per_port": true, "devices": ["tx"]}`, "every device"},
		{"Go name clash", `"go": "RegCycleHi"`, `"go": "RegCycleLo"`, "different offsets"},
		{"value of a writable register", `"access": "ro", "value": "1"`, `"access": "rw", "value": "1"`, "value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !bytes.Contains(Description, []byte(tt.from)) {
				t.Fatalf("regmap.json has no %s", tt.from)
			}
			desc := bytes.Replace(Description, []byte(tt.from), []byte(tt.to), 1)
			_, err := Load(desc)
			if !errors.Is(err, ErrBadDescription) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want ErrBadDescription mentioning %q", err, tt.want)
			}
		})
	}
}

// TestWindowLog2 checks the description's window size against the formula the port
// contract has always stated, max(8, clog2(8*D+16)), and against the generated Go.
func TestWindowLog2(t *testing.T) {
	m, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, depth := range []int{2, 3, 4, 13, 16, 30, 31, 32, 128, 200, 4000, 4094, 4095, 4096, 1 << 20} {
		want := 8
		for 1<<want < 8*depth+16 {
			want++
		}
		for _, ports := range []int{1, 7} {
			if got := m.WindowLog2(int64(depth), int64(ports)); got != want {
				t.Errorf("D=%d P=%d: WindowLog2 = %d, want %d", depth, ports, got, want)
			}
			if got := (bus.Map{Depth: depth, Ports: ports}).WindowLog2(); int(got) != want {
				t.Errorf("D=%d P=%d: bus.Map.WindowLog2 = %d, want %d", depth, ports, got, want)
			}
		}
	}
}

// TestSpliceDoc checks that only the marked part of the docs changes.
func TestSpliceDoc(t *testing.T) {
	m, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	doc := "intro\n" + DocBegin + "\nold table\n" + DocEnd + "\noutro\n"
	got, err := m.spliceDoc([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	s := string(got)
	if !strings.HasPrefix(s, "intro\n"+DocBegin+"\n") || !strings.HasSuffix(s, DocEnd+"\noutro\n") ||
		strings.Contains(s, "old table") || !strings.Contains(s, "`clear_at_count`") {
		t.Errorf("spliced doc:\n%s", s)
	}
	if _, err := m.spliceDoc([]byte("no markers")); !errors.Is(err, ErrBadDescription) {
		t.Errorf("doc without markers: got %v, want ErrBadDescription", err)
	}
}

// TestAddDevice adds a per-node device after the ports, as the elastic buffer and UGN
// capture registers will be, and checks that the one entry reaches every output.
func TestAddDevice(t *testing.T) {
	desc := bytes.Replace(Description, []byte(`{"per_port": true, "devices": ["tx", "rx"]}`),
		[]byte(`{"per_port": true, "devices": ["tx", "rx"]},
    {"devices": ["ugn"]}`), 1)
	desc = bytes.Replace(desc, []byte(`  "devices": [
    {`), []byte(`  "devices": [
    {"name": "ugn", "title": "UGN capture", "go": "UGN", "doc": "Captured counters per port.",
     "registers": [
       {"name": "has_captured", "offset": "0", "bytes": 8, "access": "ro", "go": "RegHasCaptured", "doc": "bit p: port p captured"},
       {"name": "local_counter", "offset": "8", "count": "2*Ports", "stride": 4, "access": "ro", "go": "LocalCounter", "doc": "64-bit local counters"}
     ]},
    {`), 1)
	m, err := Load(desc)
	if err != nil {
		t.Fatal(err)
	}
	files, err := Generate(m, readRoot)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		m.SVPath(): {"function automatic int unsigned ugn_window(int unsigned ports);", "ugn_window = 2 * ports + 1;",
			"localparam int unsigned UGN_HAS_CAPTURED_OFFSET = 32'h0;", "function automatic int unsigned ugn_local_counter_bytes(int unsigned ports);",
			"num_windows = 2 * ports + 2;"},
		GoPath: {"func (m Map) UGN() uint32 { return uint32(2*m.Ports+1) << m.WindowLog2() }", "RegHasCaptured = 0x00",
			"func (m Map) LocalCounter(i int) uint32 { return uint32(8 + 4*i) }", "func (m Map) Windows() int { return 2*m.Ports + 2 }"},
		CPath:   {`{"UGN capture", rs_regmap_ugn_regs, 2}`},
		DocPath: {"| 2*P+1 (UGN capture) | `local_counter` | 0x08 .. 8*P+7 (2*P words of 4 bytes) | ro |"},
	}
	for _, f := range files {
		for _, w := range want[f.Path] {
			if !strings.Contains(string(f.Data), w) {
				t.Errorf("%s lacks %q", f.Path, w)
			}
		}
	}
	if got := m.WindowLog2(16, 64); got != 10 {
		t.Errorf("WindowLog2(D=16, P=64) = %d, want 10 (the UGN device needs 8 + 4*128 bytes)", got)
	}
}
