package app

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ringsim/ringsim/bridge"
	"github.com/ringsim/ringsim/bridge/framing"
	"github.com/ringsim/ringsim/bridge/netstack"
	"github.com/ringsim/ringsim/hw"
	"github.com/ringsim/ringsim/sim/simtest"
)

// The upstream test scenarios of SPEC section 6 (Hello: simultaneous open and the hello
// strings; Exchange: DNA and port exchange and the manager's report): the message codecs,
// the apps' protocols over in-memory connections (fast, and with misbehaving peers), and
// the apps over simulated hardware.

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHelloMessageCodec(t *testing.T) {
	tests := []struct {
		name    string
		msg     HelloMessage
		wire    string // hex; the encoding of msg, or the input to decode
		wantErr error  // decoding wire
	}{
		{"zero", HelloMessage{}, "7273696d 00000000 00000000 00000000", nil},
		{"fields little-endian", HelloMessage{Node: 1, Port: 0x0203, Seq: 0x04050607},
			"7273696d 01000000 03020000 07060504", nil},
		{"max", HelloMessage{Node: ^uint32(0), Port: ^uint32(0), Seq: ^uint32(0)},
			"7273696d ffffffff ffffffff ffffffff", nil},
		{"empty", HelloMessage{}, "", ErrMalformed},
		{"short", HelloMessage{}, "7273696d 01000000 00000000 000000", ErrMalformed},
		{"long", HelloMessage{}, "7273696d 01000000 00000000 00000000 00", ErrMalformed},
		{"bad magic", HelloMessage{}, "7273696e 01000000 00000000 00000000", ErrMalformed},
		{"greeting text", HelloMessage{}, hex.EncodeToString([]byte("Hello from Node ")), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wire := mustHex(t, tt.wire)
			var got HelloMessage
			err := got.UnmarshalBinary(wire)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("UnmarshalBinary(% x): got error %v, want %v", wire, err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			if got != tt.msg {
				t.Errorf("UnmarshalBinary(% x): got %+v, want %+v", wire, got, tt.msg)
			}
			enc, err := tt.msg.MarshalBinary()
			if err != nil || !bytes.Equal(enc, wire) {
				t.Errorf("MarshalBinary(%+v): got % x, %v; want % x", tt.msg, enc, err, wire)
			}
		})
	}
}

func TestHelloGreeting(t *testing.T) {
	tests := []struct {
		node int
		want string
	}{{0, "Hello from Node 0"}, {1, "Hello from Node 1"}, {12, "Hello from Node 12"}}
	for _, tt := range tests {
		if got := Greeting(tt.node); got != tt.want {
			t.Errorf("Greeting(%d): got %q, want %q", tt.node, got, tt.want)
		}
	}
}

func TestExchangeLinkInfoCodec(t *testing.T) {
	tests := []struct {
		name    string
		info    LinkInfo
		wire    string
		wantErr error
	}{
		{"dna and port", LinkInfo{DNA: [12]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, Port: 6},
			"0102030405060708090a0b0c 06000000", nil},
		{"port little-endian", LinkInfo{Port: 0x01020304}, "000000000000000000000000 04030201", nil},
		{"empty", LinkInfo{}, "", ErrMalformed},
		{"dna only", LinkInfo{}, "0102030405060708090a0b0c", ErrMalformed},
		{"long", LinkInfo{}, "0102030405060708090a0b0c 06000000 00", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wire := mustHex(t, tt.wire)
			var got LinkInfo
			err := got.UnmarshalBinary(wire)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("UnmarshalBinary(% x): got error %v, want %v", wire, err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			if got != tt.info {
				t.Errorf("UnmarshalBinary(% x): got %+v, want %+v", wire, got, tt.info)
			}
			enc, err := tt.info.MarshalBinary()
			if err != nil || !bytes.Equal(enc, wire) {
				t.Errorf("MarshalBinary(%+v): got % x, %v; want % x", tt.info, enc, err, wire)
			}
		})
	}
}

func TestExchangeCommandCodec(t *testing.T) {
	tests := []struct {
		name    string
		wire    string
		want    Command
		wantErr string // substring of the error; "" for none
	}{
		{"request report", "01000000", CommandRequestReport, ""},
		{"unknown command 0", "00000000", 0, "unknown command 0"},
		{"unknown command 2", "02000000", 0, "unknown command 2"},
		{"nonzero padding", "01000100", 0, "padding"},
		{"one byte", "01", 0, "command of 1 bytes"},
		{"empty", "", 0, "command of 0 bytes"},
		{"long", "0100000000", 0, "command of 5 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wire := mustHex(t, tt.wire)
			var got Command
			err := got.UnmarshalBinary(wire)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("UnmarshalBinary(% x): got error %v, want ErrMalformed with %q", wire, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("UnmarshalBinary(% x): got %v, %v; want %v", wire, got, err, tt.want)
			}
			enc, _ := got.MarshalBinary()
			if !bytes.Equal(enc, wire) {
				t.Errorf("MarshalBinary(%v): got % x, want % x", got, enc, wire)
			}
		})
	}
}

