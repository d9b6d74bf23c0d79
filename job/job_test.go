package job

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringsim/ringsim/bridge"
	"github.com/ringsim/ringsim/bridge/framing"
	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/sim/simtest"
)

// reference starts jobs on the reference machine.
func reference(ctx context.Context, cfg hw.Config) (Machine, error) { return simtest.New(ctx, cfg) }

func firmware(t *testing.T, s string) bridge.Firmware {
	t.Helper()
	f, err := bridge.ParseFirmware(s)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestValidateFirmwareAndManager(t *testing.T) {
	rig := hw.Config{Topology: hw.Rig(16), Depth: 128}
	pair := hw.Config{Topology: hw.Pair(16), Depth: 128}
	seven, nine := 7, 9
	tests := []struct {
		name    string
		spec    Spec
		wantErr string // "" for none
	}{
		{"ringsim transfer", Spec{Sim: pair}, ""},
		{"soft-UGN has no TCP", Spec{Sim: pair, Firmware: firmware(t, "upstream-softugn")}, "use app softugn or align"},
		{"soft-UGN on one node", Spec{Sim: pair, Firmware: firmware(t, "1=upstream-softugn"), App: AppExchange}, "node 1's firmware upstream-softugn has none"},
		{"soft-UGN aligns", Spec{Sim: pair, Firmware: firmware(t, "upstream-softugn"), App: AppAlign}, ""},
		{"soft-UGN demo", Spec{Sim: pair, Firmware: firmware(t, "upstream-softugn"), App: AppSoftUGN}, ""},
		{"soft-UGN demo needs its firmware", Spec{Sim: pair, Firmware: firmware(t, "0=upstream-softugn"), App: AppSoftUGN}, "node 1 runs ringsim"},
		{"soft-UGN demo with no events", Spec{Sim: pair, Firmware: firmware(t, "upstream-softugn"), App: AppSoftUGN, SoftUGN: &bridge.SoftUGNTiming{}}, "0 events"},
		{"soft-UGN demo waiting too long", Spec{Sim: pair, Firmware: firmware(t, "upstream-softugn"), App: AppSoftUGN,
			SoftUGN: &bridge.SoftUGNTiming{Settle: 1, StartDelay: 1 << 50, Events: 1}}, "at most 1099511627776 each"},
		{"firmware for a node outside", Spec{Sim: pair, Firmware: firmware(t, "2=ringsim")}, "node 2 outside 2 nodes"},
		{"rig manager default", Spec{Sim: rig, App: AppExchange}, ""},
		{"rig manager 7", Spec{Sim: rig, App: AppExchange, Manager: &seven}, ""},
		{"rig manager 9", Spec{Sim: rig, App: AppExchange, Manager: &nine}, "manager node 9 outside 8 nodes"},
		{"bad app", Spec{Sim: pair, App: "ftp"}, "want transfer, hello, exchange, align or softugn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			if !errors.Is(err, ErrBadSpec) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want ErrBadSpec containing %q", err, tt.wantErr)
			}
		})
	}
	for _, tt := range []struct {
		topo hw.Topology
		want int
	}{{hw.Rig(1), 6}, {hw.Pair(1), 0}, {hw.FullMesh(8, 1), 0}} {
		if got := (Spec{Sim: hw.Config{Topology: tt.topo}}).ManagerNode(); got != tt.want {
			t.Errorf("%s: default manager %d, want %d", tt.topo.Name, got, tt.want)
		}
	}
}

