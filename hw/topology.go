package hw

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
)

// Endpoint is one port of one node.
type Endpoint struct {
	Node int `json:"node"`
	Port int `json:"port"`
}

// String returns "node.port".
func (e Endpoint) String() string { return fmt.Sprintf("%d.%d", e.Node, e.Port) }

// Less orders endpoints by node, then port.
func (e Endpoint) Less(o Endpoint) bool {
	return e.Node < o.Node || e.Node == o.Node && e.Port < o.Port
}

// Link carries one direction: the TX ring buffer of From to the RX ring buffer of To, with
// a fixed latency in cycles (frame(t) leaves From's TX register in cycle t and is written
// by To's RX in cycle t+Latency).
type Link struct {
	From    Endpoint `json:"from"`
	To      Endpoint `json:"to"`
	Latency uint32   `json:"latency"`
	Faults  Faults   `json:"faults,omitempty"`
	// Bidirectional, in a topology file, also adds the reverse link with the same settings.
	Bidirectional bool `json:"bidirectional,omitempty"`
}

// String returns "a.p->b.q".
func (l Link) String() string { return l.From.String() + "->" + l.To.String() }

// Topology is a set of nodes with a number of link ports each and the links between them.
type Topology struct {
	// Name is the built-in topology's name ("pair", "line", "ring", "mesh", "rig"), the file it was
	// loaded from, or empty.
	Name  string `json:"name,omitempty"`
	Nodes int    `json:"nodes"`
	Ports int    `json:"ports"`
	Links []Link `json:"links"`
}

// Validate checks the node and port counts against the limits, that every link names
// existing ports with a latency in range and fault rates that are probabilities, and that
// no port is the TX end or the RX end of two links.
func (t Topology) Validate() error {
	switch {
	case t.Nodes < 1:
		return fieldErr("topology.nodes", "needs at least one node, got %d", t.Nodes)
	case t.Nodes > MaxNodes:
		return limitErr("topology.nodes", "%d nodes, limit %d", t.Nodes, MaxNodes)
	case t.Ports < 1:
		return fieldErr("topology.ports", "needs at least one port per node, got %d", t.Ports)
	case t.Ports > MaxPorts:
		return limitErr("topology.ports", "%d ports per node, limit %d", t.Ports, MaxPorts)
	}
	tx := map[Endpoint]int{}
	rx := map[Endpoint]int{}
	for i, l := range t.Links {
		field := fmt.Sprintf("topology.links[%d]", i)
		for _, e := range []Endpoint{l.From, l.To} {
			if e.Node < 0 || e.Node >= t.Nodes || e.Port < 0 || e.Port >= t.Ports {
				return fieldErr(field, "link %v: endpoint %v outside %d nodes x %d ports", l, e, t.Nodes, t.Ports)
			}
		}
		if l.Latency > MaxLatency {
			return fieldErr(field+".latency", "%d cycles above %d", l.Latency, MaxLatency)
		}
		if err := l.Faults.Validate(); err != nil {
			return Prefix(field+".faults", err)
		}
		if j, ok := tx[l.From]; ok {
			return fieldErr(field, "links %d and %d both transmit from %v", j, i, l.From)
		}
		if j, ok := rx[l.To]; ok {
			return fieldErr(field, "links %d and %d both receive at %v", j, i, l.To)
		}
		tx[l.From] = i
		rx[l.To] = i
	}
	return nil
}

// MaxLinkLatency is the longest latency of the topology's links.
func (t Topology) MaxLinkLatency() uint32 {
	var m uint32
	for _, l := range t.Links {
		m = max(m, l.Latency)
	}
	return m
}

// SetFaults gives every link the same fault rates.
func (t Topology) SetFaults(f Faults) {
	for i := range t.Links {
		t.Links[i].Faults = f
	}
}

// Wiring is the wiring plan firmware knows statically, as a hosts file would: for every
// port that receives from a link, the port at the other end. Both directions of a link
// appear when both are wired.
type Wiring map[Endpoint]Endpoint

// Wiring returns the topology's wiring plan: each link's RX end mapped to its TX end.
func (t Topology) Wiring() Wiring {
	w := make(Wiring, len(t.Links))
	for _, l := range t.Links {
		w[l.To] = l.From
	}
	return w
}