func TestExchangeReportHeader(t *testing.T) {
	tests := []struct {
		name    string
		wire    string
		want    int
		wantErr bool
	}{
		{"zero", "00000000", 0, false},
		{"seven", "07000000", 7, false},
		{"little-endian", "00010000", 256, false},
		{"max", "00100000", MaxReportEdges, false},
		{"above max", "01100000", 0, true},
		{"huge", "ffffffff", 0, true},
		{"short", "070000", 0, true},
		{"long", "0700000000", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wire := mustHex(t, tt.wire)
			got, err := ParseReportHeader(wire)
			if tt.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("ParseReportHeader(% x): got %d, %v; want ErrMalformed", wire, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseReportHeader(% x): got %d, %v; want %d", wire, got, err, tt.want)
			}
			if enc := AppendReportHeader(nil, got); !bytes.Equal(enc, wire) {
				t.Errorf("AppendReportHeader(%d): got % x, want % x", got, enc, wire)
			}
		})
	}
}

func TestExchangeEdgeCodec(t *testing.T) {
	a := [12]byte{0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab}
	b := [12]byte{0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb}
	const ab = "a0a1a2a3a4a5a6a7a8a9aaab b0b1b2b3b4b5b6b7b8b9babb "
	tests := []struct {
		name    string
		edge    Edge
		wire    string
		wantErr bool
	}{
		{"layout", Edge{SrcDNA: a, DstDNA: b, SrcPort: 1, DstPort: 0x0302, Latency: 0x0504},
			ab + "01000000 02030000 0405000000000000", false},
		{"negative latency", Edge{SrcDNA: a, DstDNA: b, SrcPort: 6, DstPort: 0, Latency: -2},
			ab + "06000000 00000000 feffffffffffffff", false},
		{"zero", Edge{}, strings.Repeat("00", EdgeLen), false},
		{"short", Edge{}, strings.Repeat("00", EdgeLen-1), true},
		{"long", Edge{}, strings.Repeat("00", EdgeLen+1), true},
		{"empty", Edge{}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wire := mustHex(t, tt.wire)
			var got Edge
			err := got.UnmarshalBinary(wire)
			if tt.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("UnmarshalBinary(% x): got %v, %v; want ErrMalformed", wire, got, err)
				}
				return
			}
			if err != nil || got != tt.edge {
				t.Fatalf("UnmarshalBinary(% x): got %v, %v; want %v", wire, got, err, tt.edge)
			}
			enc, _ := tt.edge.MarshalBinary()
			if !bytes.Equal(enc, wire) {
				t.Errorf("MarshalBinary(%v): got % x, want % x", tt.edge, enc, wire)
			}
		})
	}
}

// fakeConn is one end of an in-memory connection for the apps' protocol tests. Each
// round, Write takes at most room bytes (then ErrWouldBlock, as a full send buffer) and
// Read returns at most chunk bytes per call, so messages arrive split.
type fakeConn struct {
	peer   *fakeConn
	inbox  []byte
	room   int // bytes Write still takes this round
	chunk  int
	shut   bool // CloseWrite (or Close) called
	closed bool
}

var _ stream = (*fakeConn)(nil)

func fakePair(chunk int) (*fakeConn, *fakeConn) {
	a, b := &fakeConn{chunk: chunk}, &fakeConn{chunk: chunk}
	a.peer, b.peer = b, a
	return a, b
}

func (c *fakeConn) Read(p []byte) (int, error) {
	if len(c.inbox) == 0 {
		if c.peer.shut {
			return 0, io.EOF
		}
		return 0, netstack.ErrWouldBlock
	}
	n := copy(p[:min(len(p), c.chunk)], c.inbox)
	c.inbox = c.inbox[n:]
	return n, nil
}

func (c *fakeConn) Write(p []byte) (int, error) {
	if c.shut {
		return 0, fmt.Errorf("write: %w", netstack.ErrClosed)
	}
	n := min(len(p), c.room)
	if n == 0 {
		return 0, netstack.ErrWouldBlock
	}
	c.room -= n
	c.peer.inbox = append(c.peer.inbox, p[:n]...)
	return n, nil
}

func (c *fakeConn) CloseWrite() error {
	c.shut = true
	return nil
}

func (c *fakeConn) Close() { c.closed, c.shut = true, true }

func (c *fakeConn) State() netstack.State {
	switch {
	case c.closed && c.peer.shut:
		return netstack.StateTimeWait
	case c.closed:
		return netstack.StateFinWait2
	case c.peer.shut:
		return netstack.StateCloseWait
	}
	return netstack.StateEstablished
}

