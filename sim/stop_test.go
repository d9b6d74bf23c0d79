package sim

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/rtl"
	"github.com/ringsim/ringsim/sim/bus"
)

// edit replaces old by new, once, in one RTL file.
type edit struct{ file, old, new string }

// rtlVariant writes ringsim's RTL into a temporary directory, lays the files of overlay (a
// directory of testdata/broken, or "") over it and applies the edits.
func rtlVariant(t *testing.T, overlay string, edits ...edit) string {
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
	if overlay != "" {
		files, err := os.ReadDir(filepath.Join("..", "testdata", "broken", overlay))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join("..", "testdata", "broken", overlay, f.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, f.Name()), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, e := range edits {
		path := filepath.Join(dir, e.file)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(b), e.old); n != 1 {
			t.Fatalf("%s holds %q %d times, want once", e.file, e.old, n)
		}
		if err := os.WriteFile(path, []byte(strings.Replace(string(b), e.old, e.new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// lineOf returns the 1-based line of the first occurrence of s in dir/file.
func lineOf(t *testing.T, dir, file, s string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(b), s)
	if i < 0 {
		t.Fatalf("%s has no %q", file, s)
	}
	return 1 + strings.Count(string(b[:i]), "\n")
}

// stopOf checks that err is a *StopError that wraps ErrStopped and returns it.
func stopOf(t *testing.T, err error) *StopError {
	t.Helper()
	var st *StopError
	if !errors.As(err, &st) || !errors.Is(err, ErrStopped) {
		t.Fatalf("got %v (%T), want a *StopError wrapping ErrStopped", err, err)
	}
	return st
}

func single(release uint64, dir string) hw.Config {
	return hw.Config{Topology: hw.Topology{Name: "single", Nodes: 1, Ports: 1}, Depth: 16, Seed: 1,
		Release: []uint64{release}, RTLDir: dir}
}

// TestStopAssertion breaks the RX write counter (it stops while RX is disabled) and checks
// the typed stop of the named assertion that catches it.
func TestStopAssertion(t *testing.T) {
	dir := rtlVariant(t, "", edit{"rx_ring_buffer.sv",
		"      else           count_q <= (count_q == LAST) ? '0 : count_q + 1'b1;",
		"      else if (enable_q) count_q <= (count_q == LAST) ? '0 : count_q + 1'b1;"})
	e := newEngine(t, single(3, dir))
	// Out of reset in cycle 3, the counter does not move at the edge that ends it; the
	// assertion sees that at the edge that ends cycle 4.
	st := stopOf(t, e.Step(100))
	want := StopError{Kind: StopAssertion, Node: 0, Port: 0, Device: "RX", Cycle: 4,
		Assertion: "RxCounterAdvances_A", Message: "write counter did not advance by one",
		File: st.File, Line: st.Line, Scope: "node0.ringsim_top.u_node.g_port[0].u_rx"}
	if *st != want {
		t.Errorf("stop:\n got %+v\nwant %+v", *st, want)
	}
	// The line is the macro call's (Verilator gives the line it ends on).
	first := lineOf(t, dir, "rx_ring_buffer.sv", "`RS_ASSERT(RxCounterAdvances_A")
	last := lineOf(t, dir, "rx_ring_buffer.sv", `"write counter did not advance by one")`)
	if st.Line < first || st.Line > last {
		t.Errorf("line %d, want the macro call's, %d-%d", st.Line, first, last)
	}
	if filepath.Base(st.File) != "rx_ring_buffer.sv" {
		t.Errorf("file %q, want rx_ring_buffer.sv", st.File)
	}
	if got, w := st.Error(), "node 0 port 0 RX: assertion RxCounterAdvances_A failed in cycle 4: write counter did not advance by one"; got != w {
		t.Errorf("Error() = %q, want %q", got, w)
	}
	if e.Cycle() != 5 {
		t.Errorf("stopped at cycle count %d, want 5 (cycle 4 done)", e.Cycle())
	}
	// A stopped simulation stays stopped, with the same reason.
	if again := stopOf(t, e.Step(1)); *again != *st {
		t.Errorf("second Run: got %+v, want the first stop %+v", *again, *st)
	}
}

// userNode is a minimal bring-your-own ringsim_node (neither ringsim's register package
// nor its assertion macros) described by comment: wb_err_o is errExpr, nothing answers
// ACK, and stmt runs at the edge in its 20th cycle out of reset when cond (appended to the
// condition) holds, from line 32 of the file.
func userNode(comment, errExpr, cond, stmt string) string {
	return fmt.Sprintf(`// Minimal node: %s.
module ringsim_node #(
  parameter int unsigned Depth = 16,
  parameter int unsigned Ports = 1
) (
  input  logic                clk_i,
  input  logic                rst_ni,
  input  logic [95:0]         dna_i,
  input  logic [31:0]         node_id_i,
  input  logic                wb_cyc_i,
  input  logic                wb_stb_i,
  input  logic                wb_we_i,
  input  logic [31:0]         wb_adr_i,
  input  logic [31:0]         wb_dat_i,
  input  logic [3:0]          wb_sel_i,
  output logic [31:0]         wb_dat_o,
  output logic                wb_ack_o,
  output logic                wb_err_o,
  output logic [Ports*64-1:0] tx_frames_o,
  input  logic [Ports*64-1:0] rx_frames_i
);
  logic [7:0] n_q;
  assign wb_dat_o = '0;
  assign wb_ack_o = 1'b0;
  assign wb_err_o = %s;
  assign tx_frames_o = '0;
  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) n_q <= '0;
    else n_q <= n_q + 8'd1;
  end
  always_ff @(posedge clk_i) begin
    if (rst_ni && n_q == 8'd19%s) %s
  end
endmodule
`, comment, errExpr, cond, stmt)
}

// TestStopUserRTL runs bring-your-own RTL that uses neither ringsim's register package nor
// its assertion macros, and checks the stops made from Verilator's own messages.
func TestStopUserRTL(t *testing.T) {
	tests := []struct {
		name, what, stmt string
		kind             StopKind
		message          string
		err              string
	}{
		{"error", "$error", `$error("boom at %0d", n_q);`, StopRTLError, "boom at 19",
			"node 0: RTL error in cycle 24 (ringsim_node.sv:32): Assertion failed in node0.ringsim_top.u_node: boom at 19"},
		{"finish", "$finish", `$finish;`, StopFinish, "$finish",
			"node 0: RTL called $finish in cycle 24 (ringsim_node.sv:32)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			src := userNode("answers every access with ERR and "+tt.what+" in its 20th cycle out of reset",
				"wb_cyc_i & wb_stb_i", "", tt.stmt)
			if err := os.WriteFile(filepath.Join(dir, "ringsim_node.sv"), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			e := newEngine(t, single(5, dir))
			// n_q is 19 in cycle 5+19 = 24; the statement runs at the edge that ends it.
			st := stopOf(t, e.Step(100))
			if st.Kind != tt.kind || st.Node != 0 || st.Port != -1 || st.Cycle != 24 || st.Line != 32 ||
				filepath.Base(st.File) != "ringsim_node.sv" || !strings.Contains(st.Message, tt.message) {
				t.Errorf("got %+v, want kind %v, node 0, port -1, cycle 24, ringsim_node.sv:32, message with %q",
					*st, tt.kind, tt.message)
			}
			if st.Error() != tt.err {
				t.Errorf("Error() = %q, want %q", st.Error(), tt.err)
			}
		})
	}
}

// TestBusTimeout runs RTL whose bus does not answer one access and checks that the
// simulation stops, naming the access, its register and the cycle the SPEC answers it by.
func TestBusTimeout(t *testing.T) {
	m := bus.Map{Depth: 16, Ports: 1}
	tests := []struct {
		name    string
		overlay string
		edits   []edit
		ops     []bus.Op
		// presented is the cycle the unanswered access is presented in (release 3).
		presented, latency uint64
		want               StopError
		err                string
	}{
		{
			name:    "node register read (testdata/broken/bus-no-answer)",
			overlay: "bus-no-answer",
			ops:     []bus.Op{bus.Read(bus.RegMagic), bus.Read(bus.RegWindowLog2)},
			// MAGIC is answered in cycle 3, WINDOW_LOG2 presented in cycle 4.
			presented: 4, latency: 0,
			want: StopError{Kind: StopBusTimeout, Node: 0, Port: -1, Addr: bus.RegWindowLog2,
				Register: "node block WINDOW_LOG2 (0x14)", Message: "read of 0x14 presented in cycle 4 got neither ACK nor ERR by cycle 6"},
			err: "node 0 node block WINDOW_LOG2 (0x14): bus timeout: read presented in cycle 4 got neither ACK nor ERR by cycle 6; " +
				"the SPEC answers it in the cycle it is presented",
		},
		{
			name: "clear_at_count that never completes",
			edits: []edit{{"rx_ring_buffer.sv", "clear_hit = count_q == wb_dat_i[AddrW-1:0];",
				"clear_hit = 1'b0;"}},
			ops:       []bus.Op{bus.Write(m.RX(0)+m.ClearAtCount(), 5)},
			presented: 3, latency: 15,
			want: StopError{Kind: StopBusTimeout, Node: 0, Port: 0, Device: "RX", Addr: m.RX(0) + m.ClearAtCount(),
				Write: true, Data: 5, Mask: 0xF, Register: "port 0 RX clear_at_count (0x288)",
				Message: "write of 0x288 presented in cycle 3 got neither ACK nor ERR by cycle 18"},
			err: "node 0 port 0 RX clear_at_count (0x288): bus timeout: write presented in cycle 3 got neither ACK nor ERR " +
				"by cycle 18; the SPEC answers it within 15 cycles, by cycle 18",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEngine(t, single(3, rtlVariant(t, tt.overlay, tt.edits...)))
			_, err := e.Execute(context.Background(), 0, tt.ops)
			st := stopOf(t, err)
			want := tt.want
			want.Presented, want.Deadline = tt.presented, tt.presented+tt.latency
			want.Cycle = tt.presented + max(tt.latency, BusSlack)
			if *st != want {
				t.Errorf("stop:\n got %+v\nwant %+v", *st, want)
			}
			if st.Error() != tt.err {
				t.Errorf("Error() = %q\n          want %q", st.Error(), tt.err)
			}
		})
	}
}

// TestStopOrderOneEvaluation checks that two stops in one cycle are reported in the order
// the two-evaluation loop records them, also on a model without assertions (whose loop
// evaluates each node once per cycle, its edge before the next node's clock-low half):
// node 0's RTL calls $error at the edge of cycle 24, and node 1's bus access, unanswered,
// times out in the same cycle, in its clock-low half. The bus timeout comes first.
func TestStopOrderOneEvaluation(t *testing.T) {
	src := userNode("never answers the bus; node 0 calls $error in its 20th cycle out of reset",
		"1'b0", " && node_id_i == 32'd0", `$error("boom");`)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ringsim_node.sv"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	// Node 1's read of MAGIC (answered in the cycle it is presented) is presented at its
	// release and times out BusSlack cycles later, in cycle 24.
	release1 := uint64(24 - BusSlack)
	for _, noAssert := range []bool{false, true} {
		t.Run(fmt.Sprintf("assertions=%v", !noAssert), func(t *testing.T) {
			cfg := hw.Config{Topology: hw.Pair(16), Depth: 16, Seed: 1, RTLDir: dir, NoAssert: noAssert,
				Release: []uint64{5, release1}}
			e := newEngine(t, cfg)
			if err := e.Submit(1, []bus.Op{bus.Read(bus.RegMagic)}); err != nil {
				t.Fatal(err)
			}
			st := stopOf(t, e.Step(100))
			if st.Kind != StopBusTimeout || st.Node != 1 || st.Cycle != 24 {
				t.Fatalf("got %+v, want node 1's bus timeout in cycle 24", *st)
			}
		})
	}
}