// Peer returns the endpoint whose TX reaches e's RX, if any.
func (t Topology) Peer(e Endpoint) (Endpoint, bool) {
	for _, l := range t.Links {
		if l.To == e {
			return l.From, true
		}
	}
	return Endpoint{}, false
}

func both(a, b Endpoint, latency uint32) []Link {
	return []Link{{From: a, To: b, Latency: latency}, {From: b, To: a, Latency: latency}}
}

// Pair is two nodes with one port each, connected both ways.
func Pair(latency uint32) Topology {
	return Topology{Name: "pair", Nodes: 2, Ports: 1, Links: both(Endpoint{0, 0}, Endpoint{1, 0}, latency)}
}

// Line is n nodes in a row; port 0 faces the left neighbour, port 1 the right one.
func Line(n int, latency uint32) Topology {
	t := Topology{Name: "line", Nodes: n, Ports: 2}
	for i := 0; i+1 < n; i++ {
		t.Links = append(t.Links, both(Endpoint{i, 1}, Endpoint{i + 1, 0}, latency)...)
	}
	return t
}

// Ring is a line whose ends are connected too.
func Ring(n int, latency uint32) Topology {
	t := Line(n, latency)
	t.Name = "ring"
	if n > 2 {
		t.Links = append(t.Links, both(Endpoint{n - 1, 1}, Endpoint{0, 0}, latency)...)
	}
	return t
}

// FullMesh connects every node to every other with n-1 ports per node, as upstream's
// hardware demo (8 nodes, 7 links each): node i's port for neighbour j is j if j < i,
// else j-1.
func FullMesh(n int, latency uint32) Topology {
	t := Topology{Name: "mesh", Nodes: n, Ports: max(n-1, 1)}
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			t.Links = append(t.Links, both(Endpoint{i, j - 1}, Endpoint{j, i}, latency)...)
		}
	}
	return t
}

// RigWiring is upstream's 8-node hardware rig (SPEC section 8): RigWiring[n][p] is the node
// on port p of node n, which uses the same port p back. It is fpgaSetup in upstream's
// bittide-instances/src/Bittide/Instances/Hitl/Setup.hs:61-71 (main 26adae95), ports SFP0,
// SFP1, J4, J5, J6, J7 and SMA, and LINK_NEIGHBORS in the async-comms demo's
// firmware-support/bittide-sys/src/hitl.rs:41-50 (branch lucas/ringbuffer-smoltcp 811196ed).
var RigWiring = [8][7]int{
	{3, 2, 4, 5, 6, 7, 1},
	{2, 3, 5, 6, 7, 4, 0},
	{1, 0, 6, 7, 4, 5, 3},
	{0, 1, 7, 4, 5, 6, 2},
	{7, 6, 0, 3, 2, 1, 5},
	{6, 7, 1, 0, 3, 2, 4},
	{5, 4, 2, 1, 0, 3, 7},
	{4, 5, 3, 2, 1, 0, 6},
}

// RigManager is the node that collects the exchange's report on the rig: rig position 6
// (MANAGER_DNA = FPGA_DNAS[6] in the async-comms demo's main.rs:30-31).
const RigManager = 6

// Rig is upstream's 8-node hardware rig: a full mesh of 8 nodes with 7 ports each, wired
// as RigWiring (port p of a node reaches port p of its neighbour), every link at latency.
func Rig(latency uint32) Topology {
	t := Topology{Name: "rig", Nodes: len(RigWiring), Ports: len(RigWiring[0])}
	for n, row := range RigWiring {
		for p, m := range row {
			// Each link once in each direction: the row with the lower node adds both.
			if n < m {
				t.Links = append(t.Links, both(Endpoint{n, p}, Endpoint{m, p}, latency)...)
			}
		}
	}
	return t
}

// Builtins are the names of the built-in topologies.
var Builtins = []string{"pair", "line", "ring", "mesh", "rig"}