// fakeApp is the part of bridge.App the in-memory tests drive, with the internal open.
type fakeApp interface {
	Step(now uint64) (bool, error)
}

// runFake steps app over conns (refilling each round's send room) until it finishes,
// fails, or 1000 rounds pass; before round i it runs script(i), if set.
func runFake(app fakeApp, conns []*fakeConn, room int, script func(round int)) (int, error) {
	for round := 0; round < 1000; round++ {
		for _, c := range conns {
			c.room = room
		}
		if script != nil {
			script(round)
		}
		done, err := app.Step(uint64(round + 1))
		if err != nil {
			return round, err
		}
		if done {
			return round, nil
		}
	}
	return 1000, errors.New("did not finish in 1000 rounds")
}

// topoEnds returns a topology's link ends with their peers, in endpoint order.
func topoEnds(topo hw.Topology) [][2]hw.Endpoint {
	var ends [][2]hw.Endpoint
	for _, l := range topo.Links {
		ends = append(ends, [2]hw.Endpoint{l.To, l.From})
	}
	slices.SortFunc(ends, func(a, b [2]hw.Endpoint) int { return compareEndpoints(a[0], b[0]) })
	return ends
}

// fakeTopology connects every link of topo with an in-memory pair and calls open on both
// ends of each, in endpoint order.
func fakeTopology(t *testing.T, topo hw.Topology, chunk int, open func(local, peer hw.Endpoint, s stream) error) []*fakeConn {
	t.Helper()
	conns := map[hw.Endpoint]*fakeConn{}
	var all []*fakeConn
	for _, e := range topoEnds(topo) {
		if _, ok := conns[e[0]]; ok {
			continue
		}
		a, b := fakePair(chunk)
		conns[e[0]], conns[e[1]] = a, b
		all = append(all, a, b)
	}
	for _, e := range topoEnds(topo) {
		if err := open(e[0], e[1], conns[e[0]]); err != nil {
			t.Fatalf("open %v: %v", e[0], err)
		}
	}
	return all
}

// crossTopology is upstream's simultaneous open set-up: two nodes with two ports each,
// cross-connected (0.0-1.1 and 0.1-1.0).
func crossTopology(latency uint32) hw.Topology {
	var links []hw.Link
	for _, p := range [][2]hw.Endpoint{
		{{Node: 0, Port: 0}, {Node: 1, Port: 1}},
		{{Node: 0, Port: 1}, {Node: 1, Port: 0}},
	} {
		links = append(links, hw.Link{From: p[0], To: p[1], Latency: latency},
			hw.Link{From: p[1], To: p[0], Latency: latency})
	}
	return hw.Topology{Name: "cross", Nodes: 2, Ports: 2, Links: links}
}

// wantHelloBytes is what the link end e sends in the Hello app, built independently of
// the app's encoder.
func wantHelloBytes(e hw.Endpoint, messages int) []byte {
	b := []byte(fmt.Sprintf("Hello from Node %d", e.Node))
	for i := 0; i < messages; i++ {
		var m [16]byte
		binary.LittleEndian.PutUint32(m[0:], 0x6d697372)
		binary.LittleEndian.PutUint32(m[4:], uint32(e.Node))
		binary.LittleEndian.PutUint32(m[8:], uint32(e.Port))
		binary.LittleEndian.PutUint32(m[12:], uint32(i))
		b = append(b, m[:]...)
	}
	return b
}

func checkHelloResults(t *testing.T, app *Hello, topo hw.Topology) {
	t.Helper()
	if err := app.Verify(); err != nil {
		t.Fatal(err)
	}
	res := app.Results()
	if len(res) != len(topo.Links) {
		t.Fatalf("got %d link ends, want %d", len(res), len(topo.Links))
	}
	for _, r := range res {
		if r.OpenState != netstack.StateEstablished {
			t.Errorf("link end %v: opened in %v, want ESTABLISHED", r.Local, r.OpenState)
		}
		if want := wantHelloBytes(r.Local, app.Messages); !bytes.Equal(r.Sent, want) {
			t.Errorf("link end %v: sent %q, want %q", r.Local, r.Sent, want)
		}
		if want := wantHelloBytes(r.Peer, app.Messages); !bytes.Equal(r.Received, want) {
			t.Errorf("link end %v: received %q, want %q", r.Local, r.Received, want)
		}
		if r.EOFCycle == 0 || r.DoneCycle < r.EOFCycle {
			t.Errorf("link end %v: end of stream at %d, close done at %d; want both, in that order", r.Local, r.EOFCycle, r.DoneCycle)
		}
		if r.FinalState != netstack.StateTimeWait && r.FinalState != netstack.StateClose {
			t.Errorf("link end %v: final state %v, want TIME-WAIT or CLOSED", r.Local, r.FinalState)
		}
	}
}