// TestRigExchangeReport runs upstream's demo scenario on the rig (the exchange, node 6 the
// manager by default) and checks the labelled report: every directed edge once, with the
// node and port at each end as the rig wires them, the alignment offset of the recording
// end, and no hardware UGN.
func TestRigExchangeReport(t *testing.T) {
	dir := t.TempDir()
	spec := Spec{Sim: hw.Config{Topology: hw.Rig(16), Depth: 128, Seed: 1}, App: AppExchange, Cost: bridge.DefaultCost}
	res, err := Run(context.Background(), spec, Options{Start: reference})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Passed() {
		t.Fatalf("job failed: %v", res.Err)
	}
	if res.Manager == nil || *res.Manager != hw.RigManager {
		t.Fatalf("manager %v, want %d", res.Manager, hw.RigManager)
	}
	if len(res.Edges) != 56 {
		t.Fatalf("%d edges, want 56", len(res.Edges))
	}
	// Every node completed, after its links were established and by the run's end.
	if len(res.Completion) != 8 {
		t.Fatalf("%d completions, want one per node", len(res.Completion))
	}
	for _, c := range res.Completion {
		if !c.Completed || c.Cycle == 0 || c.Cycle > res.Cycles || c.SimSeconds != float64(c.Cycle)/hw.DefaultClockHz {
			t.Errorf("completion %+v, want completed within the run's %d cycles", c, res.Cycles)
		}
	}
	offsets := map[hw.Endpoint]int{}
	for _, l := range res.Links {
		offsets[l.Local] = l.Offset
	}
	for _, e := range res.Edges {
		want := hw.Endpoint{Node: hw.RigWiring[e.Src.Node][e.Src.Port], Port: e.Src.Port}
		if e.Dst != want {
			t.Errorf("edge %v: dst %v, want %v (the rig's wiring)", e, e.Dst, want)
		}
		if e.AlignmentOffset != int64(offsets[e.Src]) {
			t.Errorf("edge %v: alignment offset %d, want %d (link end %v's)", e, e.AlignmentOffset, offsets[e.Src], e.Src)
		}
		if e.HardwareUGN != nil {
			t.Errorf("edge %v: a hardware UGN, want none", e)
		}
	}
	var out bytes.Buffer
	res.WriteSummary(&out, spec, nil)
	first := res.Edges[0]
	for _, want := range []string{
		"PASS: node 6 collected 56 edges, each recorded by its src end (the ideal link has no UGN capture):",
		fmt.Sprintf("    node 0 port 0 -> node 3 port 0: alignment offset %d, hardware UGN n/a (the ideal link has no UGN capture) (DNA %s -> %s)",
			first.AlignmentOffset, first.SrcDNA, first.DstDNA),
	} {
		if !strings.Contains(out.String(), want+"\n") {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	path := filepath.Join(dir, "r.json")
	if err := res.WriteJSON(path, spec); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	var doc struct {
		Manager int              `json:"manager"`
		Edges   []map[string]any `json:"edges"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Manager != 6 || len(doc.Edges) != 56 {
		t.Fatalf("JSON manager %d and %d edges, want 6 and 56", doc.Manager, len(doc.Edges))
	}
	if v, ok := doc.Edges[0]["hardware_ugn"]; !ok || v != nil {
		t.Errorf("JSON edge %v: want \"hardware_ugn\": null", doc.Edges[0])
	}
	if _, ok := doc.Edges[0]["alignment_offset"]; !ok {
		t.Errorf("JSON edge %v: no alignment_offset", doc.Edges[0])
	}
}

// TestStallSummary checks that a stalled job says why, with its wait-for chain, on the
// console and in the JSON.
func TestStallSummary(t *testing.T) {
	spec := Spec{Sim: hw.Config{Topology: hw.Ring(3, 16), Depth: 128, Seed: 1}, App: AppExchange, Cost: bridge.DefaultCost,
		Firmware: firmware(t, "upstream-async"), Addressing: bridge.Upstream}
	res, err := Run(context.Background(), spec, Options{Start: reference})
	if err != nil {
		t.Fatal(err)
	}
	if res.Passed() || !errors.Is(res.Err, bridge.ErrStalled) {
		t.Fatalf("got %v, want a stall", res.Err)
	}
	var out bytes.Buffer
	res.WriteSummary(&out, spec, nil)
	for _, want := range []string{
		"FAIL: alignment deadlock at cycle 781: node 0 -> node 2 -> node 1 -> node 0 wait for each other",
		"  wait-for chain:\n    node 0 port 0 (upstream-async) FindingAlignment since cycle 489: waits for node 2 port 1 to announce; node 2 steps its port 0 first\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Error string        `json:"error"`
		Stall *bridge.Stall `json:"stall"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Stall == nil || doc.Stall.Cause != bridge.StallDeadlock || len(doc.Stall.Chain) != 3 || doc.Error == "" {
		t.Errorf("JSON: error %q, stall %+v; want the deadlock and its chain of 3", doc.Error, doc.Stall)
	}
	if w := doc.Stall.Chain[1]; w.Node != 2 || w.Port != 0 || w.Since != 780 || w.Peer != (hw.Endpoint{Node: 1, Port: 1}) {
		t.Errorf("JSON chain[1] %+v, want node 2 port 0 since cycle 780, peer 1.1", w)
	}
}

// TestSummaryFramingWords checks that the console's per-link-end line counts in the
// framing's own terms: the seed framing (ip) rejects malformed IP headers and confirms reads
// (it has no CRC and no sequence number to count losses by), and packets dropped on
// purpose are counted inside accepted, where they were taken off the ring buffer.
func TestSummaryFramingWords(t *testing.T) {
	for _, tt := range []struct {
		framing   string
		want, not []string
	}{
		{"ip", []string{"bad-ip-header ", "unconfirmed ", "dropped on purpose, --drop)"}, []string{"bad-crc", " lost "}},
		{"crc", []string{"bad-crc ", " lost ", "dropped on purpose, --drop)"}, []string{"bad-ip-header", "unconfirmed"}},
	} {
		t.Run(tt.framing, func(t *testing.T) {
			codec, err := framing.Lookup(tt.framing)
			if err != nil {
				t.Fatal(err)
			}
			spec := Spec{Sim: hw.Config{Topology: hw.Pair(16), Depth: 256, Seed: 2}, Framing: codec,
				Cost: bridge.DefaultCost, Drop: 0.05, Bytes: 32 << 10}
			res, err := Run(context.Background(), spec, Options{Start: reference})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Passed() {
				t.Fatalf("transfer failed: %v", res.Err)
			}
			var out bytes.Buffer
			res.WriteSummary(&out, spec, nil)
			var line string
			for _, l := range strings.Split(out.String(), "\n") {
				if strings.HasPrefix(l, "  node 0 port 0") {
					line = l
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(line, w) {
					t.Errorf("line %q lacks %q", line, w)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(line, w) {
					t.Errorf("line %q has %q", line, w)
				}
			}
		})
	}
}

// TestResumeMismatch checks that a snapshot that does not fit the run fails the job with the
// reason instead of crashing it.
func TestResumeMismatch(t *testing.T) {
	spec := Spec{Sim: hw.Config{Topology: hw.Pair(16), Depth: 64, Seed: 1}, Cost: bridge.DefaultCost, Bytes: 1024,
		Resume: &bridge.Snapshot{Cycle: 999}}
	res, err := Run(context.Background(), spec, Options{Start: reference})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(res.Err, bridge.ErrBadSnapshot) || res.Report == nil || res.Report.Error == "" {
		t.Fatalf("result error %v, report %v: want ErrBadSnapshot in both", res.Err, res.Report)
	}
}