// Builtin returns the built-in topology name with nodes nodes and every link at latency.
// A pair has 2 nodes (nodes 0 means 2) and the rig 8 (nodes 0 means 8); the others need at
// least 2.
func Builtin(name string, nodes int, latency uint32) (Topology, error) {
	if name == "full-mesh" {
		name = "mesh"
	}
	if nodes == 0 {
		nodes = 2
		if name == "rig" {
			nodes = len(RigWiring)
		}
	}
	if latency > MaxLatency {
		return Topology{}, fieldErr("latency", "%d cycles above %d", latency, MaxLatency)
	}
	var t Topology
	switch name {
	case "pair":
		if nodes != 2 {
			return Topology{}, fieldErr("nodes", "a pair has 2 nodes, got %d", nodes)
		}
		t = Pair(latency)
	case "rig":
		if nodes != len(RigWiring) {
			return Topology{}, fieldErr("nodes", "the rig has %d nodes, got %d", len(RigWiring), nodes)
		}
		t = Rig(latency)
	case "line", "ring", "mesh":
		if nodes < 2 {
			return Topology{}, fieldErr("nodes", "topology %q needs at least 2 nodes, got %d", name, nodes)
		}
		if nodes > MaxNodes {
			return Topology{}, limitErr("nodes", "%d nodes, limit %d", nodes, MaxNodes)
		}
		if name == "mesh" && nodes-1 > MaxPorts {
			return Topology{}, limitErr("nodes", "a mesh of %d nodes needs %d ports per node, limit %d", nodes, nodes-1, MaxPorts)
		}
		switch name {
		case "line":
			t = Line(nodes, latency)
		case "ring":
			t = Ring(nodes, latency)
		default:
			t = FullMesh(nodes, latency)
		}
	default:
		return Topology{}, fmt.Errorf("%w %q: want %s or a .json file", ErrUnknownTopology, name, strings.Join(Builtins, ", "))
	}
	return t, t.Validate()
}

// ParseTopology returns a built-in topology by name (see Builtin), or loads a JSON
// topology file when name ends in ".json".
func ParseTopology(name string, nodes int, latency uint32) (Topology, error) {
	if strings.HasSuffix(name, ".json") {
		return LoadTopology(name)
	}
	return Builtin(name, nodes, latency)
}

// LoadTopology reads a JSON topology file:
//
//	{"nodes": 3, "ports": 2, "links": [
//	  {"from": {"node": 0, "port": 1}, "to": {"node": 1, "port": 0}, "latency": 16,
//	   "bidirectional": true, "faults": {"bit_flip": 1e-6}}]}
func LoadTopology(path string) (Topology, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Topology{}, fmt.Errorf("read topology: %w", err)
	}
	t, err := DecodeTopology(data)
	if err != nil {
		return Topology{}, fmt.Errorf("topology %s: %w", path, err)
	}
	if t.Name == "" {
		t.Name = path
	}
	return t, nil
}

// DecodeTopology parses a topology file's JSON, expands bidirectional links and validates
// the result.
//
// Errors give the line and column and the field (links[2].latency) in the file's terms.
func DecodeTopology(data []byte) (Topology, error) {
	var t Topology
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return Topology{}, fmt.Errorf("%w: %s", ErrBadConfig, explainJSON(data, err))
	}
	if dec.More() {
		off := dec.InputOffset()
		off += int64(len(data[off:]) - len(bytes.TrimLeft(data[off:], " \t\r\n")))
		return Topology{}, fmt.Errorf("%w: %s: more after the topology's closing brace", ErrBadConfig, position(data, off))
	}
	var links []Link
	var from []int // the file's link each link comes from
	for i, l := range t.Links {
		rev := l.Bidirectional
		l.Bidirectional = false
		links = append(links, l)
		from = append(from, i)
		if rev {
			links = append(links, Link{From: l.To, To: l.From, Latency: l.Latency, Faults: l.Faults})
			from = append(from, i)
		}
	}
	t.Links = links
	if err := t.Validate(); err != nil {
		// Name the file's link: a bidirectional one's reverse has an index of its own.
		var fe *FieldError
		if errors.As(err, &fe) {
			var k int
			if _, e := fmt.Sscanf(fe.Field, "topology.links[%d]", &k); e == nil && k >= 0 && k < len(from) {
				rest := fe.Field[strings.Index(fe.Field, "]")+1:]
				field := fmt.Sprintf("links[%d]%s", from[k], rest)
				if off, ok := elementOffset(data, "links", from[k]); ok {
					field = position(data, off) + ": " + field
				}
				return Topology{}, &FieldError{Field: field, Msg: fe.Msg, Limit: fe.Limit}
			}
			if f, ok := strings.CutPrefix(fe.Field, "topology."); ok {
				return Topology{}, &FieldError{Field: f, Msg: fe.Msg, Limit: fe.Limit}
			}
		}
		return Topology{}, err
	}
	return t, nil
}