// TestHelloProtocol runs the Hello app over in-memory connections, with messages split
// across reads and writes.
func TestHelloProtocol(t *testing.T) {
	tests := []struct {
		name        string
		topo        hw.Topology
		messages    int
		room, chunk int
	}{
		{"cross/whole", crossTopology(1), 4, 1 << 20, 1 << 20},
		{"cross/1 byte per write", crossTopology(1), 4, 1, 3},
		{"cross/odd splits", crossTopology(1), 3, 7, 5},
		{"cross/greeting only", crossTopology(1), 0, 4, 4},
		{"mesh of 4", hw.FullMesh(4, 1), 2, 9, 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := NewHello(tt.messages)
			conns := fakeTopology(t, tt.topo, tt.chunk, func(l, p hw.Endpoint, s stream) error { return app.open(l, p, s) })
			if _, err := runFake(app, conns, tt.room, nil); err != nil {
				t.Fatalf("%v (%s)", err, app.Pending())
			}
			checkHelloResults(t, app, tt.topo)
		})
	}
}

// TestHelloBadPeer checks that the Hello app fails at once, with a clear error, when the
// peer sends something else than expected or stops early.
func TestHelloBadPeer(t *testing.T) {
	good := wantHelloBytes(hw.Endpoint{Node: 1, Port: 0}, 2)
	g := len("Hello from Node 1")
	msg := func(node, port, seq uint32) []byte {
		b, _ := HelloMessage{Node: node, Port: port, Seq: seq}.MarshalBinary()
		return b
	}
	tests := []struct {
		name    string
		send    []byte
		close   bool
		wantErr error
		wantMsg string
	}{
		{"wrong greeting", []byte("Hello from Node 2"), false, ErrUnexpected, `greeting "Hello from Node 2", want "Hello from Node 1"`},
		{"lower case greeting", []byte("hello"), false, ErrUnexpected, "greeting"},
		{"bad magic", append(slices.Clone(good[:g]), append([]byte{0, 0, 0, 0}, good[g+4:]...)...), false, ErrMalformed, "message 0: malformed message: hello message magic 0x000000"},
		{"wrong seq", slices.Concat(good[:g], msg(1, 0, 1)), false, ErrUnexpected, "message 0 is {Node:1 Port:0 Seq:1}, want {Node:1 Port:0 Seq:0}"},
		{"wrong port", slices.Concat(good[:g], msg(1, 0, 0), msg(1, 5, 1)), false, ErrUnexpected, "message 1 is {Node:1 Port:5 Seq:1}"},
		{"extra bytes", append(slices.Clone(good), 'x'), false, ErrUnexpected, "1 bytes after the peer's last message"},
		{"early close in greeting", good[:5], true, ErrUnexpected, "peer closed its side after 5 of 49 bytes (greeting byte 5)"},
		{"early close in message", good[:g+20], true, ErrUnexpected, "after 37 of 49 bytes (message 1 byte 4)"},
		{"close without data", nil, true, ErrUnexpected, "after 0 of 49 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := NewHello(2)
			local, peer := fakePair(1 << 20)
			if err := app.open(hw.Endpoint{Node: 0, Port: 0}, hw.Endpoint{Node: 1, Port: 0}, local); err != nil {
				t.Fatal(err)
			}
			_, err := runFake(app, []*fakeConn{local, peer}, 1<<20, func(round int) {
				if round == 0 {
					_, _ = peer.Write(tt.send)
					if tt.close {
						_ = peer.CloseWrite()
					}
				}
			})
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("got error %v, want %v containing %q", err, tt.wantErr, tt.wantMsg)
			}
			if !strings.Contains(err.Error(), "link end 0.0") {
				t.Errorf("error %q does not name the link end", err)
			}
		})
	}
}

// fakeDNA is node n's DNA in the in-memory tests.
func fakeDNA(n int) [12]byte {
	var d [12]byte
	for i := range d {
		d[i] = byte(0x10*n + i)
	}
	return d
}

// wantEdges is every directed edge of topo: for each link end, (its DNA and port, the
// peer's DNA and port, latency(end)).
func wantEdges(topo hw.Topology, dna func(int) [12]byte, latency func(hw.Endpoint) int) []Edge {
	var edges []Edge
	for _, e := range topoEnds(topo) {
		edges = append(edges, Edge{SrcDNA: dna(e[0].Node), DstDNA: dna(e[1].Node), SrcPort: uint32(e[0].Port),
			DstPort: uint32(e[1].Port), Latency: int64(latency(e[0]))})
	}
	slices.SortFunc(edges, CompareEdges)
	return edges
}

