package hw

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidate(t *testing.T) {
	pair := Pair(4)
	tests := []struct {
		name  string
		cfg   Config
		field string // "" means valid
		limit bool
	}{
		{"ok", Config{Topology: pair, Depth: 16}, "", false},
		{"depth 1", Config{Topology: pair, Depth: 1}, "depth", false},
		{"depth too big", Config{Topology: pair, Depth: MaxDepth + 1}, "depth", false},
		{"memory", Config{Topology: Topology{Nodes: 256, Ports: 64}, Depth: 4096}, "depth", true},
		{"clock", Config{Topology: pair, Depth: 16, ClockHz: 1}, "clock_hz", false},
		{"release", Config{Topology: pair, Depth: 16, Release: []uint64{1}}, "release_cycles", false},
		{"dna", Config{Topology: pair, Depth: 16, DNA: [][3]uint32{{}}}, "dna", false},
		{"nul", Config{Topology: pair, Depth: 16, RTLDir: "a\x00b"}, "rtl_dir", false},
		{"no nodes", Config{Topology: Topology{Ports: 1}, Depth: 16}, "topology.nodes", false},
		{"too many nodes", Config{Topology: Topology{Nodes: MaxNodes + 1, Ports: 1}, Depth: 2}, "topology.nodes", true},
		{"too many ports", Config{Topology: Topology{Nodes: 1, Ports: MaxPorts + 1}, Depth: 2}, "topology.ports", true},
		{"endpoint", Config{Topology: Topology{Nodes: 2, Ports: 1, Links: []Link{{From: Endpoint{0, 0}, To: Endpoint{2, 0}}}}, Depth: 16}, "topology.links[0]", false},
		{"latency", Config{Topology: Topology{Nodes: 2, Ports: 1, Links: []Link{{From: Endpoint{0, 0}, To: Endpoint{1, 0}, Latency: MaxLatency + 1}}}, Depth: 16}, "topology.links[0].latency", false},
		{"faults", Config{Topology: Topology{Nodes: 2, Ports: 1, Links: []Link{{From: Endpoint{0, 0}, To: Endpoint{1, 0}, Faults: Faults{FrameZero: -1}}}}, Depth: 16}, "topology.links[0].faults.frame_zero", false},
		{"two TX", Config{Topology: Topology{Nodes: 2, Ports: 1, Links: []Link{{From: Endpoint{0, 0}, To: Endpoint{1, 0}}, {From: Endpoint{0, 0}, To: Endpoint{0, 0}}}}, Depth: 16}, "topology.links[1]", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field || fe.Limit != tt.limit || !errors.Is(err, ErrBadConfig) {
				t.Fatalf("got %v, want a FieldError on %q (limit %v)", err, tt.field, tt.limit)
			}
		})
	}
}

func TestNormalizeIsSeeded(t *testing.T) {
	a, err := Config{Topology: Ring(3, 2), Depth: 16, Seed: 9}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Config{Topology: Ring(3, 2), Depth: 16, Seed: 9}.Normalize()
	c, _ := Config{Topology: Ring(3, 2), Depth: 16, Seed: 10}.Normalize()
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("same seed, different configurations:\n%s", diff)
	}
	if cmp.Equal(a.Release, c.Release) && cmp.Equal(a.DNA, c.DNA) {
		t.Errorf("seeds 9 and 10 drew the same release cycles and DNA")
	}
	for _, r := range a.Release {
		if r > 4*16 {
			t.Errorf("release %d above the default skew 4D = 64", r)
		}
	}
	if a.ClockHz != DefaultClockHz {
		t.Errorf("clock %v, want the default", a.ClockHz)
	}
}

func TestBuiltins(t *testing.T) {
	for _, tt := range []struct {
		name         string
		nodes, ports int
		links        int
	}{{"pair", 2, 1, 2}, {"line", 4, 2, 6}, {"ring", 4, 2, 8}, {"mesh", 8, 7, 56}} {
		tp, err := Builtin(tt.name, tt.nodes, 3)
		if err != nil || tp.Nodes != tt.nodes || tp.Ports != tt.ports || len(tp.Links) != tt.links || tp.Name != tt.name {
			t.Errorf("%s: %+v, %v", tt.name, tp, err)
		}
		if w := tp.Wiring(); len(w) != tt.links {
			t.Errorf("%s: wiring of %d ports, want %d", tt.name, len(w), tt.links)
		}
	}
	if _, err := Builtin("star", 3, 0); !errors.Is(err, ErrUnknownTopology) {
		t.Errorf("star: %v", err)
	}
	if _, err := Builtin("pair", 3, 0); err == nil || !strings.HasPrefix(err.Error(), "nodes: ") {
		t.Errorf("pair of 3: %v", err)
	}
	if _, err := Builtin("mesh", MaxPorts+2, 0); err == nil || !err.(*FieldError).Limit {
		t.Errorf("wide mesh: %v, want a limit error", err)
	}
}