// jsonKinds names JSON values the way the topology file's documentation does.
var jsonKinds = map[string]string{"string": "a string", "number": "a number", "bool": "true or false",
	"array": "a list", "object": "an object", "null": "null"}

// explainJSON turns a decoding error into one that gives the line, column and field.
func explainJSON(data []byte, err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("%s: not JSON: %v", position(data, syn.Offset-1), syn) // Offset is past the bad byte
	case errors.As(err, &typ):
		got := jsonKinds[typ.Value]
		if got == "" {
			got = typ.Value
		}
		if typ.Field == "" {
			return fmt.Sprintf("%s: want an object with nodes, ports and links, got %s", position(data, typ.Offset), got)
		}
		field := typ.Field
		if rest, ok := strings.CutPrefix(field, "links."); ok {
			if i, ok := elementAt(data, "links", typ.Offset); ok {
				field = fmt.Sprintf("links[%d].%s", i, rest)
			}
		}
		want := typ.Type.String()
		switch typ.Type.Kind() {
		case reflect.Int, reflect.Uint32, reflect.Uint64, reflect.Int64:
			want = "a whole number"
		case reflect.Float64:
			want = "a number"
		case reflect.Bool:
			want = "true or false"
		case reflect.Slice:
			want = "a list"
		case reflect.Struct:
			want = "an object"
		}
		return fmt.Sprintf("%s: %s: want %s, got %s", position(data, typ.Offset), field, want, got)
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		return "the file ends before the topology does (empty, or cut short)"
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		// Go's error has no offset: find the field's name in the file.
		if i := bytes.Index(data, []byte(name+":")); i >= 0 {
			where := position(data, int64(i))
			if k, ok := elementAt(data, "links", int64(i)); ok {
				return fmt.Sprintf("%s: links[%d]: unknown field %s (fields: from, to, latency, faults, bidirectional)", where, k, name)
			}
			return fmt.Sprintf("%s: unknown field %s", where, name)
		}
		return "unknown field " + name
	}
	return strings.TrimPrefix(msg, "json: ")
}

// position gives a byte offset of data as "line L, column C" (1-based).
func position(data []byte, off int64) string {
	off = min(max(off, 0), int64(len(data)))
	line := 1 + bytes.Count(data[:off], []byte{'\n'})
	col := off - int64(bytes.LastIndexByte(data[:off], '\n'))
	return fmt.Sprintf("line %d, column %d", line, col)
}

// elementAt returns the index of the element of the top-level list key that holds byte
// offset off.
func elementAt(data []byte, key string, off int64) (int, bool) {
	for i := 0; ; i++ {
		start, end, ok := element(data, key, i)
		if !ok {
			return 0, false
		}
		if off >= start && off <= end {
			return i, true
		}
	}
}

// elementOffset returns where element i of the top-level list key starts.
func elementOffset(data []byte, key string, i int) (int64, bool) {
	start, _, ok := element(data, key, i)
	return start, ok
}

// element returns the byte range of element i of the top-level list key.
func element(data []byte, key string, i int) (int64, int64, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return 0, 0, false
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return 0, 0, false
		}
		if tok != key {
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return 0, 0, false
			}
			continue
		}
		if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
			return 0, 0, false
		}
		for k := 0; dec.More(); k++ {
			start := dec.InputOffset()
			var raw json.RawMessage
			if dec.Decode(&raw) != nil {
				return 0, 0, false
			}
			if k == i {
				// InputOffset is before the separator and blanks that precede the element.
				lead := bytes.IndexAny(data[start:], "{[\"0123456789-tfn")
				return start + int64(max(lead, 0)), dec.InputOffset(), true
			}
		}
		return 0, 0, false
	}
	return 0, 0, false
}