// TestExchangeProtocol runs the Exchange app over in-memory connections and checks the
// manager's report.
func TestExchangeProtocol(t *testing.T) {
	latency := func(ep hw.Endpoint) int { return 100*ep.Node + ep.Port }
	tests := []struct {
		name        string
		topo        hw.Topology
		manager     int
		room, chunk int
		want        func(hw.Topology) []Edge // nil: every directed edge
	}{
		{"pair", hw.Pair(1), 0, 1 << 20, 1 << 20, nil},
		{"cross", crossTopology(1), 0, 3, 7, nil},
		{"mesh of 4", hw.FullMesh(4, 1), 0, 1 << 20, 1 << 20, nil},
		{"mesh of 4/split", hw.FullMesh(4, 1), 0, 5, 3, nil},
		{"mesh of 8", hw.FullMesh(8, 1), 0, 64, 64, nil},
		{"mesh of 5/manager 3", hw.FullMesh(5, 1), 3, 13, 17, nil},
		{"line of 4/manager 1", hw.Line(4, 1), 1, 1 << 20, 1 << 20, func(topo hw.Topology) []Edge {
			// The manager's neighbourhood: edges of nodes 0, 1 and 2.
			var w []Edge
			for _, e := range wantEdges(topo, fakeDNA, latency) {
				if e.SrcDNA != fakeDNA(3) {
					w = append(w, e)
				}
			}
			return w
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := NewExchange(tt.manager, func(ep hw.Endpoint) (int, bool) { return latency(ep), true })
			conns := fakeTopology(t, tt.topo, tt.chunk, func(l, p hw.Endpoint, s stream) error {
				return app.open(l, p, fakeDNA(l.Node), 0, s)
			})
			if _, err := runFake(app, conns, tt.room, nil); err != nil {
				t.Fatalf("%v (%s)", err, app.Pending())
			}
			want := wantEdges(tt.topo, fakeDNA, latency)
			if tt.want != nil {
				want = tt.want(tt.topo)
			}
			if diff := cmp.Diff(want, app.Report()); diff != "" {
				t.Errorf("manager's report (-want +got):\n%s", diff)
			}
			for n := 0; n < tt.topo.Nodes; n++ {
				var w []Edge
				for _, e := range wantEdges(tt.topo, fakeDNA, latency) {
					if e.SrcDNA == fakeDNA(n) {
						w = append(w, e)
					}
				}
				if diff := cmp.Diff(w, app.Edges(n)); diff != "" {
					t.Errorf("node %d's edges (-want +got):\n%s", n, diff)
				}
			}
		})
	}
}