func TestDecodeTopology(t *testing.T) {
	tp, err := DecodeTopology([]byte(`{"nodes": 2, "ports": 1, "links": [
		{"from": {"node": 0, "port": 0}, "to": {"node": 1, "port": 0}, "latency": 5, "bidirectional": true}]}`))
	if err != nil || len(tp.Links) != 2 || tp.Links[1].From != (Endpoint{1, 0}) || tp.Links[1].Latency != 5 {
		t.Errorf("got %+v, %v", tp, err)
	}
	if _, err := DecodeTopology([]byte(`{"nodes": 2, "ports": 1, "extra": 1}`)); !errors.Is(err, ErrBadConfig) {
		t.Errorf("unknown field: %v", err)
	}
}

// TestRig checks the rig against SPEC section 8's table, entry by entry: row = node,
// column = port, entry = the neighbour on that port, which uses the same port back.
func TestRig(t *testing.T) {
	table := [8][7]int{
		{3, 2, 4, 5, 6, 7, 1},
		{2, 3, 5, 6, 7, 4, 0},
		{1, 0, 6, 7, 4, 5, 3},
		{0, 1, 7, 4, 5, 6, 2},
		{7, 6, 0, 3, 2, 1, 5},
		{6, 7, 1, 0, 3, 2, 4},
		{5, 4, 2, 1, 0, 3, 7},
		{4, 5, 3, 2, 1, 0, 6},
	}
	tp := Rig(9)
	if err := tp.Validate(); err != nil {
		t.Fatal(err)
	}
	if tp.Name != "rig" || tp.Nodes != 8 || tp.Ports != 7 || len(tp.Links) != 56 {
		t.Fatalf("got %s with %d nodes, %d ports, %d links; want rig, 8, 7, 56", tp.Name, tp.Nodes, tp.Ports, len(tp.Links))
	}
	w := tp.Wiring()
	for n, row := range table {
		for p, m := range row {
			got, ok := w[Endpoint{n, p}]
			if want := (Endpoint{m, p}); !ok || got != want {
				t.Errorf("node %d port %d: peer %v (wired %v), want %v", n, p, got, ok, want)
			}
		}
	}
	for _, l := range tp.Links {
		if l.Latency != 9 {
			t.Errorf("link %v: latency %d, want 9", l, l.Latency)
		}
	}
	if diff := cmp.Diff(table, RigWiring); diff != "" {
		t.Errorf("RigWiring (-SPEC +got):\n%s", diff)
	}
}

func TestBuiltinRig(t *testing.T) {
	tests := []struct {
		nodes   int
		wantErr bool
	}{{0, false}, {8, false}, {2, true}, {9, true}}
	for _, tt := range tests {
		tp, err := Builtin("rig", tt.nodes, 4)
		if tt.wantErr {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "nodes" {
				t.Errorf("rig of %d nodes: got %v, want a FieldError on nodes", tt.nodes, err)
			}
			continue
		}
		if err != nil || tp.Name != "rig" || tp.Nodes != 8 || len(tp.Links) != 56 {
			t.Errorf("rig of %d nodes: %+v, %v", tt.nodes, tp, err)
		}
	}
	if tp, err := ParseTopology("rig", 0, 2); err != nil || tp.Name != "rig" {
		t.Errorf("ParseTopology(rig): %v, %v", tp.Name, err)
	}
}

// TestDecodeTopologyErrors checks that a broken topology file's error gives the line and
// column and names the field in the file's terms.
func TestDecodeTopologyErrors(t *testing.T) {
	tests := []struct{ name, file, want string }{
		{"not JSON", "{\"nodes\": 2,\n \"ports\" 1}", "line 2, column 10: not JSON"},
		{"array", "[1, 2]", "line 1, column 2: want an object with nodes, ports and links, got a list"},
		{"cut short", `{"nodes": 2,`, "the file ends before the topology does"},
		{"trailing", `{"nodes": 2, "ports": 1, "links": []} x`, "line 1, column 39: more after the topology's closing brace"},
		{"wrong type", "{\"nodes\": 2, \"ports\": 1, \"links\": [\n {\"from\": {\"node\": 0, \"port\": 0}, \"to\": {\"node\": 1, \"port\": 0}, \"latency\": \"4\"},\n" +
			" {\"from\": {\"node\": 1, \"port\": 0}, \"to\": {\"node\": 0, \"port\": 0}, \"latency\": \"x\"}]}",
			"line 2, column 79: links[0].latency: want a whole number, got a string"},
		{"unknown field", "{\"nodes\": 2, \"ports\": 1, \"links\": [\n {\"from\": {\"node\": 0, \"port\": 0}, \"to\": {\"node\": 1, \"port\": 0}},\n {\"latncy\": 4}]}",
			`line 3, column 3: links[1]: unknown field "latncy"`},
		{"bad endpoint", "{\"nodes\": 2, \"ports\": 1, \"links\": [\n {\"from\": {\"node\": 0, \"port\": 0}, \"to\": {\"node\": 1, \"port\": 0}, \"bidirectional\": true},\n" +
			" {\"from\": {\"node\": 0, \"port\": 0}, \"to\": {\"node\": 5, \"port\": 0}}]}", "line 3, column 2: links[1]: link 0.0->5.0: endpoint 5.0 outside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeTopology([]byte(tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v\nwant an error containing %q", err, tt.want)
			}
		})
	}
}
