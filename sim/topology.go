package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
)

// Endpoint is one port of one node.
type Endpoint struct {
	Node int `json:"node"`
	Port int `json:"port"`
}

// String returns "node.port".
func (e Endpoint) String() string { return fmt.Sprintf("%d.%d", e.Node, e.Port) }

// Faults are a link's injected fault rates. Both are probabilities in [0, 1].
type Faults struct {
	// BitFlip is the probability that any one bit of a frame is inverted.
	BitFlip float64 `json:"bit_flip,omitempty"`
	// FrameZero is the probability that a whole 64-bit frame arrives as zero (a lost word).
	FrameZero float64 `json:"frame_zero,omitempty"`
}

// Validate reports whether the rates are probabilities.
func (f Faults) Validate() error {
	for _, r := range []struct {
		name string
		v    float64
	}{{"bit_flip", f.BitFlip}, {"frame_zero", f.FrameZero}} {
		if math.IsNaN(r.v) || r.v < 0 || r.v > 1 {
			return fmt.Errorf("%w: %s rate %v is not in [0, 1]", ErrBadConfig, r.name, r.v)
		}
	}
	return nil
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
	Name  string `json:"name,omitempty"`
	Nodes int    `json:"nodes"`
	Ports int    `json:"ports"`
	Links []Link `json:"links"`
}

// MaxLatency is the longest link latency the engine accepts, in cycles.
const MaxLatency = 1 << 24

// Validate checks that every link names existing ports and that no port is the TX end or
// the RX end of two links.
func (t Topology) Validate() error {
	if t.Nodes < 1 {
		return fmt.Errorf("%w: topology needs at least one node, got %d", ErrBadConfig, t.Nodes)
	}
	if t.Ports < 1 {
		return fmt.Errorf("%w: topology needs at least one port per node, got %d", ErrBadConfig, t.Ports)
	}
	tx := map[Endpoint]int{}
	rx := map[Endpoint]int{}
	for i, l := range t.Links {
		for _, e := range []Endpoint{l.From, l.To} {
			if e.Node < 0 || e.Node >= t.Nodes || e.Port < 0 || e.Port >= t.Ports {
				return fmt.Errorf("%w: link %d (%v): endpoint %v outside %d nodes x %d ports",
					ErrBadConfig, i, l, e, t.Nodes, t.Ports)
			}
		}
		if l.Latency > MaxLatency {
			return fmt.Errorf("%w: link %d (%v): latency %d above %d", ErrBadConfig, i, l, l.Latency, MaxLatency)
		}
		if err := l.Faults.Validate(); err != nil {
			return fmt.Errorf("link %d (%v): %w", i, l, err)
		}
		if j, ok := tx[l.From]; ok {
			return fmt.Errorf("%w: links %d and %d both transmit from %v", ErrBadConfig, j, i, l.From)
		}
		if j, ok := rx[l.To]; ok {
			return fmt.Errorf("%w: links %d and %d both receive at %v", ErrBadConfig, j, i, l.To)
		}
		tx[l.From] = i
		rx[l.To] = i
	}
	return nil
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

// ErrUnknownTopology is returned by ParseTopology for names it does not know.
var ErrUnknownTopology = errors.New("unknown topology")

// ParseTopology returns a built-in topology by name ("pair", "line", "ring", "mesh") with
// nodes nodes, or loads a JSON topology file when name ends in ".json".
func ParseTopology(name string, nodes int, latency uint32) (Topology, error) {
	if strings.HasSuffix(name, ".json") {
		return LoadTopology(name)
	}
	if name != "pair" && nodes < 2 {
		return Topology{}, fmt.Errorf("%w: topology %q needs at least 2 nodes, got %d", ErrBadConfig, name, nodes)
	}
	var t Topology
	switch name {
	case "pair":
		if nodes != 2 && nodes != 0 {
			return Topology{}, fmt.Errorf("%w: a pair has 2 nodes, got %d", ErrBadConfig, nodes)
		}
		t = Pair(latency)
	case "line":
		t = Line(nodes, latency)
	case "ring":
		t = Ring(nodes, latency)
	case "mesh", "full-mesh":
		t = FullMesh(nodes, latency)
	default:
		return Topology{}, fmt.Errorf("%w %q: want pair, line, ring, mesh or a .json file", ErrUnknownTopology, name)
	}
	return t, t.Validate()
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
	var t Topology
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return Topology{}, fmt.Errorf("%w: parse topology %s: %v", ErrBadConfig, path, err)
	}
	var links []Link
	for _, l := range t.Links {
		rev := l.Bidirectional
		l.Bidirectional = false
		links = append(links, l)
		if rev {
			links = append(links, Link{From: l.To, To: l.From, Latency: l.Latency, Faults: l.Faults})
		}
	}
	t.Links = links
	if t.Name == "" {
		t.Name = path
	}
	if err := t.Validate(); err != nil {
		return Topology{}, fmt.Errorf("topology %s: %w", path, err)
	}
	return t, nil
}