// TestExchangeBadPeer checks that each role of the Exchange app fails at once, with a
// clear error, when its peer breaks the protocol.
func TestExchangeBadPeer(t *testing.T) {
	mgr, sub := hw.Endpoint{Node: 0, Port: 0}, hw.Endpoint{Node: 1, Port: 2}
	info := func(n int, port uint32) []byte {
		b, _ := LinkInfo{DNA: fakeDNA(n), Port: port}.MarshalBinary()
		return b
	}
	edge := func(src int, sp uint32, dst int, dp uint32) []byte {
		b, _ := Edge{SrcDNA: fakeDNA(src), SrcPort: sp, DstDNA: fakeDNA(dst), DstPort: dp}.MarshalBinary()
		return b
	}
	req := []byte{1, 0, 0, 0}
	tests := []struct {
		name    string
		local   hw.Endpoint // the app's end; the test plays its peer
		peer    hw.Endpoint
		script  [][]byte // what the peer sends, one element per round
		close   bool     // the peer shuts its side after the script
		wantErr error
		wantMsg string
	}{
		{"link info from another port than the wiring's", mgr, sub, [][]byte{info(1, 3)}, false, ErrUnexpected,
			"the peer says it is DNA " + fmt.Sprintf("%x", fakeDNA(1)) + " port 3, the wiring leads to node 1 port 2"},
		{"short link info then close", mgr, sub, [][]byte{info(1, 2)[:10]}, true, ErrUnexpected,
			"peer closed its side before its link info (10 of 16 bytes)"},
		{"manager: data before the request", hw.Endpoint{Node: 0, Port: 0}, hw.Endpoint{Node: 1, Port: 0},
			[][]byte{slices.Concat(info(1, 0), AppendReportHeader(nil, 0))}, false, ErrUnexpected, "4 bytes (00 00 00 00) before the report request"},
		{"manager: count too large", mgr, sub, [][]byte{info(1, 2), {0xff, 0xff, 0xff, 0xff}}, false, ErrMalformed,
			"report: malformed message: report of 4294967295 edges"},
		{"manager: edge from another node", mgr, sub, [][]byte{info(1, 2), slices.Concat(AppendReportHeader(nil, 1), edge(2, 0, 0, 1))}, false,
			ErrUnexpected, "report edge 0: unexpected data from peer: edge"},
		{"manager: edge back to the wrong port", mgr, sub, [][]byte{info(1, 2), slices.Concat(AppendReportHeader(nil, 1), edge(1, 2, 0, 5))}, false,
			ErrUnexpected, "on this link does not end at this end"},
		{"manager: too few edges", mgr, sub, [][]byte{info(1, 2), slices.Concat(AppendReportHeader(nil, 2), edge(1, 2, 0, 0))}, true,
			ErrUnexpected, "peer closed its side after 1 of 2 report edges"},
		{"manager: bytes after the report", mgr, sub, [][]byte{info(1, 2), slices.Concat(AppendReportHeader(nil, 1), edge(1, 2, 0, 0), []byte{9})}, false,
			ErrUnexpected, "1 bytes (09) after the protocol's end"},
		{"manager: no report", mgr, sub, [][]byte{info(1, 2)}, true, ErrUnexpected, "before the report header (0 of 4 bytes)"},
		{"subordinate: unknown command", sub, mgr, [][]byte{info(0, 0), {2, 0, 0, 0}}, false, ErrMalformed, "request: malformed message: unknown command 2"},
		{"subordinate: command padding", sub, mgr, [][]byte{info(0, 0), {1, 1, 0, 0}}, false, ErrMalformed, "command padding"},
		{"subordinate: two requests", sub, mgr, [][]byte{info(0, 0), slices.Concat(req, req)}, false, ErrUnexpected, "4 bytes (01 00 00 00) after the protocol's end"},
		{"subordinate: close before the request", sub, mgr, [][]byte{info(0, 0)}, true, ErrUnexpected, "before the report request (0 of 4 bytes)"},
		{"plain link: a request", hw.Endpoint{Node: 1, Port: 0}, hw.Endpoint{Node: 2, Port: 0}, [][]byte{info(2, 0), req}, false, ErrUnexpected, "after the protocol's end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := NewExchange(0, nil)
			local, peer := fakePair(1 << 20)
			if err := app.open(tt.local, tt.peer, fakeDNA(tt.local.Node), 0, local); err != nil {
				t.Fatal(err)
			}
			_, err := runFake(app, []*fakeConn{local, peer}, 1<<20, func(round int) {
				if round < len(tt.script) {
					_, _ = peer.Write(tt.script[round])
				}
				if round == len(tt.script) && tt.close {
					_ = peer.CloseWrite()
				}
			})
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("got error %v, want %v containing %q", err, tt.wantErr, tt.wantMsg)
			}
			if want := "link end " + tt.local.String(); !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name the link end (%s)", err, want)
			}
		})
	}
}

func TestExchangeUnknownLatency(t *testing.T) {
	app := NewExchange(0, func(hw.Endpoint) (int, bool) { return 0, false })
	local, _ := fakePair(1)
	err := app.open(hw.Endpoint{Node: 0, Port: 1}, hw.Endpoint{Node: 1, Port: 0}, fakeDNA(0), 0, local)
	if err == nil || !strings.Contains(err.Error(), "link end 0.1: no measured latency") {
		t.Fatalf("got error %v, want one naming link end 0.1 and the missing latency", err)
	}
}

// scenarioRun is one run of a scenario app over simulated hardware.
type scenarioRun struct {
	topo       hw.Topology
	depth      int
	seed       uint64
	addressing bridge.Addressing
	app        bridge.App
	// latency, if set, is called with the runtime before the run (to wire Exchange.Latency).
	latency func(rt *bridge.Runtime)
	// packets, if set, receives every packet each link end sent or accepted.
	packets map[hw.Endpoint]*packetLog
}

// packetLog records the TCP segments a link end's device sent or accepted.
type packetLog struct{ segs []tcpSeg }

// tcpSeg is a TCP segment's flags and sequence number.
type tcpSeg struct {
	flags byte
	seq   uint32
}

// TCP flags.
const (
	tcpRST = 0x04
	tcpSYN = 0x02
	tcpACK = 0x10
)

// WritePacket implements bridge.PacketWriter.
func (p *packetLog) WritePacket(_ int64, pkt []byte) error {
	if len(pkt) >= 20 && pkt[0]>>4 == 4 && pkt[9] == 6 {
		if ihl := int(pkt[0]&15) * 4; len(pkt) >= ihl+14 {
			p.segs = append(p.segs, tcpSeg{pkt[ihl+13], binary.BigEndian.Uint32(pkt[ihl+4:])})
		}
	}
	return nil
}

// Close implements bridge.PacketWriter.
func (p *packetLog) Close() error { return nil }

// runScenario runs a scenario and returns the report and the engine.
func runScenario(t *testing.T, sc scenarioRun) (*bridge.Report, *simtest.Machine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	e, err := simtest.New(ctx, hw.Config{Topology: sc.topo, Depth: sc.depth, Seed: sc.seed})
	if err != nil {
		t.Fatalf("simtest.New: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	cfg := bridge.Config{Machine: e, Wiring: sc.topo.Wiring(), Framing: framing.CRC, Cost: bridge.DefaultCost,
		Addressing: sc.addressing, Seed: sc.seed, App: sc.app, Deadline: 50_000_000,
		LinkLatency: uint64(sc.topo.MaxLinkLatency())}
	if sc.packets != nil {
		cfg.Pcap = func(ep hw.Endpoint, _ float64) (bridge.PacketWriter, error) {
			p := &packetLog{}
			sc.packets[ep] = p
			return p, nil
		}
	}
	rt, err := bridge.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if sc.latency != nil {
		sc.latency(rt)
	}
	start := time.Now()
	rep, err := rt.Run(ctx)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	t.Logf("%s, %d nodes, D=%d, %s addressing: %d cycles (%.0f us simulated) in %v",
		sc.topo.Name, sc.topo.Nodes, sc.depth, sc.addressing, rep.Cycles, rep.SimSeconds*1e6, time.Since(start).Round(time.Millisecond))
	if len(rep.Links) != len(sc.topo.Links) {
		t.Fatalf("report has %d link ends, want %d", len(rep.Links), len(sc.topo.Links))
	}
	for _, l := range rep.Links {
		if l.AlignedCycle == 0 || l.EstablishedCycle < l.AlignedCycle {
			t.Errorf("link end %v: aligned at cycle %d, ESTABLISHED at %d; want both, in that order",
				l.Local, l.AlignedCycle, l.EstablishedCycle)
		}
	}
	return rep, e
}

// TestScenarioHello is upstream's TCP simultaneous open test: two nodes cross-connected
// by two links open with the same address and port at both ends, reach ESTABLISHED,
// exchange the hello strings and fixed-layout messages, and close. It also runs with
// derived addresses (listen and dial).
func TestScenarioHello(t *testing.T) {
	tests := []struct {
		name       string
		addressing bridge.Addressing
	}{
		{"upstream", bridge.Upstream},
		{"derived", bridge.Derived},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topo := crossTopology(16)
			app := NewHello(4)
			packets := map[hw.Endpoint]*packetLog{}
			rep, _ := runScenario(t, scenarioRun{topo: topo, depth: 128, seed: 1, addressing: tt.addressing, app: app,
				packets: packets})
			if rep.Addressing != tt.addressing.String() {
				t.Errorf("report addressing %q, want %q", rep.Addressing, tt.addressing)
			}
			checkHelloResults(t, app, topo)
			// In a simultaneous open the SYNs cross and both ends answer with a SYN-ACK (two
			// initial sequence numbers); in listen and dial only the listener does.
			wantSynAcks := map[bridge.Addressing]int{bridge.Upstream: 2, bridge.Derived: 1}[tt.addressing]
			for _, l := range rep.Links {
				if l.Local.Node != 0 {
					continue
				}
				isn := map[uint32]bool{}
				for _, ep := range []hw.Endpoint{l.Local, l.Peer} {
					for _, sg := range packets[ep].segs {
						if sg.flags&(tcpSYN|tcpACK) == tcpSYN|tcpACK {
							isn[sg.seq] = true
						}
						if sg.flags&tcpRST != 0 {
							t.Errorf("link %v-%v: a RST, want none", l.Local, l.Peer)
						}
					}
				}
				if len(isn) != wantSynAcks {
					t.Errorf("link %v-%v: SYN-ACKs from %d ends, want %d", l.Local, l.Peer, len(isn), wantSynAcks)
				}
			}
		})
	}
}

// dnaBytes is node's DNA as the engine configured it, in the link protocol's byte order.
func dnaBytes(e *simtest.Machine, node int) [12]byte {
	var d [12]byte
	for i, w := range e.DNA(node) {
		binary.LittleEndian.PutUint32(d[4*i:], w)
	}
	return d
}

// checkExchange runs the Exchange app on a full mesh and checks that the manager's report
// has every directed edge of the topology, with the engine's DNA, the topology's ports and
// the report's measured offsets.
func checkExchange(t *testing.T, nodes, depth int, seed uint64) {
	t.Helper()
	topo := hw.FullMesh(nodes, 16)
	app := NewExchange(0, nil)
	rep, e := runScenario(t, scenarioRun{topo: topo, depth: depth, seed: seed, addressing: bridge.Upstream, app: app})
	offsets := map[hw.Endpoint]int{}
	for _, l := range rep.Links {
		offsets[l.Local] = l.Offset
	}
	want := wantEdges(topo, func(n int) [12]byte { return dnaBytes(e, n) }, func(ep hw.Endpoint) int {
		off, ok := offsets[ep]
		if !ok {
			t.Fatalf("no offset for link end %v in the report", ep)
		}
		return off
	})
	got := app.Report()
	if len(got) != nodes*(nodes-1) {
		t.Errorf("report has %d edges, want %d", len(got), nodes*(nodes-1))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("manager's report (-want +got):\n%s", diff)
	}
	nonzero := 0
	for _, ed := range got {
		if ed.Latency != 0 {
			nonzero++
		}
	}
	t.Logf("%d edges, %d with a non-zero latency", len(got), nonzero)
}

// TestScenarioExchange is upstream's link protocol exchange on a full mesh of 4 nodes.
func TestScenarioExchange(t *testing.T) {
	checkExchange(t, 4, 128, 1)
}

// TestScenarioDemo is upstream's hardware demo: 8 nodes, 7 links each (full mesh),
// D = 128, every link aligned and connected, DNA and ports exchanged, and the manager's
// report collected.
func TestScenarioDemo(t *testing.T) {
	checkExchange(t, 8, 128, 1)
}

// TestScenarioDeterminism runs each scenario twice with the same seed: the runs, what the
// apps saw and the manager's report must be identical.
func TestScenarioDeterminism(t *testing.T) {
	type outcome struct {
		Steps   []bridge.Step
		Cycles  uint64
		Links   []bridge.LinkReport
		Hello   []HelloResult
		Edges   []Edge
		Retrans uint64
	}
	tests := []struct {
		name string
		run  func(t *testing.T) outcome
	}{
		{"hello", func(t *testing.T) outcome {
			app := NewHello(4)
			rep, _ := runScenario(t, scenarioRun{topo: crossTopology(16), depth: 128, seed: 7, addressing: bridge.Upstream, app: app})
			return outcome{rep.Steps, rep.Cycles, rep.Links, app.Results(), nil, rep.TCPRetransmissions}
		}},
		{"exchange", func(t *testing.T) outcome {
			app := NewExchange(0, nil)
			rep, _ := runScenario(t, scenarioRun{topo: hw.FullMesh(4, 16), depth: 128, seed: 7, addressing: bridge.Upstream, app: app})
			return outcome{rep.Steps, rep.Cycles, rep.Links, nil, app.Report(), rep.TCPRetransmissions}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, second := tt.run(t), tt.run(t)
			if diff := cmp.Diff(first, second); diff != "" {
				t.Errorf("second run differs (-first +second):\n%s", diff)
			}
		})
	}
}

// liar wraps an App: on the link end bad it sends lie instead of running the app.
type liar struct {
	bridge.App
	bad  hw.Endpoint
	lie  []byte
	conn *bridge.Conn
}

// Open implements bridge.App.Open.
func (l *liar) Open(c *bridge.Conn) error {
	if c.Local == l.bad {
		l.conn = c
		return nil
	}
	return l.App.Open(c)
}

// bridge.Step implements bridge.App.Step.
func (l *liar) Step(now uint64) (bool, error) {
	if l.conn != nil && len(l.lie) > 0 {
		n, _ := l.conn.Write(l.lie)
		l.lie = l.lie[n:]
	}
	return l.App.Step(now)
}

// TestScenarioBadPeer checks over simulated hardware that a peer breaking the protocol
// makes the run fail at once with an error naming the link end and the data, not time out.
func TestScenarioBadPeer(t *testing.T) {
	info, _ := LinkInfo{Port: 1}.MarshalBinary()
	tests := []struct {
		name    string
		topo    hw.Topology
		app     bridge.App
		bad     hw.Endpoint
		lie     []byte
		wantMsg string
	}{
		{"hello greeting", crossTopology(16), NewHello(2), hw.Endpoint{Node: 1, Port: 1}, []byte("Hello from Node 9"),
			`hello on link end 0.0: unexpected data from peer: greeting "Hello from Node 9", want "Hello from Node 1"`},
		{"exchange command", crossTopology(16), NewExchange(1, nil), hw.Endpoint{Node: 1, Port: 1}, slices.Concat(info, []byte{7, 0, 0, 0}),
			"exchange on link end 0.0: request: malformed message: unknown command 7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			e, err := simtest.New(ctx, hw.Config{Topology: tt.topo, Depth: 128, Seed: 1})
			if err != nil {
				t.Fatalf("simtest.New: %v", err)
			}
			defer e.Close()
			rt, err := bridge.New(bridge.Config{Machine: e, Wiring: tt.topo.Wiring(), Cost: bridge.DefaultCost, Addressing: bridge.Upstream, Seed: 1,
				App: &liar{App: tt.app, bad: tt.bad, lie: tt.lie}, Deadline: 50_000_000})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			rep, err := rt.Run(ctx)
			if !errors.Is(err, bridge.ErrApp) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("got error %v, want bridge.ErrApp containing %q", err, tt.wantMsg)
			}
			if rep.Cycles > 1_000_000 {
				t.Errorf("failed after %d cycles, want soon after the connections opened", rep.Cycles)
			}
		})
	}
}
